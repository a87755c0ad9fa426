"""The host modules on crowded hosts (issue 15): tables and interfaces that hold what real hosts hold.

Multipath and gateway routes next to kube-vip's, point-to-point and flagged addresses, IPv4 and
IPv6 side by side, foreign routes through the interface of a stray VIP. Every module runs through
real Ansible in a namespace the test made (``nsutil.Netns``); iproute2 sets the state up and is
the witness of the result, never the code under test.

kube-vip's own shape of a VIP route, which the modules follow: ``PrepareRoute`` in
pkg/vip/address.go of kube-vip v1.2.2 (github.com/kube-vip/kube-vip): type unicast, the VIP's
host prefix, the interface, no gateway, table and protocol from its settings, scope universe for
unicast routes. kube-vip's cleanup (``cleanRoutes`` in pkg/manager/worker/table.go, v1.2.2) lists
the routes of its table AND protocol, whatever their prefix, and deletes those it does not hold.
"""
import json

import pytest


def table(ns, number, family):
    """iproute2's JSON of one table (a list; [] when the table does not exist)."""
    out = ns.exec("ip", "-j", "-d", family, "route", "show", "table", str(number), check=False).strip()
    return json.loads(out) if out else []


def text(ns, *argv):
    return ns.ip(*argv)


def everything(ns):
    """Every route of every table and every address, as iproute2 prints them in detail (to compare byte for byte)."""
    return (ns.ip("-d", "-4", "route", "show", "table", "all") + ns.ip("-d", "-6", "route", "show", "table", "all")
            + ns.ip("-d", "address", "show"))


# --------------------------------------------------------------------------- 1. exact deletes

MULTIPATH_CASES = {
    # the case: kube-vip's route on v1, then a multipath route to the same VIP, same table and protocol
    "ipv6": (["-6", "route", "add", "2001:db8::7/128", "dev", "v1", "table", "198", "proto", "248"],
             ["-6", "route", "append", "2001:db8::7/128", "table", "198", "proto", "248",
              "nexthop", "via", "fe80::a", "dev", "v0", "nexthop", "via", "fe80::b", "dev", "v1"],
             "2001:db8::7", "v1", "-6"),
    # IPv4, scope link multipath whose second hop is on the asked interface
    "ipv4-second-hop": (["route", "add", "198.51.100.7/32", "dev", "v1", "table", "198", "proto", "248"],
                        ["route", "append", "198.51.100.7/32", "table", "198", "proto", "248", "scope", "link",
                         "nexthop", "dev", "v0", "nexthop", "dev", "v1"],
                        "198.51.100.7", "v1", "-4"),
    # IPv4, whose first hop is on the asked interface: the kernel's match cannot tell that route from kube-vip's
    "ipv4-first-hop": (["route", "add", "198.51.100.7/32", "dev", "v0", "table", "198", "proto", "248"],
                       ["route", "append", "198.51.100.7/32", "table", "198", "proto", "248", "scope", "link",
                        "nexthop", "dev", "v0", "nexthop", "dev", "v1"],
                       "198.51.100.7", "v0", "-4"),
}


@pytest.mark.parametrize("case", sorted(MULTIPATH_CASES))
def test_prune_removes_the_multipath_orphan_and_keeps_the_vip_route(netns, case):
    """Issue 15, item 1: the delete names the multipath route's next hops, so the VIP's own route stays."""
    kept, orphan, vip, dev, family = MULTIPATH_CASES[case]
    netns.ip("-6", "address", "add", "2001:db8:1::1/64", "dev", "v0", "nodad")
    netns.ip(*kept)
    netns.ip(*orphan)
    foreign = everything(netns)
    args = {"routes": [{"destination": vip, "interface": dev}], "prune": True}

    result = netns.ansible("vip_routes", args)
    assert result["_rc"] == 0 and result["changed"] is True, result
    [route] = table(netns, 198, family)
    assert route["dst"] == vip and route["dev"] == dev and "nexthops" not in route and "gateway" not in route, route
    assert [r.get("nexthops") is not None for r in result["removed"]] == [True], result["removed"]
    assert [(r["destination"].split("/")[0], r["interface"]) for r in result["routes"]] == [(vip, dev)]
    assert foreign != everything(netns)  # the orphan is gone ...
    second = netns.ansible("vip_routes", args)
    assert second["_rc"] == 0 and second["changed"] is False, second  # ... and the VIP's route was never re-added
    assert table(netns, 198, family) == [route]


def test_a_gateway_route_of_the_vip_is_replaced_by_kube_vips_shape(netns):
    """Issue 15, item 4: a route via a gateway on the asked interface is not the VIP's route (kube-vip's has no gateway)."""
    netns.ip("address", "add", "192.0.2.11/24", "dev", "v0")
    netns.ip("route", "add", "198.51.100.8/32", "via", "192.0.2.1", "dev", "v0", "table", "198", "proto", "248")
    args = {"routes": [{"destination": "198.51.100.8", "interface": "v0"}]}  # no prune: the VIP's own routes are replaced
    result = netns.ansible("vip_routes", args)
    assert result["_rc"] == 0 and result["changed"] is True, result
    [route] = table(netns, 198, "-4")
    assert route["dst"] == "198.51.100.8" and route["dev"] == "v0" and "gateway" not in route and route["protocol"] == "248"
    assert [r["gateway"] for r in result["removed"]] == ["192.0.2.1"]
    assert netns.ansible("vip_routes", args)["changed"] is False

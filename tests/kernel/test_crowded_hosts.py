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
    args = {"routes": [{"destination": vip, "interface": dev}], "prune": True, "return_routes": "all"}

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


# --------------------------------------------------------------------------- 2. point-to-point addresses, partial batches

def addresses(ns):
    """{(local, peer or None, prefix, interface)} of global addresses, as iproute2 lists them."""
    found = set()
    for link in ns.ip_json("address", "show"):
        for info in link.get("addr_info", []):
            if info.get("scope") == "global":
                found.add((info["local"], info.get("address"), info["prefixlen"], link["ifname"]))
    return found


def test_an_owned_point_to_point_address_is_pruned(netns):
    """Issue 15, item 2: deleted as the kernel holds it, local address and peer."""
    netns.ip("address", "add", "192.0.2.11/24", "dev", "v0")
    netns.ip("address", "add", "198.51.100.5", "peer", "198.51.100.6/32", "dev", "v0")
    netns.ip("address", "add", "198.51.100.3/32", "dev", "v0")
    args = {"owned_ranges": ["198.51.100.0/28"], "protected_addresses": ["192.0.2.11"], "prune": True}
    check = netns.ansible("vip_address", args, check=True)
    assert check["changed"] is True and "-198.51.100.5 peer 198.51.100.6/32 dev v0" in check["_diff"], check
    result = netns.ansible("vip_address", args)
    assert result["_rc"] == 0 and result["changed"] is True, result
    assert sorted((a["address"], a["peer"]) for a in result["removed"]) == [("198.51.100.3", None), ("198.51.100.5", "198.51.100.6")]
    assert addresses(netns) == {("192.0.2.11", None, 24, "v0")}
    assert netns.ansible("vip_address", args)["changed"] is False


def test_a_refused_address_change_says_what_was_done(netns):
    """Issue 15, item 2: the stray is removed, the VIP cannot be added (IPv6 is off on v1): the task fails, says changed,
    what was removed and what was not added, and that is what iproute2 shows."""
    netns.exec("sysctl", "-q", "-w", "net.ipv6.conf.v1.disable_ipv6=1")
    netns.ip("address", "add", "2001:db8:5::3/128", "dev", "v0", "nodad")
    args = {"address": "2001:db8:5::10", "interface": "v1", "owned_ranges": ["2001:db8:5::/64"], "prune": True}
    result = netns.ansible("vip_address", args)
    assert result["failed"] is True and result["changed"] is True, result
    assert result["msg"].startswith("adding address 2001:db8:5::10/128 to v1 failed: "), result["msg"]
    assert [a["address"] for a in result["removed"]] == ["2001:db8:5::3"] and result["added"] == []
    assert [a["address"] for a in result["not_added"]] == ["2001:db8:5::10"] and result["not_removed"] == []
    assert {a for a in addresses(netns) if a[0].startswith("2001:db8:5:")} == set()


def test_a_refused_route_change_says_what_was_done(netns):
    """Issue 15, item 2 for vip_routes: one route added, one refused (v1 down), one orphan removed; changed and all three said."""
    netns.ip("route", "add", "198.51.100.9/32", "dev", "v0", "table", "198", "proto", "248")
    netns.ip("link", "set", "v1", "down")
    args = {"routes": [{"destination": "198.51.100.7", "interface": "v0"}, {"destination": "198.51.100.8", "interface": "v1"}],
            "prune": True}
    result = netns.ansible("vip_routes", args)
    assert result["failed"] is True and result["changed"] is True, result
    assert result["msg"].startswith("adding route 198.51.100.8/32 dev v1 to table 198 (protocol 248) failed: "), result["msg"]
    assert [r["destination"] for r in result["added"]] == ["198.51.100.7/32"]
    assert [r["destination"] for r in result["not_added"]] == ["198.51.100.8/32"]
    assert [r["destination"] for r in result["removed"]] == ["198.51.100.9/32"] and result["not_removed"] == []
    assert {(r["destination"], r["interface"]) for r in result["routes"]} == {("198.51.100.7/32", "v0")}
    assert netns.routes(198) == {("198.51.100.7", "v0", "248")}


# --------------------------------------------------------------------------- the last IPv4 address, secondaries

def test_the_last_ipv4_address_of_an_interface_with_routes_is_not_pruned(netns):
    """Issue 15, closing note: deleting an interface's last IPv4 address flushes every IPv4 route through it, in every
    table. Such a stray stays (warning, ``spared``); one on an interface without such routes goes."""
    netns.ip("address", "add", "198.51.100.3/32", "dev", "v1")       # v1's only IPv4 address
    netns.ip("route", "add", "203.0.113.0/24", "dev", "v1", "table", "200", "proto", "static")  # foreign, through v1
    netns.ip("address", "add", "198.51.100.4/32", "dev", "v0")       # v0's only one too, but nothing routes through v0
    before = netns.ip("-d", "-4", "route", "show", "table", "200")
    args = {"owned_ranges": ["198.51.100.0/28"], "prune": True}
    result = netns.ansible("vip_address", args)
    assert result["_rc"] == 0 and result["changed"] is True, result
    assert [a["address"] for a in result["removed"]] == ["198.51.100.4"]
    assert [(a["address"], "last IPv4 address of v1" in a["reason"]) for a in result["spared"]] == [("198.51.100.3", True)]
    assert "[WARNING]: not removing 198.51.100.3/32 from v1: it is the last IPv4 address of v1" in result["_output"], result
    assert addresses(netns) == {("198.51.100.3", None, 32, "v1")}
    assert netns.ip("-d", "-4", "route", "show", "table", "200") == before
    again = netns.ansible("vip_address", args)
    assert again["changed"] is False and len(again["spared"]) == 1


def test_a_primary_with_secondaries_that_stay_is_not_pruned(netns):
    """Deleting a primary IPv4 address deletes (or promotes) the secondaries of its subnet: an owned primary whose
    secondary is not owned stays; an owned secondary goes, primary untouched."""
    netns.exec("sysctl", "-q", "-w", "net.ipv4.conf.v0.promote_secondaries=0")
    netns.ip("address", "add", "192.0.2.11/24", "dev", "v0")          # keeps v0 from its last address
    netns.ip("address", "add", "198.51.100.1/24", "dev", "v0")        # owned primary
    netns.ip("address", "add", "198.51.100.200/24", "dev", "v0")      # foreign secondary (outside owned_ranges)
    netns.ip("address", "add", "203.0.113.1/24", "dev", "v1")         # foreign primary
    netns.ip("address", "add", "203.0.113.2/24", "dev", "v1")         # owned secondary
    args = {"owned_ranges": ["198.51.100.0/28", "203.0.113.2"], "prune": True}
    result = netns.ansible("vip_address", args)
    assert result["_rc"] == 0 and result["changed"] is True, result
    assert [a["address"] for a in result["removed"]] == ["203.0.113.2"]
    assert [a["address"] for a in result["spared"]] == ["198.51.100.1"] and "198.51.100.200" in result["spared"][0]["reason"]
    assert addresses(netns) == {("192.0.2.11", None, 24, "v0"), ("198.51.100.1", None, 24, "v0"), ("198.51.100.200", None, 24, "v0"),
                                ("203.0.113.1", None, 24, "v1")}


# --------------------------------------------------------------------------- 3. announcements

@pytest.mark.parametrize("address", ["2001:db8::10", "192.0.2.10"])
def test_a_vip_on_lo_is_held_and_said_not_announced(netns, address):
    """Issue 15, item 3: lo has no segment; the VIP is added, nothing is sent, the result says so."""
    args = {"address": address, "interface": "lo", "announce": True}
    result = netns.ansible("vip_address", args)
    assert result["_rc"] == 0 and result["changed"] is True and result["announced"] is False, result
    assert result["announce_skipped"] == "%s not announced: lo is a loopback interface: there is no segment to announce to" % address
    assert any(address in line for line in netns.ip("address", "show", "dev", "lo").splitlines())
    again = netns.ansible("vip_address", args)
    assert again["changed"] is False and again["announced"] is False


def test_an_announcement_that_fails_after_the_add_reports_the_change(netns):
    """Issue 15, item 3: v0 down, the address is added, sending fails: the task fails and says changed."""
    netns.ip("link", "set", "v0", "down")
    result = netns.ansible("vip_address", {"address": "2001:db8::10", "interface": "v0", "announce": True})
    assert result["failed"] is True and result["changed"] is True and result["announced"] is False, result
    assert result["msg"].startswith("announcing 2001:db8::10 on v0 failed: ") and "(the address itself was added)" in result["msg"]
    assert [a["address"] for a in result["added"]] == ["2001:db8::10"]
    assert any("2001:db8::10" in line for line in netns.ip("address", "show", "dev", "v0").splitlines())


# --------------------------------------------------------------------------- 4. what docs/modules.md says

def test_prune_removes_every_route_of_the_table_and_protocol_whatever_its_prefix(netns):
    """Issue 15, item 4: kube-vip owns table AND protocol (its cleanRoutes deletes any route of both it does not hold), so
    prune removes a network route of them too; another protocol's network route stays."""
    netns.ip("route", "add", "198.51.100.0/24", "dev", "v0", "table", "198", "proto", "248")
    netns.ip("route", "add", "203.0.113.0/24", "dev", "v0", "table", "198", "proto", "static")
    result = netns.ansible("vip_routes", {"prune": True})
    assert result["changed"] is True and [r["destination"] for r in result["removed"]] == ["198.51.100.0/24"], result
    assert netns.routes(198) == {("203.0.113.0/24", "v0", "static")}


def test_a_legacy_route_beside_the_vip_route_is_reported_and_blocks_only_an_addition(netns):
    """Issue 15, item 4: with kube-vip's route already there, another protocol's route to the VIP is reported in
    legacy_routes (nothing to add, nothing removed); where the route must be added, it is an error until named."""
    netns.ip("route", "add", "198.51.100.7/32", "dev", "v0", "table", "198", "proto", "248")
    netns.ip("route", "append", "198.51.100.7/32", "dev", "v1", "table", "198", "proto", "static")
    netns.ip("route", "add", "198.51.100.8/32", "dev", "v0", "table", "198", "proto", "static")
    held = netns.ansible("vip_routes", {"routes": [{"destination": "198.51.100.7", "interface": "v0"}]})
    assert held["_rc"] == 0 and held["changed"] is False, held
    assert [(r["destination"], r["interface"]) for r in held["legacy_routes"]] == [("198.51.100.7/32", "v1"), ("198.51.100.8/32", "v0")]
    before = everything(netns)
    missing = netns.ansible("vip_routes", {"routes": [{"destination": "198.51.100.8", "interface": "v0"}]})
    assert missing["failed"] is True and "name it in remove_legacy" in missing["msg"], missing
    assert everything(netns) == before
    named = netns.ansible("vip_routes", {"routes": [{"destination": "198.51.100.8", "interface": "v0"}], "remove_legacy": ["198.51.100.8"]})
    assert named["changed"] is True and netns.routes(198) >= {("198.51.100.8", "v0", "248")}


def test_without_prune_only_the_asked_vips_routes_are_replaced(netns):
    """Issue 15, item 4: without prune, the asked VIP's route on another interface is replaced (removed, then kube-vip's
    added); the route of a VIP not asked for stays."""
    netns.ip("route", "add", "198.51.100.7/32", "dev", "v1", "table", "198", "proto", "248")
    netns.ip("route", "add", "198.51.100.9/32", "dev", "v1", "table", "198", "proto", "248")
    result = netns.ansible("vip_routes", {"routes": [{"destination": "198.51.100.7", "interface": "v0"}]})
    assert result["changed"] is True, result
    assert [(r["destination"], r["interface"]) for r in result["removed"]] == [("198.51.100.7/32", "v1")]
    assert netns.routes(198) == {("198.51.100.7", "v0", "248"), ("198.51.100.9", "v1", "248")}

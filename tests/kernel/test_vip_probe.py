"""vip_probe through real Ansible from a "switch" namespace: who answers ARP and NDP for a VIP, in this kernel.

Topology (all made here, documentation addresses only): namespace ``sw`` with bridge br0 (192.0.2.1/24,
2001:db8:1::1/64) and two responder namespaces n1, n2 on it (.11 / ::11, .12 / ::12). For each family one VIP
is held by nobody (zero answers), one by n1 (one answer, n1's MAC), one by n1 and n2 (two namespaces claiming
the same address: two MACs). The answers the kernels of n1 and n2 give are the witness; the expected counts
follow from where iproute2 put the addresses.
"""
import pytest

from nsutil import Netns, need, root_problem, run  # pylint: disable=import-error

V4 = {"none": "192.0.2.100", "one": "192.0.2.101", "two": "192.0.2.102"}
V6 = {"none": "2001:db8:1::100", "one": "2001:db8:1::101", "two": "2001:db8:1::102"}


def mac_of(ns, link):
    return ns.ip_json("link", "show", link)[0]["address"]


@pytest.fixture
def segment():
    """sw (br0) + n1, n2 attached to it; every namespace deleted afterwards."""
    need(root_problem())
    spaces = {name: Netns() for name in ("sw", "n1", "n2")}
    try:
        for ns in spaces.values():
            ns.create()
        sw = spaces["sw"]
        sw.ip("link", "add", "br0", "type", "bridge")
        sw.ip("link", "set", "br0", "addrgenmode", "none")
        sw.ip("address", "add", "192.0.2.1/24", "dev", "br0")
        sw.ip("address", "add", "2001:db8:1::1/64", "dev", "br0", "nodad")
        sw.ip("link", "set", "br0", "up")
        for index, name in ((11, "n1"), (12, "n2")):
            port = "p%s" % name
            run("ip", "-n", sw.name, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", spaces[name].name)
            sw.ip("link", "set", port, "master", "br0")
            sw.ip("link", "set", port, "up")
            node = spaces[name]
            node.ip("link", "set", "eth0", "addrgenmode", "none")
            node.ip("address", "add", "192.0.2.%d/24" % index, "dev", "eth0")
            node.ip("address", "add", "2001:db8:1::%d/64" % index, "dev", "eth0", "nodad")
            node.ip("link", "set", "eth0", "up")
        for vips in (V4, V6):
            for key, holders in (("one", ["n1"]), ("two", ["n1", "n2"])):
                for name in holders:
                    extra = ["nodad"] if ":" in vips[key] else []
                    spaces[name].ip("address", "add", "%s/%d" % (vips[key], 128 if extra else 32), "dev", "eth0", *extra)
        # an address behind a gateway, and none at all (sw has no default route)
        sw.ip("route", "add", "198.51.100.0/24", "via", "192.0.2.11")
        yield spaces
    finally:
        for ns in spaces.values():
            ns.delete()


def test_zero_one_and_two_answering_macs_ipv4_and_ipv6(segment):
    n1, n2 = mac_of(segment["n1"], "eth0"), mac_of(segment["n2"], "eth0")
    expected = [{"mac": n1, "host": "n1"}]
    asked = [{"address": a, "label": "VIP-%s" % k, "expected": expected} for each in (V4, V6) for k, a in each.items()]
    asked += [{"address": "198.51.100.5", "label": "routed"}, {"address": "203.0.113.5", "label": "unreachable"}]
    args = {"vips": asked, "timeout_ms": 600}
    result = segment["sw"].ansible("vip_probe", args)
    assert result["_rc"] == 0 and result["changed"] is False, result["_output"][-3000:]
    got = {r["address"]: r for r in result["vips"]}
    for vips in (V4, V6):
        family = "NDP" if vips is V6 else "ARP"
        assert got[vips["none"]]["count"] == 0 and got[vips["none"]]["ok"] is False, got[vips["none"]]
        assert got[vips["one"]]["macs"] == [n1] and got[vips["one"]]["ok"] is True, got[vips["one"]]
        assert got[vips["one"]]["holder"] == "n1" and got[vips["one"]]["interface"] == "br0"
        assert sorted(got[vips["two"]]["macs"]) == sorted([n1, n2]) and got[vips["two"]]["ok"] is False, got[vips["two"]]
        assert "2 MAC addresses answer %s on br0" % family in got[vips["two"]]["problem"]
        assert "0 MAC addresses answer %s" % family in got[vips["none"]]["problem"]
    assert got["198.51.100.5"]["ok"] is None and "through the gateway 192.0.2.11" in got["198.51.100.5"]["note"]
    assert got["203.0.113.5"]["ok"] is None and "no route" in got["203.0.113.5"]["note"]
    assert len(result["findings"]) == 4 and len(result["notes"]) == 2, result["findings"]
    # a node answering with another MAC than the holder's: n2 alone holds .101 now (n1's copy removed)
    segment["n1"].ip("address", "del", "%s/32" % V4["one"], "dev", "eth0")
    segment["n2"].ip("address", "add", "%s/32" % V4["one"], "dev", "eth0")
    again = segment["sw"].ansible("vip_probe", {"vips": [asked[1]], "timeout_ms": 600}, check=True)
    assert again["_rc"] == 0, again["_output"][-3000:]
    record = again["vips"][0]
    assert record["macs"] == [n2] and record["ok"] is False, record
    assert "which is not the holder's (%s (n1))" % n1 in record["problem"]


def test_bad_options_fail_naming_each_before_anything_is_sent(segment):
    args = {"vips": [{"address": "192.0.2.300"}, {"address": "192.0.2.7", "expected": [{"mac": "zz"}]}], "timeout_ms": 5}
    result = segment["sw"].ansible("vip_probe", args)
    assert result["failed"], result
    for text in ("timeout_ms is 5", "vips[0].address is '192.0.2.300'", "vips[1].expected[0].mac is 'zz'"):
        assert text in result["msg"], result["msg"]


def test_the_default_window_counts_a_router_answering_by_proxy_arp(segment):
    """A router on the segment with proxy ARP answers for an address it routes elsewhere, after a random delay below
    its proxy_delay (Linux 6.18 net/core/neighbour.c pneigh_enqueue; default (8 * HZ) / 10 = 0.8 s, net/ipv4/arp.c
    arp_tbl; this kernel's proxy_delay is set to that value here). The default window (1000 ms, the
    first request at its start) outlasts that delay, so the router is counted next to the holder: two MACs."""
    router = Netns()
    router.create()
    try:
        run("ip", "-n", segment["sw"].name, "link", "add", "pr", "type", "veth", "peer", "name", "eth0", "netns", router.name)
        segment["sw"].ip("link", "set", "pr", "master", "br0")
        segment["sw"].ip("link", "set", "pr", "up")
        router.ip("link", "set", "eth0", "addrgenmode", "none")
        router.ip("address", "add", "192.0.2.13/24", "dev", "eth0")
        router.ip("link", "set", "eth0", "up")
        router.ip("link", "add", "inside", "type", "veth", "peer", "name", "inside-peer")  # its other network
        router.ip("link", "set", "inside", "up")
        router.ip("link", "set", "inside-peer", "up")
        router.ip("route", "add", "%s/32" % V4["one"], "dev", "inside")  # the VIP, routed away from the segment
        router.exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.conf.eth0.proxy_arp=1",
                    "net.ipv4.neigh.eth0.proxy_delay=80")  # 80 centiseconds: the kernel's default, said explicitly
        n1, proxy = mac_of(segment["n1"], "eth0"), mac_of(router, "eth0")
        result = segment["sw"].ansible("vip_probe", {"vips": [{"address": V4["one"], "expected": [{"mac": n1, "host": "n1"}]}]})
        assert result["_rc"] == 0, result["_output"][-3000:]
        record = result["vips"][0]
        assert sorted(record["macs"]) == sorted([n1, proxy]) and record["ok"] is False, record
        assert "2 MAC addresses answer ARP on br0" in record["problem"]
    finally:
        router.delete()

"""Decisions of the host modules, without a kernel: examples and properties."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.baremetal.vip.plugins.module_utils.deps import netaddr

from ansible_collections.baremetal.vip.plugins.module_utils import reconcile
from ansible_collections.baremetal.vip.plugins.module_utils.reconcile import VipError

TABLE, PROTO = 198, 248


def route(dst, dev="eth0", table=TABLE, proto=PROTO, rtype="unicast"):
    family = reconcile.family_of(dst)
    return {"destination": dst, "interface": dev, "table": table, "protocol": proto, "type": rtype,
            "scope": 253 if family == "ipv4" else 0, "family": family, "gateway": None}


def addr(address, dev="eth0", prefix=None):
    family = reconcile.family_of(address)
    return {"address": address, "prefix": prefix or (32 if family == "ipv4" else 128), "interface": dev,
            "family": family, "scope": "global"}


def service(address, port=6443, scheduler="rr", dests=()):
    return {"address": address, "port": port, "protocol": "tcp", "scheduler": scheduler,
            "real_servers": [{"address": d, "port": port, "weight": 1, "forward_method": None} for d in dests]}


# --------------------------------------------------------------------------- normalization

@pytest.mark.parametrize("value, expected", [
    ("198.51.100.7", "198.51.100.7/32"),
    ("198.51.100.7/32", "198.51.100.7/32"),
    ("2001:DB8:0::7", "2001:db8::7/128"),
    ("2001:db8::7/128", "2001:db8::7/128"),
])
def test_normalize_host_cidr(value, expected):
    assert reconcile.normalize_host_cidr(value, "routes[0].destination") == expected


@pytest.mark.parametrize("value, message", [
    ("198.51.100.0/24", "routes[0].destination: 198.51.100.0/24 is not a host route"),
    ("eth0", "routes[0].destination: 'eth0' is not an IP address"),
    ("198.51.100.300", "is not an IP address"),
    (7, "is not an IP address"),
])
def test_normalize_host_cidr_refuses(value, message):
    with pytest.raises(VipError, match=message.replace("[", r"\[").replace("]", r"\]")):
        reconcile.normalize_host_cidr(value, "routes[0].destination")


# Written in many ways; the canonical text is netaddr's (the witness), whichever path computed it.
EDGE_ADDRESSES = ["::ffff:192.0.2.1", "::FFFF:C000:0201", "0:0:0:0:0:ffff:c000:201", "::192.0.2.1", "::ffff:1:2",
                  "2001:0DB8:0000:0000:0000:0000:0000:0007", "2001:db8:0:0:1:0:0:1", "2001:db8::0:7", "2001:DB8::A:B",
                  "2001:db8:0:1:1:1:1:1", "::", "::1", "::0.0.0.1", "192.0.2.1", "203.0.113.255", "0.0.0.0"]


@pytest.mark.parametrize("value", EDGE_ADDRESSES)
def test_normalized_text_is_netaddrs(value):
    expected = str(netaddr.IPAddress(value))
    full = 128 if ":" in value else 32
    assert reconcile.normalize_ip(value, "address") == expected
    assert reconcile.normalize_host_cidr(value, "routes[0].destination") == "%s/%d" % (expected, full)
    assert reconcile.normalize_host_cidr("%s/%d" % (value, full), "routes[0].destination") == "%s/%d" % (expected, full)


@pytest.mark.parametrize("value", ["192.0.2.01", "010.0.0.1", "192.0.2", "1", "0x1.2.3.4", " 192.0.2.1", "192.0.2.1 ", "192.0.2.1\0",
                                   "2001:db8::7%eth0", "2001:db8:::7", "2001:db8::g", "::ffff:192.0.2.01", ""])
def test_refused_addresses_keep_their_message(value):
    with pytest.raises((netaddr.AddrFormatError, ValueError)):  # the witness refuses them too
        netaddr.IPAddress(value)
    with pytest.raises(VipError) as raised:
        reconcile.normalize_ip(value, "address")
    assert str(raised.value) == "address: %r is not an IP address" % value
    with pytest.raises(VipError) as raised:
        reconcile.normalize_host_cidr(value + "/32", "routes[3].destination")
    assert str(raised.value) == "routes[3].destination: %r is not an IP address" % value


def test_normalize_host_cidrs_is_normalize_host_cidr_for_each():
    """The one-loop path gives normalize_host_cidr's text (netaddr's) for each value, and its refusal, with the index."""
    values = EDGE_ADDRESSES + ["%s/%d" % (value, 128 if ":" in value else 32) for value in EDGE_ADDRESSES] + ["198.51.100.7/"]
    assert reconcile.normalize_host_cidrs(values, "routes[%d].destination") == [
        reconcile.normalize_host_cidr(value, "routes[0].destination") for value in values]
    assert reconcile.normalize_host_cidrs([], "routes[%d].destination") == []
    for bad in ["198.51.100.0/24", "2001:db8::7/64", "198.51.100.7/032", "192.0.2.01/32", "eth0", 7, None, "2001:db8::7%eth0/128"]:
        with pytest.raises(VipError) as expected:
            reconcile.normalize_host_cidr(bad, "routes[2].destination")
        with pytest.raises(VipError) as raised:
            reconcile.normalize_host_cidrs(["198.51.100.7", "2001:db8::7", bad], "routes[%d].destination")
        assert str(raised.value) == str(expected.value)


def test_parse_ranges_accepts_cidrs_addresses_and_ranges():
    ranges = reconcile.parse_ranges(["198.51.100.0/28", "192.0.2.10", "198.51.100.20-198.51.100.30", "2001:db8::/64"], "x")
    for inside in ("198.51.100.15", "192.0.2.10", "198.51.100.25", "2001:db8::5"):
        assert reconcile.in_ranges(inside, ranges)
    for outside in ("198.51.100.16", "192.0.2.11", "198.51.100.31", "2001:db8:1::5"):
        assert not reconcile.in_ranges(outside, ranges)


def test_parse_ranges_refuses_garbage():
    with pytest.raises(VipError, match=r"owned_ranges\[1\]: 'nope' is not an address, CIDR or range"):
        reconcile.parse_ranges(["198.51.100.0/28", "nope"], "owned_ranges")


# --------------------------------------------------------------------------- routes

def test_routes_add_missing_like_kube_vip():
    changes = reconcile.plan_routes([{"destination": "198.51.100.7/32", "interface": "eth0"}], [], TABLE, PROTO)
    assert changes["add"] == [{"destination": "198.51.100.7/32", "interface": "eth0", "table": 198, "protocol": 248,
                               "type": "unicast", "family": "ipv4"}]
    assert changes["remove"] == []


def test_routes_present_is_unchanged():
    current = [route("198.51.100.7/32"), route("2001:db8::7/128")]
    desired = [{"destination": "198.51.100.7/32", "interface": "eth0"}, {"destination": "2001:db8::7/128", "interface": "eth0"}]
    changes = reconcile.plan_routes(desired, current, TABLE, PROTO, prune=True)
    assert changes["add"] == [] and changes["remove"] == []
    assert len(changes["unchanged"]) == 2


def test_routes_moved_interface_is_replaced():
    changes = reconcile.plan_routes([{"destination": "198.51.100.7/32", "interface": "eth1"}], [route("198.51.100.7/32")],
                                    TABLE, PROTO)
    assert [r["interface"] for r in changes["remove"]] == ["eth0"]
    assert [r["interface"] for r in changes["add"]] == ["eth1"]


def test_routes_one_destination_several_times():
    """One owned route per destination (the usual case) or several: kept only when one on the asked interface is unicast."""
    on_eth1 = route("198.51.100.7/32", dev="eth1")
    current = [route("198.51.100.7/32"), on_eth1,                                              # eth1 one kept, eth0 one pruned
               route("198.51.100.8/32", rtype="blackhole"),                                    # alone, not unicast: replaced
               route("198.51.100.9/32", rtype="blackhole"), route("198.51.100.9/32", dev="eth1")]  # none unicast on eth0
    desired = [{"destination": "198.51.100.7/32", "interface": "eth1"}, {"destination": "198.51.100.8/32", "interface": "eth0"},
               {"destination": "198.51.100.9/32", "interface": "eth0"}]
    changes = reconcile.plan_routes(desired, current, TABLE, PROTO, prune=True)
    assert changes["unchanged"] == [on_eth1]
    assert [id(r) for r in changes["remove"]] == [id(current[0]), id(current[2]), id(current[3]), id(current[4])]  # the table's order
    assert [(r["destination"], r["interface"]) for r in changes["add"]] == [("198.51.100.8/32", "eth0"), ("198.51.100.9/32", "eth0")]


def test_routes_prune_only_own_table_and_protocol():
    current = [route("198.51.100.7/32"), route("198.51.100.8/32"), route("198.51.100.9/32", proto=4),
               route("203.0.113.0/24", proto=3), route("198.51.100.10/32", table=199)]
    changes = reconcile.plan_routes([{"destination": "198.51.100.7/32", "interface": "eth0"}], current, TABLE, PROTO, prune=True)
    assert [r["destination"] for r in changes["remove"]] == ["198.51.100.8/32"]
    assert [r["destination"] for r in changes["legacy"]] == ["198.51.100.9/32"]


def test_routes_legacy_removed_only_when_named():
    current = [route("198.51.100.9/32", proto=3), route("2001:db8::9/128", proto=4)]
    changes = reconcile.plan_routes([], current, TABLE, PROTO, prune=True)
    assert changes["remove"] == [] and len(changes["legacy"]) == 2
    changes = reconcile.plan_routes([], current, TABLE, PROTO, remove_legacy=["2001:db8::9/128"])
    assert [r["destination"] for r in changes["remove"]] == ["2001:db8::9/128"]
    assert [r["destination"] for r in changes["legacy"]] == ["198.51.100.9/32"]


def test_routes_desired_clashing_with_legacy_needs_a_name():
    current = [route("198.51.100.7/32", proto=3)]
    desired = [{"destination": "198.51.100.7/32", "interface": "eth0"}]
    with pytest.raises(VipError, match="table 198 already has 198.51.100.7/32 with protocol 3 .legacy kube-vip route.; "
                                       "name it in remove_legacy"):
        reconcile.plan_routes(desired, current, TABLE, PROTO)
    changes = reconcile.plan_routes(desired, current, TABLE, PROTO, remove_legacy=["198.51.100.7/32"])
    assert [r["protocol"] for r in changes["remove"]] == [3] and [r["protocol"] for r in changes["add"]] == [248]


@pytest.mark.parametrize("table", [0, 253, 254, 255])
def test_routes_refuse_reserved_tables_with_prune(table):
    with pytest.raises(VipError, match="table %d" % table):
        reconcile.plan_routes([], [route("198.51.100.7/32", table=table)], table, PROTO, prune=True)


@pytest.mark.parametrize("proto", [0, 2, 3, 4])
def test_routes_refuse_reserved_protocols_with_prune(proto):
    with pytest.raises(VipError, match="refusing to remove routes of protocol %d" % proto):
        reconcile.plan_routes([], [], TABLE, proto, prune=True)


def test_routes_one_interface_per_vip():
    desired = [{"destination": "198.51.100.7/32", "interface": "eth0"}, {"destination": "198.51.100.7/32", "interface": "eth1"}]
    with pytest.raises(VipError, match=r"routes\[1\]: 198.51.100.7/32 is asked for on eth0 and on eth1"):
        reconcile.plan_routes(desired, [route("198.51.100.7/32")], TABLE, PROTO)


def test_routes_main_table_is_fine_without_prune():
    changes = reconcile.plan_routes([{"destination": "198.51.100.7/32", "interface": "eth0"}], [], 254, PROTO)
    assert changes["add"][0]["table"] == 254


# --------------------------------------------------------------------------- addresses

def owned(*ranges):
    return reconcile.parse_ranges(list(ranges), "owned_ranges")


def test_address_add_and_unchanged():
    want = [{"address": "192.0.2.10", "prefix": 32, "interface": "eth0"}]
    assert reconcile.plan_addresses([], want)["add"] == [dict(want[0], family="ipv4")]
    changes = reconcile.plan_addresses([addr("192.0.2.10")], want)
    assert changes["add"] == [] and changes["remove"] == []


def test_address_absent_everywhere_or_on_one_interface():
    current = [addr("192.0.2.10", "eth0"), addr("192.0.2.10", "eth1")]
    assert len(reconcile.plan_addresses(current, absent=[{"address": "192.0.2.10", "interface": None}])["remove"]) == 2
    assert [a["interface"] for a in reconcile.plan_addresses(current, absent=[{"address": "192.0.2.10", "interface": "eth1"}])["remove"]] == ["eth1"]


def test_address_prune_inside_owned_only():
    current = [addr("192.0.2.11", prefix=24), addr("198.51.100.3"), addr("198.51.100.4"), addr("203.0.113.5"),
               addr("2001:db8::5"), addr("2001:db8:1::5")]
    changes = reconcile.plan_addresses(current, [{"address": "198.51.100.3", "prefix": 32, "interface": "eth0"}],
                                       owned=owned("198.51.100.0/28", "2001:db8::/64"), protected=["192.0.2.11"], prune=True)
    assert sorted(a["address"] for a in changes["remove"]) == ["198.51.100.4", "2001:db8::5"]


def test_address_prune_spares_protected_and_keep_even_inside_owned():
    current = [addr("192.0.2.11", prefix=24), addr("192.0.2.12"), addr("192.0.2.13")]
    changes = reconcile.plan_addresses(current, owned=owned("192.0.2.0/24"), protected=["192.0.2.11"], keep=["192.0.2.12"],
                                       prune=True)
    assert [a["address"] for a in changes["remove"]] == ["192.0.2.13"]


def test_address_refuses_protected_and_outside_owned():
    with pytest.raises(VipError, match="refusing to manage 192.0.2.11 on eth0: it is a protected address"):
        reconcile.plan_addresses([], absent=[{"address": "192.0.2.11", "interface": "eth0"}], protected=["192.0.2.11"])
    with pytest.raises(VipError, match="203.0.113.5 is outside owned_ranges"):
        reconcile.plan_addresses([], [{"address": "203.0.113.5", "prefix": 32, "interface": "eth0"}], owned=owned("198.51.100.0/24"))


# --------------------------------------------------------------------------- IPVS

def test_ipvs_restores_missing_service():
    want = [service("192.0.2.10", dests=["192.0.2.11", "192.0.2.12"])]
    changes = reconcile.plan_ipvs(want, [], owned("192.0.2.10"))
    assert changes["add_services"] == want


def test_ipvs_fixes_scheduler_and_real_servers():
    have = service("192.0.2.10", scheduler="wlc", dests=["192.0.2.11", "192.0.2.13"])
    have["real_servers"][0]["weight"] = 5
    want = [service("192.0.2.10", dests=["192.0.2.11", "192.0.2.12"])]
    changes = reconcile.plan_ipvs(want, [have], owned("192.0.2.10"))
    assert changes["edit_services"] == want
    assert [i["dest"]["address"] for i in changes["add_dests"]] == ["192.0.2.12"]
    assert [i["dest"]["address"] for i in changes["remove_dests"]] == ["192.0.2.13"]
    assert [(i["dest"]["address"], i["dest"]["weight"]) for i in changes["edit_dests"]] == [("192.0.2.11", 1)]


def test_ipvs_forward_method_compared_only_when_given():
    have = service("192.0.2.10", dests=["192.0.2.11"])
    have["real_servers"][0]["forward_method"] = "local"
    want = service("192.0.2.10", dests=["192.0.2.11"])
    assert reconcile.plan_ipvs([want], [have], owned("192.0.2.10"))["unchanged"] == ["TCP 192.0.2.10:6443"]
    want["real_servers"][0]["weight"] = 3
    edits = reconcile.plan_ipvs([want], [have], owned("192.0.2.10"))["edit_dests"]
    assert [(e["dest"]["weight"], e["dest"]["forward_method"]) for e in edits] == [(3, "local")]  # method kept
    want["real_servers"][0]["forward_method"] = "masquerade"
    edits = reconcile.plan_ipvs([want], [have], owned("192.0.2.10"))["edit_dests"]
    assert [(e["dest"]["weight"], e["dest"]["forward_method"]) for e in edits] == [(3, "masquerade")]


def test_ipvs_prune_owned_only_and_never_fwmark():
    current = [service("192.0.2.10"), service("192.0.2.20"), service("203.0.113.5", port=80),
               {"address": None, "fwmark": 7, "port": 0, "protocol": 0, "scheduler": "rr", "real_servers": []}]
    changes = reconcile.plan_ipvs([service("192.0.2.10")], current, owned("192.0.2.0/24"), prune=True)
    assert [s["address"] for s in changes["remove_services"]] == ["192.0.2.20"]
    assert changes["foreign"] == ["TCP 203.0.113.5:80", "FWM 7"]


def test_ipvs_without_owned_compares_existing_desired_services():
    """No owned_addresses (no prune): a desired service that exists is compared, not added again (the kernel: File exists)."""
    have = service("192.0.2.10", dests=["192.0.2.11"])
    other = service("203.0.113.5", port=80, dests=["203.0.113.6"])
    want = service("192.0.2.10", dests=["192.0.2.11"])
    changes = reconcile.plan_ipvs([want], [have, other])
    assert changes["add_services"] == [] and changes["unchanged"] == ["TCP 192.0.2.10:6443"]
    assert changes["foreign"] == ["TCP 203.0.113.5:80"]
    want = service("192.0.2.10", dests=["192.0.2.12"])
    changes = reconcile.plan_ipvs([want, service("192.0.2.20")], [have, other])
    assert [s["address"] for s in changes["add_services"]] == ["192.0.2.20"]
    assert [i["dest"]["address"] for i in changes["add_dests"]] == ["192.0.2.12"]
    assert [i["dest"]["address"] for i in changes["remove_dests"]] == ["192.0.2.11"]
    assert changes["remove_services"] == []  # nothing pruned, even if asked, without owned addresses
    assert reconcile.plan_ipvs([want], [have, other], prune=True)["remove_services"] == []


def test_ipvs_refuses_service_outside_owned():
    with pytest.raises(VipError, match=r"IPVS service TCP \[2001:db8::10\]:6443: 2001:db8::10 is outside owned_addresses"):
        reconcile.plan_ipvs([service("2001:db8::10")], [], owned("192.0.2.10"))


# --------------------------------------------------------------------------- properties

V4_HOSTS = st.integers(min_value=1, max_value=254)


@st.composite
def route_mix(draw):
    """Routes of kube-vip (owned), other protocols, other tables; plus desired ones."""
    hosts = draw(st.lists(V4_HOSTS, unique=True, min_size=0, max_size=30))
    current, desired = [], []
    for host in hosts:
        dst = "198.51.100.%d/32" % host if host % 2 else "2001:db8::%x/128" % host
        kind = draw(st.sampled_from(["owned", "owned_wanted", "other_proto", "other_table", "network", "wanted_new"]))
        if kind.startswith("owned"):
            current.append(route(dst, dev=draw(st.sampled_from(["eth0", "eth1"]))))
            if kind == "owned_wanted":
                desired.append({"destination": dst, "interface": draw(st.sampled_from(["eth0", "eth1"]))})
        elif kind == "other_proto":
            current.append(route(dst, proto=draw(st.sampled_from([2, 3, 4, 186, 249]))))
        elif kind == "other_table":
            current.append(route(dst, table=draw(st.sampled_from([199, 254, 1000]))))
            if draw(st.booleans()):
                desired.append({"destination": dst, "interface": "eth0"})
        elif kind == "network":
            current.append(route(dst.replace("/32", "/31").replace("/128", "/127"), proto=draw(st.sampled_from([3, 4]))))
        else:
            desired.append({"destination": dst, "interface": "eth0"})
    return current, desired


@settings(max_examples=300, deadline=None)
@given(route_mix())
def test_property_routes_remove_every_orphan_and_no_foreign(mix):
    current, desired = mix
    changes = reconcile.plan_routes(desired, current, TABLE, PROTO, prune=True)
    wanted = {(d["destination"], d["interface"]) for d in desired}
    orphans = [r for r in current if r["table"] == TABLE and r["protocol"] == PROTO
               and (r["destination"], r["interface"]) not in wanted]
    for orphan in orphans:
        assert orphan in changes["remove"]
    for removed in changes["remove"]:
        assert removed["table"] == TABLE and removed["protocol"] == PROTO
    after = [(r["destination"], r["interface"]) for r in current if r not in changes["remove"] and r["table"] == TABLE
             and r["protocol"] == PROTO] + [(r["destination"], r["interface"]) for r in changes["add"]]
    assert sorted(after) == sorted(wanted)


RANGES = reconcile.parse_ranges(["198.51.100.0/25", "2001:db8::/120"], "owned_ranges")


@st.composite
def address_mix(draw):
    entries = draw(st.lists(st.tuples(st.sampled_from(["192.0.2", "198.51.100", "203.0.113"]), V4_HOSTS,
                                      st.sampled_from(["eth0", "eth1", "lo"])), unique=True, max_size=30))
    current = [addr("%s.%d" % (net, host), dev) for net, host, dev in entries]
    current += [addr("2001:db8::%x" % host, dev) for _net, host, dev in entries[:5]]
    present = [{"address": a["address"], "prefix": a["prefix"], "interface": a["interface"]}
               for a in current if reconcile.in_ranges(a["address"], RANGES) and draw(st.booleans())]
    protected = [a["address"] for a in current if draw(st.integers(0, 9)) == 0]
    present = [p for p in present if p["address"] not in protected]
    return current, present, protected


@settings(max_examples=300, deadline=None)
@given(address_mix())
def test_property_addresses_remove_every_orphan_and_no_foreign(mix):
    current, present, protected = mix
    ranges = RANGES
    changes = reconcile.plan_addresses(current, present, owned=ranges, protected=protected, prune=True)
    wanted = {(p["address"], p["interface"]) for p in present}
    for item in current:
        orphan = (reconcile.in_ranges(item["address"], ranges) and item["address"] not in protected
                  and (item["address"], item["interface"]) not in wanted)
        assert (item in changes["remove"]) == orphan, item


@st.composite
def service_mix(draw):
    hosts = draw(st.lists(st.tuples(st.sampled_from(["192.0.2", "203.0.113"]), V4_HOSTS, st.sampled_from([80, 443, 6443])),
                          unique=True, max_size=20))
    current = [service("%s.%d" % (net, host), port) for net, host, port in hosts]
    current.append({"address": None, "fwmark": 9, "port": 0, "protocol": 0, "scheduler": "rr", "real_servers": []})
    desired = [s for s in current if s["address"] and s["address"].startswith("192.0.2.") and draw(st.booleans())]
    desired += [service("192.0.2.%d" % h, 8443) for h in draw(st.lists(V4_HOSTS, unique=True, max_size=3))]
    return current, desired


@settings(max_examples=300, deadline=None)
@given(service_mix())
def test_property_ipvs_remove_every_orphan_and_no_foreign(mix):
    current, desired = mix
    changes = reconcile.plan_ipvs(desired, current, owned("192.0.2.0/24"), prune=True)
    wanted = {reconcile.service_key(s) for s in desired}
    removed = {reconcile.service_key(s) for s in changes["remove_services"]}
    orphans = {reconcile.service_key(s) for s in current if s["address"] and s["address"].startswith("192.0.2.")} - wanted
    assert removed == orphans
    existing = {reconcile.service_key(s) for s in current if s["address"]}
    assert {reconcile.service_key(s) for s in changes["add_services"]} == wanted - existing


def _plan_routes_spec(desired, current, table, protocol, prune, remove_legacy):
    """plan_routes written as its docstring says it, one destination at a time (slow, plain): the reference."""
    ours = [r for r in current if r["table"] == table and r["protocol"] == protocol]
    asked = {}
    for want in desired:
        asked.setdefault(want["destination"], want["interface"])
    unchanged, remove, add = [], [], []
    for destination, interface in asked.items():
        same = [r for r in ours if r["destination"] == destination]
        # kube-vip's route: unicast on the asked interface, no gateway, no next hops, scope universe or link
        vip = [r for r in same if r["interface"] == interface and r.get("type") == "unicast" and r.get("gateway") is None
               and not r.get("nexthops") and r.get("scope") in (0, 253)]
        if vip:
            unchanged.append(vip[0])
            remove += [r for r in same if r is not vip[0]]
        else:
            remove += same
            add.append((destination, interface))
    if prune:
        remove += [r for r in ours if not any(r is u for u in unchanged) and not any(r is x for x in remove)]
    legacy = [r for r in current if r["table"] == table and r["protocol"] != protocol and reconcile.is_legacy_route(r, table, protocol)]
    remove += [r for r in legacy if r["destination"] in remove_legacy]
    return {"add": add, "remove": remove, "unchanged": unchanged, "legacy": [r for r in legacy if r["destination"] not in remove_legacy]}


@st.composite
def crowded_table(draw):
    """Few destinations, many routes: several routes per destination (interfaces, types, protocols, tables)."""
    destinations = ["198.51.100.7/32", "198.51.100.8/32", "2001:db8::7/128", "2001:db8::8/128"]
    current = [dict(route(draw(st.sampled_from(destinations)), dev=draw(st.sampled_from(["eth0", "eth1"])),
                          table=draw(st.sampled_from([TABLE, TABLE, 199])), proto=draw(st.sampled_from([PROTO, PROTO, 3, 4])),
                          rtype=draw(st.sampled_from(["unicast", "unicast", "blackhole"]))),
                    **draw(st.sampled_from([{}, {}, {"gateway": "192.0.2.1", "scope": 0}, {"scope": 0}, {"scope": 200},
                                            {"nexthops": [{"gateway": None, "interface": "eth0", "weight": 1}], "interface": None}])))
               for _number in range(draw(st.integers(0, 8)))]
    desired = [{"destination": destination, "interface": draw(st.sampled_from(["eth0", "eth1"]))}
               for destination in draw(st.lists(st.sampled_from(destinations), max_size=4, unique=True))]
    desired += draw(st.lists(st.sampled_from(desired), max_size=2)) if desired else []  # the same ask twice is fine
    return current, desired, draw(st.booleans()), draw(st.lists(st.sampled_from(destinations), max_size=2, unique=True))


@settings(max_examples=500, deadline=None)
@given(crowded_table())
def test_property_plan_routes_is_its_specification(case):
    """The set-wise decision equals the one-destination-at-a-time specification on crowded tables (duplicates, other
    types, interfaces, gateways, next hops, scopes, protocols, tables, prune or not, named legacy routes): same additions in the same order, the
    same routes removed, kept unchanged and reported legacy; a clash with another protocol's route refused by both."""
    current, desired, prune, legacy = case
    spec = _plan_routes_spec(desired, current, TABLE, PROTO, prune, set(legacy))
    clash = any(r["table"] == TABLE and r["protocol"] != PROTO and r["destination"] == destination and destination not in legacy
                for destination, _interface in spec["add"] for r in current)
    if clash:
        with pytest.raises(VipError, match="name it in remove_legacy"):
            reconcile.plan_routes(desired, current, TABLE, PROTO, prune, legacy)
        return
    changes = reconcile.plan_routes(desired, current, TABLE, PROTO, prune, legacy)
    assert [(r["destination"], r["interface"]) for r in changes["add"]] == spec["add"]
    for key in ("remove", "unchanged", "legacy"):
        assert sorted(map(id, changes[key])) == sorted(map(id, spec[key])), key
        assert len(changes[key]) == len(set(map(id, changes[key]))), key


def _a(address, dev="eth0", prefix=32, secondary=False, peer=None):
    return dict(addr(address, dev, prefix), secondary=secondary, peer=peer)


def test_the_last_ipv4_address_of_an_interface_with_routes_is_spared():
    current = [_a("198.51.100.3", "eth1"), _a("198.51.100.4", "eth1"), _a("2001:db8::3", "eth1", 128), _a("198.51.100.5", "eth0"),
               _a("192.0.2.11", "eth0", 24)]
    remove = current[:4]
    assert reconcile.last_address_interfaces(current, remove) == ["eth1"]
    through = [{"destination": "203.0.113.0/24", "interface": "eth1", "table": 200, "protocol": 4, "nexthops": None},
               {"destination": "198.51.100.3/32", "interface": "eth1", "table": 255, "protocol": 2, "nexthops": None}]
    [(spared, reason)] = reconcile.unsafe_address_removals(current, remove, through)
    assert spared is current[0] and reason.startswith("it is the last IPv4 address of eth1") and "203.0.113.0/24 table 200 proto 4" in reason
    assert reconcile.unsafe_address_removals(current, remove, through[1:]) == []  # only the kernel's own routes: fine
    hop = [{"destination": "203.0.113.0/24", "interface": None, "table": 200, "protocol": 4,
            "nexthops": [{"interface": "eth0"}, {"interface": "eth1"}]}]
    assert len(reconcile.unsafe_address_removals(current, remove, hop)) == 1  # one hop through it is enough


def test_a_primary_whose_secondaries_stay_is_spared():
    current = [_a("198.51.100.1", prefix=24), _a("198.51.100.200", prefix=24, secondary=True), _a("198.51.100.2", prefix=25),
               _a("203.0.113.1", "eth1", 24), _a("203.0.113.2", "eth1", 24, secondary=True)]
    unsafe = reconcile.unsafe_address_removals(current, [current[0], current[2], current[3], current[4]])
    assert [(a["address"], "198.51.100.200" in reason) for a, reason in unsafe] == [("198.51.100.1", True)]

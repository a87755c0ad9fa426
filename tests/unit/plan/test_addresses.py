# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules 1 and 2: the control-plane VIP, pools, node addresses and the overlap check (IPv4 and IPv6)."""

from __future__ import annotations

import pytest

from testkit.planlib import errors, has, hosts4, hosts6, ok, run

METALLB = {"provider": "metallb"}


def pools(*entries, **extra):
    """vip_services with MetalLB pools p0, p1, ... from address lists."""
    out = dict(METALLB, **extra)
    out["pools"] = [{"name": "p%d" % i, "addresses": list(addrs)} for i, addrs in enumerate(entries)]
    return {"vip_services": out}


# -- rule 1: the control-plane VIP ---------------------------------------------------------

def test_vip_normalized_ipv4():
    cp = ok()["control_plane"]
    assert (cp["address"], cp["family"], cp["prefix"], cp["cidr"]) == ("192.0.2.10", "ipv4", 32, "192.0.2.10/32")


def test_vip_normalized_ipv6_compressed():
    cp = ok({"vip_control_plane": {"address": "2001:0db8:0001:0000:0000:0000:0000:0010"}}, ipv6=True)["control_plane"]
    assert (cp["address"], cp["family"], cp["prefix"], cp["cidr"]) == ("2001:db8:1::10", "ipv6", 128, "2001:db8:1::10/128")


@pytest.mark.parametrize("address", ["192.0.2.10/32", "192.0.2.0/24", "cp.example.org", "192.0.2.256"])
def test_vip_must_be_one_host_address(address):
    errs = errors({"vip_control_plane": {"address": address}})
    assert has(errs, "vip_control_plane.address (%s)" % address, "one IPv4 or IPv6 host address")


def test_vip_must_not_be_a_node_address():
    errs = errors({"vip_control_plane": {"address": "192.0.2.12"}})
    assert has(errs, "vip_control_plane.address (192.0.2.12)", "hostvars[cp2].ansible_host (192.0.2.12)")


def test_vip_must_not_be_a_node_address_ipv6():
    errs = errors({"vip_control_plane": {"address": "2001:db8:1::12"}}, ipv6=True)
    assert has(errs, "2001:db8:1::12", "hostvars[cp2].ansible_host")


@pytest.mark.parametrize("address,other", [
    ("203.0.113.130", "vip_cluster.pod_cidrs[0] (203.0.113.128/25)"),
    ("203.0.113.70", "vip_cluster.service_cidrs[0] (203.0.113.64/26)"),
])
def test_vip_outside_pod_and_service_cidrs(address, other):
    errs = errors({"vip_control_plane": {"address": address, "mode": "bgp"},
                   "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513}]}})
    assert has(errs, "vip_control_plane.address (%s)" % address, other)


def test_vip_outside_pools():
    errs = errors(pools(["192.0.2.0/28"]))
    assert has(errs, "vip_control_plane.address (192.0.2.10) overlaps vip_services.pools[0] (p0, 192.0.2.0/28)")


def test_vip_outside_pools_ipv6():
    errs = errors(pools(["2001:db8:1::/120"]), ipv6=True)
    assert has(errs, "vip_control_plane.address (2001:db8:1::10)", "vip_services.pools[0] (p0, 2001:db8:1::/120)")


def test_arp_vip_inside_a_node_cidr():
    errs = errors({"vip_control_plane": {"address": "198.51.100.10"}})
    assert has(errs, "vip_control_plane.address (198.51.100.10) is outside every vip_cluster.node_cidrs (192.0.2.0/24)",
               "mode arp")


def test_arp_vip_ipv6_inside_a_node_cidr():
    errs = errors({"vip_control_plane": {"address": "2001:db8:2::10"}}, ipv6=True)
    assert has(errs, "2001:db8:2::10", "outside every vip_cluster.node_cidrs (2001:db8:1::/64)")


@pytest.mark.parametrize("mode", ["bgp", "routing_table"])
def test_routed_vip_may_be_anywhere_else(mode):
    plan = ok({"vip_control_plane": {"address": "198.51.100.10", "mode": mode},
               "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513}]}})
    assert plan["control_plane"]["cidr"] == "198.51.100.10/32"


@pytest.mark.parametrize("address", ["192.0.2.0", "192.0.2.255"])
def test_vip_not_network_or_broadcast(address):
    errs = errors({"vip_control_plane": {"address": address}})
    assert has(errs, "vip_control_plane.address (%s)" % address, "network or broadcast")


def test_vip_family_must_be_a_cluster_family():
    errs = errors({"vip_control_plane": {"address": "2001:db8::10", "mode": "bgp"},
                   "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513}]}})
    assert has(errs, "vip_control_plane.address (2001:db8::10) is ipv6", "only ipv4")


def test_no_control_plane_vip():
    plan = ok({"vip_control_plane": None})
    assert plan["control_plane"] is None
    assert plan["owned"]["addresses"] == []
    assert plan["nodes"]["cp1"]["super_admin"] is False


# -- rule 2: pools parse --------------------------------------------------------------------

def test_pool_entries_normalized_with_exact_cidr_cover():
    plan = ok(pools(["198.51.100.0/28", "198.51.100.20-198.51.100.30", " 198.51.100.40 "]))
    pool = plan["services"]["pools"][0]
    assert pool["family"] == "ipv4"
    assert pool["addresses"] == ["198.51.100.0/28", "198.51.100.20-198.51.100.30", "198.51.100.40/32"]
    assert pool["cidrs"] == ["198.51.100.0/28", "198.51.100.20/30", "198.51.100.24/30", "198.51.100.28/31",
                             "198.51.100.30/32", "198.51.100.40/32"]


def test_pool_ipv6_normalized():
    plan = ok(pools(["2001:DB8:1:0::100-2001:db8:1::1ff", "2001:db8:1::200/120"]), ipv6=True)
    pool = plan["services"]["pools"][0]
    assert pool["family"] == "ipv6"
    assert pool["addresses"] == ["2001:db8:1::100-2001:db8:1::1ff", "2001:db8:1::200/120"]
    assert pool["cidrs"] == ["2001:db8:1::100/120", "2001:db8:1::200/120"]
    assert plan["services"]["owned_cidrs"] == ["2001:db8:1::100/120", "2001:db8:1::200/120"]  # not aligned to /119
    plan = ok(pools(["2001:db8:1::200/120"], ["2001:db8:1::300/120"]), ipv6=True)
    assert plan["services"]["owned_cidrs"] == ["2001:db8:1::200/119"]


def test_owned_cidrs_merged_and_sorted():
    plan = ok(pools(["192.0.2.72/29"], ["192.0.2.64/29"], ["192.0.2.96-192.0.2.99"]))
    assert plan["services"]["owned_cidrs"] == ["192.0.2.64/28", "192.0.2.96/30"]
    assert plan["owned"]["service_addresses"] == ["192.0.2.64/28", "192.0.2.96/30"]
    assert plan["owned"]["addresses"] == ["192.0.2.10/32"]  # MetalLB pools are not ours to remove


@pytest.mark.parametrize("entry,why", [
    ("198.51.100.0/33", "invalid prefix length"),
    ("198.51.100.5/28", "host bits set (did you mean 198.51.100.0/28?)"),
    ("198.51.100.30-198.51.100.20", "first address is after the last"),
    ("198.51.100.1-2001:db8::1", "mixes IPv4 and IPv6"),
    ("pool.example.org", "not an IP address"),
    ("2001:db8::5/64", "host bits set (did you mean 2001:db8::/64?)"),
])
def test_pool_entry_errors(entry, why):
    errs = errors(pools([entry]))
    assert has(errs, "vip_services.pools[0].addresses[0] (%s)" % entry, why, "first-last")


def test_pool_mixing_families_is_an_error_for_kube_vip():
    errs = errors(pools(["192.0.2.64/28", "2001:db8:1::/120"], provider="kube_vip"))
    assert has(errs, "vip_services.pools[0] (p0) mixes IPv4 and IPv6")


def test_pool_family_must_be_a_cluster_family():
    errs = errors(pools(["2001:db8:1::/120"]))
    assert has(errs, "vip_services.pools[0] (p0) is ipv6", "only ipv4")


def test_pool_names_unique_dns_labels():
    errs = errors({"vip_services": {"provider": "metallb", "pools": [
        {"name": "Public_Pool", "addresses": ["192.0.2.64/29"]},
        {"name": "web", "addresses": ["192.0.2.72/29"]},
        {"name": "web", "addresses": ["192.0.2.80/29"]}]}})
    assert has(errs, "vip_services.pools[0].name (Public_Pool) must be a DNS-1123 subdomain")
    assert has(errs, "vip_services.pools[2].name (web) is also the name of vip_services.pools[1]")


def test_pool_requires_addresses():
    errs = errors({"vip_services": {"provider": "metallb", "pools": [{"name": "a", "addresses": []}, {"name": "b"}]}})
    assert has(errs, "vip_services.pools[0].addresses (a) is empty")
    assert has(errs, "vip_services.pools[1].addresses is required")


def test_l2_pool_outside_node_cidrs_warns():
    result = run(pools(["198.51.100.0/28"]))
    assert result["errors"] == []
    assert has(result["warnings"], "vip_services.pools[0] (p0) advertises 198.51.100.0/28 over l2", "outside every")


# -- rule 2: overlaps -------------------------------------------------------------------------

def test_pool_overlap_message_matches_docs():
    errs = errors({"vip_services": {"provider": "metallb", "pools": [
        {"name": "public", "addresses": ["198.51.100.0/28"]},
        {"name": "web", "addresses": ["198.51.100.8/29"]}]}})
    assert "vip_services.pools[1] (web, 198.51.100.8/29) overlaps vip_services.pools[0] (public, 198.51.100.0/28)" in errs


def test_adjacent_pools_do_not_overlap():
    ok(pools(["192.0.2.64/29"], ["192.0.2.72/29"], ["192.0.2.80-192.0.2.90"], ["192.0.2.91"]))


def test_range_overlapping_cidr():
    errs = errors(pools(["192.0.2.64/28"], ["192.0.2.79-192.0.2.90"]))
    assert has(errs, "vip_services.pools[1] (p1, 192.0.2.79-192.0.2.90) overlaps vip_services.pools[0] (p0, 192.0.2.64/28)")


def test_pool_overlapping_pod_service_and_node_addresses():
    errs = errors(pools(["203.0.113.100-203.0.113.140"], ["192.0.2.20-192.0.2.21"]))
    assert has(errs, "vip_services.pools[0] (p0, 203.0.113.100-203.0.113.140)", "vip_cluster.service_cidrs[0]")
    assert has(errs, "vip_cluster.pod_cidrs[0] (203.0.113.128/25)", "vip_services.pools[0]")
    assert has(errs, "hostvars[worker1].ansible_host (192.0.2.21)", "vip_services.pools[1] (p1, 192.0.2.20-192.0.2.21)")


def test_pod_and_service_cidrs_must_not_overlap():
    errs = errors({"vip_cluster": {"service_cidrs": ["203.0.113.192/26"]}})
    assert has(errs, "vip_cluster.service_cidrs[0] (203.0.113.192/26) overlaps vip_cluster.pod_cidrs[0] (203.0.113.128/25)")


def test_node_address_inside_pod_cidr():
    hosts, groups = hosts4()
    hosts["worker2"]["vip_node_ip"] = "203.0.113.200"
    errs = errors({"vip_cluster": {"node_cidrs": ["192.0.2.0/24", "203.0.113.0/24"]}}, hosts=hosts, groups=groups)
    assert has(errs, "hostvars[worker2].vip_node_ip (203.0.113.200)", "vip_cluster.pod_cidrs[0]")


def test_ipv6_overlaps():
    errs = errors(pools(["2001:db8:1::100/120"], ["2001:db8:1::180-2001:db8:1::2ff"],
                        ["2001:db8:43::/120"]), ipv6=True)
    assert has(errs, "vip_services.pools[1] (p1, 2001:db8:1::180-2001:db8:1::2ff) overlaps vip_services.pools[0]")
    assert has(errs, "2001:db8:43::/120", "vip_cluster.service_cidrs[0] (2001:db8:43::/112)")


def test_ipv4_and_ipv6_never_overlap_each_other():
    plan = ok(dict(pools(["192.0.2.64/28"], ["2001:db8:1::40/124"]),
                   vip_cluster={"node_cidrs": ["192.0.2.0/24", "2001:db8:1::/64"]}))
    assert plan["cluster"]["families"] == ["ipv4", "ipv6"]
    assert [p["family"] for p in plan["services"]["pools"]] == ["ipv4", "ipv6"]


def test_all_errors_collected_not_just_the_first():
    errs = errors(dict(pools(["192.0.2.64/28"], ["192.0.2.70/31"], ["bad"]),
                       vip_control_plane={"address": "192.0.2.65", "port": 0}, vip_kube_proxy={"mode": "ipvs", "strict_arp": False}))
    assert len(errs) >= 5
    assert has(errs, "vip_control_plane.port is 0")
    assert has(errs, "pools[2].addresses[0] (bad)")
    assert has(errs, "vip_kube_proxy.strict_arp is false")
    assert has(errs, "vip_services.pools[1] (p1, 192.0.2.70/31) overlaps vip_services.pools[0] (p0, 192.0.2.64/28)")
    assert has(errs, "vip_control_plane.address (192.0.2.65) overlaps vip_services.pools[0]")


def test_pools_of_provider_none_are_still_checked_but_not_planned():
    result = run({"vip_services": {"provider": "none", "pools": [{"name": "a", "addresses": ["192.0.2.8/29"]}]}})
    assert has(result["errors"], "vip_control_plane.address (192.0.2.10) overlaps vip_services.pools[0]")
    result = run({"vip_services": {"pools": [{"name": "a", "addresses": ["192.0.2.64/29"]}]}})
    assert result["plan"]["services"]["pools"] == []
    assert has(result["warnings"], "provider is none")


# -- nodes ------------------------------------------------------------------------------------

def test_nodes_in_inventory_order_control_plane_first_deduplicated():
    hosts, _groups = hosts4()
    groups = {"kube_node": ["worker1", "cp1", "worker2"], "kube_control_plane": ["cp1", "cp2", "cp3"]}
    plan = ok(hosts=hosts, groups=groups)
    assert list(plan["nodes"]) == ["cp1", "cp2", "cp3", "worker1", "worker2"]
    assert plan["nodes"]["cp1"]["control_plane"] and plan["nodes"]["cp1"]["worker"]
    assert not plan["nodes"]["cp2"]["worker"]


def test_node_ip_defaults_and_overrides():
    hosts, groups = hosts4()
    hosts["cp1"]["vip_node_ip"] = "192.0.2.111"
    hosts["cp2"]["vip_node_name"] = "cp2.example.org"
    hosts["worker2"] = {"vip_node_ip": "192.0.2.122", "vip_interface": "eth1"}
    plan = ok(hosts=hosts, groups=groups)
    assert plan["nodes"]["cp1"]["node_ip"] == "192.0.2.111"
    assert plan["nodes"]["cp2"]["node_name"] == "cp2.example.org"
    assert plan["nodes"]["worker2"]["interface"] == "eth1"
    assert plan["nodes"]["worker1"]["interface"] == "eth0"


def test_node_ip_must_be_an_ip():
    hosts, groups = hosts4()
    hosts["cp1"] = {"ansible_host": "cp1.example.org"}
    hosts["cp2"]["vip_node_ip"] = "not-an-ip"
    del hosts["worker1"]["ansible_host"]
    errs = errors(hosts=hosts, groups=groups)
    assert has(errs, "hostvars[cp1].ansible_host (cp1.example.org) is not an IP address", "set vip_node_ip")
    assert has(errs, "hostvars[cp2].vip_node_ip (not-an-ip) is not an IP address")
    assert has(errs, "hostvars[worker1].inventory_hostname (worker1) is not an IP address")


def test_node_ips_unique_and_inside_node_cidrs():
    hosts, groups = hosts4()
    hosts["cp3"]["ansible_host"] = "192.0.2.11"
    hosts["worker2"]["ansible_host"] = "198.51.100.22"
    errs = errors(hosts=hosts, groups=groups)
    assert has(errs, "hostvars[cp3].ansible_host (192.0.2.11) is also the address of hostvars[cp1].ansible_host (192.0.2.11)")
    assert has(errs, "hostvars[worker2].ansible_host (198.51.100.22) is outside every vip_cluster.node_cidrs (192.0.2.0/24)")


def test_node_names_unique():
    hosts, groups = hosts4()
    hosts["worker2"]["vip_node_name"] = "worker1"
    errs = errors(hosts=hosts, groups=groups)
    assert has(errs, "hostvars[worker2].vip_node_name (worker1) is also the node name of worker1")


def test_every_kube_vip_host_needs_an_interface():
    hosts, groups = hosts4()
    hosts["cp1"]["vip_interface"] = "eth1"
    errs = errors({"vip_control_plane": {"interface": None}}, hosts=hosts, groups=groups)
    assert has(errs, "no interface for the control-plane VIP on cp2, cp3")
    plan = ok({"vip_control_plane": {"interface": None}},
              hosts={h: dict(v, vip_interface="bond0") for h, v in hosts.items()}, groups=groups)
    assert plan["control_plane"]["interface"] is None
    assert plan["nodes"]["cp2"]["interface"] == "bond0"


def test_no_hosts_is_an_error():
    errs = errors(hosts={}, groups={})
    assert has(errs, "no hosts")


def test_control_plane_vip_needs_control_plane_hosts():
    hosts, groups = hosts4()
    groups["kube_control_plane"] = []
    errs = errors(hosts=hosts, groups=groups)
    assert has(errs, "vip_control_plane is set but the group kube_control_plane is empty")


def test_dual_stack_nodes():
    hosts, groups = hosts6()
    plan = ok({"vip_cluster": {"node_cidrs": ["2001:db8:1::/64", "192.0.2.0/24"],
                               "pod_cidrs": ["2001:db8:42::/56", "203.0.113.128/25"],
                               "service_cidrs": ["2001:db8:43::/112", "203.0.113.64/26"]}},
              hosts=hosts, groups=groups, ipv6=True)
    assert plan["cluster"]["families"] == ["ipv4", "ipv6"]
    assert plan["cluster"]["node_cidrs"] == ["2001:db8:1::/64", "192.0.2.0/24"]
    assert plan["nodes"]["cp1"]["node_ip"] == "2001:db8:1::11"


@pytest.mark.parametrize("cidr,why", [("192.0.2.1/24", "host bits"), ("192.0.2.0", "not a CIDR"), ("banana/24", "not an IP")])
def test_cluster_cidrs_must_parse(cidr, why):
    errs = errors({"vip_cluster": {"node_cidrs": [cidr]}})
    assert has(errs, "vip_cluster.node_cidrs[0] (%s)" % cidr, why)


def test_node_cidrs_required_non_empty():
    errs = errors({"vip_cluster": {"node_cidrs": []}})
    assert has(errs, "vip_cluster.node_cidrs must list at least one CIDR")

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules 3-9: services ownership, kube-proxy, leader election, local traffic, routing table, BGP, super-admin."""

from __future__ import annotations

import json

import pytest

from testkit.planlib import errors, has, hosts4, ok, run

PEERS = {"peers": [{"address": "192.0.2.1", "as": 64513}]}
KV_L2 = {"provider": "kube_vip", "pools": [{"name": "a", "addresses": ["192.0.2.64/28"]}]}
KV_BGP = {"provider": "kube_vip", "pools": [{"name": "a", "addresses": ["198.51.100.0/28"], "advertisement": "bgp"}]}
MLB_L2 = {"provider": "metallb", "pools": [{"name": "a", "addresses": ["192.0.2.64/28"]}]}
MLB_BGP = {"provider": "metallb", "pools": [{"name": "a", "addresses": ["198.51.100.0/28"], "advertisement": "bgp"}]}


# -- rule 3: one owner per Service address ----------------------------------------------------

def test_metallb_means_kube_vip_never_handles_services():
    plan = ok({"vip_services": dict(MLB_L2, load_balancer_class="example.org/metallb")})
    svc = plan["services"]
    assert svc["kube_vip"] is None
    assert plan["control_plane"]["svc_enable"] is False
    assert svc["metallb"] == {"namespace": "metallb-system", "load_balancer_class": "example.org/metallb",
                              "bgp_mode": "native", "keepalive_time": None, "bgp_peers": []}
    assert plan["owned"]["addresses"] == ["192.0.2.10/32"]


def test_kube_vip_only_options_warn_with_metallb():
    result = run({"vip_services": dict(MLB_L2, placement="control_plane", cloud_provider=False)})
    assert has(result["warnings"], "vip_services.placement applies only to provider kube_vip")
    assert has(result["warnings"], "vip_services.cloud_provider applies only to provider kube_vip")


def test_pool_namespace_only_with_kube_vip():
    errs = errors({"vip_services": {"provider": "metallb", "pools": [
        {"name": "a", "addresses": ["192.0.2.64/28"], "namespace": "team-a"}]}})
    assert has(errs, "vip_services.pools[0].namespace (team-a) applies only to provider kube_vip (provider is metallb)")


def test_kube_vip_services_plan():
    plan = ok({"vip_services": dict(KV_L2, load_balancer_class="kube-vip.io/kube-vip-class")})
    kv = plan["services"]["kube_vip"]
    assert kv["mode"] == "arp" and kv["placement"] == "all_nodes" and kv["interface"] == "eth0"
    assert kv["svc_election"] is False
    assert kv["lb_class_only"] is True and kv["lb_class_name"] == "kube-vip.io/kube-vip-class"
    assert kv["lease_name"] == "plndr-svcs-lock" and kv["daemonset_name"] == "kube-vip-ds"
    assert kv["cloud_provider"] == {"enabled": True, "configmap": {"cidr-global": "192.0.2.64/28"},
                                    "load_balancer_class": "kube-vip.io/kube-vip-class", "custom_class": None}
    # on the workers only (control-plane-only nodes announce no Service): no host shared with the control-plane kube-vip
    assert kv["hosts"] == ["worker1", "worker2"]
    assert kv["prometheus_server"] == ":2112"
    both = hosts4()
    both[1]["kube_node"].append("cp1")  # cp1 also runs workloads: both instances there, distinct metrics ports
    kv = ok({"vip_services": KV_L2}, hosts=both[0], groups=both[1])["services"]["kube_vip"]
    assert kv["hosts"] == ["cp1", "worker1", "worker2"] and kv["prometheus_server"] == ":2113"
    no_workers = hosts4(workers=0)
    kv = ok({"vip_services": KV_L2}, hosts=no_workers[0], groups=no_workers[1])["services"]["kube_vip"]
    assert kv["hosts"] == ["cp1", "cp2", "cp3"] and kv["prometheus_server"] == ":2113"
    assert plan["services"]["metallb"] is None
    assert plan["control_plane"]["svc_enable"] is False
    assert plan["owned"]["addresses"] == ["192.0.2.10/32", "192.0.2.64/28"]


def test_kube_vip_cloud_provider_configmap_per_namespace():
    plan = ok({"vip_services": {"provider": "kube_vip", "pools": [
        {"name": "g1", "addresses": ["192.0.2.64/28", "192.0.2.100-192.0.2.110"], "interfaces": ["eth1"]},
        {"name": "g2", "addresses": ["192.0.2.80/28"]},
        {"name": "team", "namespace": "team-a", "addresses": ["192.0.2.128/28"]}]}})
    assert plan["services"]["kube_vip"]["cloud_provider"]["configmap"] == {
        "cidr-global": "192.0.2.64/28,192.0.2.100/30,192.0.2.104/30,192.0.2.108/31,192.0.2.110/32,192.0.2.80/28",
        "interface-global": "eth1", "cidr-team-a": "192.0.2.128/28"}


def test_kube_vip_pools_reject_metallb_only_settings():
    errs = errors({"vip_services": {"provider": "kube_vip", "pools": [
        {"name": "a", "addresses": ["192.0.2.64/28"], "node_selectors": {"zone": "a"}, "auto_assign": False,
         "interfaces": ["eth0", "eth1"]}]}})
    assert has(errs, "vip_services.pools[0].node_selectors applies only to provider metallb")
    assert has(errs, "vip_services.pools[0].auto_assign false applies only to provider metallb")
    assert has(errs, "vip_services.pools[0].interfaces (eth0, eth1): kube-vip takes one interface per pool")


def test_kube_vip_pools_share_one_advertisement():
    errs = errors({"vip_services": {"provider": "kube_vip", "pools": [
        {"name": "a", "addresses": ["192.0.2.64/28"]},
        {"name": "b", "addresses": ["198.51.100.0/28"], "advertisement": "bgp"}]}, "vip_bgp": PEERS})
    assert has(errs, "vip_services.pools mix advertisements (a: l2; b: bgp)", "one mode")


def test_kube_vip_bgp_pools_need_vip_bgp():
    errs = errors({"vip_services": KV_BGP})
    assert has(errs, "vip_bgp is required: kube-vip services pools use advertisement bgp")
    plan = ok({"vip_services": KV_BGP, "vip_bgp": PEERS})
    assert plan["services"]["kube_vip"]["mode"] == "bgp"


def test_interfaces_only_for_l2():
    errs = errors({"vip_services": {"provider": "metallb", "pools": [
        {"name": "a", "addresses": ["198.51.100.0/28"], "advertisement": "bgp", "interfaces": ["eth0"]}]}, "vip_bgp": PEERS})
    assert has(errs, "vip_services.pools[0].interfaces (eth0) applies only to advertisement l2")


def test_metallb_node_selectors_normalized():
    plan = ok({"vip_services": {"provider": "metallb", "pools": [
        {"name": "a", "addresses": ["192.0.2.64/28"], "node_selectors": {"zone": "a"}},
        {"name": "b", "addresses": ["192.0.2.80/28"], "node_selectors": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b", "c"]}]}]}]}})
    pools = plan["services"]["pools"]
    assert pools[0]["node_selectors"] == [{"matchLabels": {"zone": "a"}}]
    assert pools[1]["node_selectors"] == [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b", "c"]}]}]


def test_bad_selector_operator():
    errs = errors({"vip_services": {"provider": "metallb", "pools": [
        {"name": "a", "addresses": ["192.0.2.64/28"], "node_selectors": [
            {"matchExpressions": [{"key": "zone", "operator": "Within", "values": ["b"]},
                                  {"key": "zone", "operator": "Exists", "values": ["b"]}]}]}]}})
    assert has(errs, "matchExpressions[0].operator is 'Within'")
    assert has(errs, "matchExpressions[1]: operator Exists takes no values")


def test_services_kube_vip_interface_auto_when_hosts_differ():
    hosts, groups = hosts4()
    hosts["worker1"]["vip_interface"] = "eth1"
    result = run({"vip_services": KV_L2}, hosts=hosts, groups=groups)
    assert result["plan"]["services"]["kube_vip"]["interface"] == ""
    assert has(result["warnings"], "different interfaces (worker2: eth0; worker1: eth1)")


# -- rule 6: local traffic ----------------------------------------------------------------------

def test_local_traffic_with_kube_vip():
    result = run({"vip_services": dict(KV_L2, local_traffic=True, placement="control_plane")})
    kv = result["plan"]["services"]["kube_vip"]
    assert kv["svc_election"] is True and kv["placement"] == "all_nodes"
    assert result["plan"]["services"]["local_traffic"] is True
    assert has(result["warnings"], "local_traffic is true", "all nodes")


def test_placement_control_plane_needs_interfaces_only_there():
    hosts, groups = hosts4()
    plan = ok({"vip_services": dict(KV_L2, placement="control_plane"), "vip_control_plane": None},
              hosts={h: dict(v, vip_interface="eth0") if h.startswith("cp") else v for h, v in hosts.items()}, groups=groups)
    assert plan["services"]["kube_vip"]["placement"] == "control_plane"
    assert plan["services"]["kube_vip"]["prometheus_server"] == ":2112"
    errs = errors({"vip_services": KV_L2, "vip_control_plane": None})
    assert has(errs, "no interface for kube-vip services on worker1, worker2")


def test_control_plane_lease_must_differ_from_services_lease():
    errs = errors({"vip_control_plane": {"leader_election": {"lease_name": "plndr-svcs-lock"}}})
    assert has(errs, "vip_control_plane.leader_election.lease_name (plndr-svcs-lock) is the lease of kube-vip's services")


# -- rule 4: kube-proxy ---------------------------------------------------------------------------

def test_ipvs_with_lb_puts_vip_in_exclude_cidrs_and_strict_arp():
    plan = ok({"vip_control_plane": {"load_balancer": {"enabled": True}}, "vip_kube_proxy": {"mode": "ipvs"}})
    assert plan["kube_proxy"]["exclude_cidrs"] == ["192.0.2.10/32"]
    assert plan["kube_proxy"]["strict_arp"] is True
    assert plan["owned"]["ipvs_services"] == [{"address": "192.0.2.10", "port": 6443, "protocol": "tcp"}]


def test_ipvs_with_lb_ipv6():
    plan = ok({"vip_control_plane": {"load_balancer": {"enabled": True, "port": 8443}}, "vip_kube_proxy": {"mode": "ipvs"}},
              ipv6=True)
    assert plan["kube_proxy"]["exclude_cidrs"] == ["2001:db8:1::10/128"]
    assert plan["owned"]["ipvs_services"] == [{"address": "2001:db8:1::10", "port": 8443, "protocol": "tcp"}]


def test_auto_exclude_empty_without_lb():
    plan = ok({"vip_kube_proxy": {"mode": "ipvs"}})
    assert plan["kube_proxy"]["exclude_cidrs"] == []
    assert plan["owned"]["ipvs_services"] == []


def test_explicit_exclude_list_kept_and_parsed():
    plan = ok({"vip_control_plane": {"load_balancer": {"enabled": True}},
               "vip_kube_proxy": {"mode": "ipvs", "exclude_cidrs": ["192.0.2.0/28", "198.51.100.0/24"]}})
    assert plan["kube_proxy"]["exclude_cidrs"] == ["192.0.2.0/28", "198.51.100.0/24"]
    errs = errors({"vip_kube_proxy": {"mode": "ipvs", "exclude_cidrs": ["nope"]}})
    assert has(errs, "vip_kube_proxy.exclude_cidrs[0] (nope)")


def test_explicit_exclude_list_missing_vip_is_an_error():
    errs = errors({"vip_control_plane": {"load_balancer": {"enabled": True}},
                   "vip_kube_proxy": {"mode": "ipvs", "exclude_cidrs": ["198.51.100.0/24"]}})
    assert has(errs, "vip_kube_proxy.exclude_cidrs (198.51.100.0/24) misses the control-plane VIP 192.0.2.10", "192.0.2.10/32")


@pytest.mark.parametrize("override,expected", [
    ({"vip_kube_proxy": {"mode": "ipvs"}}, True),                                         # ARP control-plane VIP
    ({"vip_kube_proxy": {"mode": "iptables"}}, False),
    ({"vip_kube_proxy": {"mode": "nftables"}}, False),
    ({"vip_kube_proxy": {"mode": "ipvs"}, "vip_control_plane": {"mode": "bgp"}, "vip_bgp": PEERS}, False),
    ({"vip_kube_proxy": {"mode": "ipvs"}, "vip_control_plane": {"mode": "bgp"}, "vip_bgp": PEERS,
      "vip_services": MLB_L2}, True),                                                      # MetalLB L2 pool
    ({"vip_kube_proxy": {"mode": "ipvs"}, "vip_control_plane": {"mode": "routing_table"}, "vip_services": KV_L2}, True),
    ({"vip_kube_proxy": {"mode": "ipvs"}, "vip_control_plane": {"mode": "bgp"}, "vip_bgp": PEERS,
      "vip_services": MLB_BGP}, False),
    ({"vip_kube_proxy": {"mode": "ipvs"}, "vip_control_plane": None}, False),
])
def test_strict_arp_auto(override, expected):
    assert ok(override)["kube_proxy"]["strict_arp"] is expected


def test_strict_arp_false_with_ipvs_and_arp_vip_is_an_error():
    errs = errors({"vip_kube_proxy": {"mode": "ipvs", "strict_arp": False}})
    assert has(errs, "vip_kube_proxy.strict_arp is false", "mode is ipvs", "control-plane VIP 192.0.2.10")
    errs = errors({"vip_kube_proxy": {"mode": "ipvs", "strict_arp": False}, "vip_control_plane": None, "vip_services": MLB_L2})
    assert has(errs, "vip_kube_proxy.strict_arp is false", "metallb l2 pools (a)")


def test_strict_arp_explicit_false_fine_without_arp_vip():
    plan = ok({"vip_kube_proxy": {"mode": "ipvs", "strict_arp": False}, "vip_control_plane": {"mode": "bgp"}, "vip_bgp": PEERS})
    assert plan["kube_proxy"]["strict_arp"] is False


def test_mode_none_never_demands_anything():
    plan = ok({"vip_kube_proxy": {"mode": "none", "strict_arp": False},
               "vip_control_plane": {"load_balancer": {"enabled": True}}, "vip_services": MLB_L2})
    assert plan["kube_proxy"] == {"manage": False, "mode": "none", "strict_arp": False, "exclude_cidrs": [], "cleanup_ipvs": False,
                                  "merge_configmap": False}


# kube_proxy.merge_configmap: the live ConfigMap kube-system/kube-proxy is ours to merge (and put back) only with
# kube-proxy managed on kubeadm; k3s/RKE2 have no such ConfigMap, mode none means no kube-proxy at all.
MERGE_CONFIGMAP = {
    ("kubeadm", True, "ipvs"): True, ("kubeadm", True, "iptables"): True, ("kubeadm", True, "nftables"): True,
    ("kubeadm", True, "none"): False,
    ("kubeadm", False, "ipvs"): False, ("kubeadm", False, "iptables"): False, ("kubeadm", False, "nftables"): False,
    ("kubeadm", False, "none"): False,
}
for _distro in ("k3s", "rke2"):
    for _manage in (True, False):
        for _mode in ("ipvs", "iptables", "nftables", "none"):
            MERGE_CONFIGMAP[(_distro, _manage, _mode)] = False


@pytest.mark.parametrize("distro,manage,mode", sorted(MERGE_CONFIGMAP))
def test_merge_configmap_only_kubeadm_with_kube_proxy_managed(distro, manage, mode):
    version = {"kubeadm": "1.31.4", "k3s": "v1.31.4+k3s1", "rke2": "v1.31.4+rke2r1"}[distro]
    plan = ok({"vip_cluster": {"distro": distro, "kubernetes_version": version},
               "vip_kube_proxy": {"mode": mode, "manage": manage}})
    assert plan["kube_proxy"]["merge_configmap"] is MERGE_CONFIGMAP[(distro, manage, mode)]
    assert plan["kube_proxy"]["manage"] is (manage and mode != "none")


def test_cleanup_ipvs_removed_in_1_21():
    errs = errors({"vip_kube_proxy": {"mode": "ipvs", "cleanup_ipvs": True}})
    assert has(errs, "vip_kube_proxy.cleanup_ipvs is true but Kubernetes is 1.31.4", "removed in 1.21",
               "kubernetes PR #97336", "exclude_cidrs")
    plan = ok({"vip_kube_proxy": {"mode": "ipvs", "cleanup_ipvs": True}, "vip_cluster": {"kubernetes_version": "1.20.15"}})
    assert plan["kube_proxy"]["cleanup_ipvs"] is True


def test_nftables_needs_1_29():
    errs = errors({"vip_kube_proxy": {"mode": "nftables"}, "vip_cluster": {"kubernetes_version": "1.28.9"}})
    assert has(errs, "vip_kube_proxy.mode is nftables but Kubernetes is 1.28.9", "1.29")
    ok({"vip_kube_proxy": {"mode": "nftables"}, "vip_cluster": {"kubernetes_version": "1.31"}})


@pytest.mark.parametrize("version,deprecated,ignored", [
    ("1.33.1", False, False), ("1.34.0", False, True), ("1.35.2", True, True), ("1.36.0", True, False),
])
def test_ipvs_version_warnings(version, deprecated, ignored):
    result = run({"vip_cluster": {"kubernetes_version": version}, "vip_kube_proxy": {"mode": "ipvs"},
                  "vip_control_plane": {"load_balancer": {"enabled": True}}})
    assert result["errors"] == []
    assert has(result["warnings"], "KEP-5495", "nftables") is deprecated
    assert has(result["warnings"], "kubernetes #134147") is ignored


def test_exclude_cidrs_warn_outside_ipvs():
    result = run({"vip_kube_proxy": {"mode": "iptables", "exclude_cidrs": ["198.51.100.0/24"]}})
    assert has(result["warnings"], "only used by kube-proxy mode ipvs")


def test_strict_arp_with_bgp_on_lo_warns():
    result = run({"vip_kube_proxy": {"mode": "ipvs"}, "vip_control_plane": {"mode": "bgp", "interface": "lo"},
                  "vip_bgp": PEERS, "vip_services": MLB_L2})
    assert result["errors"] == []
    assert has(result["warnings"], "kube-vip #1114", "cp1")


# -- rule 5: leader election ----------------------------------------------------------------------

def test_partition_tolerant_profile():
    le = ok({"vip_control_plane": {"leader_election": {"profile": "partition_tolerant"}}})["control_plane"]["leader_election"]
    assert (le["lease_duration"], le["renew_deadline"], le["retry_period"]) == (30, 20, 5)


def test_explicit_values_override_the_profile():
    le = ok({"vip_control_plane": {"leader_election": {"profile": "partition_tolerant", "retry_period": 3,
                                                       "lease_name": "api-vip"}}})["control_plane"]["leader_election"]
    assert (le["lease_duration"], le["renew_deadline"], le["retry_period"], le["lease_name"]) == (30, 20, 3, "api-vip")


@pytest.mark.parametrize("values,message", [
    ({"lease_duration": 10}, "lease_duration (10) must be greater than renew_deadline (10)"),
    ({"renew_deadline": 6, "retry_period": 5}, "renew_deadline (6) must be greater than 1.2 x retry_period (5 x 1.2 = 6.0)"),
    ({"retry_period": 0}, "retry_period is 0; it must be a positive number"),
    ({"lease_duration": -5}, "lease_duration is -5"),
    ({"lease_name": "Not_A_Lease"}, "lease_name (Not_A_Lease) is not a valid Lease name"),
])
def test_leader_election_errors(values, message):
    errs = errors({"vip_control_plane": {"leader_election": values}})
    assert has(errs, "vip_control_plane.leader_election", message), errs


# -- rule 7: routing table ------------------------------------------------------------------------

@pytest.mark.parametrize("table", [0, 253, 254, 255])
def test_reserved_route_tables(table):
    errs = errors({"vip_control_plane": {"mode": "routing_table", "routing_table": {"table": table}}})
    assert has(errs, "vip_control_plane.routing_table.table is %d" % table)


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 256])
def test_reserved_route_protocols(protocol):
    errs = errors({"vip_control_plane": {"mode": "routing_table", "routing_table": {"protocol": protocol}}})
    assert has(errs, "vip_control_plane.routing_table.protocol is %d" % protocol)


@pytest.mark.parametrize("version", ["1.2.0", "v1.2.1", "1.2.2"])
def test_clean_refused_for_kube_vip_1_2_0_to_1_2_2(version):
    errs = errors({"vip_kube_vip": {"version": version},
                   "vip_control_plane": {"mode": "routing_table", "routing_table": {"clean": True}}})
    assert has(errs, "vip_control_plane.routing_table.clean is true with vip_kube_vip.version", "#1678", "1.2.3")


def test_routing_table_plan():
    plan = ok({"vip_kube_vip": {"version": "1.2.3"}, "vip_control_plane": {
        "address": "198.51.100.10", "mode": "routing_table", "routing_table": {"table": 200, "protocol": 249, "clean": True}}})
    assert plan["control_plane"]["routing_table"] == {"table": 200, "protocol": 249, "clean": True}
    assert (plan["owned"]["route_table"], plan["owned"]["route_protocol"]) == (200, 249)


def test_masquerade_is_privileged():
    plan = ok({"vip_control_plane": {"load_balancer": {"enabled": True, "forward_method": "masquerade"}}})
    assert plan["control_plane"]["privileged"] is True


# -- rule 8: BGP ------------------------------------------------------------------------------------

BGP_CP = {"vip_control_plane": {"mode": "bgp", "address": "203.0.113.10", "interface": "lo"}}


def test_bgp_control_plane_needs_vip_bgp_and_a_peer():
    errs = errors(BGP_CP)
    assert has(errs, "vip_bgp is required: vip_control_plane.mode is bgp")
    errs = errors(dict(BGP_CP, vip_bgp={"local_as": 64512}))
    assert has(errs, "hostvars[cp1]: no BGP peer for kube-vip", "vip_bgp_peers")


def test_bgp_plan_and_router_ids():
    plan = ok(dict(BGP_CP, vip_bgp={"local_as": 64512, "peers": [
        {"address": "192.0.2.1", "as": 64513, "password": "example-only"}, {"address": "2001:db8::1", "as": 4200000000}]}))
    bgp = plan["bgp"]
    assert bgp["local_as"] == 64512 and bgp["router_id"] is None and bgp["hold_time"] == 30
    assert bgp["peers"][0] == {"address": "192.0.2.1", "as": 64513, "port": 179, "multihop": False, "node_selectors": [],
                               "has_password": True,
                               "password_secret": {"name": "vip-bgp-peer-192-0-2-1", "key": "password"}}
    assert bgp["peers"][1]["password_secret"] is None and bgp["peers"][1]["as"] == 4200000000
    assert plan["nodes"]["cp2"]["bgp_router_id"] == "192.0.2.12"
    assert plan["nodes"]["cp2"]["bgp_peers"] == bgp["peers"]


def test_passwords_never_in_the_plan():
    plan = ok(dict(BGP_CP, vip_bgp={"peers": [{"address": "192.0.2.1", "as": 64513, "password": "s3cret-value"}]},
                   vip_services=MLB_BGP))
    assert "s3cret-value" not in json.dumps(plan)
    for peer in plan["bgp"]["peers"] + plan["services"]["metallb"]["bgp_peers"]:
        assert "password" not in peer
        assert peer["password_secret"] == {"name": "vip-bgp-peer-192-0-2-1", "key": "password"}


@pytest.mark.parametrize("bgp,message", [
    ({"local_as": 0}, "vip_bgp.local_as is 0; expected 1..4294967295"),
    ({"local_as": 4294967296}, "vip_bgp.local_as is 4294967296"),
    ({"router_id": "2001:db8::1"}, "vip_bgp.router_id (2001:db8::1) must be an IPv4 address"),
    ({"source_address": "192.0.2.11", "source_interface": "eth0"}, "exclude each other"),
    ({"source_address": "eth0"}, "vip_bgp.source_address (eth0) is not an IP address"),
    ({"hold_time": 2}, "vip_bgp.hold_time is 2"),
    ({"hold_time": 9, "keepalive_interval": 10}, "keepalive_interval (10) must be less than hold_time (9)"),
    ({"peers": [{"address": "192.0.2.1", "as": 0}]}, "vip_bgp.peers[0].as is 0"),
    ({"peers": [{"address": "192.0.2.1"}]}, "vip_bgp.peers[0].as is required"),
    ({"peers": [{"address": "192.0.2.1", "as": 64513}, {"address": "192.0.2.1", "as": 64514}]}, "is listed twice"),
    ({"peers": [{"address": "192.0.2.1", "as": 64513, "port": 0}]}, "vip_bgp.peers[0].port is 0"),
])
def test_bgp_errors(bgp, message):
    bgp = dict({"peers": PEERS["peers"]}, **bgp)
    errs = errors(dict(BGP_CP, vip_bgp=bgp))
    assert has(errs, message), errs


def test_ipv6_only_node_needs_router_id():
    errs = errors(dict(BGP_CP, vip_bgp=PEERS, vip_control_plane={"mode": "bgp", "address": "2001:db8:5::10", "interface": "lo"}),
                  ipv6=True)
    assert has(errs, "hostvars[cp1]: no BGP router id", "set vip_bgp.router_id")
    result = run(dict(BGP_CP, vip_bgp=dict(PEERS, router_id="192.0.2.250"),
                      vip_control_plane={"mode": "bgp", "address": "2001:db8:5::10", "interface": "lo"}), ipv6=True)
    assert result["errors"] == []
    assert has(result["warnings"], "vip_bgp.router_id (192.0.2.250) is shared by 3 kube-vip nodes")


def test_per_host_peers_replace_global_and_map_to_metallb():
    hosts, groups = hosts4()
    hosts["worker2"]["vip_bgp_peers"] = [{"address": "192.0.2.3", "as": 64514, "password": "x"}]
    plan = ok({"vip_services": MLB_BGP, "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513}]}},
              hosts=hosts, groups=groups)
    peers = plan["services"]["metallb"]["bgp_peers"]
    assert peers[0]["name"] == "peer-192-0-2-1"
    assert peers[0]["node_selectors"] == [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["worker2"]}]}]
    assert peers[1]["name"] == "peer-worker2-192-0-2-3"
    assert peers[1]["node_selectors"] == [{"matchLabels": {"kubernetes.io/hostname": "worker2"}}]
    assert peers[1]["password_secret"] == {"name": "vip-bgp-peer-worker2-192-0-2-3", "key": "password"}
    assert [p["address"] for p in plan["nodes"]["worker2"]["bgp_peers"]] == ["192.0.2.3"]
    assert [p["address"] for p in plan["nodes"]["worker1"]["bgp_peers"]] == ["192.0.2.1"]


def test_per_host_peers_with_selectors_and_ipv6_names():
    hosts, groups = hosts4()
    hosts["worker1"]["vip_bgp_peers"] = [{"address": "2001:db8::1", "as": 64514, "node_selectors": {"rack": "b"}}]
    plan = ok({"vip_services": MLB_BGP, "vip_bgp": {"peers": [
        {"address": "192.0.2.1", "as": 64513, "node_selectors": [{"matchLabels": {"rack": "a"}}]}]},
        "vip_cluster": {"node_cidrs": ["192.0.2.0/24", "2001:db8::/64"]}}, hosts=hosts, groups=groups)
    peers = plan["services"]["metallb"]["bgp_peers"]
    assert peers[0]["node_selectors"] == [{"matchLabels": {"rack": "a"}, "matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["worker1"]}]}]
    assert peers[1]["name"] == "peer-worker1-2001-0db8-0000-0000-0000-0000-0000-0001"
    assert peers[1]["node_selectors"] == [{"matchLabels": {"rack": "b", "kubernetes.io/hostname": "worker1"}}]


def test_kube_vip_peers_filtered_by_hostname_selectors():
    plan = ok(dict(BGP_CP, vip_bgp={"peers": [
        {"address": "192.0.2.1", "as": 64513, "node_selectors": {"kubernetes.io/hostname": "cp1"}},
        {"address": "192.0.2.2", "as": 64513}]}))
    assert [p["address"] for p in plan["nodes"]["cp1"]["bgp_peers"]] == ["192.0.2.1", "192.0.2.2"]
    assert [p["address"] for p in plan["nodes"]["cp2"]["bgp_peers"]] == ["192.0.2.2"]


def test_metallb_bgp_needs_some_peer():
    errs = errors({"vip_services": MLB_BGP, "vip_bgp": {"local_as": 64512}})
    assert has(errs, "MetalLB pools use advertisement bgp but no peer is configured")


def test_unused_bgp_warns_and_is_null():
    hosts, groups = hosts4()
    hosts["cp1"]["vip_bgp_peers"] = [{"address": "192.0.2.5", "as": 64515}]
    result = run({"vip_bgp": PEERS}, hosts=hosts, groups=groups)
    assert result["plan"]["bgp"] is None
    assert has(result["warnings"], "vip_bgp is set but nothing uses BGP")
    assert has(result["warnings"], "vip_bgp_peers is set on cp1")


# -- rule 9: super-admin.conf -----------------------------------------------------------------------

@pytest.mark.parametrize("distro,version,host", [
    ("kubeadm", "1.29.0", "cp1"), ("kubeadm", "1.31", "cp1"), ("kubeadm", "1.28.15", None),
    ("k3s", "v1.31.4+k3s1", None), ("rke2", "v1.30.6+rke2r1", None),
])
def test_super_admin_host(distro, version, host):
    plan = ok({"vip_cluster": {"distro": distro, "kubernetes_version": version}})
    assert plan["control_plane"]["super_admin_host"] == host
    assert plan["nodes"]["cp1"]["super_admin"] is (host == "cp1")
    assert not plan["nodes"]["cp2"]["super_admin"]
    expected = "/etc/kubernetes/super-admin.conf" if host else None
    assert plan["cluster"]["paths"]["super_admin_kubeconfig"] == expected


def test_daemonset_on_kubeadm_warns():
    result = run({"vip_control_plane": {"deployment": "daemonset"}})
    assert has(result["warnings"], "deployment is daemonset on kubeadm")


def test_two_bgp_speakers_on_one_node_warn():
    result = run(dict(BGP_CP, vip_bgp=PEERS, vip_services=MLB_BGP))
    assert result["errors"] == []
    assert has(result["warnings"], "kube-vip control plane and MetalLB would each open a BGP session from cp1, cp2, cp3 "
               "to 192.0.2.1")
    result = run(dict(BGP_CP, vip_bgp=PEERS, vip_services=dict(KV_BGP, placement="control_plane")))
    assert has(result["warnings"], "kube-vip control plane and kube-vip services", "cp1, cp2, cp3")
    result = run({"vip_bgp": PEERS, "vip_services": KV_BGP})
    assert not has(result["warnings"], "open a BGP session")


def test_selector_evaluation_for_kube_vip_peers():
    from ansible_collections.baremetal.vip.plugins.plugin_utils.plan import selectors_match  # pylint: disable=import-outside-toplevel
    worker = {"kubernetes.io/hostname": "worker1"}
    cp = {"kubernetes.io/hostname": "cp1", "node-role.kubernetes.io/control-plane": ""}
    only_cp = [{"matchLabels": {"node-role.kubernetes.io/control-plane": ""}}]
    assert selectors_match(only_cp, cp) is True
    assert selectors_match(only_cp, worker) is False
    not_cp = [{"matchExpressions": [{"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"}]}]
    assert selectors_match(not_cp, worker) is True and selectors_match(not_cp, cp) is False
    rack = [{"matchLabels": {"rack": "a"}}]
    assert selectors_match(rack, worker) is None
    assert selectors_match(rack + only_cp, cp) is True
    assert selectors_match([], worker) is True
    in_hosts = [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["cp1", "cp2"]}]}]
    assert selectors_match(in_hosts, cp) is True and selectors_match(in_hosts, worker) is False


def test_undecidable_peer_selectors_warn_for_kube_vip():
    result = run(dict(BGP_CP, vip_bgp={"peers": [{"address": "192.0.2.1", "as": 64513, "node_selectors": {"rack": "a"}}]}))
    assert result["errors"] == []
    assert has(result["warnings"], "vip_bgp.peers 192.0.2.1: node_selectors use labels other than")
    assert [p["address"] for p in result["plan"]["nodes"]["cp1"]["bgp_peers"]] == ["192.0.2.1"]


def test_per_host_peers_do_not_reach_the_services_daemonset():
    hosts, groups = hosts4()
    hosts["worker1"]["vip_bgp_peers"] = [{"address": "192.0.2.3", "as": 64514}]
    result = run({"vip_services": KV_BGP, "vip_bgp": PEERS}, hosts=hosts, groups=groups)
    assert result["errors"] == []
    assert has(result["warnings"], "vip_bgp_peers of worker1 cannot reach the kube-vip services DaemonSet", "192.0.2.1")


@pytest.mark.parametrize("name", ["eth0:1", "a-very-long-interface-name", "bond 0", "", "."])
def test_interface_names(name):
    hosts, groups = hosts4()
    hosts["worker1"]["vip_interface"] = name
    errs = errors({"vip_control_plane": {"interface": name}}, hosts=hosts, groups=groups)
    assert has(errs, "vip_control_plane.interface (%r) is not a valid Linux interface name" % name)
    assert has(errs, "hostvars[worker1].vip_interface (%r)" % name)


def test_pool_interface_names():
    errs = errors({"vip_services": {"provider": "metallb", "pools": [
        {"name": "a", "addresses": ["192.0.2.64/28"], "interfaces": ["eth0", "eth/1"]}]}})
    assert has(errs, "vip_services.pools[0].interfaces[1] ('eth/1') is not a valid Linux interface name")


def test_metallb_namespace_name():
    errs = errors({"vip_services": dict(MLB_L2, metallb_namespace="MetalLB_System")})
    assert has(errs, "vip_services.metallb_namespace (MetalLB_System) is not a valid namespace name")


@pytest.mark.parametrize("password", ["pass:word", "a,b"])
def test_kube_vip_bgp_password_separators_are_refused_without_echo(password):
    errs = errors(dict(BGP_CP, vip_kube_vip={"version": "1.2.2"},
                       vip_bgp={"peers": [{"address": "192.0.2.1", "as": 64513, "password": password}]}))
    assert has(errs, "vip_bgp.peers[0].password contains ':' or ','", "(value hidden)", "kube-vip")
    assert not any(password in e for e in errs)


def test_metallb_bgp_password_may_hold_separators():
    """MetalLB reads the password from a Secret: no separator problem there."""
    plan = ok({"vip_services": MLB_BGP, "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513, "password": "a:b,c"}]}})
    assert plan["services"]["metallb"]["bgp_peers"][0]["password_secret"]["key"] == "password"

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/validation.md stays true: every example message in its tables is what build_plan says."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan import build_plan

from testkit import TOP
from testkit.inventory import load_example
from testkit.planlib import hosts4, hosts6, run

PEER = {"peers": [{"address": "192.0.2.1", "as": 64513}]}
MLB = {"provider": "metallb"}
BGP_CP = {"mode": "bgp", "address": "203.0.113.10", "interface": "lo"}
# kube-vip Services in BGP mode on the control-plane nodes, beside a BGP control plane: two speakers per node
KV_BGP_ON_CP = {"vip_control_plane": BGP_CP,
                "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513}, {"address": "192.0.2.2", "as": 64513}]},
                "vip_services": {"provider": "kube_vip", "placement": "control_plane",
                                 "pools": [{"name": "a", "addresses": ["198.51.100.0/28"], "advertisement": "bgp"}]}}


def pools(*specs, **extra):
    """vip_services for MetalLB (or extra provider) from (name, [addresses], advertisement) tuples."""
    out = dict(MLB, **extra)
    out["pools"] = [{"name": n, "addresses": a, "advertisement": adv} for n, a, adv in specs]
    return out


def with_hosts(change, ipv6=False):
    hosts, groups = hosts6() if ipv6 else hosts4()
    change(hosts, groups)
    return {"hosts": hosts, "groups": groups, "ipv6": ipv6}


def _set(host, key, value):
    def change(hosts, _groups):
        hosts[host][key] = value
    return change


def _no_interface(hosts, _groups):
    hosts["cp1"]["vip_interface"] = "eth1"


CASES = [
    ({"vip_services": {"provider": "metallb", "pools": [{"name": "a", "addresses": ["192.0.2.64/28"], "advertisment": "l2"}]}}, {},
     "vip_services.pools[0]: unknown key 'advertisment'"),
    ({"vip_cluster": {"distro": None}}, {}, "vip_cluster.distro is required"),
    ({"vip_control_plane": {"mode": "arpp"}}, {}, "vip_control_plane.mode is 'arpp'"),
    ({"vip_control_plane": {"port": "https"}}, {}, "vip_control_plane.port must be an integer"),
    ({"vip_cluster": {"kubernetes_version": 1.3}}, {}, "vip_cluster.kubernetes_version must be a quoted string"),
    ({"vip_kube_vip": {"image": "ghcr.io/kube-vip/kube-vip:v1.0.3"}}, {}, "vip_kube_vip.image (ghcr.io"),
    ({"vip_control_plane": BGP_CP, "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513, "password": ["x"]}]}}, {},
     "vip_bgp.peers[0].password must be a string"),
    ({}, with_hosts(_set("cp2", "vip_interfce", "eth1")), "hostvars[cp2].vip_interfce"),
    ({}, with_hosts(_set("cp1", "ansible_host", "cp1.example.org")), "hostvars[cp1].ansible_host (cp1.example.org)"),
    ({}, with_hosts(_set("cp3", "ansible_host", "192.0.2.12")), "hostvars[cp3].ansible_host (192.0.2.12) is also"),
    ({}, with_hosts(_set("worker2", "ansible_host", "198.51.100.22")), "hostvars[worker2].ansible_host (198.51.100.22)"),
    ({}, with_hosts(_set("worker2", "vip_node_name", "worker1")), "hostvars[worker2].vip_node_name (worker1)"),
    ({"vip_control_plane": {"interface": None}}, with_hosts(_no_interface), "no interface for the control-plane VIP"),
    ({}, with_hosts(_set("worker1", "vip_interface", "eth0:1")), "hostvars[worker1].vip_interface ('eth0:1')"),
    ({}, {"hosts": {}, "groups": {}}, "no hosts"),
    ({"vip_control_plane": {"address": "192.0.2.10/32"}}, {}, "vip_control_plane.address (192.0.2.10/32)"),
    ({"vip_control_plane": {"address": "192.0.2.12"}}, {}, "vip_control_plane.address (192.0.2.12) overlaps"),
    ({"vip_control_plane": {"address": "192.0.2.70"}, "vip_services": pools(("public", ["192.0.2.64/28"], "l2"))}, {},
     "vip_control_plane.address (192.0.2.70) overlaps"),
    ({"vip_control_plane": {"address": "198.51.100.10"}}, {}, "vip_control_plane.address (198.51.100.10) is outside"),
    ({"vip_control_plane": {"address": "192.0.2.255"}}, {}, "vip_control_plane.address (192.0.2.255)"),
    ({"vip_control_plane": dict(BGP_CP, address="2001:db8::10"), "vip_bgp": PEER}, {}, "vip_control_plane.address (2001:db8::10)"),
    ({"vip_services": pools(("p0", ["198.51.100.30-198.51.100.20"], "bgp")), "vip_bgp": PEER}, {},
     "vip_services.pools[0].addresses[0] (198.51.100.30-198.51.100.20)"),
    ({"vip_services": pools(("p0", ["198.51.100.5/28"], "bgp")), "vip_bgp": PEER}, {},
     "vip_services.pools[0].addresses[0] (198.51.100.5/28)"),
    ({"vip_services": pools(("p0", ["192.0.2.64/28", "2001:db8:1::/120"], "l2"), provider="kube_vip")}, {},
     "vip_services.pools[0] (p0) mixes"),
    ({"vip_services": pools(("a", ["192.0.2.64/29"], "l2"), ("web", ["192.0.2.72/29"], "l2"), ("web", ["192.0.2.80/29"], "l2"))},
     {}, "vip_services.pools[2].name (web)"),
    ({"vip_services": pools(("public", ["198.51.100.0/28"], "bgp"), ("web", ["198.51.100.8/29"], "bgp")), "vip_bgp": PEER}, {},
     "vip_services.pools[1] (web, 198.51.100.8/29) overlaps"),
    ({"vip_cluster": {"service_cidrs": ["203.0.113.192/26"]}}, {}, "vip_cluster.service_cidrs[0] (203.0.113.192/26)"),
    ({"vip_services": pools(("public", ["198.51.100.0/28"], "l2"))}, {}, "vip_services.pools[0] (public) advertises"),
    ({"vip_services": {"provider": "metallb", "pools": [{"name": "a", "addresses": ["192.0.2.64/28"], "namespace": "team-a"}]}}, {},
     "vip_services.pools[0].namespace (team-a)"),
    ({"vip_services": pools(("a", ["192.0.2.64/28"], "l2"), ("b", ["198.51.100.0/28"], "bgp"), provider="kube_vip"),
      "vip_bgp": PEER}, {}, "vip_services.pools mix advertisements"),
    ({"vip_services": {"provider": "kube_vip", "pools": [{"name": "a", "addresses": ["192.0.2.64/28"], "node_selectors": {"a": "b"}}]}},
     {}, "vip_services.pools[0].node_selectors applies only"),
    ({"vip_services": dict(MLB, metallb_namespace="MetalLB_System")}, {}, "vip_services.metallb_namespace"),
    ({"vip_services": dict(MLB, placement="control_plane")}, {}, "vip_services.placement applies only"),
    ({"vip_kube_proxy": {"mode": "ipvs", "strict_arp": False}}, {}, "vip_kube_proxy.strict_arp is false"),
    ({"vip_control_plane": {"load_balancer": {"enabled": True}}, "vip_kube_proxy": {"mode": "ipvs", "exclude_cidrs": ["198.51.100.0/24"]}},
     {}, "vip_kube_proxy.exclude_cidrs (198.51.100.0/24) misses"),
    ({"vip_kube_proxy": {"mode": "ipvs", "cleanup_ipvs": True}}, {}, "vip_kube_proxy.cleanup_ipvs"),
    ({"vip_kube_proxy": {"mode": "nftables"}, "vip_cluster": {"kubernetes_version": "1.28.9"}}, {},
     "vip_kube_proxy.mode is nftables but Kubernetes is 1.28.9"),
    ({"vip_kube_proxy": {"mode": "nftables"}, "vip_cluster": {"kubernetes_version": "1.30.6"}}, {},
     "vip_kube_proxy.mode is nftables but Kubernetes is 1.30.6"),
    ({"vip_kube_proxy": {"mode": "ipvs"}, "vip_cluster": {"kubernetes_version": "1.35.0"}, "vip_control_plane": {"load_balancer": {"enabled": True}}},
     {}, "vip_kube_proxy.mode ipvs is deprecated"),
    ({"vip_kube_proxy": {"mode": "ipvs"}, "vip_cluster": {"kubernetes_version": "1.35.0"}, "vip_control_plane": {"load_balancer": {"enabled": True}}},
     {}, "vip_kube_proxy.exclude_cidrs (192.0.2.10/32) is reported ignored"),
    ({"vip_kube_proxy": {"mode": "ipvs"}, "vip_control_plane": BGP_CP, "vip_bgp": PEER, "vip_services": pools(("a", ["192.0.2.64/28"], "l2"))},
     {}, "vip_kube_proxy.strict_arp is on"),
    ({"vip_control_plane": {"leader_election": {"retry_period": 0}}}, {}, "vip_control_plane.leader_election.retry_period is 0"),
    ({"vip_control_plane": {"leader_election": {"lease_duration": 10}}}, {}, "lease_duration (10) must be greater"),
    ({"vip_control_plane": {"leader_election": {"renew_deadline": 6, "retry_period": 5}}}, {}, "renew_deadline (6) must be greater"),
    ({"vip_control_plane": {"leader_election": {"lease_name": "plndr-svcs-lock"}}}, {}, "lease_name (plndr-svcs-lock)"),
    ({"vip_services": {"provider": "kube_vip", "local_traffic": True, "placement": "control_plane",
                       "pools": [{"name": "a", "addresses": ["192.0.2.64/28"]}]}}, {}, "vip_services.placement is control_plane"),
    ({"vip_control_plane": {"mode": "routing_table", "routing_table": {"table": 254}}}, {}, "routing_table.table is 254"),
    ({"vip_control_plane": {"mode": "routing_table", "routing_table": {"protocol": 3}}}, {}, "routing_table.protocol is 3"),
    ({"vip_kube_vip": {"version": "1.2.1"}, "vip_control_plane": {"mode": "routing_table", "routing_table": {"clean": True}}}, {},
     "routing_table.clean is true"),
    ({"vip_control_plane": BGP_CP}, {}, "vip_bgp is required"),
    ({"vip_control_plane": BGP_CP, "vip_bgp": {"local_as": 64512}}, {}, "hostvars[cp1]: no BGP peer"),
    ({"vip_control_plane": BGP_CP, "vip_bgp": dict(PEER, local_as=0)}, {}, "vip_bgp.local_as is 0"),
    ({"vip_control_plane": BGP_CP, "vip_bgp": dict(PEER, router_id="2001:db8::1")}, {}, "vip_bgp.router_id (2001:db8::1)"),
    ({"vip_control_plane": dict(BGP_CP, address="2001:db8:5::10"), "vip_bgp": PEER}, {"ipv6": True}, "hostvars[cp1]: no BGP router id"),
    ({"vip_control_plane": BGP_CP, "vip_bgp": dict(PEER, source_address="192.0.2.11", source_interface="eth0")}, {},
     "vip_bgp.source_address (192.0.2.11) and"),
    ({"vip_control_plane": BGP_CP, "vip_bgp": dict(PEER, hold_time=9, keepalive_interval=10)}, {},
     "vip_bgp.keepalive_interval (10) must be less"),
    ({"vip_kube_vip": {"version": "1.2.2"}, "vip_control_plane": BGP_CP,
      "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513, "password": "a:b"}]}}, {},
     "vip_bgp.peers[0].password contains ':' or ','"),
    ({"vip_kube_vip": {"version": "1.2.1"}, "vip_control_plane": BGP_CP,
      "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513, "password": "a/b"}]}}, {},
     "vip_bgp.peers[0].password contains ':', ',' or '/'"),
    ({"vip_kube_vip": {"version": "0.8.9"}, "vip_control_plane": BGP_CP,
      "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513, "port": 1179}]}}, {},
     "vip_bgp.peers[0].port is 1179"),
    ({"vip_kube_vip": {"version": "0.7.2"}}, {}, "vip_kube_vip.version (0.7.2) is older"),
    ({"vip_cluster": {"pod_cidrs": ["203.0.113.252/30"]}}, {}, "vip_cluster.pod_cidrs[0] (203.0.113.252/30) is too small"),
    ({"vip_control_plane": {"deployment": "daemonset"}}, with_hosts(_set("cp2", "vip_interface", "eth1")),
     "hosts running the control-plane DaemonSet"),
    ({"vip_control_plane": BGP_CP, "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513}, {"address": "192.0.2.1", "as": 64514}]}},
     {}, "vip_bgp.peers[1].address (192.0.2.1) is listed twice"),
    ({"vip_services": pools(("a", ["198.51.100.0/28"], "bgp")), "vip_bgp": {"local_as": 64512}}, {}, "MetalLB pools use advertisement bgp"),
    (KV_BGP_ON_CP, with_hosts(_set("cp3", "vip_bgp_peers", [{"address": "203.0.113.1", "as": 64600}])),
     "kube-vip control plane and kube-vip services would each"),
    (KV_BGP_ON_CP, with_hosts(_set("cp3", "vip_bgp_peers", [{"address": "203.0.113.1", "as": 64600}])),
     "vip_bgp_peers of cp3 cannot reach"),
    ({"vip_control_plane": BGP_CP, "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513, "node_selectors": {"rack": "a"}}]}}, {},
     "vip_bgp.peers 192.0.2.1: node_selectors"),
    ({"vip_control_plane": dict(BGP_CP, address="2001:db8:5::10"), "vip_bgp": dict(PEER, router_id="192.0.2.250")}, {"ipv6": True},
     "vip_bgp.router_id (192.0.2.250) is shared"),
]


MLB_BGP4 = {"provider": "metallb", "pools": [{"name": "a", "addresses": ["198.51.100.0/28"], "advertisement": "bgp"}]}
DUAL = {"node_cidrs": ["192.0.2.0/24", "2001:db8::/64"]}


def _mlb_selectors(selectors):
    return {"vip_services": {"provider": "metallb", "pools": [{"name": "a", "addresses": ["192.0.2.64/28"],
                                                               "node_selectors": selectors}]}}


def _all_lo(hosts, _groups):
    for hv in hosts.values():
        hv["vip_interface"] = "lo"


CASES += [
    ({"vip_verify_outside": {"vantage": "router9"}}, {},
     "vip_verify_outside.vantage (router9) is neither localhost (the controller) nor a host of the inventory"),
    ({"vip_verify_outside": {"ca_file": "pki/ca.crt"}}, {},
     "vip_verify_outside.ca_file (pki/ca.crt) must be an absolute path on the vantage host localhost"),
    ({"vip_cluster": DUAL, "vip_services": {"provider": "metallb", "pools": [
        {"name": "v6", "addresses": ["2001:db8:100::/120"], "advertisement": "bgp"}]}, "vip_bgp": PEER}, {},
     "advertise IPv6 over BGP"),
    ({"vip_services": MLB_BGP4, "vip_bgp": dict(PEER, hold_time=90, keepalive_interval=10)}, {},
     "is not rendered for MetalLB's native BGP mode"),
    ({"vip_services": MLB_BGP4, "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513, "port": 17900}]}}, {},
     "peerPort allows"),
    ({"vip_services": MLB_BGP4, "vip_bgp": {"local_as": 64513, "peers": [{"address": "192.0.2.1", "as": 64513, "multihop": True}]}},
     {}, "MetalLB refuses ebgpMultiHop"),
    ({"vip_services": dict(MLB_BGP4, metallb_bgp_mode="frr"), "vip_bgp": dict(PEER, hold_time=0, keepalive_interval=10)}, {},
     "must be 0 when hold_time is 0"),
    ({"vip_services": MLB_BGP4, "vip_bgp": dict(PEER, source_interface="eth0")}, {}, "vip_bgp.source_interface (eth0) is not rendered"),
    ({"vip_services": dict(MLB, load_balancer_class="example.org/metallb")}, {},
     "vip_services.load_balancer_class (example.org/metallb) is not rendered"),
    ({"vip_services": {"provider": "metallb", "pools": [{"name": "cp", "addresses": ["192.0.2.64/28"],
                                                         "node_selectors": {"node-role.kubernetes.io/control-plane": ""}}]}},
     {}, "can be announced only from control-plane nodes"),
    (_mlb_selectors([{"matchLabels": {"rack": "r1"}}, {"matchLabels": {"rack": "r1"}}]), {}, "MetalLB refuses duplicate selectors"),
    (_mlb_selectors([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]},
                                           {"key": "zone", "operator": "In", "values": ["b", "a"]}]}]), {},
     "MetalLB refuses duplicate match expressions"),
    (_mlb_selectors([{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["c", "c"]}]}]), {},
     "MetalLB refuses duplicate values"),
    (_mlb_selectors({"bad key": "x"}), {}, "is not a valid label key"),
    (_mlb_selectors({"zone": "not ok!"}), {}, "is not a valid label value"),
    ({"vip_cluster": DUAL, "vip_services": {"provider": "metallb", "pools": [{"name": "m", "addresses": ["::ffff:192.0.2.64/124"]}]}},
     {}, "IPv4-mapped IPv6 addresses"),
    ({"vip_services": {"provider": "metallb", "pools": [{"name": "Public_Pool", "addresses": ["192.0.2.64/28"]}]}}, {},
     "must be a DNS-1123 subdomain"),
    ({"vip_control_plane": BGP_CP, "vip_bgp": PEER, "vip_services": {"provider": "kube_vip", "pools": [
        {"name": "a", "addresses": ["192.0.2.64/28"], "advertisement": "l2"}]}}, with_hosts(_all_lo), "would answer ARP on lo"),
]


def doc_messages():
    """The example messages of docs/validation.md (last column of every table row)."""
    messages = []
    with open(os.path.join(TOP, "docs", "validation.md"), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("| ") and not line.startswith("| check"):
                match = re.search(r"\| `([^|]*)` \|$", line.strip())
                if match:
                    messages.append(match.group(1))
    return messages


def outcome(override, kwargs):
    if "example" in kwargs:
        result = build_plan(*load_example(kwargs["example"]))
    else:
        result = run(override, **kwargs)
    return result["errors"] + result["warnings"]


def test_every_documented_message_has_a_case():
    messages = doc_messages()
    assert len(messages) >= 50
    for message in messages:
        assert sum(1 for case in CASES if case[2] in message) == 1, message


@pytest.mark.parametrize("override,kwargs,part", CASES, ids=[c[2][:60] for c in CASES])
def test_documented_message_is_what_the_plan_says(override, kwargs, part):
    documented = [m for m in doc_messages() if part in m]
    assert len(documented) == 1, part
    said = outcome(override, kwargs)
    assert documented[0] in said, said

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spec: types, defaults, versions, unknown keys (rule 10), the plan's shape."""

from __future__ import annotations

import json

import pytest

from ansible_collections.baremetal.vip.plugins.plugin_utils import plan as plan_mod
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan import build_plan, parse_version

from testkit.planlib import BASE, errors, has, hosts4, ok, run

PLAN_KEYS = {"schema", "cluster", "kube_vip", "control_plane", "services", "bgp", "kube_proxy", "nodes", "owned",
             "verify_outside", "warnings", "summary"}


def test_base_plan_shape_matches_docs():
    plan = ok()
    assert set(plan) == PLAN_KEYS
    assert plan["schema"] == 1
    assert set(plan["cluster"]) == {"name", "distro", "kubernetes_version", "node_cidrs", "pod_cidrs", "service_cidrs",
                                    "families", "paths", "kubeadm_api_version", "node_cidr_mask_sizes"}
    assert set(plan["control_plane"]) == {"address", "family", "prefix", "cidr", "port", "interface",
                                          "daemonset_interface", "kubernetes_addr", "mode",
                                          "deployment", "cp_enable", "svc_enable", "leader_election", "routing_table",
                                          "load_balancer", "privileged", "super_admin_host"}
    assert set(plan["kube_proxy"]) == {"manage", "mode", "strict_arp", "exclude_cidrs", "cleanup_ipvs", "merge_configmap"}
    assert set(plan["owned"]) == {"addresses", "service_addresses", "route_table", "route_protocol", "ipvs_services"}
    assert set(plan["nodes"]["cp1"]) == {"node_name", "node_ip", "interface", "control_plane", "worker", "super_admin",
                                         "bgp_router_id", "bgp_peers"}
    assert plan["services"]["provider"] == "none"
    assert plan["bgp"] is None
    json.dumps(plan)  # plain data only


def test_defaults_come_from_the_spec():
    plan = ok()
    cp = plan["control_plane"]
    assert cp["port"] == 6443 and cp["mode"] == "arp" and cp["deployment"] == "static_pod"
    assert cp["routing_table"] == {"table": 198, "protocol": 248, "clean": False}
    assert cp["load_balancer"] == {"enabled": False, "port": 6443, "forward_method": "local"}
    assert cp["leader_election"] == {"profile": "default", "lease_name": "plndr-cp-lock", "lease_namespace": "kube-system",
                                     "lease_duration": 15, "renew_deadline": 10, "retry_period": 2}
    assert plan["kube_vip"]["image"] == "ghcr.io/kube-vip/kube-vip:v1.0.3"
    assert plan["kube_vip"]["cloud_provider_image"] == "ghcr.io/kube-vip/kube-vip-cloud-provider:v0.0.12"
    assert plan["kube_vip"]["prometheus_server"] == ":2112"
    assert plan["kube_proxy"] == {"manage": True, "mode": "iptables", "strict_arp": False, "exclude_cidrs": [],
                                  "cleanup_ipvs": False, "merge_configmap": True}


@pytest.mark.parametrize("text,expected", [
    ("1.31", "1.31.0"), ("v1.31.4", "1.31.4"), ("1.31.4", "1.31.4"), ("v1.31.4+k3s1", "1.31.4"),
    ("v1.30.6+rke2r1", "1.30.6"), ("1.29.0-rc.1", "1.29.0"),
])
def test_kubernetes_version_normalized(text, expected):
    plan = ok({"vip_cluster": {"kubernetes_version": text}})
    assert plan["cluster"]["kubernetes_version"] == expected


@pytest.mark.parametrize("text", ["latest", "1", "v1.x", "1.31.4.5"])
def test_bad_version_names_variable(text):
    errs = errors({"vip_cluster": {"kubernetes_version": text}})
    assert has(errs, "vip_cluster.kubernetes_version", repr(text))


def test_unquoted_float_version_explains_quoting():
    errs = errors({"vip_cluster": {"kubernetes_version": 1.3}})
    assert has(errs, "vip_cluster.kubernetes_version", "quote")


def test_parse_version_helper():
    assert parse_version("v1.2.3") == (1, 2, 3)
    with pytest.raises(ValueError):
        parse_version("one")


@pytest.mark.parametrize("override,path,bad,suggestion", [
    ({"vip_cluster": {"pod_cidr": ["203.0.113.128/25"]}}, "vip_cluster", "pod_cidr", "pod_cidrs"),
    ({"vip_kube_vip": {"verison": "1.0.3"}}, "vip_kube_vip", "verison", "version"),
    ({"vip_control_plane": {"adress": "192.0.2.10"}}, "vip_control_plane", "adress", "address"),
    ({"vip_control_plane": {"leader_election": {"lease_duraton": 20}}}, "vip_control_plane.leader_election",
     "lease_duraton", "lease_duration"),
    ({"vip_control_plane": {"routing_table": {"tabel": 198}}}, "vip_control_plane.routing_table", "tabel", "table"),
    ({"vip_control_plane": {"load_balancer": {"enable": True}}}, "vip_control_plane.load_balancer", "enable", "enabled"),
    ({"vip_services": {"provder": "metallb"}}, "vip_services", "provder", "provider"),
    ({"vip_services": {"provider": "metallb", "pools": [{"name": "a", "addresses": ["192.0.2.64/28"], "autoassign": True}]}},
     "vip_services.pools[0]", "autoassign", "auto_assign"),
    ({"vip_bgp": {"localas": 64512}}, "vip_bgp", "localas", "local_as"),
    ({"vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513, "pasword": "x"}]}}, "vip_bgp.peers[0]", "pasword",
     "password"),
    ({"vip_kube_proxy": {"strictarp": True}}, "vip_kube_proxy", "strictarp", "strict_arp"),
])
def test_unknown_keys_name_the_closest_valid_key(override, path, bad, suggestion):
    errs = run(override)["errors"]
    assert has(errs, path + ": unknown key '%s'" % bad, "did you mean '%s'" % suggestion), errs


def test_unknown_key_in_host_bgp_peers():
    hosts, groups = hosts4()
    hosts["worker1"]["vip_bgp_peers"] = [{"address": "192.0.2.1", "as": 64513, "multi_hop": True}]
    errs = errors(hosts=hosts, groups=groups)
    assert has(errs, "hostvars[worker1].vip_bgp_peers[0]: unknown key 'multi_hop'", "'multihop'")


def test_unknown_key_in_label_selector():
    errs = errors({"vip_services": {"provider": "metallb", "pools": [
        {"name": "a", "addresses": ["192.0.2.64/28"], "node_selectors": [{"matchLabel": {"a": "b"}}]}]}})
    assert has(errs, "vip_services.pools[0].node_selectors[0]: unknown key 'matchLabel'", "'matchLabels'")


def test_choices_suggest_closest():
    errs = errors({"vip_control_plane": {"mode": "arpp"}})
    assert has(errs, "vip_control_plane.mode is 'arpp'", "arp, bgp, routing_table", "did you mean 'arp'")


def test_required_variables():
    result = build_plan({}, *hosts4())
    assert has(result["errors"], "vip_cluster is required")
    assert has(result["errors"], "vip_kube_vip is required")
    errs = errors({"vip_cluster": {"distro": None}})
    assert has(errs, "vip_cluster.distro is required")


def test_type_errors_are_collected_together():
    errs = errors({"vip_control_plane": {"port": "https", "load_balancer": {"enabled": "maybe"}},
                   "vip_kube_proxy": {"strict_arp": "sometimes"}, "vip_cluster": {"node_cidrs": {"a": 1}}})
    assert has(errs, "vip_control_plane.port must be an integer", "'https'")
    assert has(errs, "vip_control_plane.load_balancer.enabled must be true or false")
    assert has(errs, "vip_kube_proxy.strict_arp must be auto, true or false")
    assert has(errs, "vip_cluster.node_cidrs must be a list")


def test_string_booleans_and_integers_are_coerced():
    plan = ok({"vip_control_plane": {"port": "6443", "load_balancer": {"enabled": "yes"}}})
    assert plan["control_plane"]["port"] == 6443
    assert plan["control_plane"]["load_balancer"]["enabled"] is True


def test_secret_values_are_never_echoed():
    errs = errors({"vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513, "password": ["hunter2-secret"]}]},
                   "vip_control_plane": {"mode": "bgp"}})
    assert has(errs, "vip_bgp.peers[0].password", "value hidden")
    assert not any("hunter2-secret" in e for e in errs)


def test_missing_netaddr_raises_a_clear_error(monkeypatch):
    monkeypatch.setattr(plan_mod, "netaddr", None)
    with pytest.raises(plan_mod.MissingLibraryError, match="netaddr"):
        build_plan(BASE, *hosts4())


def test_summary_is_short_text():
    plan = ok()
    assert all(isinstance(line, str) for line in plan["summary"])
    assert plan["summary"][0].startswith("kubeadm 1.31.4 (ipv4), kube-vip 1.0.3, 5 nodes")


@pytest.mark.parametrize("version,subnet_env,endpointslices", [
    ("0.8.9", "vip_cidr", "enable_endpointslices"), ("v0.9.0", "vip_subnet", "enable_endpointslices"),
    ("1.0.0", "vip_subnet", None),
])
def test_kube_vip_version_facts(version, subnet_env, endpointslices):
    plan = ok({"vip_kube_vip": {"version": version, "prometheus_port": 0}})
    assert plan["kube_vip"]["subnet_env"] == subnet_env
    assert plan["kube_vip"]["endpointslices_env"] == endpointslices
    assert plan["kube_vip"]["prometheus_server"] == ""


@pytest.mark.parametrize("distro,static,auto,kubeconfig", [
    ("kubeadm", "/etc/kubernetes/manifests", None, "/etc/kubernetes/admin.conf"),
    ("k3s", "/var/lib/rancher/k3s/agent/pod-manifests", "/var/lib/rancher/k3s/server/manifests", "/etc/rancher/k3s/k3s.yaml"),
    ("rke2", "/var/lib/rancher/rke2/agent/pod-manifests", "/var/lib/rancher/rke2/server/manifests",
     "/etc/rancher/rke2/rke2.yaml"),
])
def test_distro_paths(distro, static, auto, kubeconfig):
    paths = ok({"vip_cluster": {"distro": distro}})["cluster"]["paths"]
    assert paths["static_pod_dir"] == static
    assert paths["auto_deploy_dir"] == auto
    assert paths["kubeconfig"] == kubeconfig


def test_host_variable_typo_is_pointed_out():
    hosts, groups = hosts4()
    hosts["cp2"]["vip_interfce"] = "eth1"
    result = run(hosts=hosts, groups=groups)
    assert has(result["warnings"], "hostvars[cp2].vip_interfce", "did you mean vip_interface")


@pytest.mark.parametrize("image", ["ghcr.io/kube-vip/kube-vip:v1.0.3", "ghcr.io/kube-vip/kube-vip@sha256:0123"])
def test_image_is_a_repository(image):
    errs = errors({"vip_kube_vip": {"image": image}})
    assert has(errs, "vip_kube_vip.image (%s) must be a repository without tag or digest" % image)


def test_image_with_registry_port():
    plan = ok({"vip_kube_vip": {"image": "registry.example.org:5000/kube-vip/kube-vip", "version": "v1.0.3"}})
    assert plan["kube_vip"]["image"] == "registry.example.org:5000/kube-vip/kube-vip:v1.0.3"


def test_cluster_name_defaults_and_is_carried_into_the_plan():
    assert ok()["cluster"]["name"] == "default"
    assert ok({"vip_cluster": {"name": "prod-eu1"}})["cluster"]["name"] == "prod-eu1"


@pytest.mark.parametrize("name", ["Prod", "prod_eu", "-prod", "x" * 64])
def test_cluster_name_must_be_a_label_value(name):
    assert has(errors({"vip_cluster": {"name": name}}), "vip_cluster.name (%s)" % name, "DNS-1123 label")

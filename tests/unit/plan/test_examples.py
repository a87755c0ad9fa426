# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every example inventory builds a plan (and the invalid ones fail) through build_plan directly."""

from __future__ import annotations

import ipaddress
import json

import pytest

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan import build_plan

from testkit.inventory import load_example
from testkit.planlib import INVALID_EXAMPLES, VALID_EXAMPLES

DOC_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]


@pytest.mark.parametrize("name", VALID_EXAMPLES)
def test_valid_example(name):
    result = build_plan(*load_example(name))
    assert result["errors"] == []
    # bgp-kube-vip: its services DaemonSet runs on the workers only, so no node has two BGP speakers
    assert result["warnings"] == []
    plan = result["plan"]
    assert len(plan["nodes"]) == 5
    assert sum(1 for n in plan["nodes"].values() if n["control_plane"]) == 3
    text = json.dumps(plan)
    assert "example-only" not in text and "VIP_BGP_PASSWORD" not in text


@pytest.mark.parametrize("name", VALID_EXAMPLES + INVALID_EXAMPLES)
def test_examples_use_documentation_addresses_only(name):
    cluster, hosts, _groups = load_example(name)
    for hv in hosts.values():
        addr = ipaddress.ip_address(hv["ansible_host"])
        assert any(addr in net for net in DOC_NETS), hv
    bgp = cluster.get("vip_bgp") or {}
    for value in [bgp.get("local_as")] + [p.get("as") for p in bgp.get("peers", [])]:
        assert value is None or 64512 <= value <= 65534 or value == 0  # 0: the invalid example's error


def test_arp_metallb_example():
    plan = build_plan(*load_example("arp-metallb"))["plan"]
    assert plan["kube_proxy"]["exclude_cidrs"] == ["192.0.2.10/32"]
    assert plan["kube_proxy"]["strict_arp"] is True
    assert plan["services"]["kube_vip"] is None


def test_bgp_kube_vip_example():
    plan = build_plan(*load_example("bgp-kube-vip"))["plan"]
    assert plan["services"]["kube_vip"]["mode"] == "bgp"
    assert plan["services"]["kube_vip"]["svc_election"] is True
    assert [p["address"] for p in plan["nodes"]["cp3"]["bgp_peers"]] == ["192.0.2.3"]
    assert [p["address"] for p in plan["nodes"]["worker2"]["bgp_peers"]] == ["192.0.2.1", "192.0.2.2"]
    assert plan["bgp"]["peers"][0]["has_password"] is True
    assert plan["control_plane"]["leader_election"]["lease_duration"] == 30


def test_dual_stack_example():
    plan = build_plan(*load_example("dual-stack"))["plan"]
    assert plan["cluster"]["families"] == ["ipv4", "ipv6"]
    assert plan["control_plane"]["cidr"] == "2001:db8:1::10/128"
    assert [p["family"] for p in plan["services"]["pools"]] == ["ipv6", "ipv4"]


def test_k3s_example():
    plan = build_plan(*load_example("k3s"))["plan"]
    assert plan["cluster"]["paths"]["auto_deploy_dir"] == "/var/lib/rancher/k3s/server/manifests"
    assert plan["services"]["kube_vip"]["cloud_provider"]["configmap"] == {
        "cidr-global": "192.0.2.64/28,192.0.2.100/30,192.0.2.104/30,192.0.2.108/31,192.0.2.110/32",
        "cidr-team-a": "192.0.2.128/28"}


@pytest.mark.parametrize("name,count", [("invalid/overlaps", 7), ("invalid/bgp", 7)])
def test_invalid_example(name, count):
    result = build_plan(*load_example(name))
    assert result["plan"] is None
    assert len(result["errors"]) == count, result["errors"]

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory builders shared by the plan tests (documentation addresses only)."""

from __future__ import annotations

import copy

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan import build_plan

VALID_EXAMPLES = ("arp-metallb", "bgp-kube-vip", "routing-table", "k3s", "rke2", "dual-stack")
INVALID_EXAMPLES = ("invalid/overlaps", "invalid/bgp")

BASE = {
    "vip_cluster": {"distro": "kubeadm", "kubernetes_version": "1.31.4", "node_cidrs": ["192.0.2.0/24"],
                    "pod_cidrs": ["203.0.113.128/25"], "service_cidrs": ["203.0.113.64/26"]},
    "vip_kube_vip": {"version": "1.0.3"},
    "vip_control_plane": {"address": "192.0.2.10", "interface": "eth0"},
}

BASE6 = {
    "vip_cluster": {"distro": "kubeadm", "kubernetes_version": "1.31.4", "node_cidrs": ["2001:db8:1::/64"],
                    "pod_cidrs": ["2001:db8:42::/56"], "service_cidrs": ["2001:db8:43::/112"]},
    "vip_kube_vip": {"version": "1.0.3"},
    "vip_control_plane": {"address": "2001:db8:1::10", "interface": "eth0"},
}


def hosts4(cps=3, workers=2):
    hosts = {}
    groups = {"kube_control_plane": [], "kube_node": []}
    for i in range(cps):
        name = "cp%d" % (i + 1)
        hosts[name] = {"ansible_host": "192.0.2.%d" % (11 + i)}
        groups["kube_control_plane"].append(name)
    for i in range(workers):
        name = "worker%d" % (i + 1)
        hosts[name] = {"ansible_host": "192.0.2.%d" % (21 + i)}
        groups["kube_node"].append(name)
    return hosts, groups


def hosts6(cps=3, workers=2):
    hosts, groups = hosts4(cps, workers)
    for name, hv in hosts.items():
        hv["ansible_host"] = "2001:db8:1::%s" % hv["ansible_host"].rsplit(".", 1)[1]
    return hosts, groups


def merge(base, override):
    """Deep-merge ``override`` into a copy of ``base``; a value of None deletes the key."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def run(override=None, hosts=None, groups=None, ipv6=False):
    """build_plan on BASE (or BASE6) merged with ``override``."""
    base = BASE6 if ipv6 else BASE
    default_hosts, default_groups = hosts6() if ipv6 else hosts4()
    return build_plan(merge(base, override), hosts if hosts is not None else default_hosts,
                      groups if groups is not None else default_groups)


def ok(override=None, **kwargs):
    """build_plan that must succeed; returns the plan."""
    result = run(override, **kwargs)
    assert result["errors"] == [], result["errors"]
    return result["plan"]


def errors(override=None, **kwargs):
    """build_plan that must fail; returns the error list."""
    result = run(override, **kwargs)
    assert result["errors"], "expected errors"
    assert result["plan"] is None
    return result["errors"]


def has(messages, *parts):
    """True when one message contains every part."""
    return any(all(part in msg for part in parts) for msg in messages)

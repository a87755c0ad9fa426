#!/usr/bin/env python
"""Time build_plan on large inventories: 1,000 / 10,000 / 100,000 pools and 1,000 nodes.

Not a pytest module: run it directly (``python tests/bench/plan_bench.py``); it prints one line
per case with the best of a few runs. The pools are disjoint /120s carved out of 2001:db8::/32
(the IPv6 documentation range), the only documentation range with room for 100,000 pools.
"""
from __future__ import annotations

import os
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, ".collections"))

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan import build_plan  # noqa: E402  pylint: disable=wrong-import-position


def inventory(pools, nodes):
    """A valid MetalLB inventory with ``pools`` IPv6 /120 pools and ``nodes`` nodes (3 control plane)."""
    cluster = {
        "vip_cluster": {"distro": "kubeadm", "kubernetes_version": "1.31.4",
                        "node_cidrs": ["2001:db8::/64"], "pod_cidrs": ["2001:db8:1::/64"],
                        "service_cidrs": ["2001:db8:2::/112"]},
        "vip_kube_vip": {"version": "1.0.3"},
        "vip_control_plane": {"address": "2001:db8::a", "interface": "eth0"},
        "vip_services": {"provider": "metallb", "metallb_bgp_mode": "frr", "pools": [
            {"name": "p%d" % i, "addresses": ["2001:db8:100:%x::/120" % i if i < 0x10000 else "2001:db8:%x::/120" % (0x200 + i - 0x10000)],
             "advertisement": "bgp"}
            for i in range(pools)]},
        "vip_bgp": {"local_as": 64512, "peers": [{"address": "2001:db8::1", "as": 64513}],
                    "router_id": None},
        "vip_kube_proxy": {"mode": "nftables"},
    }
    hosts, cps, workers = {}, [], []
    for i in range(nodes):
        name = "n%d" % i
        hosts[name] = {"ansible_host": "2001:db8::%x" % (0x1000 + i)}
        (cps if i < 3 else workers).append(name)
    return cluster, hosts, {"kube_control_plane": cps, "kube_node": workers}


def bench(pools, nodes, repeat=3):
    args = inventory(pools, nodes)
    best = None
    for _attempt in range(repeat):
        start = time.perf_counter()
        result = build_plan(*args)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def main():
    cases = [(1000, 5), (10000, 5), (100000, 5), (10, 1000)]
    for pools, nodes in cases:
        repeat = 1 if pools >= 100000 else 3
        elapsed, result = bench(pools, nodes, repeat)
        errors = len(result["errors"])
        print("build_plan: %7d pools %5d nodes  %8.3f s  (%d errors, %d warnings)"
              % (pools, nodes, elapsed, errors, len(result["warnings"])))
        if errors:
            print("  first error: %s" % result["errors"][0])
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's plan and cluster_info results as the verify / remediate unit tests (tests/unit/verify) feed them."""

import copy

from ansible_collections.baremetal.vip.plugins.plugin_utils import plan as plan_utils

from testkit.inventory import load_example


def lab_plan(**override):
    """build_plan on examples/lab/inventory.yml, with ``override`` merged into its vars (one level deep)."""
    cluster_vars, hosts, groups = load_example("lab")
    cluster_vars = copy.deepcopy(cluster_vars)
    for key, value in override.items():
        cluster_vars[key] = dict(cluster_vars.get(key) or {}, **value) if isinstance(value, dict) else value
    hosts["w2"]["vip_node_name"] = "worker-2.example"
    result = plan_utils.build_plan(cluster_vars, hosts, groups)
    assert not result["errors"], result["errors"]
    return result["plan"]


def lease(name, holder, namespace="default", expired=False, present=True):
    """A cluster_info Lease."""
    return {"name": name, "namespace": namespace, "present": present, "holder": holder, "expired": expired}


def service(name, ip, policy="Cluster", holder=None, klass=None, namespace="default", endpoints=(), error=None):
    """A cluster_info Service; ``endpoints``: (node name, ready) pairs, None: not read (``error`` says why)."""
    return {"namespace": namespace, "name": name, "load_balancer_class": klass, "external_traffic_policy": policy,
            "ingress_ips": [ip] if ip else [], "requested_ips": [], "lease_name": "kubevip-" + name,
            "lease": lease("kubevip-" + name, holder, namespace, present=holder is not None),
            "endpoints": None if endpoints is None else [{"node": n, "ready": r, "serving": r, "terminating": False,
                                                          "addresses": ["203.0.113.140"]} for n, r in endpoints],
            "endpoints_error": error}


def cluster(services=(), cp_holder="cp1", svcs_holder=None, pods=(), unready=()):
    """cluster_info's result; the services DaemonSet runs a Ready pod on each of ``pods``, a not Ready one on ``unready``."""
    ds_pods = [{"name": "kube-vip-ds-%s" % n, "node": n, "source": "daemonset", "phase": "Running", "ready": n in pods}
               for n in list(pods) + list(unready)]
    return {"leases": {"control_plane": lease("plndr-cp-lock", cp_holder, "kube-system"),
                       "services": lease("plndr-svcs-lock", svcs_holder, "kube-system", present=svcs_holder is not None)},
            "services": list(services), "kube_vip": {"pods": ds_pods}}

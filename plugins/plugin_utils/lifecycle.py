# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``playbooks/reset.yml`` and ``playbooks/remove_node.yml`` remove, decided on the controller.

The playbooks only read (find, slurp, the live ConfigMap) and apply; every "is this ours?" is here:

- ``reset_scan(plan, host, ...)``: where to look on a node for files the collection wrote;
- ``reset_files(plan, host, found)``: of the files read there, those that are ours. A static pod is ours
  only when one of its documents is a Pod labelled ``app.kubernetes.io/managed-by: baremetal.vip`` with
  this plan's cluster label (the labels render.labels gives it), whatever the file is called; any other
  file only when it carries the collection's header comment (``Managed by baremetal.vip``);
- ``reset_network(plan, host)``: the host modules' options that remove the plan's VIPs, kube-vip's
  routes (the plan's table and protocol) and IPVS services on the plan's addresses, and nothing else;
- ``cluster_kinds()``: the kinds the collection applies (the cluster objects go by their labels);
- ``kube_proxy_restore(config_text, patch, before)``: kube-proxy's config.conf as before the collection
  (``before``, recorded by cluster_apply) or with only the collection's keys taken out;
- ``removal(plan, node, ...)``: remove_node.yml's checks (every problem at once) and what it does.
"""
from __future__ import annotations

import copy

import yaml

from ansible_collections.baremetal.vip.plugins.module_utils.k8s_apply import MANAGED_BY_LABEL
from ansible_collections.baremetal.vip.plugins.plugin_utils import render
from ansible_collections.baremetal.vip.plugins.plugin_utils import verdicts

HEADER = "Managed by baremetal.vip"
KUBE_PROXY_BEFORE = "baremetal.vip/kube-proxy-config-before"
_MANIFEST_PATTERNS = ["*.yaml", "*.yml", "*.json", "*.manifest"]

# (apiVersion, kind) of every object the collection applies; prune order (MetalLB resources first, then
# ConfigMaps and Secrets, workloads, RBAC) is k8s_apply's. Kinds an API does not serve are skipped there.
CLUSTER_KINDS = (
    ("metallb.io/v1beta1", "L2Advertisement"), ("metallb.io/v1beta1", "BGPAdvertisement"),
    ("metallb.io/v1beta2", "BGPPeer"), ("metallb.io/v1beta1", "IPAddressPool"),
    ("metallb.io/v1beta1", "BFDProfile"), ("metallb.io/v1beta1", "Community"),
    ("v1", "ConfigMap"), ("v1", "Secret"),
    ("apps/v1", "DaemonSet"), ("apps/v1", "Deployment"),
    ("v1", "ServiceAccount"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"), ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "Role"),
)


def cluster_name(plan):
    return str((plan.get("cluster") or {}).get("name") or "default")


def cluster_kinds():
    return [{"apiVersion": api, "kind": kind} for api, kind in CLUSTER_KINDS]


def reset_scan(plan, host, host_files=(), kubeadm_dir="/etc/kubernetes/baremetal-vip"):
    """Where reset.yml looks on ``host``: [{path, patterns, rule}] for ansible.builtin.find. ``rule`` is
    ``pod`` (ours by labels) or ``header`` (ours by the header comment). ``host_files`` are host_prep's
    paths (modules-load.d, sysctl.d), looked up by name."""
    plan = render.plain(plan)
    paths = plan["cluster"]["paths"]
    scan = []
    if plan["nodes"][host]["control_plane"]:
        scan.append({"path": paths["static_pod_dir"], "patterns": _MANIFEST_PATTERNS, "rule": "pod"})
        if plan["cluster"]["distro"] == "kubeadm":
            scan.append({"path": kubeadm_dir, "patterns": ["*"], "rule": "header"})
        else:
            scan.append({"path": "/etc/rancher/%s/config.yaml.d" % plan["cluster"]["distro"],
                         "patterns": ["*baremetal-vip*"], "rule": "header"})
        if paths.get("auto_deploy_dir"):
            scan.append({"path": paths["auto_deploy_dir"], "patterns": ["baremetal-vip-*"], "rule": "header"})
    for path in host_files:
        directory, _sep, name = str(path).rpartition("/")
        scan.append({"path": directory or "/", "patterns": [name], "rule": "header"})
    return scan


def _labelled_pod(text, cluster):
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return False
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "Pod":
            continue
        labels = (doc.get("metadata") or {}).get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) == render.MANAGED_BY and labels.get(render.CLUSTER_LABEL) == cluster:
            return True
    return False


def _has_header(text):
    head = [line for line in text.splitlines()[:8] if line.strip()]
    return any(line.lstrip("#; ").startswith(HEADER) for line in head)


def reset_files(plan, host, found):
    """``found``: [{path, rule, content}] (content as text) of the files reset_scan's places hold on ``host``.
    Returns {"remove": [path], "kept": [{path, why}]}: only files the collection wrote are removed."""
    del host  # the files are the host's already; kept for symmetry with reset_network
    cluster = cluster_name(render.plain(plan))
    remove, kept = [], []
    for item in found:
        text = item.get("content") or ""
        if item["rule"] == "pod":
            ours = _labelled_pod(text, cluster)
            why = "not a Pod labelled app.kubernetes.io/managed-by=%s, %s=%s" % (render.MANAGED_BY, render.CLUSTER_LABEL,
                                                                                 cluster)
        else:
            ours = _has_header(text)
            why = "no '%s' header" % HEADER
        if ours:
            remove.append(item["path"])
        else:
            kept.append({"path": item["path"], "why": why})
    return {"remove": sorted(set(remove)), "kept": kept}


def reset_network(plan, host):
    """The options of vip_address (prune), vip_routes (prune to nothing) and ipvs_service (prune) that take
    the plan's VIPs, kube-vip's routes and the IPVS services on the plan's addresses off ``host``."""
    plan = render.plain(plan)
    owned = plan["owned"]
    addresses = list(owned["addresses"])
    protected = verdicts.check_options(plan, host)["protected_addresses"]
    return {
        "addresses": {"owned_ranges": addresses, "protected_addresses": protected} if addresses else None,
        "routes": {"table": owned["route_table"], "protocol": owned["route_protocol"]},
        "ipvs": {"owned_addresses": addresses} if addresses else None,
    }


def _holds(config, patch):
    """Whether every leaf of ``patch`` is in ``config`` with the patch's value."""
    for key, value in patch.items():
        if isinstance(value, dict):
            if not isinstance(config.get(key), dict) or not _holds(config[key], value):
                return False
        elif key not in config or config[key] != value:
            return False
    return bool(patch)


def _drop(config, patch):
    """Remove from ``config`` every leaf of ``patch`` whose value is still the patch's; drop mappings left empty."""
    for key, value in patch.items():
        if key not in config:
            continue
        if isinstance(value, dict) and isinstance(config[key], dict):
            _drop(config[key], value)
            if not config[key]:
                del config[key]
        elif config[key] == value:
            del config[key]


def kube_proxy_restore(config_text, patch, before=None):
    """kube-proxy's config.conf after reset: ``before`` (the text cluster_apply recorded before its first merge)
    when there is one, else, when every key of ``patch`` still holds the patch's value, ``config_text`` without them
    (a second reset, or a config.conf changed since, is left alone).
    Returns (text, how) with text None when nothing changes."""
    if before:
        return (None if before == config_text else before), "put back as recorded before baremetal.vip"
    config = yaml.safe_load(config_text or "") or {}
    if not isinstance(config, dict):
        return None, "config.conf is not a mapping: left alone"
    if not _holds(config, render.plain(patch) or {}):
        # not every setting of the collection is there (never merged, put back already, or changed since): the
        # keys it has may be the cluster's own (kubeadm's strictARP, mode), so nothing is taken out
        return None, "baremetal.vip's settings are not all there: left alone"
    new = copy.deepcopy(config)
    _drop(new, render.plain(patch) or {})
    if new == config:
        return None, "none of baremetal.vip's keys left"
    return yaml.safe_dump(new, default_flow_style=False, sort_keys=False), "baremetal.vip's keys removed (no record of before)"


def vip_holders(plan, addresses_by_host):
    """Hosts whose addresses (vip_facts' ``addresses``) include the control-plane VIP."""
    cp = plan.get("control_plane")
    if not cp:
        return []
    return sorted(host for host, addresses in (addresses_by_host or {}).items()
                  if any(str(a.get("address")) == str(cp["address"]) for a in addresses or []))


def removal(plan, node, addresses_by_host=None):
    """remove_node.yml's decision. Raises ValueError naming the variable and values (every problem at once) when
    ``node`` cannot go; else {"node", "control_plane", "holds_vip", "remaining_control_plane", "services_hosts"}.
    ``addresses_by_host``: the nodes' addresses read before anything is touched (who holds the VIP)."""
    plan = render.plain(plan)
    nodes = plan["nodes"]
    if not node or node not in nodes:
        raise ValueError("vip_remove_node is %r, which is not a node of the plan (%s)" % (node, ", ".join(sorted(nodes))))
    problems = []
    cp_hosts = [h for h, n in nodes.items() if n["control_plane"]]
    remaining_cp = [h for h in cp_hosts if h != node]
    is_cp = nodes[node]["control_plane"]
    if plan.get("control_plane") and is_cp and not remaining_cp:
        problems.append("vip_remove_node is %s, the last control-plane node of the plan (kube_control_plane: %s): the "
                        "control-plane VIP %s would have no kube-vip left"
                        % (node, ", ".join(cp_hosts), plan["control_plane"]["address"]))
    services = (plan.get("services") or {}).get("kube_vip") or {}
    svc_hosts = list(services.get("hosts") or [])
    remaining_svc = [h for h in svc_hosts if h != node]
    if svc_hosts and node in svc_hosts and not remaining_svc:
        problems.append("vip_remove_node is %s, the last node of the services kube-vip (vip_services.placement %s: %s): "
                        "Service VIPs of %s would have no kube-vip left"
                        % (node, services.get("placement"), ", ".join(svc_hosts),
                           ", ".join(plan["owned"]["service_addresses"]) or "the plan"))
    if problems:
        raise ValueError("; ".join(problems))
    holders = vip_holders(plan, addresses_by_host)
    holds = node in holders
    return {"node": node, "control_plane": is_cp, "holds_vip": holds, "remaining_control_plane": remaining_cp,
            "services_hosts": remaining_svc, "was_services_host": node in svc_hosts, "holders": holders}


def plan_without(plan, node):
    """The plan with ``node`` neither control-plane node nor worker and out of the services kube-vip's hosts:
    the DaemonSets rendered from it name their nodes (hostname affinity) without ``node``, which is still in
    the cluster until its operator deletes it."""
    plan = copy.deepcopy(render.plain(plan))
    plan["nodes"][node] = dict(plan["nodes"][node], control_plane=False, worker=False)
    services = (plan.get("services") or {}).get("kube_vip")
    if services and node in (services.get("hosts") or []):
        services["hosts"] = [h for h in services["hosts"] if h != node]
    return plan

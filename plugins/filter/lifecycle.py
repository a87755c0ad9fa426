# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the lifecycle playbooks (reset.yml, remove_node.yml, upgrade.yml): the decisions live in
plugin_utils/lifecycle.py and plugin_utils/plan_upgrade.py.

Documentation: vip_reset_host.yml, vip_kube_proxy_restore.yml, vip_node_removal.yml,
vip_control_plane_holders.yml and vip_upgrade_plan.yml next to this file.
"""
from __future__ import annotations

import base64

from ansible.errors import AnsibleFilterError

from ansible_collections.baremetal.vip.plugins.plugin_utils import lifecycle, plan_upgrade


def _found(item):
    """A file as reset_files wants it, from one result of ansible.builtin.slurp looped over find's files
    (``item`` = [scan entry, file]) or already as {path, rule, content}."""
    if "content" in item and isinstance(item.get("item"), (list, tuple)):
        scan, found = item["item"][0], item["item"][1]
        scan = scan.get("item", scan)  # a find result carries its scan entry as item
        return {"path": found["path"], "rule": scan["rule"],
                "content": base64.b64decode(item["content"]).decode("utf-8", "replace")}
    return item


def vip_reset_host(plan, host, found=None, host_files=None):
    """Where to look on ``host`` (scan), which of the files ``found`` there are ours (files) and the host
    modules' options that take the plan's VIPs, routes and IPVS services off it (network)."""
    try:
        return {"scan": lifecycle.reset_scan(plan, host, host_files or []),
                "files": lifecycle.reset_files(plan, host, [_found(f) for f in found or []]),
                "network": lifecycle.reset_network(plan, host),
                "cluster_kinds": lifecycle.cluster_kinds()}
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("vip_reset_host: the plan or the files read lack or mistype %s" % exc) from exc


def vip_kube_proxy_restore(configmap, patch):
    """{"config": new config.conf or None when unchanged, "how": what was done} for ConfigMap kube-system/kube-proxy."""
    data = (configmap or {}).get("data") or {}
    annotations = ((configmap or {}).get("metadata") or {}).get("annotations") or {}
    text, how = lifecycle.kube_proxy_restore(data.get("config.conf"), patch, annotations.get(lifecycle.KUBE_PROXY_BEFORE))
    return {"config": text, "how": how, "recorded": lifecycle.KUBE_PROXY_BEFORE in annotations}


def vip_node_removal(plan, node, addresses_by_host=None):
    """remove_node.yml's checks and decision, with the plan the DaemonSets are rendered from afterwards."""
    try:
        decision = lifecycle.removal(plan, node, addresses_by_host or {})
    except ValueError as exc:
        raise AnsibleFilterError("remove_node.yml refuses: %s. Nothing was changed." % exc) from exc
    decision["plan_after"] = lifecycle.plan_without(plan, node)
    return decision


def vip_control_plane_holders(plan, addresses_by_host):
    """The hosts of ``addresses_by_host`` (inventory hostname to vip_facts addresses) holding the control-plane VIP."""
    return lifecycle.vip_holders(plan, addresses_by_host)


def _flag(value):
    """A boolean fact as set_fact left it (a bool, or its text)."""
    return value is True or str(value).lower() == "true"


def vip_upgrade_plan(plan, nodes):
    """upgrade.yml's plan lines from the hostvars of the control-plane nodes (its __vip_upgrade_* facts)."""
    try:
        return plan_upgrade.plan_lines(plan, [
            {"name": hv["inventory_hostname"], "holder": _flag(hv.get("__vip_upgrade_holder")),
             "pending": _flag(hv.get("__vip_upgrade_pending")), "image": hv.get("__vip_upgrade_image") or None}
            for hv in nodes or []])
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("vip_upgrade_plan: the plan or a node's facts lack or mistype %s" % exc) from exc


class FilterModule:
    """baremetal.vip lifecycle filters."""

    def filters(self):
        return {"vip_reset_host": vip_reset_host, "vip_kube_proxy_restore": vip_kube_proxy_restore,
                "vip_node_removal": vip_node_removal, "vip_control_plane_holders": vip_control_plane_holders,
                "vip_upgrade_plan": vip_upgrade_plan}

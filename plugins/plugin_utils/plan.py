# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan: every rule of docs/plan.md in one place.

Pure Python, dicts in and dicts out. ``build_plan(cluster_vars, hosts, groups)`` checks the
inventory and returns ``{"plan": dict or None, "errors": [str], "warnings": [str]}``.
``plan`` is None whenever ``errors`` is not empty.

This module is the entry; the rules live in its siblings (docs/plan.md "Code layout"):
plan_spec (the tables: SPEC, HOST_SPEC, KUBE_VIP_RELEASES), plan_schema (the schema checker),
plan_net (addresses, CIDRs, names, selectors), plan_context (what the steps share), the steps
plan_build (cluster, kube-vip, nodes, owned), plan_control_plane, plan_services, plan_bgp,
plan_kube_proxy, and plan_summary. The names below stay importable from here.
"""

from __future__ import annotations

import gc

from ansible_collections.baremetal.vip.plugins.plugin_utils import plan_build as build
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_bgp import bgp
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_context import Context
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_control_plane import control_plane
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_kube_proxy import kube_proxy
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_net import (  # noqa: F401  pylint: disable=unused-import
    find_overlaps, merge_cidrs, netaddr, normalize_selectors, parse_cidr, parse_ip, parse_pool_entry, selectors_match)
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_schema import closest_name, normalize  # noqa: F401  pylint: disable=unused-import
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_services import services
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_spec import (  # noqa: F401  pylint: disable=unused-import
    CLUSTER_VARS, CONTROL_PLANE_GROUP, HOST_SPEC, HOST_VARS, KUBE_VIP_RELEASES, NODE_GROUP, SCHEMA_VERSION, SPEC,
    format_version, kube_vip_has, parse_version)
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_summary import summary
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_verify import verify_outside


class MissingLibraryError(ImportError):
    """netaddr is not installed on the controller."""


def require_netaddr():
    """Raise MissingLibraryError with an actionable message when netaddr is absent."""
    if netaddr is None:
        raise MissingLibraryError(
            "baremetal.vip needs the Python library netaddr on the Ansible controller "
            "(pip install 'netaddr>=1.3.0' in the environment that runs ansible-playbook)")


def assemble(ctx):
    """Run the steps in order, each on the parts built before it; the plan, or None when a rule failed."""
    values = ctx.values
    cluster = build.cluster(ctx, values["vip_cluster"])
    kube_vip = build.kube_vip(ctx, values["vip_kube_vip"])
    nodes = build.nodes(ctx, cluster, kube_vip)
    if cluster is not None:
        cluster = dict(cluster, node_cidr_mask_sizes=build.node_cidr_mask_sizes(ctx, cluster, len(nodes)))
    cp = control_plane(ctx, values["vip_control_plane"], cluster, kube_vip, nodes)
    service_part = services(ctx, values["vip_services"], cluster, cp, nodes)
    bgp_parts = bgp(ctx, values["vip_bgp"], kube_vip, cp, service_part, nodes)
    if bgp_parts["metallb"] and service_part["metallb"] is not None:
        service_part = dict(service_part, metallb=dict(service_part["metallb"], **bgp_parts["metallb"]))
    proxy = kube_proxy(ctx, values["vip_kube_proxy"], cluster, cp, service_part, nodes)
    outside = verify_outside(ctx, values["vip_verify_outside"])
    build.overlaps(ctx)
    if ctx.errors:
        return None
    plan = {
        "schema": SCHEMA_VERSION,
        "cluster": cluster,
        "kube_vip": kube_vip,
        "control_plane": cp,
        "services": service_part,
        "bgp": bgp_parts["bgp"],
        "kube_proxy": proxy,
        "nodes": build.nodes_out(nodes, cp, bgp_parts["nodes"]),
        "owned": build.owned(cp, service_part),
        "verify_outside": outside,
        "warnings": list(ctx.warnings),
    }
    plan["summary"] = summary(plan)
    return plan


def build_plan(cluster_vars, hosts, groups):
    """Check the inventory and build ``vip_plan``.

    cluster_vars: {"vip_cluster": ..., "vip_kube_vip": ..., ...} (missing keys are absent variables)
    hosts: {inventory_hostname: {"ansible_host": ..., "vip_node_ip": ..., ...}}
    groups: {"kube_control_plane": [...], "kube_node": [...]} (inventory order)

    Returns {"plan": dict or None, "errors": [...], "warnings": [...]}.
    """
    require_netaddr()
    # Large inventories allocate many small objects that all stay alive until the end: the
    # cyclic collector only costs time here (about 40 % at 100,000 pools).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    ctx = None
    try:
        ctx = Context(cluster_vars, hosts, groups)
        plan = assemble(ctx)
    except Exception as exc:  # pylint: disable=broad-except
        # A rule tripped over input an earlier check already rejected: report what was found.
        if ctx is None or not ctx.errors:
            raise
        ctx.error("(further checks skipped after the errors above: %s: %s)" % (type(exc).__name__, exc))
        plan = None
    finally:
        if gc_was_enabled:
            gc.enable()
    return {"plan": plan, "errors": list(ctx.errors), "warnings": list(ctx.warnings)}

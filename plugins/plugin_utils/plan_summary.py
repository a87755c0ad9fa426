# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan's summary: a few lines of text that say what the plan does."""

from __future__ import annotations

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_spec import SUMMARY_POOLS


def summary(plan):
    """The plan in a few lines of text (plan["summary"], printed by validate.yml)."""
    cluster, nodes = plan["cluster"], plan["nodes"]
    cps = sum(1 for n in nodes.values() if n["control_plane"])
    workers = sum(1 for n in nodes.values() if not n["control_plane"])
    lines = ["%s %s (%s), kube-vip %s, %d node%s (%d control plane, %d worker%s)"
             % (cluster["distro"], cluster["kubernetes_version"], "+".join(cluster["families"]),
                plan["kube_vip"]["version"], len(nodes), "" if len(nodes) == 1 else "s", cps, workers,
                "" if workers == 1 else "s")]
    cp = plan["control_plane"]
    if cp:
        line = "control-plane VIP %s:%d, mode %s on %s, %s" % (
            cp["address"], cp["port"], cp["mode"], cp["interface"] or "per-host interfaces", cp["deployment"])
        if cp["load_balancer"]["enabled"]:
            line += ", IPVS load balancer on port %d (%s)" % (cp["load_balancer"]["port"], cp["load_balancer"]["forward_method"])
        if cp["super_admin_host"]:
            line += ", super-admin.conf on %s during init" % cp["super_admin_host"]
        lines.append(line)
    else:
        lines.append("no control-plane VIP")
    svc = plan["services"]
    if svc["provider"] == "none":
        lines.append("no Service load balancer")
    else:
        pools = svc["pools"]
        shown = ", ".join("%s %s %s" % (p["name"], _first_addresses(p["addresses"]), p["advertisement"])
                          for p in pools[:SUMMARY_POOLS])
        if len(pools) > SUMMARY_POOLS:
            shown += ", ... (%d more)" % (len(pools) - SUMMARY_POOLS)
        line = "services: %s, %d pool(s)%s" % (svc["provider"], len(pools), ": " + shown if pools else "")
        if svc["kube_vip"]:
            daemonset = svc["kube_vip"]
            line += "; DaemonSet mode %s on %s%s" % (daemonset["mode"], daemonset["placement"],
                                                     ", svc_election" if daemonset["svc_election"] else "")
        lines.append(line)
    if plan["bgp"]:
        bgp = plan["bgp"]
        own = sum(1 for n in nodes.values() for p in n["bgp_peers"] if p not in bgp["peers"])
        lines.append("BGP AS %d, %d peer(s)%s" % (bgp["local_as"], len(bgp["peers"]),
                                                  ", %d per-host peer(s)" % own if own else ""))
    kube_proxy = plan["kube_proxy"]
    if kube_proxy:
        if kube_proxy["mode"] == "none":
            lines.append("kube-proxy: none (not managed)")
        else:
            lines.append("kube-proxy %s: strictARP %s, excludeCIDRs [%s]%s" % (
                kube_proxy["mode"], str(kube_proxy["strict_arp"]).lower(), ", ".join(kube_proxy["exclude_cidrs"]),
                "" if kube_proxy["manage"] else " (not managed)"))
    if plan["warnings"]:
        lines.append("%d warning(s)" % len(plan["warnings"]))
    return lines


def _first_addresses(addresses):
    return ",".join(addresses[:2]) + (",..." if len(addresses) > 2 else "")

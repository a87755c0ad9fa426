# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The builder's kube-proxy step: strictARP, excludeCIDRs and cleanup derived from the VIPs the plan
announces, then checked against the mode and the Kubernetes release."""

from __future__ import annotations

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_context import (
    cidr_list, kubernetes_version, services_hosts)
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_net import parse_ip
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_schema import user_set
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_spec import SUMMARY_POOLS, format_version

PATH = "vip_kube_proxy"


def kube_proxy(ctx, values, cluster, control_plane, services, nodes_part):
    """The ``kube_proxy`` part, or None without vip_kube_proxy."""
    if not values:
        return None
    settings = derive(ctx, values, cluster, control_plane, services)
    check(ctx, values, settings, cluster, control_plane, services, nodes_part)
    if settings["mode"] == "none":
        settings.update(strict_arp=False, exclude_cidrs=[], manage=False)
    return {"manage": settings["manage"], "mode": settings["mode"], "strict_arp": bool(settings["strict_arp"]),
            "exclude_cidrs": settings["exclude_cidrs"], "cleanup_ipvs": bool(settings["cleanup_ipvs"]),
            "merge_configmap": merge_configmap(settings, cluster)}


def merge_configmap(settings, cluster):
    """Whether the live ConfigMap kube-system/kube-proxy (config.conf) is the collection's to merge its settings
    into (bootstrap.yml, upgrade.yml, remediate_causes.yml; its flags into the DaemonSet) and to put back
    (reset.yml): kube-proxy managed (``kube_proxy`` has already turned ``manage`` off for mode none) on kubeadm,
    whose kube-proxy reads that ConfigMap. k3s and RKE2 have none: their kube-proxy reads the server arguments
    (kube-proxy-arg)."""
    return bool(settings["manage"] and cluster and cluster["distro"] == "kubeadm")


def arp_vips(control_plane, services):
    """What answers ARP on the nodes (as the messages name it): the arp-mode control-plane VIP, l2 pools."""
    found = []
    if control_plane and control_plane["mode"] == "arp" and control_plane["address"]:
        found.append("the control-plane VIP %s (vip_control_plane.mode arp)" % control_plane["address"])
    if services and services["provider"] in ("kube_vip", "metallb"):
        l2 = [p["name"] for p in services["pools"] if p["advertisement"] == "l2"]
        if l2:
            shown = ", ".join(l2[:SUMMARY_POOLS]) + (", ..." if len(l2) > SUMMARY_POOLS else "")
            found.append("%s l2 pools (%s)" % (services["provider"], shown))
    return found


def derive(ctx, values, cluster, control_plane, services):
    """The settings as rendered: 'auto' resolved, exclude_cidrs parsed, cleanup off where kube-proxy lacks it."""
    ipvs = values["mode"] == "ipvs"
    load_balancer = bool(control_plane and control_plane["load_balancer"]["enabled"])
    vip_cidr = control_plane["cidr"] if control_plane else None
    strict = values["strict_arp"]
    if strict == "auto":
        strict = bool(ipvs and arp_vips(control_plane, services))
    exclude, exclude_nets = values["exclude_cidrs"], None
    if exclude == "auto":
        exclude = [vip_cidr] if ipvs and load_balancer and vip_cidr else []
    else:
        exclude_nets = cidr_list(ctx, exclude, PATH + ".exclude_cidrs")
        exclude = [str(n.cidr) for n in exclude_nets]
    k8s = kubernetes_version(cluster)
    return {"manage": bool(values["manage"]), "mode": values["mode"], "strict_arp": strict, "exclude_cidrs": exclude,
            "exclude_nets": exclude_nets, "cleanup_ipvs": values["cleanup_ipvs"] and not (k8s and k8s[:2] >= (1, 21))}


def check(ctx, values, settings, cluster, control_plane, services, nodes_part):
    """What kube-proxy would do wrong with these settings: answer ARP for the VIPs, delete kube-vip's IPVS
    service, refuse to start or ignore a setting in this Kubernetes release."""
    mode, ipvs = settings["mode"], settings["mode"] == "ipvs"
    strict, exclude = settings["strict_arp"], settings["exclude_cidrs"]
    k8s = kubernetes_version(cluster)
    k8s_text = format_version(k8s) if k8s else "?"
    answering = arp_vips(control_plane, services)
    if values["strict_arp"] is False and ipvs and answering:
        ctx.error("%s.strict_arp is false but %s.mode is ipvs and ARP answers %s: kube-proxy's kube-ipvs0 would "
                  "answer ARP for it too; set strict_arp: true or auto" % (PATH, PATH, " and ".join(answering)))
    if settings["exclude_nets"] is not None:
        exclude_rules(ctx, settings, control_plane)
    if values["cleanup_ipvs"] and k8s and k8s[:2] >= (1, 21):
        ctx.error("%s.cleanup_ipvs is true but Kubernetes is %s: the --cleanup-ipvs flag was removed in 1.21 "
                  "(kubernetes PR #97336) and kube-proxy would refuse to start; use exclude_cidrs to keep "
                  "kube-vip's IPVS service out of kube-proxy's hands" % (PATH, k8s_text))
    if mode == "nftables" and k8s and k8s[:2] < (1, 29):
        ctx.error("%s.mode is nftables but Kubernetes is %s: the nftables proxy mode exists from 1.29" % (PATH, k8s_text))
    elif mode == "nftables" and k8s and k8s[:2] < (1, 31):
        ctx.error("%s.mode is nftables but Kubernetes is %s: before 1.31 the mode needs the NFTablesProxyMode "
                  "feature gate (alpha, off by default in 1.29-1.30); use Kubernetes 1.31 or later, or another mode"
                  % (PATH, k8s_text))
    if ipvs and k8s and k8s[:2] >= (1, 35):
        ctx.warn("%s.mode ipvs is deprecated from Kubernetes 1.35 (KEP-5495; cluster is %s): plan a move to nftables"
                 % (PATH, k8s_text))
    if ipvs and exclude and k8s and k8s[:2] in ((1, 34), (1, 35)):
        ctx.warn("%s.exclude_cidrs (%s) is reported ignored by kube-proxy in Kubernetes 1.34/1.35 (kubernetes #134147; "
                 "cluster is %s): check kube-vip's IPVS service survives" % (PATH, ", ".join(exclude), k8s_text))
    if strict and ipvs:
        lo_hosts = bgp_on_lo(control_plane, services, nodes_part)
        if lo_hosts:
            ctx.warn("%s.strict_arp is on and BGP VIPs sit on lo on %s: strictARP can make such VIPs unreachable "
                     "(kube-vip #1114)" % (PATH, ", ".join(lo_hosts[:5])))
    if mode == "none" and user_set(ctx.written["vip_kube_proxy"], "strict_arp") and strict is True:
        ctx.warn("%s.strict_arp is true but mode is none (no kube-proxy); ignored" % PATH)


def exclude_rules(ctx, settings, control_plane):
    """exclude_cidrs as the user listed them: used by ipvs only, and must keep the control-plane VIP."""
    ipvs, exclude = settings["mode"] == "ipvs", settings["exclude_cidrs"]
    if exclude and not ipvs:
        ctx.warn("%s.exclude_cidrs is only used by kube-proxy mode ipvs (mode is %s)" % (PATH, settings["mode"]))
    load_balancer = bool(control_plane and control_plane["load_balancer"]["enabled"])
    vip = parse_ip(control_plane["address"]) if control_plane and control_plane["address"] else None
    if ipvs and load_balancer and vip is not None and not any(vip in n for n in settings["exclude_nets"]):
        ctx.error("%s.exclude_cidrs (%s) misses the control-plane VIP %s: with load_balancer.enabled and mode ipvs "
                  "kube-proxy deletes kube-vip's IPVS service (kube-vip #454); add %s or use auto"
                  % (PATH, ", ".join(exclude) or "empty", control_plane["address"], control_plane["cidr"]))


def bgp_on_lo(control_plane, services, nodes_part):
    """Hosts where a kube-vip instance in bgp mode puts its VIPs on lo."""
    hosts = []
    if control_plane and control_plane["mode"] == "bgp":
        hosts.extend(h for h, n in nodes_part.items() if n["control_plane"] and n["effective_interface"] == "lo")
    kube_vip = services["kube_vip"] if services else None
    if kube_vip and kube_vip["mode"] == "bgp":
        hosts.extend(h for h in services_hosts(services, nodes_part)
                     if nodes_part[h]["effective_interface"] == "lo" and h not in hosts)
    return hosts

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What kube-proxy and the hosts get from ``vip_plan``: the KubeProxyConfiguration, its merge patch
and flags (kubeadm, k3s/RKE2), k3s's server arguments, and per host the kernel modules and sysctls.
Pure functions, dicts in, dicts out, as in ``render``.
"""
from __future__ import annotations

from ansible_collections.baremetal.vip.plugins.plugin_utils.render import plain

IPVS_MODULES = ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"]

# ---------------------------------------------------------------- kube-proxy


def kube_proxy_configuration(plan):
    """KubeProxyConfiguration (v1alpha1) with only the fields this collection owns."""
    kp = plain(plan)["kube_proxy"]
    ipvs = {"strictARP": kp["strict_arp"]}
    if kp["exclude_cidrs"]:
        ipvs["excludeCIDRs"] = kp["exclude_cidrs"]
    return {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "mode": kp["mode"], "ipvs": ipvs}


def kube_proxy_configmap_patch(plan):
    """JSON merge patch (RFC 7386) for ``config.conf`` of the live ``kube-proxy`` ConfigMap."""
    kp = plain(plan)["kube_proxy"]
    return {"mode": kp["mode"], "ipvs": {"strictARP": kp["strict_arp"], "excludeCIDRs": kp["exclude_cidrs"] or None}}


def kube_proxy_daemonset_patch(plan):
    """JSON patch (RFC 6902) adding ``--cleanup-ipvs=true`` to kube-proxy, or None when not asked."""
    if not plain(plan)["kube_proxy"]["cleanup_ipvs"]:
        return None
    return [{"op": "add", "path": "/spec/template/spec/containers/0/command/-", "value": "--cleanup-ipvs=true"}]


def kube_proxy_args(plan):
    """kube-proxy flags for k3s/RKE2 (``kube-proxy-arg``), same settings as the kubeadm document."""
    kp = plain(plan)["kube_proxy"]
    args = ["proxy-mode=%s" % kp["mode"]]
    if kp["mode"] == "ipvs":
        args.append("ipvs-strict-arp=%s" % str(kp["strict_arp"]).lower())
        if kp["exclude_cidrs"]:
            args.append("ipvs-exclude-cidrs=%s" % ",".join(kp["exclude_cidrs"]))
    if kp["cleanup_ipvs"]:
        args.append("cleanup-ipvs=true")
    return {"kube-proxy-arg+": args}


def k3s_server_disable(plan):
    """k3s server arguments: ``disable+: [servicelb]`` when the plan turns k3s's ServiceLB off, else None.

    ``+`` appends to a ``disable`` list of the user's own config.yaml (k3s config files: a key ending in ``+``
    appends), so their other disabled components stay disabled.
    """
    return {"disable+": ["servicelb"]} if plain(plan)["services"].get("disable_servicelb") else None


# ---------------------------------------------------------------- host preparation


def _uses_ipvs(plan, host):
    kp = plan["kube_proxy"]
    cp = plan.get("control_plane")
    node = plan["nodes"][host]
    lb = bool(cp and cp["load_balancer"]["enabled"] and node["control_plane"])
    return kp["mode"] == "ipvs" or lb


def host_modules(plan, host):
    """Kernel modules ``host`` needs loaded (IPVS when kube-proxy or kube-vip's lb uses it)."""
    plan = plain(plan)
    return list(IPVS_MODULES) if _uses_ipvs(plan, host) else []


def host_sysctls(plan, host, nonlocal_bind=False):
    """Sysctls for ``host`` as an ordered list of [key, value]."""
    plan = plain(plan)
    out = []
    kp = plan["kube_proxy"]
    cp = plan.get("control_plane")
    if kp["mode"] == "ipvs" and kp["strict_arp"]:
        out += [["net.ipv4.conf.all.arp_ignore", "1"], ["net.ipv4.conf.all.arp_announce", "2"]]
    if nonlocal_bind and cp and plan["nodes"][host]["control_plane"]:
        key = "net.ipv4.ip_nonlocal_bind" if cp["family"] == "ipv4" else "net.ipv6.ip_nonlocal_bind"
        out.append([key, "1"])
    return out

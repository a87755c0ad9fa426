# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the builder's steps share: the context (inputs, errors, warnings, address claims), facts read
from parts built earlier, and checks more than one step makes."""

from __future__ import annotations

import re

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_net import parse_cidr
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_schema import normalize
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_spec import CLUSTER_VARS, SPEC, parse_version


class Context(object):
    """The inputs, errors, warnings and address claims while the plan is built.

    ``written``: each cluster variable as the inventory wrote it (None when unset), for "did the user set it";
    ``values``: the same normalized by the spec (defaults filled in, types coerced), what the steps read.
    """

    def __init__(self, cluster_vars, hosts, groups):
        self.written = {name: (cluster_vars or {}).get(name) for name in CLUSTER_VARS}
        self.hosts_written = hosts or {}
        self.groups = groups or {}
        self.errors = []
        self.warnings = []
        self.claims = []  # (family, first, last, label) of every address the plan claims, for the overlap sweep
        self.values = {name: normalize(self.written[name], SPEC[name], name, self.errors) for name in CLUSTER_VARS}

    def error(self, msg):
        self.errors.append(msg)

    def warn(self, msg):
        self.warnings.append(msg)

    def claim(self, family, first, last, label):
        self.claims.append((family, first, last, label))


# -- facts of parts built earlier --------------------------------------------------------------------

def kubernetes_version(cluster):
    """The cluster's Kubernetes version as a tuple, or None."""
    return parse_version(cluster["kubernetes_version"]) if cluster and cluster["kubernetes_version"] else None


def kube_vip_version(kube_vip):
    """kube-vip's version as a tuple, or None."""
    return parse_version(kube_vip["version"]) if kube_vip and kube_vip["version"] else None


def networks(cluster, key):
    """vip_cluster.<key> (node_cidrs, pod_cidrs) as netaddr networks; [] without a cluster."""
    return [parse_cidr(text) for text in cluster[key]] if cluster else []


def needs_super_admin(cluster):
    """kubeadm from 1.29 on writes super-admin.conf for kubeadm init."""
    version = kubernetes_version(cluster)
    return bool(cluster) and cluster["distro"] == "kubeadm" and version is not None and version[:2] >= (1, 29)


# -- checks of more than one step ----------------------------------------------------------------

def cidr_list(ctx, texts, path):
    """``texts`` parsed as CIDRs; an error per entry that is not one."""
    nets = []
    for i, text in enumerate(texts or []):
        try:
            nets.append(parse_cidr(text))
        except ValueError as exc:
            ctx.error("%s[%d] (%s) %s" % (path, i, text, exc))
    return nets


def check_ifname(ctx, name, path):
    """Linux interface names: 1-15 characters, no '/', ':' or white space, not '.' or '..'."""
    if name is None:
        return
    if not 0 < len(name) <= 15 or name in (".", "..") or re.search(r"[/:\s]", name):
        ctx.error("%s (%r) is not a valid Linux interface name (1-15 characters, no '/', ':' or spaces)" % (path, name))


def require_interfaces(ctx, nodes_part, hosts, what):
    """An error naming the ``hosts`` without an interface for ``what``."""
    missing = [h for h in hosts if not nodes_part[h]["effective_interface"]]
    if missing:
        ctx.error("no interface for %s on %s: set vip_control_plane.interface, or vip_interface on each host"
                  % (what, ", ".join(missing)))


def one_interface(ctx, nodes_part, hosts, what):
    """The interface of a DaemonSet running on ``hosts`` (one setting for all): the hosts' common
    interface, or "" (kube-vip auto-detects it) with a warning naming each host's interface."""
    by_interface = {}
    for host in hosts:
        if nodes_part[host]["effective_interface"]:
            by_interface.setdefault(nodes_part[host]["effective_interface"], []).append(host)
    if len(by_interface) > 1:
        ctx.warn("hosts running %s use different interfaces (%s): the DaemonSet has one setting and kube-vip will "
                 "auto-detect the interface on every node" % (what, "; ".join(
                     "%s: %s" % (", ".join(h), name) for name, h in sorted(by_interface.items()))))
    return next(iter(by_interface)) if len(by_interface) == 1 else ""


def services_hosts(services_part, nodes_part):
    """The hosts of kube-vip's services DaemonSet in inventory order ([] unless the provider is kube_vip)."""
    kube_vip = services_part["kube_vip"] if services_part else None
    hosts = set(kube_vip["hosts"]) if kube_vip else set()
    return [host for host in nodes_part if host in hosts]

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""API objects the lab tests put into the API double (tests/k8s_double)."""

import copy

import yaml


def service_leases(holders, now):
    """kube-vip's per-service leases (svc_election): kubevip-<service> in the Service's namespace."""
    return [{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "kubevip-%s" % name, "namespace": "default"},
             "spec": {"holderIdentity": holder, "leaseDurationSeconds": 3600, "renewTime": now, "acquireTime": now}}
            for name, holder in holders.items()]


# The mode env the namespace lab's plan renders for the services DaemonSet (ARP on eth0, Services by election):
# verify judges the live DaemonSet's mode env against the plan's, so the healthy one carries it.
LAB_SERVICES_ENV = [{"name": "vip_arp", "value": "true"}, {"name": "vip_interface", "value": "eth0"},
                    {"name": "vip_servicesinterface", "value": "eth0"}, {"name": "cp_enable", "value": "false"},
                    {"name": "svc_enable", "value": "true"}, {"name": "svc_leasename", "value": "plndr-svcs-lock"},
                    {"name": "svc_election", "value": "true"}, {"name": "vip_leaderelection", "value": "true"}]


def services_daemonset(nodes, env=None):
    """kube-system/kube-vip-ds (the services instance, mode env ``env``, default the lab plan's) with one running pod on
    each of ``nodes``."""
    labels = {"app.kubernetes.io/name": "kube-vip-ds"}
    container = {"name": "kube-vip", "image": "ghcr.io/kube-vip/kube-vip:v1.0.3",
                 "env": copy.deepcopy(LAB_SERVICES_ENV if env is None else env)}
    objects = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-vip-ds", "namespace": "kube-system"},
                "spec": {"selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}]
    for node in nodes:
        objects.append({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "kube-vip-ds-%s" % node, "namespace": "kube-system", "labels": labels,
                                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "kube-vip-ds"}]},
                        "spec": {"nodeName": node},
                        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    return objects


def kube_proxy():
    """kube-proxy in IPVS mode as kubeadm left it before baremetal.vip: strictARP on, but no ipvs.excludeCIDRs,
    so it deletes kube-vip's IPVS service on the VIP (failure 1's cause); and its DaemonSet (restarted on a change)."""
    config = {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration", "mode": "ipvs",
              "clusterCIDR": "203.0.113.128/25", "ipvs": {"strictARP": True, "scheduler": "rr"}}
    labels = {"k8s-app": "kube-proxy"}
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
             "data": {"config.conf": yaml.safe_dump(config), "kubeconfig.conf": "apiVersion: v1\nkind: Config\n"}},
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
             "spec": {"selector": {"matchLabels": labels},
                      "template": {"metadata": {"labels": labels},
                                   "spec": {"containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.31.4",
                                                            "command": ["/usr/local/bin/kube-proxy",
                                                                        "--config=/var/lib/kube-proxy/config.conf"]}]}}}}]

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan's tables: the schema of the ``vip_*`` variables (SPEC, HOST_SPEC), distribution paths,
kube-vip releases (KUBE_VIP_RELEASES) and the names and limits other projects fix.

Data only, plus the version helpers that read KUBE_VIP_RELEASES. A default lives here once;
the builder reads it with :func:`default_of` instead of repeating it.
"""

from __future__ import annotations

import re

from ansible_collections.baremetal.vip.plugins.module_utils.constants import DEFAULT_ROUTE_PROTOCOL, DEFAULT_ROUTE_TABLE

SCHEMA_VERSION = 1

CLUSTER_VARS = ("vip_cluster", "vip_kube_vip", "vip_control_plane", "vip_services", "vip_bgp", "vip_kube_proxy",
                "vip_verify_outside")
HOST_VARS = ("vip_node_ip", "vip_node_name", "vip_interface", "vip_bgp_peers")
CONTROL_PLANE_GROUP = "kube_control_plane"
NODE_GROUP = "kube_node"

_SELECTORS = {"type": "raw", "default": []}

PEER_OPTIONS = {
    "address": {"type": "str", "required": True},
    "as": {"type": "int", "required": True, "min": 1, "max": 4294967295},
    "password": {"type": "str", "default": None, "secret": True},
    "multihop": {"type": "bool", "default": False},
    "port": {"type": "int", "default": 179, "min": 1, "max": 65535},
    "node_selectors": _SELECTORS,
}

# One spec per cluster variable. Keys of an entry: type (str|int|bool|list|dict|raw|version|
# auto_bool|auto_list), required, default, choices, min, max, options (dict), elements
# (type of list items; "dict" items use options), secret (never echo the value).
SPEC = {
    "vip_cluster": {"type": "dict", "required": True, "options": {
        "name": {"type": "str", "default": "default"},
        "distro": {"type": "str", "required": True, "choices": ["kubeadm", "k3s", "rke2"]},
        "kubernetes_version": {"type": "version", "required": True},
        "node_cidrs": {"type": "list", "elements": "str", "required": True},
        "pod_cidrs": {"type": "list", "elements": "str", "default": []},
        "service_cidrs": {"type": "list", "elements": "str", "default": []},
    }},
    "vip_kube_vip": {"type": "dict", "required": True, "options": {
        "version": {"type": "version", "required": True},
        "image": {"type": "str", "default": "ghcr.io/kube-vip/kube-vip"},
        "cloud_provider_version": {"type": "version", "default": "0.0.12"},
        "cloud_provider_image": {"type": "str", "default": "ghcr.io/kube-vip/kube-vip-cloud-provider"},
        "prometheus_port": {"type": "int", "default": 2112, "min": 0, "max": 65535},
    }},
    "vip_control_plane": {"type": "dict", "default": None, "options": {
        "address": {"type": "str", "required": True},
        "port": {"type": "int", "default": 6443, "min": 1, "max": 65535},
        "interface": {"type": "str", "default": None},
        "mode": {"type": "str", "default": "arp", "choices": ["arp", "bgp", "routing_table"]},
        "deployment": {"type": "str", "default": "static_pod", "choices": ["static_pod", "daemonset"]},
        "leader_election": {"type": "dict", "default": {}, "options": {
            "profile": {"type": "str", "default": "default", "choices": ["default", "partition_tolerant"]},
            "lease_duration": {"type": "int", "default": None},
            "renew_deadline": {"type": "int", "default": None},
            "retry_period": {"type": "int", "default": None},
            "lease_name": {"type": "str", "default": "plndr-cp-lock"},
        }},
        "routing_table": {"type": "dict", "default": {}, "options": {
            "table": {"type": "int", "default": DEFAULT_ROUTE_TABLE},
            "protocol": {"type": "int", "default": DEFAULT_ROUTE_PROTOCOL},
            "clean": {"type": "bool", "default": False},
        }},
        "load_balancer": {"type": "dict", "default": {}, "options": {
            "enabled": {"type": "bool", "default": False},
            "port": {"type": "int", "default": 6443, "min": 1, "max": 65535},
            "forward_method": {"type": "str", "default": "local",
                               "choices": ["local", "masquerade", "tunnel", "directroute", "bypass"]},
        }},
    }},
    "vip_services": {"type": "dict", "default": {}, "options": {
        "provider": {"type": "str", "default": "none", "choices": ["none", "kube_vip", "metallb"]},
        "load_balancer_class": {"type": "str", "default": None},
        "local_traffic": {"type": "bool", "default": False},
        "placement": {"type": "str", "default": "all_nodes", "choices": ["all_nodes", "control_plane"]},
        "cloud_provider": {"type": "bool", "default": True},
        "metallb_namespace": {"type": "str", "default": "metallb-system"},
        "metallb_bgp_mode": {"type": "str", "default": "native", "choices": ["native", "frr", "frr-k8s"]},
        "pools": {"type": "list", "elements": "dict", "default": [], "options": {
            "name": {"type": "str", "required": True},
            "addresses": {"type": "list", "elements": "str", "required": True},
            "namespace": {"type": "str", "default": None},
            # default: bgp for kube-vip Services when the control plane is bgp, else l2 (see pools())
            "advertisement": {"type": "str", "default": None, "choices": ["l2", "bgp"]},
            "interfaces": {"type": "list", "elements": "str", "default": []},
            "node_selectors": _SELECTORS,
            "auto_assign": {"type": "bool", "default": True},
        }},
    }},
    "vip_bgp": {"type": "dict", "default": None, "options": {
        "local_as": {"type": "int", "default": 65000, "min": 1, "max": 4294967295},
        "router_id": {"type": "str", "default": None},
        "source_address": {"type": "str", "default": None},
        "source_interface": {"type": "str", "default": None},
        "hold_time": {"type": "int", "default": 30, "min": 0, "max": 65535},
        "keepalive_interval": {"type": "int", "default": 10, "min": 0, "max": 65535},
        "peers": {"type": "list", "elements": "dict", "default": [], "options": PEER_OPTIONS},
    }},
    "vip_kube_proxy": {"type": "dict", "default": {}, "options": {
        "mode": {"type": "str", "default": "iptables", "choices": ["iptables", "ipvs", "nftables", "none"]},
        "strict_arp": {"type": "auto_bool", "default": "auto"},
        "exclude_cidrs": {"type": "auto_list", "default": "auto"},
        "cleanup_ipvs": {"type": "bool", "default": False},
        "manage": {"type": "bool", "default": True},
    }},
    # verify.yml's checks from outside the nodes (baremetal.vip.vip_probe): plan_verify.py
    "vip_verify_outside": {"type": "dict", "default": {}, "options": {
        "enabled": {"type": "bool", "default": True},
        "vantage": {"type": "str", "default": "localhost"},
        "timeout_ms": {"type": "int", "default": 1000, "min": 100, "max": 10000},
        "ca_file": {"type": "str", "default": None},
    }},
}

HOST_SPEC = {
    "vip_node_ip": {"type": "str", "default": None},
    "vip_node_name": {"type": "str", "default": None},
    "vip_interface": {"type": "str", "default": None},
    "vip_bgp_peers": {"type": "list", "elements": "dict", "default": None, "options": PEER_OPTIONS},
}

LEADER_ELECTION_PROFILES = {
    "default": {"lease_duration": 15, "renew_deadline": 10, "retry_period": 2},
    "partition_tolerant": {"lease_duration": 30, "renew_deadline": 20, "retry_period": 5},
}

DISTRO_PATHS = {
    "kubeadm": {"static_pod_dir": "/etc/kubernetes/manifests", "auto_deploy_dir": None,
                "kubeconfig": "/etc/kubernetes/admin.conf"},
    "k3s": {"static_pod_dir": "/var/lib/rancher/k3s/agent/pod-manifests",
            "auto_deploy_dir": "/var/lib/rancher/k3s/server/manifests", "kubeconfig": "/etc/rancher/k3s/k3s.yaml"},
    "rke2": {"static_pod_dir": "/var/lib/rancher/rke2/agent/pod-manifests",
             "auto_deploy_dir": "/var/lib/rancher/rke2/server/manifests", "kubeconfig": "/etc/rancher/rke2/rke2.yaml"},
}
SUPER_ADMIN_KUBECONFIG = "/etc/kubernetes/super-admin.conf"

# kube-controller-manager's node CIDR mask size per family: (its default, address bits), and the widest gap
# kubeadm lets a pod subnet and that mask be apart (kubernetes v1.31.0, cmd/kubeadm/app/apis/kubeadm/validation/
# validation.go getClusterNodeMask and ValidatePodSubnetNodeMask; cmd/kubeadm/app/constants/constants.go
# PodSubnetNodeMaskMaxDiff)
NODE_CIDR_MASKS = {"ipv4": (24, 32), "ipv6": (64, 128)}
POD_SUBNET_NODE_MASK_MAX_DIFF = 16

# kube-vip releases: every rule or rendering that depends on the release reads this table.
# A fact holds for releases in [first, until) (None: open end); each names the upstream source.
KUBE_VIP_LOWEST = (0, 8, 0)  # vip_nodename is read from v0.8.0 (pkg/kubevip/config_environment.go)
KUBE_VIP_RELEASES = {
    # the prefix length is read from vip_subnet; vip_cidr before (pkg/kubevip/config_environment.go v0.9.0)
    "vip_subnet": ((0, 9, 0), None),
    # EndpointSlices need enable_endpointslices before 1.0.0 (the default from v1.0.0)
    "enable_endpointslices_env": (None, (1, 0, 0)),
    # bgp_peers' fifth field is the peer port (pkg/bgp/peers.go v0.8.10); v0.8.9 ignores it
    "bgp_peer_port": ((0, 8, 10), None),
    # each bgp_peers entry is split at '/' for MP-BGP options (pkg/bgp/peers.go v0.8.10 ..
    # pkg/kubevip/config_bgp.go v1.2.1; v1.2.2 reads them from the sixth ':' field)
    "bgp_peer_slash_options": ((0, 8, 10), (1, 2, 2)),
    # the manifest generator drops every other capability (pkg/kubevip/config_generator.go v0.8.10)
    "drop_all_capabilities": ((0, 8, 10), None),
    # vip_cleanroutingtable deletes every route about 7 s after start (kube-vip #1678, fixed in v1.2.3)
    "clean_routes_deletes_all": ((1, 2, 0), (1, 2, 3)),
    # the client reads k8s_config_file (default admin.conf) before the kubernetes:<port> rewrite,
    # so the control-plane instance elects through its own VIP (pkg/manager/manager.go v1.2.2,
    # kube-vip #1654; v1.2.3 skips admin.conf there)
    "client_through_vip": ((1, 2, 2), (1, 2, 3)),
}

SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
HOSTNAME_LABEL = "kubernetes.io/hostname"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
# kubeadm's mark-control-plane phase sets it (cmd/kubeadm/app/constants/constants.go v1.31.0)
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
SERVICES_LEASE = "plndr-svcs-lock"
LEASE_NAMESPACE = "kube-system"
METALLB_MAX_PORT = 16384  # BGPPeer peerPort maximum (api/v1beta2/bgppeer_types.go, MetalLB v0.16.1)
# kube-vip-cloud-provider's class when KUBEVIP_CUSTOM_LOADBALANCERCLASS_NAME is unset (pkg/provider/provider.go v0.0.12)
KUBE_VIP_DEFAULT_CLASS = "kube-vip.io/kube-vip-class"
SUMMARY_POOLS = 5

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.+-]*)?$")


def default_of(variable, *keys):
    """The spec's default of ``variable.key1.key2...`` (e.g. default_of("vip_services", "provider") -> "none")."""
    spec = SPEC[variable]
    for key in keys:
        spec = spec["options"][key]
    return spec.get("default")


def parse_version(value):
    """'1.31', 'v1.31.4', '1.31.4', 'v1.31.4+k3s1' -> (1, 31, 4). Raises ValueError."""
    match = _VERSION.match(str(value).strip())
    if not match:
        raise ValueError("not a version like 1.31 or v1.31.4")
    return tuple(int(part or 0) for part in match.groups())


def format_version(parts):
    """(1, 31, 4) -> '1.31.4'."""
    return "%d.%d.%d" % tuple(parts)


def kube_vip_has(version, fact):
    """True when kube-vip ``version`` (a tuple) lies in the release range of KUBE_VIP_RELEASES[fact]."""
    first, until = KUBE_VIP_RELEASES[fact]
    return version is not None and (first is None or version >= first) and (until is None or version < until)

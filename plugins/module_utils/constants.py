# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values the plan (plugins/plugin_utils), the host modules and their documentation share: one definition each.

module_utils cannot import plugin_utils (modules run on the managed host), so the plan imports
these from here. The doc fragment host.py ROUTE_SCOPE says the same (tests/unit/module_utils
test_constants.py compares them).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# kube-vip's routing table (vip_routingtableid) and route protocol (vip_routingprotocol) defaults
DEFAULT_ROUTE_TABLE = 198
DEFAULT_ROUTE_PROTOCOL = 248
MAX_ROUTE_TABLE = 4294967295
MAX_ROUTE_PROTOCOL = 255
# Tables the kernel and every distribution use for themselves: never prune there.
RESERVED_TABLES = {0: "unspec", 253: "default", 254: "main", 255: "local"}
# Protocols of kernel, redirect, boot and static routes: never prune by them.
RESERVED_PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static"}

# IPVS service protocols and real-server forwarding methods the modules accept
IPVS_PROTOCOLS = ("tcp", "udp", "sctp")
FORWARD_METHODS = ("masquerade", "local", "tunnel", "route")
# Present while the ip_vs module is loaded: a read of IPVS that finds it absent asks the kernel nothing.
IPVS_PROC_FILE = "/proc/net/ip_vs"


def kube_vip_flag(value):
    """kube-vip's reading of a boolean env value: "true" (any case) is on; absent or anything else is off."""
    return str(value).strip().lower() == "true" if value is not None else False


# The env variables of a kube-vip container that choose what it serves and how it announces it (kube-vip v1.0.0
# pkg/kubevip/config_envvar.go): the only ones cluster_info returns of the live services DaemonSet and verify
# compares with the plan. Never bgp_peers / bgp_peerpass (passwords).
KUBE_VIP_MODE_ENV = ("vip_arp", "bgp_enable", "vip_routingtable", "vip_routingtableid", "vip_routingprotocol",
                     "vip_cleanroutingtable", "vip_wireguard", "cp_enable", "svc_enable", "svc_election",
                     "svc_leasename", "lb_class_only", "lb_class_name", "vip_interface", "vip_servicesinterface",
                     "vip_leaderelection")
KUBE_VIP_BOOL_ENV = ("vip_arp", "bgp_enable", "vip_routingtable", "vip_cleanroutingtable", "vip_wireguard", "cp_enable",
                     "svc_enable", "svc_election", "lb_class_only", "vip_leaderelection")

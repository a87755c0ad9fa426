# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPVS virtual services over generic netlink: availability, reader and applier (one batch)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import socket
import sys

from ansible_collections.baremetal.vip.plugins.module_utils.deps import netaddr, pyroute2
from ansible_collections.baremetal.vip.plugins.module_utils.reconcile import describe_service
from ansible_collections.baremetal.vip.plugins.module_utils.netstate import send_batch

try:
    from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
    from pyroute2.netlink.generic.ipvs import (GENL_VERSION, IPVS_CMD_DEL_DEST, IPVS_CMD_DEL_SERVICE, IPVS_CMD_NEW_DEST,
                                               IPVS_CMD_NEW_SERVICE, IPVS_CMD_SET_DEST, IPVS_CMD_SET_SERVICE, ipvsmsg)
except ImportError:
    pass  # deps.require() reports the missing library before any of these is used

PROTOCOL_NUMBERS = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP, "sctp": 132}
PROTOCOL_NAMES = dict((number, name) for name, number in PROTOCOL_NUMBERS.items())
# IP_VS_CONN_F_MASQ, _LOCALNODE, _TUNNEL, _DROUTE (ipvsadm: -m, local, -i, -g)
FORWARD_NUMBERS = {"masquerade": 0, "local": 1, "tunnel": 2, "route": 3}
FORWARD_NAMES = dict((number, name) for name, number in FORWARD_NUMBERS.items())
FORWARD_MASK = 0x7
UNAVAILABLE = ("the kernel has no IPVS (generic netlink family IPVS not found: module ip_vs not loaded "
               "or CONFIG_IP_VS not set)")


def open_ipvs(load=True):
    """An IPVS socket, or None when the kernel has no IPVS.

    With ``load=False`` (facts), None also when ip_vs is not loaded: asking generic netlink for
    the IPVS family would make the kernel load the module, a change a read must not make.
    """
    if not load and not os.path.exists("/proc/net/ip_vs"):
        return None
    try:
        return pyroute2.IPVS()
    except (pyroute2.NetlinkError, OSError) as exc:
        if getattr(exc, "code", getattr(exc, "errno", None)) in (errno.ENOENT, errno.EPROTONOSUPPORT):
            return None
        raise


def _attr(msg, name, default=None):
    value = msg.get_attr(name)
    return default if value is None else value


def _netmask(family):
    """The NETMASK attribute: 255.255.255.255 for IPv4; the prefix length 128 for IPv6.

    The kernel reads the IPv6 netmask as a plain u32 (ipvsadm sends 128); pyroute2 only knows
    the attribute as an IPv4 address, so 128 is spelled as the address with those bytes.
    """
    if family == socket.AF_INET:
        return "255.255.255.255"
    return socket.inet_ntoa((128).to_bytes(4, sys.byteorder))


def service_spec(service):
    """pyroute2 IPVSService for a service dict (key fields plus scheduler)."""
    family = socket.AF_INET6 if ":" in service["address"] else socket.AF_INET
    return pyroute2.IPVSService(af=family, addr=service["address"], port=service["port"],
                                protocol=PROTOCOL_NUMBERS[service["protocol"]],
                                sched_name=service.get("scheduler") or "rr", netmask=_netmask(family))


def dest_spec(dest):
    """pyroute2 IPVSDest for a real server dict."""
    family = socket.AF_INET6 if ":" in dest["address"] else socket.AF_INET
    return pyroute2.IPVSDest(addr=dest["address"], addr_family=family, port=dest["port"],
                             weight=dest.get("weight", 1),
                             fwd_method=FORWARD_NUMBERS[dest.get("forward_method") or "route"])


def _read_dests(ipvs, spec):
    dests = []
    for msg in ipvs.dest("dump", service=spec):
        attrs = msg.get_attr("IPVS_CMD_ATTR_DEST")
        dests.append({
            "address": str(netaddr.IPAddress(_attr(attrs, "IPVS_DEST_ATTR_ADDR"))),
            "port": _attr(attrs, "IPVS_DEST_ATTR_PORT"),
            "weight": _attr(attrs, "IPVS_DEST_ATTR_WEIGHT", 0),
            "forward_method": FORWARD_NAMES.get(_attr(attrs, "IPVS_DEST_ATTR_FWD_METHOD", 0) & FORWARD_MASK),
            "active_connections": _attr(attrs, "IPVS_DEST_ATTR_ACTIVE_CONNS", 0),
            "inactive_connections": _attr(attrs, "IPVS_DEST_ATTR_INACT_CONNS", 0),
        })
    return sorted(dests, key=lambda d: (d["address"], d["port"]))


def read_services(ipvs):
    """Every virtual service with its real servers (fwmark services with address None)."""
    services = []
    for msg in ipvs.service("dump"):
        attrs = msg.get_attr("IPVS_CMD_ATTR_SERVICE")
        family = _attr(attrs, "IPVS_SVC_ATTR_AF")
        fwmark = _attr(attrs, "IPVS_SVC_ATTR_FWMARK", 0)
        protocol = _attr(attrs, "IPVS_SVC_ATTR_PROTOCOL", 0)
        service = {
            "address": None,
            "port": _attr(attrs, "IPVS_SVC_ATTR_PORT", 0),
            "protocol": PROTOCOL_NAMES.get(protocol, protocol),
            "scheduler": _attr(attrs, "IPVS_SVC_ATTR_SCHED_NAME"),
            "family": "ipv6" if family == socket.AF_INET6 else "ipv4",
            "fwmark": fwmark or None,
        }
        if fwmark:
            spec = pyroute2.IPVSService(af=family, fwmark=fwmark)
        else:
            service["address"] = str(netaddr.IPAddress(_attr(attrs, "IPVS_SVC_ATTR_ADDR")))
            spec = pyroute2.IPVSService(af=family, addr=service["address"], port=service["port"], protocol=protocol)
        service["real_servers"] = _read_dests(ipvs, spec)
        services.append(service)
    return sorted(services, key=lambda s: (s["address"] or "", s["port"], str(s["protocol"])))


def _message(ipvs, cmd, service, dest=None):
    msg = ipvsmsg()
    msg["cmd"] = cmd
    msg["version"] = GENL_VERSION
    if dest is None:
        msg["attrs"] = [("IPVS_CMD_ATTR_SERVICE", service.dump_nla())]
    else:
        msg["attrs"] = [("IPVS_CMD_ATTR_SERVICE", service.dump_key()), ("IPVS_CMD_ATTR_DEST", dest.dump_nla())]
    msg["header"]["type"] = ipvs.asyncore.prid
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK
    return msg


def apply_ipvs(ipvs, changes):
    """Execute a change set from reconcile.plan_ipvs as one batch, in a safe order."""
    operations = []
    for service in changes["remove_services"]:
        operations.append(("removing IPVS service %s" % describe_service(service),
                           _message(ipvs, IPVS_CMD_DEL_SERVICE, service_spec(service))))
    for service in changes["add_services"]:
        spec = service_spec(service)
        operations.append(("adding IPVS service %s (scheduler %s)" % (describe_service(service), service["scheduler"]),
                           _message(ipvs, IPVS_CMD_NEW_SERVICE, spec)))
        for dest in service["real_servers"]:
            operations.append(("adding real server %s:%s to IPVS service %s" % (dest["address"], dest["port"], describe_service(service)),
                               _message(ipvs, IPVS_CMD_NEW_DEST, spec, dest_spec(dest))))
    for service in changes["edit_services"]:
        operations.append(("setting scheduler %s on IPVS service %s" % (service["scheduler"], describe_service(service)),
                           _message(ipvs, IPVS_CMD_SET_SERVICE, service_spec(service))))
    for kind, cmd, verb in (("remove_dests", IPVS_CMD_DEL_DEST, "removing"), ("add_dests", IPVS_CMD_NEW_DEST, "adding"),
                            ("edit_dests", IPVS_CMD_SET_DEST, "updating")):
        for item in changes[kind]:
            service, dest = item["service"], item["dest"]
            operations.append(("%s real server %s:%s of IPVS service %s" % (verb, dest["address"], dest["port"], describe_service(service)),
                               _message(ipvs, cmd, service_spec(service), dest_spec(dest))))
    send_batch(ipvs, operations)

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPVS virtual services over generic netlink: availability, reader and applier (one batch).

pyroute2 opens the netlink socket and resolves the IPVS generic-netlink family (``open_ipvs``);
its constants and attribute ids name the fields. The messages themselves are built and parsed
here with ``struct``: decoding every answer through pyroute2's message objects cost more than
the kernel's work (2,000 services: most of the module's time in ``decode_nlas``/``get_attrs``).

* Reader: one service dump, then one real-server dump per service the caller asks for (the
  kernel has no dump of every real server, and a socket runs one dump at a time).
* Applier: a change set as one batch of requests (``netlink.Channel.send_requests``: as many
  per write as the receive buffer holds answers to, the last of each write acknowledged, every
  refusal named with its operation and errno). A batch that raised nothing was done entirely,
  so the state after it is known without reading it again (``after_changes``).

The socket (one per module run, blocking with a receive timeout), the dumps, the batches and the
parsing of messages, attributes and error answers are ``netlink.py``'s, shared with netstate.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import socket
import struct

from ansible_collections.baremetal.vip.plugins.module_utils import netlink
from ansible_collections.baremetal.vip.plugins.module_utils.deps import netaddr, pyroute2
from ansible_collections.baremetal.vip.plugins.module_utils.netlink import attributes, pack_attr as nla
from ansible_collections.baremetal.vip.plugins.module_utils.errors import VipError
from ansible_collections.baremetal.vip.plugins.module_utils.reconcile import describe_service

try:
    from pyroute2.netlink import NLM_F_REQUEST
    from pyroute2.netlink.generic.ipvs import (GENL_VERSION, IPVS_CMD_DEL_DEST, IPVS_CMD_DEL_SERVICE, IPVS_CMD_GET_DEST,
                                               IPVS_CMD_GET_SERVICE, IPVS_CMD_NEW_DEST, IPVS_CMD_NEW_SERVICE,
                                               IPVS_CMD_SET_DEST, IPVS_CMD_SET_SERVICE, ipvsmsg)

    def _attribute_ids(nla_class):
        """{'IPVS_SVC_ATTR_AF': 1, ...}: pyroute2's nla_map lists the attributes in kernel order."""
        return dict((item[0], index) for index, item in enumerate(nla_class.nla_map))

    CMD_ATTR = _attribute_ids(ipvsmsg)
    SVC_ATTR = _attribute_ids(ipvsmsg.service)
    DEST_ATTR = _attribute_ids(ipvsmsg.dest)
    ATTR_SERVICE, ATTR_DEST = CMD_ATTR["IPVS_CMD_ATTR_SERVICE"], CMD_ATTR["IPVS_CMD_ATTR_DEST"]
    SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_FWMARK, SVC_SCHED_NAME, SVC_FLAGS, SVC_TIMEOUT, SVC_NETMASK = (
        SVC_ATTR["IPVS_SVC_ATTR_" + name] for name in ("AF", "PROTOCOL", "ADDR", "PORT", "FWMARK", "SCHED_NAME", "FLAGS",
                                                       "TIMEOUT", "NETMASK"))
    (DEST_ADDR, DEST_PORT, DEST_FWD_METHOD, DEST_WEIGHT, DEST_U_THRESH, DEST_L_THRESH, DEST_ACTIVE_CONNS, DEST_INACT_CONNS,
     DEST_ADDR_FAMILY) = (DEST_ATTR["IPVS_DEST_ATTR_" + name] for name in (
         "ADDR", "PORT", "FWD_METHOD", "WEIGHT", "U_THRESH", "L_THRESH", "ACTIVE_CONNS", "INACT_CONNS", "ADDR_FAMILY"))
except ImportError:
    pass  # deps.require() reports the missing library before any of these is used

PROTOCOL_NUMBERS = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP, "sctp": 132}
PROTOCOL_NAMES = dict((number, name) for name, number in PROTOCOL_NUMBERS.items())
# IP_VS_CONN_F_MASQ, _LOCALNODE, _TUNNEL, _DROUTE (ipvsadm: -m, local, -i, -g)
FORWARD_NUMBERS = {"masquerade": 0, "local": 1, "tunnel": 2, "route": 3}
FORWARD_NAMES = dict((number, name) for name, number in FORWARD_NUMBERS.items())
FORWARD_MASK = 0x7
DEFAULT_FORWARD = "route"
UNAVAILABLE = ("the kernel has no IPVS (generic netlink family IPVS not found: module ip_vs not loaded "
               "or CONFIG_IP_VS not set)")

_GENL = struct.Struct("=BBH")  # genlmsghdr: command, version, reserved
_U16 = struct.Struct("=H")
_U32 = netlink.U32
_BE16 = struct.Struct("!H")
HEADER = netlink.HEADER.size + _GENL.size  # where an answer's attributes start


# --------------------------------------------------------------------------- encoding

def _family(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def service_key_attrs(service):
    """The attributes that name a service: AF, protocol, address, port (or AF and fwmark)."""
    family = socket.AF_INET6 if service.get("family") == "ipv6" else socket.AF_INET
    if service.get("address") is None:
        return nla(SVC_AF, _U16.pack(family)) + nla(SVC_FWMARK, _U32.pack(service["fwmark"]))
    family = _family(service["address"])
    return (nla(SVC_AF, _U16.pack(family)) + nla(SVC_PROTOCOL, _U16.pack(PROTOCOL_NUMBERS[service["protocol"]]))
            + nla(SVC_ADDR, socket.inet_pton(family, service["address"])) + nla(SVC_PORT, _BE16.pack(service["port"])))


def service_attrs(service):
    """A whole service, as NEW/SET_SERVICE need it: key, scheduler, flags 0 (mask 0xffff), timeout 0,
    netmask (255.255.255.255 for IPv4; the prefix length 128 for IPv6, which the kernel reads as a u32)."""
    netmask = 128 if _family(service["address"]) == socket.AF_INET6 else 0xFFFFFFFF
    return (service_key_attrs(service) + nla(SVC_SCHED_NAME, (service.get("scheduler") or "rr").encode("ascii") + b"\0")
            + nla(SVC_FLAGS, struct.pack("=II", 0, 0xFFFF)) + nla(SVC_TIMEOUT, _U32.pack(0))
            + nla(SVC_NETMASK, _U32.pack(netmask)))


def dest_attrs(dest, full=True):
    """A real server: address, port, family; with ``full`` (NEW/SET_DEST) forwarding method, weight, thresholds."""
    family = _family(dest["address"])
    attrs = (nla(DEST_ADDR, socket.inet_pton(family, dest["address"])) + nla(DEST_PORT, _BE16.pack(dest["port"]))
             + nla(DEST_ADDR_FAMILY, _U16.pack(family)))
    if full:
        attrs += (nla(DEST_FWD_METHOD, _U32.pack(FORWARD_NUMBERS[dest.get("forward_method") or DEFAULT_FORWARD]))
                  + nla(DEST_WEIGHT, _U32.pack(dest.get("weight", 1))) + nla(DEST_U_THRESH, _U32.pack(0))
                  + nla(DEST_L_THRESH, _U32.pack(0)))
    return attrs


def payload(cmd, attrs):
    """What follows nlmsghdr in an IPVS request: genlmsghdr and the attributes."""
    return _GENL.pack(cmd, GENL_VERSION, 0) + attrs


def request(family_id, sequence, cmd, flags, attrs):
    """One whole generic-netlink IPVS message (nlmsghdr, genlmsghdr, attributes)."""
    return netlink.pack_message(family_id, flags, sequence, payload(cmd, attrs))


# --------------------------------------------------------------------------- decoding

def _u16(data, span, default=0):
    return _U16.unpack_from(data, span[0])[0] if span else default


def _u32(data, span, default=0):
    return _U32.unpack_from(data, span[0])[0] if span else default


def _address(data, span, family, cache):
    """Text of an address attribute (the kernel sends 16 bytes; IPv4 is the first 4)."""
    raw = bytes(data[span[0]:span[1]])
    key = (family, raw)
    text = cache.get(key)
    if text is None:
        if family == socket.AF_INET6:
            text = str(netaddr.IPAddress(socket.inet_ntop(socket.AF_INET6, raw[:16])))
        else:
            text = socket.inet_ntoa(raw[:4])
        cache[key] = text
    return text


def decode_service(data, start, end, cache):
    """A service dict from one IPVS_CMD_NEW_SERVICE answer (payload after the genl header)."""
    outer = attributes(data, start, end).get(ATTR_SERVICE)
    if outer is None:
        raise VipError("reading IPVS services failed: an answer without a service attribute")
    attrs = attributes(data, outer[0], outer[1])
    family = _u16(data, attrs.get(SVC_AF))
    fwmark = _u32(data, attrs.get(SVC_FWMARK))
    protocol = _u16(data, attrs.get(SVC_PROTOCOL))
    sched = attrs.get(SVC_SCHED_NAME)
    service = {
        "address": None,
        "port": _BE16.unpack_from(data, attrs[SVC_PORT][0])[0] if SVC_PORT in attrs else 0,
        "protocol": PROTOCOL_NAMES.get(protocol, protocol),
        "scheduler": bytes(data[sched[0]:sched[1]]).split(b"\0", 1)[0].decode("ascii", "replace") if sched else None,
        "family": "ipv6" if family == socket.AF_INET6 else "ipv4",
        "fwmark": fwmark or None,
    }
    if not fwmark:
        service["address"] = _address(data, attrs[SVC_ADDR], family, cache)
    return service


def decode_dest(data, start, end, family, cache):
    """A real-server dict from one IPVS_CMD_NEW_DEST answer; ``family``: the service's, the default."""
    outer = attributes(data, start, end).get(ATTR_DEST)
    if outer is None:
        raise VipError("reading IPVS real servers failed: an answer without a real-server attribute")
    attrs = attributes(data, outer[0], outer[1])
    return {
        "address": _address(data, attrs[DEST_ADDR], _u16(data, attrs.get(DEST_ADDR_FAMILY), family), cache),
        "port": _BE16.unpack_from(data, attrs[DEST_PORT][0])[0],
        "weight": _u32(data, attrs.get(DEST_WEIGHT)),
        "forward_method": FORWARD_NAMES.get(_u32(data, attrs.get(DEST_FWD_METHOD)) & FORWARD_MASK),
        "active_connections": _u32(data, attrs.get(DEST_ACTIVE_CONNS)),
        "inactive_connections": _u32(data, attrs.get(DEST_INACT_CONNS)),
    }


# --------------------------------------------------------------------------- the socket

class IPVSSocket:
    """The run's IPVS socket: a netlink.Channel on pyroute2's IPVS socket (family resolved, bound)."""

    def __init__(self, ipvs):
        self.family_id = ipvs.prid
        self.channel = netlink.Channel(ipvs, owns=True)

    def close(self):
        """Close the channel and pyroute2's socket."""
        self.channel.close()

    def dump(self, cmd, attrs, decode, doing):
        """Run one dump; ``decode(data, start, end)`` for each answer's attributes (after genlmsghdr); their results."""
        return self.channel.dump(self.family_id, payload(cmd, attrs), doing, decode, reply=self.family_id, skip=_GENL.size)

    def batch(self, operations):
        """Send [(cmd, attrs, describe)] as one batch; VipError naming every operation the kernel refused
        (the others are done). ``describe()`` says what an operation does (called only for the error message)."""
        if operations:
            self.channel.send_requests([(self.family_id, NLM_F_REQUEST, payload(cmd, attrs)) for cmd, attrs, _describe in operations],
                                       lambda index: operations[index][2]())


def open_ipvs():
    """An IPVSSocket, or None when the kernel has no IPVS.

    Asking generic netlink for the IPVS family makes the kernel load ip_vs: a read that must not load it tests
    ``constants.IPVS_PROC_FILE`` first (``hosttasks.gather_facts``).
    """
    try:
        ipvs = pyroute2.IPVS()
    except (pyroute2.NetlinkError, OSError) as exc:
        if getattr(exc, "code", getattr(exc, "errno", None)) in (errno.ENOENT, errno.EPROTONOSUPPORT):
            return None
        raise
    try:
        return IPVSSocket(ipvs)
    except Exception:
        ipvs.close()
        raise


# --------------------------------------------------------------------------- reader

def _sort_key(service):
    return (service["address"] or "", service["port"], str(service["protocol"]), service.get("fwmark") or 0)


def read_real_servers(conn, service, cache=None):
    """The real servers of one service (sorted by address, port); [] when the service is gone."""
    family = socket.AF_INET6 if service.get("family") == "ipv6" else socket.AF_INET
    cache = {} if cache is None else cache
    dests = conn.dump(IPVS_CMD_GET_DEST, nla(ATTR_SERVICE, service_key_attrs(service)),
                      lambda data, start, end: decode_dest(data, start, end, family, cache),
                      "reading the real servers of IPVS service %s" % describe_service(service))
    return sorted(dests, key=lambda d: (d["address"], d["port"]))


def read_services(conn, real_servers_of=None):
    """Every virtual service (fwmark services with address None), sorted.

    ``real_servers_of(service)`` says whose real servers to read (one dump each; default: all);
    the others have ``real_servers`` None (not read).
    """
    cache = {}
    services = conn.dump(IPVS_CMD_GET_SERVICE, b"", lambda data, start, end: decode_service(data, start, end, cache),
                         "reading IPVS services")
    for service in services:
        wanted = real_servers_of is None or real_servers_of(service)
        service["real_servers"] = read_real_servers(conn, service, cache) if wanted else None
    return sorted(services, key=_sort_key)


# --------------------------------------------------------------------------- applier

def _describe_dest(dest):
    address = dest["address"]
    return "%s:%s" % ("[%s]" % address if ":" in address else address, dest["port"])


def _operations(changes):
    """[(cmd, attrs, describe)] for a change set from reconcile.plan_ipvs, in a safe order:
    stale services, new services with their real servers, schedulers, then real servers
    (removals before additions, so a re-added real server never collides)."""
    operations = []
    for service in changes["remove_services"]:
        operations.append((IPVS_CMD_DEL_SERVICE, nla(ATTR_SERVICE, service_key_attrs(service)),
                           lambda s=service: "removing IPVS service %s" % describe_service(s)))
    for service in changes["add_services"]:
        full = nla(ATTR_SERVICE, service_attrs(service))
        operations.append((IPVS_CMD_NEW_SERVICE, full, lambda s=service: "adding IPVS service %s (scheduler %s)" % (
            describe_service(s), s["scheduler"])))
        key = nla(ATTR_SERVICE, service_key_attrs(service))
        for dest in service["real_servers"]:
            operations.append((IPVS_CMD_NEW_DEST, key + nla(ATTR_DEST, dest_attrs(dest)),
                               lambda s=service, d=dest: "adding real server %s to IPVS service %s" % (
                                   _describe_dest(d), describe_service(s))))
    for service in changes["edit_services"]:
        operations.append((IPVS_CMD_SET_SERVICE, nla(ATTR_SERVICE, service_attrs(service)),
                           lambda s=service: "setting scheduler %s on IPVS service %s" % (s["scheduler"], describe_service(s))))
    for kind, cmd, verb in (("remove_dests", IPVS_CMD_DEL_DEST, "removing"), ("add_dests", IPVS_CMD_NEW_DEST, "adding"),
                            ("edit_dests", IPVS_CMD_SET_DEST, "updating")):
        for item in changes[kind]:
            attrs = nla(ATTR_SERVICE, service_key_attrs(item["service"])) + nla(ATTR_DEST, dest_attrs(item["dest"], cmd != IPVS_CMD_DEL_DEST))
            operations.append((cmd, attrs, lambda v=verb, i=item: "%s real server %s of IPVS service %s" % (
                v, _describe_dest(i["dest"]), describe_service(i["service"]))))
    return operations


def apply_ipvs(conn, changes):
    """Execute a change set from reconcile.plan_ipvs as one batch; VipError naming every failed change."""
    conn.batch(_operations(changes))


def after_changes(current, changes):
    """The services as they are once ``changes`` (a plan_ipvs change set) are made.

    Used for check mode's diff and, after ``apply_ipvs`` returned (every change acknowledged,
    any failure raised), as the module's result instead of reading the table again: the kernel
    keeps exactly what each acknowledged request said. Kept real servers keep the connection
    counters read before; new ones count 0. Services whose real servers were not read keep
    ``real_servers`` None.
    """
    def key(service):
        if service["address"] is None:  # fwmark services: one per family and mark
            return (None, service["family"], service["fwmark"])
        return (service["address"], service["port"], service["protocol"])

    state = dict((key(s), dict(s, real_servers=None if s.get("real_servers") is None else list(s["real_servers"])))
                 for s in current)
    for service in changes["remove_services"]:
        state.pop(key(service), None)
    for service in changes["add_services"]:
        state[key(service)] = dict(service, family="ipv6" if ":" in service["address"] else "ipv4", fwmark=None,
                                   real_servers=sorted((_new_dest(d) for d in service["real_servers"]),
                                                       key=lambda d: (d["address"], d["port"])))
    for service in changes["edit_services"]:
        state[key(service)]["scheduler"] = service["scheduler"]
    for kind in ("remove_dests", "edit_dests", "add_dests"):
        for item in changes[kind]:
            target = state[key(item["service"])]
            dest = item["dest"]
            kept, old = [], None
            for have in target["real_servers"] or []:
                if (have["address"], have["port"]) == (dest["address"], dest["port"]):
                    old = have
                else:
                    kept.append(have)
            if kind != "remove_dests":
                new = _new_dest(dest)
                if old is not None:
                    new.update(active_connections=old.get("active_connections", 0),
                               inactive_connections=old.get("inactive_connections", 0))
                kept.append(new)
            target["real_servers"] = sorted(kept, key=lambda d: (d["address"], d["port"]))
    return sorted(state.values(), key=_sort_key)


def _new_dest(dest):
    return {"address": dest["address"], "port": dest["port"], "weight": dest.get("weight", 1),
            "forward_method": dest.get("forward_method") or DEFAULT_FORWARD, "active_connections": 0,
            "inactive_connections": 0}

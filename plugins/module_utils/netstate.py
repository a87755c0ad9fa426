# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel state of addresses and routes: readers (netlink -> plain dicts) and appliers.

Readers take an open ``pyroute2.IPRoute`` (strict checking on) and return the plain dicts
``reconcile.py`` decides on. Route dumps are filtered by the kernel: one RTM_GETROUTE dump per
table, with the table in the request (NETLINK_GET_STRICT_CHK), instead of a dump of every
table filtered here. Appliers send a whole change set as one batch of netlink messages (in writes of
BATCH_CHUNK messages, so no answer is dropped; the kernel answers each) and raise ``VipError`` naming every
operation the kernel refused.
pyroute2 0.9 is required (its asyncio core carries the batch; 0.7 has neither that nor
request filters for dumps).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import socket
import struct

from ansible_collections.baremetal.vip.plugins.module_utils.deps import netaddr, pyroute2

try:
    from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST
    from pyroute2.netlink.nlsocket import NetlinkRequest
    from pyroute2.netlink.rtnl import RTM_DELADDR, RTM_DELROUTE, RTM_NEWADDR, RTM_NEWROUTE
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
except ImportError:
    pass  # deps.require() reports the missing library before any of these is used
from ansible_collections.baremetal.vip.plugins.module_utils.reconcile import VipError, family_of

AF_BY_FAMILY = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
FAMILY_BY_AF = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}
ROUTE_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole",
               7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
ROUTE_TYPE_NUMBERS = dict((name, number) for number, name in ROUTE_TYPES.items())
SCOPE_LINK = 253
IFA_F_NODAD = 0x02
ETH_P_ARP = 0x0806
RT_TABLE_COMPAT = 252


def open_iproute():
    """An IPRoute socket with strict checking, so the kernel honours dump filters."""
    return pyroute2.IPRoute(strict_check=True)


def netlink_error_text(exc):
    """'No such process (errno 3)' for a NetlinkError / OSError."""
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    text = getattr(exc, "strerror", None) or (exc.args[1] if len(exc.args) > 1 else str(exc))
    return "%s (errno %s)" % (text, code) if code else str(exc)


class _DumpRequest(dict):
    """A pyroute2 request_filter: header fields and NLAs sent with a dump, filtered by the kernel."""

    def __init__(self, fields, nlas):
        dict.__init__(self, nlas)
        self.fields = fields

    def get_value(self, key, default=None, mode=None):  # pylint: disable=unused-argument
        """Header field ``key`` of the request (pyroute2 asks for every field)."""
        return self.fields.get(key, default)


# --------------------------------------------------------------------------- readers

def read_links(ipr):
    """{index: {"name": ..., "mac": ...}} of every link."""
    links = {}
    for msg in ipr.link("dump"):
        links[msg["index"]] = {"name": msg.get("IFLA_IFNAME"), "mac": msg.get("IFLA_ADDRESS")}
    return links


def link_index(links, name, doing):
    """Index of interface ``name``; VipError saying what was being done when it does not exist."""
    for index, link in links.items():
        if link["name"] == name:
            return index
    raise VipError("%s: interface %r does not exist on this host (interfaces: %s)"
                   % (doing, name, ", ".join(sorted(str(link["name"]) for link in links.values()))))


def read_addresses(ipr, links):
    """Every IPv4/IPv6 address: [{"address", "prefix", "interface", "family", "scope"}]."""
    result = []
    for msg in ipr.addr("dump"):
        family = FAMILY_BY_AF.get(msg["family"])
        address = msg.get("IFA_LOCAL") or msg.get("IFA_ADDRESS")
        if family is None or address is None:
            continue
        result.append({
            "address": str(netaddr.IPAddress(address)),
            "prefix": msg["prefixlen"],
            "interface": links.get(msg["index"], {}).get("name", str(msg["index"])),
            "family": family,
            "scope": {0: "global", 200: "site", 253: "link", 254: "host"}.get(msg["scope"], msg["scope"]),
        })
    return result


def read_routes(ipr, table, links):
    """Every route of ``table`` (both families, any protocol), one dump filtered by the kernel."""
    request = _DumpRequest({"family": socket.AF_UNSPEC, "table": table if table < 256 else RT_TABLE_COMPAT},
                           {"RTA_TABLE": table})
    try:
        messages = list(ipr.route("dump", dump_filter=None, request_filter=request))
    except pyroute2.NetlinkError as exc:
        if exc.code == errno.ENOENT:  # the table does not exist (yet)
            return []
        raise
    result = []
    for msg in messages:
        family = FAMILY_BY_AF.get(msg["family"])
        if family is None or msg.get("RTA_TABLE", msg["table"]) != table:
            continue
        dst = msg.get("RTA_DST") or ("0.0.0.0" if family == "ipv4" else "::")
        result.append({
            "destination": "%s/%d" % (netaddr.IPAddress(dst), msg["dst_len"]),
            "interface": links.get(msg.get("RTA_OIF"), {}).get("name"),
            "gateway": msg.get("RTA_GATEWAY"),
            "table": table,
            "protocol": msg["proto"],
            "type": ROUTE_TYPES.get(msg["type"], msg["type"]),
            "scope": msg["scope"],
            "family": family,
        })
    return result


# --------------------------------------------------------------------------- appliers

def _split(cidr):
    address, prefix = cidr.split("/")
    return address, int(prefix)


def _header(msg, kind, create):
    msg["header"]["type"] = kind
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | ((NLM_F_CREATE | NLM_F_EXCL) if create else 0)
    return msg


def route_message(route, links, create):
    """RTM_NEWROUTE / RTM_DELROUTE for ``route``: kube-vip's shape when adding, the exact route when deleting."""
    address, prefix = _split(route["destination"])
    verb = "adding route %s dev %s to table %s (protocol %s)" if create else "removing route %s dev %s from table %s (protocol %s)"
    doing = verb % (route["destination"], route.get("interface"), route["table"], route["protocol"])
    rtype = route.get("type", "unicast")
    msg = rtmsg()
    msg["family"] = AF_BY_FAMILY[route["family"]]
    msg["dst_len"] = prefix
    msg["table"] = route["table"] if route["table"] < 256 else RT_TABLE_COMPAT
    msg["proto"] = route["protocol"]
    if create:
        msg["type"], msg["scope"] = 1, SCOPE_LINK if route["family"] == "ipv4" else 0
    else:
        msg["type"], msg["scope"] = ROUTE_TYPE_NUMBERS.get(rtype, rtype), route.get("scope", 0)
    msg["attrs"] = [("RTA_DST", address), ("RTA_TABLE", route["table"])]
    if route.get("interface"):
        msg["attrs"].append(("RTA_OIF", link_index(links, route["interface"], doing)))
    return doing, _header(msg, RTM_NEWROUTE if create else RTM_DELROUTE, create)


def address_message(addr, links, create):
    """RTM_NEWADDR (IPv6 without DAD, as kube-vip) / RTM_DELADDR for ``addr``."""
    doing = ("adding address %s/%s to %s" if create else "removing address %s/%s from %s") % (
        addr["address"], addr["prefix"], addr["interface"])
    msg = ifaddrmsg()
    msg["family"] = AF_BY_FAMILY[addr["family"]]
    msg["prefixlen"] = addr["prefix"]
    msg["index"] = link_index(links, addr["interface"], doing)
    msg["flags"] = IFA_F_NODAD if create and addr["family"] == "ipv6" else 0
    msg["attrs"] = [("IFA_LOCAL", addr["address"]), ("IFA_ADDRESS", addr["address"])]
    return doing, _header(msg, RTM_NEWADDR if create else RTM_DELADDR, create)


# Messages per write. The kernel queues one answer per message on the socket; answers that do
# not fit in its receive buffer (2 MB: about 2,500 answers) are dropped and their requests would
# wait forever. 256 answers fit in any receive buffer with room to spare.
BATCH_CHUNK = 256


async def _send_batch(core, messages):
    errors = []
    for start in range(0, len(messages), BATCH_CHUNK):
        requests, data = [], []
        for msg in messages[start:start + BATCH_CHUNK]:
            request = NetlinkRequest(core, msg)
            await request.prepare()
            data.append(request.msg.data)
            requests.append(request)
        core.send(b"".join(data))
        for request in requests:
            try:
                async for _msg in request.response():
                    pass
                errors.append(None)
            except pyroute2.NetlinkError as exc:
                errors.append(exc)
    return errors


def send_batch(ipr, operations):
    """Send [(doing, message)] on a pyroute2 socket (IPRoute, IPVS), BATCH_CHUNK messages per write.

    VipError naming every operation that failed, with the kernel's answer.

    The kernel handles the messages in order and answers each; an error does not stop the rest.
    """
    if not operations:
        return
    try:
        core = ipr.asyncore
        errors = core.event_loop.run_until_complete(_send_batch(core, [msg for _doing, msg in operations]))
    except (pyroute2.NetlinkError, OSError) as exc:
        raise VipError("%s failed: %s" % ("; ".join(doing for doing, _msg in operations), netlink_error_text(exc)))
    failed = ["%s failed: %s" % (doing, netlink_error_text(error)) for (doing, _msg), error in zip(operations, errors) if error]
    if failed:
        raise VipError("; ".join(failed))


def apply_routes(ipr, changes, links):
    """One batch: removals first (so a moved route can be re-added), then additions."""
    send_batch(ipr, [route_message(r, links, create=False) for r in changes["remove"]]
               + [route_message(r, links, create=True) for r in changes["add"]])


def apply_addresses(ipr, changes, links):
    """One batch: removals, then additions."""
    send_batch(ipr, [address_message(a, links, create=False) for a in changes["remove"]]
               + [address_message(a, links, create=True) for a in changes["add"]])


# --------------------------------------------------------------------------- announcements

def _mac_bytes(mac, interface):
    if not mac:
        raise VipError("announcing on %s: the interface has no link-layer address" % interface)
    return bytes(int(part, 16) for part in mac.split(":"))


def gratuitous_arp_frame(mac, address):
    """A broadcast gratuitous ARP request for ``address`` from ``mac`` (bytes)."""
    ip = socket.inet_aton(address)
    header = b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\x00" * 6 + ip
    return header + arp


def unsolicited_na(mac, address):
    """ICMPv6 unsolicited neighbour advertisement (override) for ``address`` with ``mac``."""
    flags = 0x20000000  # Override; not Solicited, not Router
    body = struct.pack("!BBHI", 136, 0, 0, flags) + socket.inet_pton(socket.AF_INET6, address)
    return body + struct.pack("!BB", 2, 1) + mac  # target link-layer address option


def announce(interface, address, mac, count=3):
    """Tell the segment on ``interface`` that ``address`` is here: gratuitous ARP or unsolicited NA.

    Raw sockets bound to that one interface only; nothing is sent anywhere else.
    """
    mac = _mac_bytes(mac, interface)
    try:
        if family_of(address) == "ipv4":
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
            try:
                sock.bind((interface, ETH_P_ARP))
                for _dummy in range(count):
                    sock.send(gratuitous_arp_frame(mac, address))
            finally:
                sock.close()
        else:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
                index = socket.if_nametoindex(interface)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
                for _dummy in range(count):
                    sock.sendto(unsolicited_na(mac, address), ("ff02::1", 0, 0, index))
            finally:
                sock.close()
    except OSError as exc:
        raise VipError("announcing %s on %s failed: %s" % (address, interface, netlink_error_text(exc)))

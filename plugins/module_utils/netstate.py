# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel state of links, addresses and routes: readers (netlink -> plain dicts) and appliers.

pyroute2 opens the NETLINK_ROUTE socket (``open_iproute``: strict checking, extended acks) and
names the protocol: message types and flags, the field layouts of the fixed headers
(``rtmsg``, ``ifaddrmsg``, ``ifinfmsg``), attribute numbers, ``NetlinkError``. The messages
themselves are built and parsed here with ``struct`` on a duplicate of that socket, not as
pyroute2 message objects. That is the hot path of vip_routes: pyroute2 decodes every attribute
of every message into Python objects and its synchronous API turns an asyncio loop once per
message: pruning 25,000 of 50,000 routes took 46 s where ``ip -batch`` took 0.23 s
(docs/benchmarks.md, before this change). Here a message costs a few ``struct`` calls, and only
the attributes the plain dicts need are read.

Readers: one dump per call, filtered by the kernel where it can be (routes: one table, by
RTA_TABLE in the request; the socket's NETLINK_GET_STRICT_CHK makes the kernel honour it),
read in as many parts as the kernel sends. A dump the kernel marks as interrupted
(NLM_F_DUMP_INTR: the table changed while it was read) is read again.

Appliers: a change set is written REQUESTS_PER_WRITE messages at a time. The kernel handles the
messages of a write in order and answers every one that fails (NLMSG_ERROR with its sequence
number); only the last message of a write asks for an acknowledgement, so its answer says that
every answer of the write is in. Successful operations cost no answer to read. Errors do not stop
the rest; ``VipError`` names every operation the kernel refused, with the kernel's reason.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import socket
import struct

from ansible_collections.baremetal.vip.plugins.module_utils.deps import pyroute2

try:
    from pyroute2.netlink import (NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR,
                                  NLM_F_EXCL, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, nlmsg, nlmsgerr)
    from pyroute2.netlink.rtnl import RTM_DELADDR, RTM_DELROUTE, RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWROUTE
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg

    # Wire layouts from pyroute2's field lists (native byte order, as the kernel's structs).
    HEADER = struct.Struct("=" + "".join(kind for _name, kind in nlmsg.header))    # nlmsghdr, 16 bytes
    RTMSG = struct.Struct("=" + "".join(kind for _name, kind in rtmsg.fields))      # 12 bytes
    IFADDRMSG = struct.Struct("=" + "".join(kind for _name, kind in ifaddrmsg.fields))  # 8 bytes
    IFINFOMSG = struct.Struct("=" + "".join(kind for _name, kind in ifinfmsg.fields))   # 16 bytes
    # Attribute numbers: position in pyroute2's attribute maps.
    RTA = dict((entry[0], number) for number, entry in enumerate(rtmsg.nla_map))
    IFA = dict((entry[0], number) for number, entry in enumerate(ifaddrmsg.nla_map))
    IFLA = dict((entry[0], number) for number, entry in enumerate(ifinfmsg.nla_map))
    NLMSGERR_ATTR = dict((entry[0], number) for number, entry in enumerate(nlmsgerr.nla_map))
    RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = (RTA[name] for name in ("RTA_DST", "RTA_OIF", "RTA_GATEWAY", "RTA_TABLE"))
except ImportError:
    pass  # deps.require() reports the missing library before any of these is used
from ansible_collections.baremetal.vip.plugins.module_utils.reconcile import VipError, family_of

AF_BY_FAMILY = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
FAMILY_BY_AF = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}
ROUTE_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole",
               7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
ROUTE_TYPE_NUMBERS = dict((name, number) for number, name in ROUTE_TYPES.items())
ADDRESS_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host"}
SCOPE_LINK = 253
IFA_F_NODAD = 0x02
ETH_P_ARP = 0x0806
RT_TABLE_COMPAT = 252
RTEXT_FILTER_SKIP_STATS = 1 << 3  # linux/rtnetlink.h: links dumped without their counters
NLA_TYPE_MASK = 0x3fff  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER
ATTR = struct.Struct("=HH")
U32 = struct.Struct("=I")
I32 = struct.Struct("=i")
U32_ATTR = struct.Struct("=HHI")

# Messages per write: at most REQUESTS_PER_WRITE, and no more than the socket's receive buffer
# holds answers to, so that even a write that fails entirely loses no answer (the kernel drops
# what does not fit: ENOBUFS). An error answer to a route request took 832 bytes of the buffer
# (kernel 6.18); ANSWER_COST leaves room for the kernel's error text. A write of 1,024 route
# messages is about 75 KB, well within any send buffer. Measured on 25,000 deletions: writes of
# 64 to 4,096 messages took the same time; an acknowledgement for every message instead of one
# per write took half as long again (155 ms instead of 105 ms).
REQUESTS_PER_WRITE = 1024
ANSWER_COST = 1536
# Seconds to wait for the kernel's next answer before giving up (it answers at once; this only
# turns a lost answer into an error instead of a module that never returns).
ANSWER_TIMEOUT = 30.0
DUMP_ATTEMPTS = 5
RECV_SIZE = 1 << 16  # the kernel sends dumps in parts of at most 32 KB


def open_iproute():
    """An IPRoute socket with strict checking (the kernel honours dump filters) and extended acks.

    pyroute2 asks for 1 MB receive and send buffers (the kernel caps them at
    net.core.rmem_max / wmem_max, doubled); writes of requests are sized to what it got.
    """
    return pyroute2.IPRoute(strict_check=True, ext_ack=True)


def netlink_error_text(exc):
    """'No such process (errno 3)' for a NetlinkError / OSError."""
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    text = getattr(exc, "strerror", None) or (exc.args[1] if len(exc.args) > 1 else str(exc))
    return "%s (errno %s)" % (text, code) if code else str(exc)


# --------------------------------------------------------------------------- wire format

def pack_attr(kind, value):
    """One netlink attribute (rtattr / nlattr), padded to 4 bytes."""
    length = 4 + len(value)
    return ATTR.pack(length, kind) + value + b"\0" * (-length & 3)


def pack_message(msg_type, flags, seq, payload):
    """nlmsghdr + payload (port id 0: the kernel fills in the sender's)."""
    return HEADER.pack(HEADER.size + len(payload), msg_type, flags, seq, 0) + payload


def split_messages(data):
    """[(type, flags, seq, payload start, end)] of the netlink messages in one received buffer."""
    result = []
    offset, size = 0, len(data)
    while offset + HEADER.size <= size:
        length, kind, flags, seq, _port = HEADER.unpack_from(data, offset)
        if length < HEADER.size or offset + length > size:
            raise VipError("malformed netlink answer: message of %d bytes at offset %d of %d" % (length, offset, size))
        result.append((kind, flags, seq, offset + HEADER.size, offset + length))
        offset += (length + 3) & ~3
    return result


def attributes(data, offset, end):
    """{attribute type: (value start, value end)} of the attributes between ``offset`` and ``end``."""
    found = {}
    while offset + 4 <= end:
        length, kind = ATTR.unpack_from(data, offset)
        if length < 4:
            break
        found[kind & NLA_TYPE_MASK] = (offset + 4, offset + length)
        offset += (length + 3) & ~3
    return found


def error_from(data, start, end, flags):
    """NetlinkError of an NLMSG_ERROR / NLMSG_DONE payload (None for an acknowledgement).

    The kernel's extended-ack text, when it sent one, is added to the reason.
    """
    code = -I32.unpack_from(data, start)[0] if end - start >= 4 else 0
    if code <= 0:
        return None
    reason = os.strerror(code)
    if flags & NLM_F_ACK_TLVS and end - start >= 4 + HEADER.size:
        # after the error code: the request's header, and its payload unless NLM_F_CAPPED
        request_length = HEADER.unpack_from(data, start + 4)[0]
        tlvs = start + 4 + (HEADER.size if flags & NLM_F_CAPPED else request_length)
        text = attributes(data, tlvs, end).get(NLMSGERR_ATTR["NLMSGERR_ATTR_MSG"])
        if text:
            reason = "%s: %s" % (reason, data[text[0]:text[1]].split(b"\0", 1)[0].decode("utf-8", "replace"))
    return pyroute2.NetlinkError(code, reason)


def _asciiz(data, span):
    return data[span[0]:span[1]].split(b"\0", 1)[0].decode("utf-8", "replace")


def parse_link(data, start, end):
    """(index, {"name", "mac"}) of one RTM_NEWLINK payload."""
    _family, _kind, index, _flags, _change = IFINFOMSG.unpack_from(data, start)
    attrs = attributes(data, start + IFINFOMSG.size, end)
    name = attrs.get(IFLA["IFLA_IFNAME"])
    mac = attrs.get(IFLA["IFLA_ADDRESS"])
    return index, {"name": _asciiz(data, name) if name else None,
                   "mac": ":".join("%02x" % byte for byte in bytearray(data[mac[0]:mac[1]])) if mac else None}


def parse_address(data, start, end, links):
    """The address dict of one RTM_NEWADDR payload (None for families other than IPv4/IPv6)."""
    family, prefix, _flags, scope, index = IFADDRMSG.unpack_from(data, start)
    name = FAMILY_BY_AF.get(family)
    if name is None:
        return None
    attrs = attributes(data, start + IFADDRMSG.size, end)
    span = attrs.get(IFA["IFA_LOCAL"]) or attrs.get(IFA["IFA_ADDRESS"])
    if span is None:
        return None
    return {
        "address": socket.inet_ntop(family, data[span[0]:span[1]]),
        "prefix": prefix,
        "interface": links.get(index, {}).get("name", str(index)),
        "family": name,
        "scope": ADDRESS_SCOPES.get(scope, scope),
    }


def parse_route(data, start, end, table, names):
    """The route dict of one RTM_NEWROUTE payload; None unless it is an IPv4/IPv6 route of ``table``.

    ``names``: {interface index: name}. The hot loop of read_routes: only RTA_TABLE, RTA_DST,
    RTA_OIF and RTA_GATEWAY are read.
    """
    family, dst_len, _src_len, _tos, in_table, proto, scope, rtype, _flags = RTMSG.unpack_from(data, start)
    if family == socket.AF_INET:
        name, default = "ipv4", "0.0.0.0"
    elif family == socket.AF_INET6:
        name, default = "ipv6", "::"
    else:
        return None
    dst = oif = gateway = None
    offset = start + RTMSG.size
    while offset < end:
        length, kind = ATTR.unpack_from(data, offset)
        if kind == RTA_TABLE:
            in_table = U32.unpack_from(data, offset + 4)[0]
        elif kind == RTA_DST:
            dst = socket.inet_ntop(family, data[offset + 4:offset + length])
        elif kind == RTA_OIF:
            oif = U32.unpack_from(data, offset + 4)[0]
        elif kind == RTA_GATEWAY:
            gateway = socket.inet_ntop(family, data[offset + 4:offset + length])
        offset += (length + 3) & ~3 or end  # a zero length (malformed) ends the loop
    if in_table != table:
        return None
    return {"destination": "%s/%d" % (dst or default, dst_len), "interface": names.get(oif), "gateway": gateway,
            "table": table, "protocol": proto, "type": ROUTE_TYPES.get(rtype, rtype), "scope": scope, "family": name}


def route_dump_request(table):
    """RTM_GETROUTE payload: both families, only ``table`` (kernel-side filter under strict checking)."""
    return (RTMSG.pack(socket.AF_UNSPEC, 0, 0, 0, table if table < 256 else RT_TABLE_COMPAT, 0, 0, 0, 0)
            + U32_ATTR.pack(8, RTA_TABLE, table))


def _split(cidr):
    address, prefix = cidr.split("/")
    return address, int(prefix)


def route_request(route, index, create):
    """(type, flags, payload) of RTM_NEWROUTE / RTM_DELROUTE for ``route`` on interface ``index`` (or None).

    Adding: kube-vip's shape (unicast, scope link for IPv4). Removing: the exact route as read.
    """
    address, prefix = _split(route["destination"])
    family = AF_BY_FAMILY[route["family"]]
    table = route["table"]
    if create:
        rtype, scope = 1, SCOPE_LINK if family == socket.AF_INET else 0
        msg_type, flags = RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL
    else:
        rtype, scope = ROUTE_TYPE_NUMBERS.get(route.get("type", "unicast"), route.get("type")), route.get("scope", 0)
        msg_type, flags = RTM_DELROUTE, NLM_F_REQUEST
    payload = (RTMSG.pack(family, prefix, 0, 0, table if table < 256 else RT_TABLE_COMPAT, route["protocol"], scope, rtype, 0)
               + pack_attr(RTA_DST, socket.inet_pton(family, address)) + U32_ATTR.pack(8, RTA_TABLE, table))
    if index is not None:
        payload += U32_ATTR.pack(8, RTA_OIF, index)
    return msg_type, flags, payload


def address_request(addr, index, create):
    """(type, flags, payload) of RTM_NEWADDR (IPv6 without DAD, as kube-vip) / RTM_DELADDR."""
    family = AF_BY_FAMILY[addr["family"]]
    packed = socket.inet_pton(family, addr["address"])
    payload = (IFADDRMSG.pack(family, addr["prefix"], IFA_F_NODAD if create and family == socket.AF_INET6 else 0, 0, index)
               + pack_attr(IFA["IFA_LOCAL"], packed) + pack_attr(IFA["IFA_ADDRESS"], packed))
    if create:
        return RTM_NEWADDR, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, payload
    return RTM_DELADDR, NLM_F_REQUEST, payload


def describe_route(route, create):
    """'adding route 198.51.100.7/32 dev v0 to table 198 (protocol 248)' / 'removing route ... from ...'."""
    verb = "adding route %s dev %s to table %s (protocol %s)" if create else "removing route %s dev %s from table %s (protocol %s)"
    return verb % (route["destination"], route.get("interface"), route["table"], route["protocol"])


def describe_address(addr, create):
    """'adding address 192.0.2.10/32 to v0' / 'removing address ... from ...'."""
    return ("adding address %s/%s to %s" if create else "removing address %s/%s from %s") % (
        addr["address"], addr["prefix"], addr["interface"])


# --------------------------------------------------------------------------- the socket

class _Channel:
    """A duplicate of the pyroute2 socket's descriptor: the same kernel socket, read and written here.

    pyroute2 only touches its socket inside its own calls, and every answer to a request made
    here is read here, so the two never see each other's messages. Closing the duplicate leaves
    pyroute2's socket open. Answers of other requests (another sequence number) are skipped.
    The timeout keeps the descriptor non-blocking, as pyroute2's asyncio transport needs it;
    a system call interrupted by a signal (EINTR) is retried by Python itself (PEP 475).
    """

    _next_seq = 0x56495000  # any start; unique within the process

    def __init__(self, ipr, doing):
        self.sock = socket.socket(fileno=os.dup(ipr.fileno()))
        self.sock.settimeout(ANSWER_TIMEOUT)
        self.doing = doing
        try:
            receive = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        except OSError:
            receive = 0
        self.per_write = max(64, min(REQUESTS_PER_WRITE, receive // ANSWER_COST))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    @classmethod
    def sequence(cls, count):
        """First of ``count`` consecutive fresh sequence numbers."""
        if cls._next_seq + count > 0xffffffff:
            cls._next_seq = 1
        first = cls._next_seq
        cls._next_seq += count
        return first

    def send(self, data):
        """Write ``data`` (one or more messages) in one system call."""
        try:
            self.sock.send(data)
        except OSError as exc:
            raise VipError("%s failed: writing %d bytes to the netlink socket: %s" % (self.doing, len(data), netlink_error_text(exc)))

    def recv(self, wait=None):
        """The next datagram; None when the kernel dropped answers to this socket (ENOBUFS).

        With ``wait``: b"" when nothing came within ``wait`` seconds (draining after ENOBUFS).
        """
        try:
            if wait is not None:
                self.sock.settimeout(wait)
            return self.sock.recv(RECV_SIZE)
        except socket.timeout:
            if wait is not None:
                return b""
            raise VipError("%s failed: no answer from the kernel within %d s" % (self.doing, ANSWER_TIMEOUT))
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                return None
            raise VipError("%s failed: reading the kernel's answer: %s" % (self.doing, netlink_error_text(exc)))
        finally:
            if wait is not None:
                self.sock.settimeout(ANSWER_TIMEOUT)


def dump(ipr, msg_type, payload, doing, parse, *args, empty_on=()):
    """Every non-None ``parse(data, start, end, *args)`` of one rtnetlink dump's messages, in the kernel's order.

    The answer comes in as many parts (datagrams) as the kernel needs, each holding many
    messages, until NLMSG_DONE. An interrupted dump (NLM_F_DUMP_INTR, or answers lost to
    ENOBUFS) is read again, up to DUMP_ATTEMPTS times. VipError saying ``doing`` when the
    kernel refuses the request, except [] for an errno in ``empty_on``.
    """
    reply = msg_type - 2  # rtnetlink: RTM_GETxxx is answered with RTM_NEWxxx messages; others are not parsed
    with _Channel(ipr, doing) as channel:
        for _attempt in range(DUMP_ATTEMPTS):
            seq = channel.sequence(1)
            channel.send(pack_message(msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, payload))
            items, complete, done = [], True, False
            while not done:
                data = channel.recv()
                if data is None:
                    complete = False
                    continue
                offset, size = 0, len(data)
                while offset + HEADER.size <= size:  # the hot loop: no per-message list, as few calls as can be
                    length, kind, flags, mseq, _port = HEADER.unpack_from(data, offset)
                    if length < HEADER.size or offset + length > size:
                        raise VipError("%s failed: malformed answer (message of %d bytes at offset %d of %d)" % (doing, length, offset, size))
                    if mseq == seq:
                        if kind == reply:
                            if flags & NLM_F_DUMP_INTR:
                                complete = False
                            item = parse(data, offset + HEADER.size, offset + length, *args)
                            if item is not None:
                                items.append(item)
                        elif kind == NLMSG_DONE or kind == NLMSG_ERROR:
                            error = error_from(data, offset + HEADER.size, offset + length, flags)
                            if error is not None and error.code in empty_on:
                                return []
                            if error is not None and error.code != errno.EINTR:
                                raise VipError("%s failed: %s" % (doing, netlink_error_text(error)))
                            complete = complete and error is None
                            done = True
                            break
                    offset += (length + 3) & ~3
            if complete:
                return items
    raise VipError("%s failed: the kernel's answer was interrupted %d times in a row (the state kept changing "
                   "while it was read)" % (doing, DUMP_ATTEMPTS))


def send_requests(ipr, requests, describe):
    """Send [(type, flags, payload)] on a pyroute2 socket, REQUESTS_PER_WRITE (or fewer) per write.

    ``describe(i)`` says what request ``i`` does, for the error message. VipError naming every
    request the kernel refused; the others are done. Works on any pyroute2 netlink socket:
    the payloads carry their own family's header.
    """
    if not requests:
        return
    failed = []
    with _Channel(ipr, "sending %d netlink requests" % len(requests)) as channel:
        for first in range(0, len(requests), channel.per_write):
            chunk = requests[first:first + channel.per_write]
            seq = channel.sequence(len(chunk))
            last = seq + len(chunk) - 1
            channel.send(b"".join(HEADER.pack(HEADER.size + len(payload), msg_type, flags | (NLM_F_ACK if number == last else 0),
                                              number, 0) + payload
                                  for number, (msg_type, flags, payload) in enumerate(chunk, seq)))
            lost = answered = False
            while not answered:
                # After ENOBUFS: the kernel handled the whole write before send() returned, so
                # what is left of its answers is queued already; read it without waiting long.
                data = channel.recv(wait=0.5 if lost else None)
                if data is None:
                    lost = True
                    continue
                if not data:
                    break
                for kind, flags, mseq, start, end in split_messages(data):
                    if kind != NLMSG_ERROR or not seq <= mseq <= last:
                        continue
                    error = error_from(data, start, end, flags)
                    if error is not None:
                        failed.append("%s failed: %s" % (describe(first + mseq - seq), netlink_error_text(error)))
                    answered = answered or mseq == last
            if lost:
                failed.append("the kernel's answers to some of %d requests were lost (ENOBUFS: the socket's receive buffer was full), "
                              "so whether those not named here failed is unknown: %s ... %s"
                              % (len(chunk), describe(first), describe(first + len(chunk) - 1)))
    if failed:
        raise VipError("; ".join(failed))


# --------------------------------------------------------------------------- readers

def read_links(ipr):
    """{index: {"name": ..., "mac": ...}} of every link."""
    payload = IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + U32_ATTR.pack(8, IFLA["IFLA_EXT_MASK"], RTEXT_FILTER_SKIP_STATS)
    return dict(dump(ipr, RTM_GETLINK, payload, "reading the interfaces", parse_link))


def link_index(links, name, doing):
    """Index of interface ``name``; VipError saying what was being done when it does not exist."""
    for index, link in links.items():
        if link["name"] == name:
            return index
    raise VipError("%s: interface %r does not exist on this host (interfaces: %s)"
                   % (doing, name, ", ".join(sorted(str(link["name"]) for link in links.values()))))


def read_addresses(ipr, links):
    """Every IPv4/IPv6 address: [{"address", "prefix", "interface", "family", "scope"}]."""
    return dump(ipr, RTM_GETADDR, IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0), "reading the addresses", parse_address, links)


def read_routes(ipr, table, links):
    """Every route of ``table`` (both families, any protocol), one dump filtered by the kernel.

    [] when the table does not exist (yet).
    """
    names = dict((index, link["name"]) for index, link in links.items())
    return dump(ipr, RTM_GETROUTE, route_dump_request(table), "reading routes of table %s" % table, parse_route, table, names,
                empty_on=(errno.ENOENT,))


# --------------------------------------------------------------------------- appliers

def _indexes(links, items, create, describe):
    """Interface index of each item (None without interface); VipError before anything is sent."""
    by_name = dict((link["name"], index) for index, link in links.items())
    result = []
    for item in items:
        name = item.get("interface")
        if name and name not in by_name:
            link_index(links, name, describe(item, create))
        result.append(by_name.get(name) if name else None)
    return result


def apply_routes(ipr, changes, links):
    """One batch: removals first (so a moved route can be re-added), then additions."""
    routes = [(route, False) for route in changes["remove"]] + [(route, True) for route in changes["add"]]
    indexes = (_indexes(links, changes["remove"], False, describe_route) + _indexes(links, changes["add"], True, describe_route))
    send_requests(ipr, [route_request(route, index, create) for (route, create), index in zip(routes, indexes)],
                  lambda i: describe_route(*routes[i]))


def added_route(route):
    """``route`` (a change set's addition) as the kernel lists it once route_request added it."""
    return {"destination": route["destination"], "interface": route["interface"], "gateway": None, "table": route["table"],
            "protocol": route["protocol"], "type": "unicast", "scope": SCOPE_LINK if route["family"] == "ipv4" else 0,
            "family": route["family"]}


def _route_identity(route):
    return (route["destination"], route.get("interface"), route["protocol"], route.get("type"), route.get("scope"), route.get("gateway"))


def routes_after(current, changes):
    """The table's routes once apply_routes(changes) returned (every request was acknowledged), without reading it again.

    ``current``: the routes the change set was decided on. Routes someone else changed in the
    meantime are not seen (a second read_routes would see them).
    """
    gone = set(id(route) for route in changes["remove"])  # plan_routes removes ``current``'s own dicts
    kept = [route for route in current if id(route) not in gone]
    if len(kept) != len(current) - len(gone):  # removals given as copies: compare what makes a route
        gone = set(_route_identity(route) for route in changes["remove"])
        kept = [route for route in current if _route_identity(route) not in gone]
    return kept + [added_route(route) for route in changes["add"]]


def apply_addresses(ipr, changes, links):
    """One batch: removals, then additions."""
    addrs = [(addr, False) for addr in changes["remove"]] + [(addr, True) for addr in changes["add"]]
    requests = [address_request(addr, link_index(links, addr["interface"], describe_address(addr, create)), create)
                for addr, create in addrs]
    send_requests(ipr, requests, lambda i: describe_address(*addrs[i]))


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

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rtnetlink messages of links, addresses and routes: parsed into plain dicts, built from them.

The wire side of netstate (see its docstring for why the messages are packed and parsed with
``struct`` rather than as pyroute2 message objects): pyroute2 names the protocol (message types
and flags, the fixed headers' field layouts, attribute numbers); ``parse_*`` and ``route_messages``
turn the kernel's answers into the plain dicts netstate's readers return, ``*_request(s)`` turn
changes into messages, and ``*_text`` / ``describe_*`` name them as iproute2 would. No I/O here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
from operator import itemgetter
import struct
import sys

from ansible_collections.baremetal.vip.plugins.module_utils.netlink import ATTR, U32, asciiz, attributes, pack_attr

try:
    from pyroute2.netlink import NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_MULTI, NLM_F_REQUEST
    from pyroute2.netlink.rtnl import RTM_DELADDR, RTM_DELROUTE, RTM_NEWADDR, RTM_NEWROUTE
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg

    # Wire layouts from pyroute2's field lists (native byte order, as the kernel's structs).
    RTMSG = struct.Struct("=" + "".join(kind for _name, kind in rtmsg.fields))      # 12 bytes
    IFADDRMSG = struct.Struct("=" + "".join(kind for _name, kind in ifaddrmsg.fields))  # 8 bytes
    IFINFOMSG = struct.Struct("=" + "".join(kind for _name, kind in ifinfmsg.fields))   # 16 bytes
    # Attribute numbers: position in pyroute2's attribute maps.
    RTA = dict((entry[0], number) for number, entry in enumerate(rtmsg.nla_map))
    IFA = dict((entry[0], number) for number, entry in enumerate(ifaddrmsg.nla_map))
    IFLA = dict((entry[0], number) for number, entry in enumerate(ifinfmsg.nla_map))
    RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = (RTA[name] for name in ("RTA_DST", "RTA_OIF", "RTA_GATEWAY", "RTA_TABLE"))
    RTA_SRC, RTA_PRIORITY, RTA_PREFSRC, RTA_MULTIPATH, RTA_VIA = (
        RTA[name] for name in ("RTA_SRC", "RTA_PRIORITY", "RTA_PREFSRC", "RTA_MULTIPATH", "RTA_VIA"))
    _unpack_rtmsg = RTMSG.unpack_from
except ImportError:
    pass  # deps.require() reports the missing library before any of these is used
from ansible_collections.baremetal.vip.plugins.module_utils.errors import VipError

AF_BY_FAMILY = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
FAMILY_BY_AF = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}
ROUTE_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole",
               7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
ROUTE_TYPE_NUMBERS = dict((name, number) for number, name in ROUTE_TYPES.items())
ADDRESS_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host"}
SCOPE_LINK = 253
IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
RTA_NH_ID = 30  # linux/rtnetlink.h (a route on a nexthop object); beyond pyroute2's attribute map
RTNEXTHOP = struct.Struct("=HBBi")  # struct rtnexthop: length, flags, hops (weight - 1), ifindex
IFF_LOOPBACK, IFF_NOARP = 0x8, 0x80  # linux/if.h
ARPHRD_ETHER = 1  # linux/if_arp.h
ETH_P_ARP = 0x0806
RT_TABLE_COMPAT = 252
RTEXT_FILTER_SKIP_STATS = 1 << 3  # linux/rtnetlink.h: links dumped without their counters
NLM_F_DUMP_FILTERED = 0x20  # linux/netlink.h: the kernel applied the dump's filter
U32_ATTR = struct.Struct("=HHI")
_unpack_attr, _unpack_u32, _ntop, _pton = ATTR.unpack_from, U32.unpack_from, socket.inet_ntop, socket.inet_pton
_AF_INET, _AF_INET6 = socket.AF_INET, socket.AF_INET6


# --------------------------------------------------------------------------- messages

def link_index(links, name, doing):
    """Index of interface ``name``; VipError saying what was being done when it does not exist."""
    for index, link in links.items():
        if link["name"] == name:
            return index
    raise VipError("%s: interface %r does not exist on this host (interfaces: %s)"
                   % (doing, name, ", ".join(sorted(str(link["name"]) for link in links.values()))))


def parse_link(data, start, end):
    """(index, {"name", "mac", "type", "flags"}) of one RTM_NEWLINK payload (``type``: ARPHRD_*, ``flags``: IFF_*)."""
    _family, kind, index, flags, _change = IFINFOMSG.unpack_from(data, start)
    attrs = attributes(data, start + IFINFOMSG.size, end)
    name = attrs.get(IFLA["IFLA_IFNAME"])
    mac = attrs.get(IFLA["IFLA_ADDRESS"])
    return index, {"name": asciiz(data, name) if name else None,
                   "mac": ":".join("%02x" % byte for byte in bytearray(data[mac[0]:mac[1]])) if mac else None,
                   "type": kind, "flags": flags}


def parse_address(data, start, end, links):
    """The address dict of one RTM_NEWADDR payload (None for families other than IPv4/IPv6).

    ``peer``: the other end of a point-to-point address (IFA_ADDRESS when it differs from
    IFA_LOCAL), else None; the kernel knows the address by both. ``secondary``: IFA_F_SECONDARY.
    """
    family, prefix, flags, scope, index = IFADDRMSG.unpack_from(data, start)
    name = FAMILY_BY_AF.get(family)
    if name is None:
        return None
    attrs = attributes(data, start + IFADDRMSG.size, end)
    local, remote = attrs.get(IFA["IFA_LOCAL"]), attrs.get(IFA["IFA_ADDRESS"])
    span = local or remote
    if span is None:
        return None
    address = socket.inet_ntop(family, data[span[0]:span[1]])
    peer = socket.inet_ntop(family, data[remote[0]:remote[1]]) if local and remote else None
    return {
        "address": address,
        "prefix": prefix,
        "interface": links.get(index, {}).get("name", str(index)),
        "family": name,
        "scope": ADDRESS_SCOPES.get(scope, scope),
        "peer": peer if peer != address else None,
        "secondary": bool(flags & IFA_F_SECONDARY),
    }


def _nexthops(data, start, end, family, names):
    """The next hops of an RTA_MULTIPATH value: [{"gateway", "interface", "weight"}] in the kernel's order."""
    hops = []
    while start + RTNEXTHOP.size <= end:
        length, _flags, weight, index = RTNEXTHOP.unpack_from(data, start)
        if length < RTNEXTHOP.size:
            break
        gateway = None
        for kind, (first, last) in attributes(data, start + RTNEXTHOP.size, min(start + length, end)).items():
            if kind == RTA_GATEWAY:
                gateway = _ntop(family, data[first:last])
            elif kind == RTA_VIA and last - first > 2:
                via = struct.unpack_from("=H", data, first)[0]
                gateway = _ntop(via, data[first + 2:last])
        hops.append({"gateway": gateway, "interface": names.get(index), "weight": weight + 1})
        start += (length + 3) & ~3
    return hops


def parse_route(data, start, end, table, names):
    """The route dict of one RTM_NEWROUTE payload; None unless it is an IPv4/IPv6 route of ``table`` (None: any table).

    ``names``: {interface index: name}. Read: what makes the route one route for the kernel
    (RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_MULTIPATH, RTA_PRIORITY, and the rarer RTA_SRC, tos,
    RTA_PREFSRC, RTA_NH_ID, kept in the dict only when set: ``from``, ``tos``, ``prefsrc``,
    ``nhid``), with the unpackers bound to module names. read_routes decodes most answers with
    route_messages instead, and this only those route_messages does not recognize.
    """
    family, dst_len, src_len, tos, in_table, proto, scope, rtype, _flags = _unpack_rtmsg(data, start)
    if family == _AF_INET:
        name, default = "ipv4", "0.0.0.0"
    elif family == _AF_INET6:
        name, default = "ipv6", "::"
    else:
        return None
    dst = oif = gateway = hops = prefsrc = src = nhid = None
    metric = 0
    offset = start + 12  # RTMSG.size
    while offset < end:
        length, kind = _unpack_attr(data, offset)
        if kind == RTA_DST:
            dst = _ntop(family, data[offset + 4:offset + length])
        elif kind == RTA_OIF:
            oif = _unpack_u32(data, offset + 4)[0]
        elif kind == RTA_TABLE:
            in_table = _unpack_u32(data, offset + 4)[0]
        elif kind == RTA_GATEWAY:
            gateway = _ntop(family, data[offset + 4:offset + length])
        elif kind == RTA_PRIORITY:
            metric = _unpack_u32(data, offset + 4)[0]
        elif kind == RTA_MULTIPATH:
            hops = (offset + 4, offset + length)
        elif kind == RTA_PREFSRC:
            prefsrc = _ntop(family, data[offset + 4:offset + length])
        elif kind == RTA_SRC:
            src = _ntop(family, data[offset + 4:offset + length])
        elif kind == RTA_NH_ID:
            nhid = _unpack_u32(data, offset + 4)[0]
        offset += (length + 3) & ~3 or end  # a zero length (malformed) ends the loop
    if table is not None and in_table != table:
        return None
    route = {"destination": "%s/%d" % (dst or default, dst_len), "interface": names.get(oif), "gateway": gateway,
             "nexthops": _nexthops(data, hops[0], hops[1], family, names) if hops else None, "metric": metric,
             "table": in_table, "protocol": proto, "type": ROUTE_TYPES.get(rtype, rtype), "scope": scope, "family": name}
    if src_len or src:
        route["from"] = "%s/%d" % (src or default, src_len)
    if tos:
        route["tos"] = tos
    if prefsrc:
        route["prefsrc"] = prefsrc
    if nhid:
        route["nhid"] = nhid
    return route


class _RouteLayout:
    """One layout of the kernel's RTM_NEWROUTE dump answers: nlmsghdr, rtmsg, then ``attrs`` in this order, each
    (type, value length, value format with its padding: one field).

    ``unpack``: every field of one message (nlmsghdr's five, rtmsg's nine, then header and value of
    each attribute: ``fields[14::2]`` are the attribute headers, length and type read as one native
    u32; RTA_TABLE comes first, field 15), for checking one message. ``extract``: only what a route
    dict needs (rtm_dst_len, protocol, scope, type, RTA_DST, RTA_PRIORITY if the layout has it, RTA_OIF), the rest skipped as padding,
    for ``unpack_from`` / ``iter_unpack``. ``_mask`` / ``_template``: the bytes a message of the
    layout must have (length, type, flags but NLM_F_DUMP_FILTERED, sequence number, family,
    attribute headers, RTA_TABLE's value, rtm_src_len and rtm_tos 0), for checking a whole run at once (``run_matches``).
    """

    __slots__ = ("length", "unpack", "accepted", "headers", "family", "name", "extract", "low", "_mask", "_masks", "_template",
                 "_table_at", "_expected")

    def __init__(self, family, name, *attrs):
        layout = struct.Struct("=IHHIIBBBBBBBBI" + "".join("I" + kind for _number, _length, kind in attrs))
        self.length, self.unpack, self.family, self.name = layout.size, layout.unpack_from, family, name
        self.headers = tuple(U32.unpack(ATTR.pack(4 + length, number))[0] for number, length, _kind in attrs)
        self.accepted = frozenset((layout.size, RTM_NEWROUTE, flags) for flags in (NLM_F_MULTI, NLM_F_MULTI | NLM_F_DUMP_FILTERED))
        self.low = bytes((layout.size & 0xff,))
        # one message of the layout with sequence number and RTA_TABLE's value 0 (``_record`` fills them in), and
        # the mask of the bytes checked
        extract = ["=16xxBxxxBBB4x"]
        template = [struct.pack("=IHHII", layout.size, RTM_NEWROUTE, NLM_F_MULTI, 0, 0), RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)]
        # rtmsg: family, and rtm_src_len and rtm_tos 0 (a source-specific or tos route is decoded by parse_route)
        mask = [b"\xff" * 6, struct.pack("=H", 0xffff & ~NLM_F_DUMP_FILTERED), b"\xff" * 4, b"\0" * 4, b"\xff\0\xff\xff", b"\0" * 8]
        for number, length, kind in attrs:
            size = struct.calcsize("=" + kind)
            if number == RTA_TABLE:
                self._table_at = len(b"".join(template)) + 4
            extract.append("4x" + (kind if number in (RTA_DST, RTA_OIF, RTA_PRIORITY) else "%dx" % size))
            template.append(ATTR.pack(4 + length, number) + b"\0" * size)
            mask.append(b"\xff" * 4 + (b"\xff" * 4 if number == RTA_TABLE else b"\0" * size))
        self.extract = struct.Struct("".join(extract))
        self._template, self._mask = b"".join(template), b"".join(mask)
        self._masks, self._expected = {}, {}

    def _record(self, seq, table):
        """The template with sequence number ``seq`` and RTA_TABLE ``table``."""
        record = bytearray(self._template)
        U32.pack_into(record, 8, seq)
        U32.pack_into(record, self._table_at, table)
        return bytes(record)

    def run_matches(self, data, start, count, seq, table):
        """Whether each of the ``count`` messages from ``start`` has this layout, NLM_F_MULTI (and perhaps
        NLM_F_DUMP_FILTERED) and no other flag, sequence number ``seq`` and RTA_TABLE ``table``: one masked
        comparison of the run as one integer."""
        mask = self._masks.get(count)
        if mask is None:
            if len(self._masks) > 64:  # a long-lived process: keep the cache small
                self._masks.clear()
            mask = self._masks[count] = int.from_bytes(self._mask * count, "little")
        key = (count, seq, table)
        expected = self._expected.get(key)
        if expected is None:
            if len(self._expected) > 16:
                self._expected.clear()
            expected = self._expected[key] = int.from_bytes(self._record(seq, table) * count, "little") & mask
        return int.from_bytes(data[start:start + count * self.length], "little") & mask == expected


try:
    # The kernel's answers for a gateway-less route (kube-vip's), as captured from kernel 6.18 (tests). IPv4:
    # RTA_TABLE, RTA_DST, RTA_OIF (52 bytes); IPv6: RTA_TABLE, RTA_DST, RTA_PRIORITY, RTA_OIF, RTA_CACHEINFO
    # (32 bytes), RTA_PREF (1 byte) (116 bytes). Keyed by the low byte of the length.
    _ROUTE_LAYOUTS = dict((layout.length & 0xff, layout) for layout in (
        _RouteLayout(socket.AF_INET, "ipv4", (RTA_TABLE, 4, "I"), (RTA_DST, 4, "4s"), (RTA_OIF, 4, "I")),
        _RouteLayout(socket.AF_INET6, "ipv6", (RTA_TABLE, 4, "I"), (RTA_DST, 16, "16s"), (RTA["RTA_PRIORITY"], 4, "I"),
                     (RTA_OIF, 4, "I"), (RTA["RTA_CACHEINFO"], 32, "I28x"), (RTA["RTA_PREF"], 1, "B3x"))))
    _MULTI_FLAGS = bytes((NLM_F_MULTI, NLM_F_MULTI | NLM_F_DUMP_FILTERED))  # the flags' low byte a dump answer may have
except NameError:
    _ROUTE_LAYOUTS, _MULTI_FLAGS = {}, b""  # no pyroute2: deps.require() says so before anything here is used
_LOW_BYTE = 0 if sys.byteorder == "little" else 3  # of a native u32
_PREFIX_TEXT = tuple("/%d" % length for length in range(256))  # "/32" for rtm_dst_len 32 (one byte)
_RUN_MIN = 8  # messages: shorter runs are decoded one by one


def _route_dicts(layout, extracted, table, names):
    """The route dicts of ``layout.extract``'s tuples (rtm_dst_len, protocol, scope, type, RTA_DST, [RTA_PRIORITY,] RTA_OIF)."""
    family, name, ntop, prefix_text, types, get = layout.family, layout.name, _ntop, _PREFIX_TEXT, ROUTE_TYPES, names.get
    if family == _AF_INET:  # no RTA_PRIORITY: metric 0
        return [{"destination": ntop(family, dst) + prefix_text[dst_len], "interface": get(oif), "gateway": None, "nexthops": None,
                 "metric": 0, "table": table, "protocol": proto, "type": types.get(rtype, rtype), "scope": scope, "family": name}
                for dst_len, proto, scope, rtype, dst, oif in extracted]
    return [{"destination": ntop(family, dst) + prefix_text[dst_len], "interface": get(oif), "gateway": None, "nexthops": None,
             "metric": metric, "table": table, "protocol": proto, "type": types.get(rtype, rtype), "scope": scope, "family": name}
            for dst_len, proto, scope, rtype, dst, metric, oif in extracted]


def route_messages(data, offset, size, seq, items, table, names):
    """Channel.dump's ``fast`` for read_routes: the route dicts (those of ``table``) of the answers from ``offset``
    on that have exactly a layout of ``_ROUTE_LAYOUTS`` (header, size, attribute headers; no NLM_F_DUMP_INTR),
    appended to ``items``; returns the offset of the first other message.

    A run of messages of one layout (the kernel packs some 280 of kube-vip's IPv6 routes into
    one part of a dump) is checked as a whole (``_RouteLayout.run_matches``) and decoded with one
    ``iter_unpack``; a run that does not pass, and short runs, message by message, each with one
    ``unpack_from``. Exactly what parse_route makes of the same payloads
    (tests/unit/module_utils/test_netstate.py).
    """
    layouts = _ROUTE_LAYOUTS
    low = _LOW_BYTE
    runs = True
    while offset + 16 <= size:
        layout = layouts.get(data[offset + low])
        if layout is None:
            return offset
        length = layout.length
        count = (size - offset) // length
        if runs and count >= _RUN_MIN:
            # the run: as far as the length's low byte and the flags' low byte say (one strided slice each)
            end = offset + count * length
            count -= max(len(data[offset + low:end:length].lstrip(layout.low)), len(data[offset + 6 + low // 3:end:length].lstrip(_MULTI_FLAGS)))
            if count >= _RUN_MIN:
                if layout.run_matches(data, offset, count, seq, table):
                    end = offset + count * length
                    with memoryview(data) as view:
                        items.extend(_route_dicts(layout, layout.extract.iter_unpack(view[offset:end]), table, names))
                    offset = end
                    continue
                runs = False  # something else in the run: message by message for the rest of this call
        end = offset + length
        if end > size:
            return offset
        fields = layout.unpack(data, offset)
        if (fields[3] != seq or fields[:3] not in layout.accepted or fields[14::2] != layout.headers or fields[5] != layout.family
                or fields[7] or fields[8]):  # rtm_src_len, rtm_tos
            return offset
        if fields[15] == table:
            items.extend(_route_dicts(layout, (layout.extract.unpack_from(data, offset),), table, names))
        offset = end
    return offset


def route_dump_request(table, family=socket.AF_UNSPEC):
    """RTM_GETROUTE payload: ``family`` (default both), only ``table`` (kernel-side filter under strict checking; None:
    every table)."""
    if table is None:
        return RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
    return (RTMSG.pack(family, 0, 0, 0, table if table < 256 else RT_TABLE_COMPAT, 0, 0, 0, 0)
            + U32_ATTR.pack(8, RTA_TABLE, table))


def _pack_hops(route, family, by_name):
    """RTA_MULTIPATH of ``route["nexthops"]``: one struct rtnexthop (weight, interface) and RTA_GATEWAY per hop."""
    packed = []
    for hop in route["nexthops"]:
        gateway = pack_attr(RTA_GATEWAY, _pton(family, hop["gateway"])) if hop.get("gateway") else b""
        index = by_name.get(hop.get("interface"), 0) if hop.get("interface") else 0
        packed.append(RTNEXTHOP.pack(RTNEXTHOP.size + len(gateway), 0, max(hop.get("weight", 1), 1) - 1, index) + gateway)
    return pack_attr(RTA_MULTIPATH, b"".join(packed))


def _route_parts(route, index, create, by_name=None):
    """(type, flags, payload before the destination's address, payload after it) of route_request.

    Adding: kube-vip's shape (``PrepareRoute``, pkg/vip/address.go of kube-vip v1.2.2): unicast,
    scope universe, the interface, no gateway. Removing: every field the kernel matches a
    deletion on, as read: type, scope, protocol, tos, the source prefix (``from``), the metric,
    the preferred source, and the next hops: a nexthop object (``nhid``), the multipath hops
    (interface and gateway each), or the interface and gateway -- for IPv6 the gateway :: when
    there is none, which the kernel matches only against a route without one (otherwise a
    deletion naming only the interface takes the first route on it, a gateway route included).
    """
    family = AF_BY_FAMILY[route["family"]]
    table = route["table"]
    src = src_len = None
    tos = 0
    if create:
        rtype, scope = 1, 0
        msg_type, flags = RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL
    else:
        rtype = route.get("type", "unicast")
        rtype, scope = ROUTE_TYPE_NUMBERS.get(rtype, rtype), route.get("scope", 0)
        msg_type, flags = RTM_DELROUTE, NLM_F_REQUEST
        tos = route.get("tos", 0)
        if route.get("from"):
            src, _sep, src_len = route["from"].partition("/")
    head = (RTMSG.pack(family, int(route["destination"].partition("/")[2]), int(src_len or 0), tos,
                       table if table < 256 else RT_TABLE_COMPAT, route["protocol"], scope, rtype, 0)
            + ATTR.pack(8 if family == _AF_INET else 20, RTA_DST))
    tail = U32_ATTR.pack(8, RTA_TABLE, table)
    if create:
        return msg_type, flags, head, tail + (U32_ATTR.pack(8, RTA_OIF, index) if index is not None else b"")
    if src:
        tail += pack_attr(RTA_SRC, _pton(family, src))
    if route.get("metric"):
        tail += U32_ATTR.pack(8, RTA_PRIORITY, route["metric"])
    if route.get("prefsrc"):
        tail += pack_attr(RTA_PREFSRC, _pton(family, route["prefsrc"]))
    if route.get("nhid"):
        return msg_type, flags, head, tail + U32_ATTR.pack(8, RTA_NH_ID, route["nhid"])
    if route.get("nexthops"):
        return msg_type, flags, head, tail + _pack_hops(route, family, by_name or {})
    if index is not None:
        tail += U32_ATTR.pack(8, RTA_OIF, index)
    gateway = route.get("gateway")
    if gateway or (index is not None and family == _AF_INET6):
        tail += pack_attr(RTA_GATEWAY, _pton(family, gateway or "::"))
    return msg_type, flags, head, tail


_ADDED_KIND = itemgetter("family", "table", "protocol", "interface")
_REMOVED_KIND = itemgetter("family", "table", "protocol", "interface", "type", "scope", "metric", "gateway")
_PLAIN_ROUTE = 10  # keys of a route as read without nexthops, from, tos, prefsrc or nhid (those are packed one by one)


def route_requests(routes, create, links):
    """[route_request(route, index of its interface, create) for route in ``routes``], every one added (``create``)
    or every one removed: the parts of a payload around the destination's address packed once per kind of route
    (prefix length, family, table, protocol, interface, and for removals type, scope, metric and gateway), then one
    ``inet_pton`` and one concatenation per route; a removal with next hops or the rarer fields is packed whole.
    ``links``: read_links' answer; VipError, before anything is sent, naming the route whose interface does not exist."""
    kind_of = _ADDED_KIND if create else _REMOVED_KIND
    by_name = dict((link["name"], index) for index, link in links.items())
    parts_of = {}
    result = []
    append = result.append
    for route in routes:
        address, _sep, prefix = route["destination"].partition("/")
        if not create and (len(route) != _PLAIN_ROUTE or route.get("nexthops")):
            name = route.get("interface")
            for hop_name in [name] + [hop.get("interface") for hop in route.get("nexthops") or ()]:
                if hop_name and hop_name not in by_name:
                    link_index(links, hop_name, describe_route(route, create))
            parts = _route_parts(route, by_name[name] if name else None, create, by_name)
            append((parts[0], parts[1], parts[2] + _pton(AF_BY_FAMILY[route["family"]], address) + parts[3]))
            continue
        try:
            key = (prefix, kind_of(route))
        except KeyError:  # a change set written by hand: the defaults of _route_parts
            key = (prefix, (route["family"], route["table"], route["protocol"], route.get("interface"), route.get("type", "unicast"),
                            route.get("scope", 0), route.get("metric", 0), route.get("gateway")))
        parts = parts_of.get(key)
        if parts is None:
            name = route.get("interface")
            if name and name not in by_name:
                link_index(links, name, describe_route(route, create))
            parts = parts_of[key] = _route_parts(route, by_name[name] if name else None, create) + (AF_BY_FAMILY[route["family"]],)
        append((parts[0], parts[1], parts[2] + _pton(parts[4], address) + parts[3]))
    return result


def route_request(route, index, create, links=None):
    """(type, flags, payload) of RTM_NEWROUTE / RTM_DELROUTE for ``route`` on interface ``index`` (or None):
    rtmsg, RTA_DST, RTA_TABLE and (with an interface) RTA_OIF, and for a removal what else identifies the route
    (``_route_parts``; ``links``: read_links' answer, for the interfaces of next hops).

    Adding: kube-vip's shape (unicast, scope universe). Removing: the exact route as read.
    """
    by_name = dict((link["name"], number) for number, link in (links or {}).items())
    msg_type, flags, head, tail = _route_parts(route, index, create, by_name)
    return msg_type, flags, head + _pton(AF_BY_FAMILY[route["family"]], route["destination"].partition("/")[0]) + tail


def restore_request(route, links):
    """(type, flags, payload) of RTM_NEWROUTE putting back ``route`` as it was read: a route without gateway or
    next hops on its interface (kube-vip's shape, whatever its scope, metric and preferred source)."""
    family = AF_BY_FAMILY[route["family"]]
    table = route["table"]
    payload = (RTMSG.pack(family, int(route["destination"].partition("/")[2]), 0, route.get("tos", 0),
                          table if table < 256 else RT_TABLE_COMPAT, route["protocol"], route.get("scope", 0),
                          ROUTE_TYPE_NUMBERS.get(route.get("type", "unicast"), 1), 0)
               + pack_attr(RTA_DST, _pton(family, route["destination"].partition("/")[0])) + U32_ATTR.pack(8, RTA_TABLE, table)
               + U32_ATTR.pack(8, RTA_OIF, link_index(links, route["interface"], describe_route(route, True))))
    if route.get("metric"):
        payload += U32_ATTR.pack(8, RTA_PRIORITY, route["metric"])
    if route.get("prefsrc"):
        payload += pack_attr(RTA_PREFSRC, _pton(family, route["prefsrc"]))
    return RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND, payload


def address_request(addr, index, create):
    """(type, flags, payload) of RTM_NEWADDR (IPv6 without DAD, as kube-vip) / RTM_DELADDR.

    IFA_LOCAL is the address, IFA_ADDRESS its peer (a point-to-point address) or the address
    again: the kernel deletes an IPv4 address only when both are the ones it holds.
    """
    family = AF_BY_FAMILY[addr["family"]]
    packed = socket.inet_pton(family, addr["address"])
    peer = socket.inet_pton(family, addr["peer"]) if addr.get("peer") else packed
    payload = (IFADDRMSG.pack(family, addr["prefix"], IFA_F_NODAD if create and family == socket.AF_INET6 else 0, 0, index)
               + pack_attr(IFA["IFA_LOCAL"], packed) + pack_attr(IFA["IFA_ADDRESS"], peer))
    if create:
        return RTM_NEWADDR, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, payload
    return RTM_DELADDR, NLM_F_REQUEST, payload


DEFAULT_METRIC = {"ipv4": 0, "ipv6": 1024}


def route_text(route):
    """'198.51.100.7/32 dev v0', '... via 192.0.2.1 dev v0', '... nexthop via fe80::a dev v0 nexthop ...', with what
    else sets the route apart (type, source prefix, tos, a metric other than the family's default, preferred source)."""
    words = [route["destination"]]
    if route.get("type", "unicast") != "unicast":
        words.insert(0, str(route["type"]))
    if route.get("from"):
        words.append("from %s" % route["from"])
    if route.get("tos"):
        words.append("tos %s" % route["tos"])
    if route.get("nhid"):
        words.append("nhid %s" % route["nhid"])
    for hop in route.get("nexthops") or ():
        words.append("nexthop" + (" via %s" % hop["gateway"] if hop.get("gateway") else "") + " dev %s" % hop.get("interface"))
    if route.get("gateway"):
        words.append("via %s" % route["gateway"])
    if route.get("interface") or not (route.get("nexthops") or route.get("type", "unicast") != "unicast"):
        words.append("dev %s" % route.get("interface"))
    if route.get("metric", DEFAULT_METRIC.get(route.get("family"))) != DEFAULT_METRIC.get(route.get("family")):
        words.append("metric %s" % route["metric"])
    if route.get("prefsrc"):
        words.append("src %s" % route["prefsrc"])
    return " ".join(words)


def describe_route(route, create):
    """'adding route 198.51.100.7/32 dev v0 to table 198 (protocol 248)' / 'removing route ... from ...'."""
    verb = "adding route %s to table %s (protocol %s)" if create else "removing route %s from table %s (protocol %s)"
    return verb % (route_text(route), route["table"], route["protocol"])


def describe_address(addr, create):
    """'adding address 192.0.2.10/32 to v0' / 'removing address ... from ...' ('192.0.2.10 peer 192.0.2.11/32' for a peer)."""
    return ("adding address %s to %s" if create else "removing address %s from %s") % (address_text(addr), addr["interface"])


def address_text(addr):
    """'192.0.2.10/32', or '198.51.100.5 peer 198.51.100.6/32' (as iproute2 writes a point-to-point address)."""
    if addr.get("peer"):
        return "%s peer %s/%s" % (addr["address"], addr["peer"], addr["prefix"])
    return "%s/%s" % (addr["address"], addr["prefix"])

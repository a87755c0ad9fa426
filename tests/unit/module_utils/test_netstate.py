"""Readers and writers of netlink messages (netstate, rtnl_messages) that need no kernel (and one read-only dump of this machine's links);
the option checks, deps and announcements are in test_host_options.py."""
import errno
import fcntl
import ipaddress
import os
import socket
import struct
import threading

import pyroute2
import pytest
from pyroute2.netlink import NLM_F_DUMP_FILTERED, nlmsgerr

from ansible_collections.baremetal.vip.plugins.module_utils import netlink, netstate, rtnl_messages
from ansible_collections.baremetal.vip.plugins.module_utils.reconcile import VipError


# One RTM_GETROUTE dump of table 198, as this kernel (6.18) answered it in a test namespace (v0 = index 3):
# 192.0.2.128/25 via 192.0.2.1 proto static, 198.51.100.7/32 dev v0 proto 248 scope link,
# blackhole 203.0.113.9/32 proto 248, 2001:db8::7/128 dev v0 proto 248 -- then NLMSG_DONE.
CAPTURED_SEQ = 0x56495001
CAPTURED_DUMP = [bytes.fromhex(
    "3c0000001800220001504956fa78000002190000c60400010000000008000f00c600000008000100c000028008000500c00002010800040003000000"
    "340000001800220001504956fa78000002200000c6f8fd010000000008000f00c600000008000100c633640708000400030000002c00000018002200"
    "01504956fa78000002200000c6f800060000000008000f00c600000008000100cb007109740000001800220001504956fa7800000a800000c6f80001"
    "0000000008000f00c60000001400010020010db80000000000000000000000070800060000040000080004000300000024000c000000000000000000"
    "0000000000000000000000000000000000000000000000000500140000000000"),
    bytes.fromhex("140000000300220001504956fa78000000000000")]
CAPTURED_ROUTES = [
    {"destination": "192.0.2.128/25", "interface": "v0", "gateway": "192.0.2.1", "nexthops": None, "metric": 0, "table": 198,
     "protocol": 4, "type": "unicast", "scope": 0, "family": "ipv4"},
    {"destination": "198.51.100.7/32", "interface": "v0", "gateway": None, "nexthops": None, "metric": 0, "table": 198, "protocol": 248,
     "type": "unicast", "scope": 253, "family": "ipv4"},
    {"destination": "203.0.113.9/32", "interface": None, "gateway": None, "nexthops": None, "metric": 0, "table": 198, "protocol": 248,
     "type": "blackhole", "scope": 0, "family": "ipv4"},
    {"destination": "2001:db8::7/128", "interface": "v0", "gateway": None, "nexthops": None, "metric": 1024, "table": 198, "protocol": 248,
     "type": "unicast", "scope": 0, "family": "ipv6"},
]
# The kernel's answer to RTM_NEWROUTE 198.51.100.8/32 dev v1 (v1 down), with the extended ack text.
CAPTURED_ERROR = bytes.fromhex(
    "6c0000000200000201504956f97a00009cffffff3400000018000506015049560000000002200000c6f8fd010000000008000100c633640808000f00"
    "c600000008000400020000002100010044657669636520666f72206e657874686f70206973206e6f7420757000000000")
NAMES = {1: "lo", 2: "v1", 3: "v0"}
# A second dump of table 198 (kernel 6.18, v0 = index 3, all proto 248): 198.51.100.10/32 dev v0;
# 198.51.100.11/32 dev v0 metric 7 (RTA_PRIORITY); 2001:db8::10/128 dev v0; 2001:db8::11/128 via 2001:db8::1
# dev v0 onlink (RTA_GATEWAY); 2001:db8::12/128 dev v0 mtu 1400 (RTA_METRICS); 2001:db8::13/128 dev v0 pref high.
CAPTURED_LAYOUTS = [bytes.fromhex(
    "340000001800220001504956b265000002200000c6f8fd010000000008000f00c600000008000100c633640a08000400030000003c00000018002200"
    "01504956b265000002200000c6f8fd010000000008000f00c600000008000100c633640b080006000700000008000400030000007400000018002200"
    "01504956b26500000a800000c6f800010000000008000f00c60000001400010020010db8000000000000000000000010080006000004000008000400"
    "0300000024000c0000000000000000000000000000000000000000000000000000000000000000000500140000000000880000001800220001504956"
    "b26500000a800000c6f800010400000008000f00c60000001400010020010db800000000000000000000001108000600000400001400050020010db8"
    "000000000000000000000001080004000300000024000c00000000000000000000000000000000000000000000000000000000000000000005001400"
    "00000000800000001800220001504956b26500000a800000c6f800010000000008000f00c60000001400010020010db8000000000000000000000012"
    "0c00080008000200780500000800060000040000080004000300000024000c0000000000000000000000000000000000000000000000000000000000"
    "000000000500140000000000740000001800220001504956b26500000a800000c6f800010000000008000f00c60000001400010020010db800000000"
    "00000000000000130800060000040000080004000300000024000c000000000000000000000000000000000000000000000000000000000000000000"
    "0500140001000000"),
    bytes.fromhex("140000000300220001504956b265000000000000")]
CAPTURED_LAYOUTS_ROUTES = [
    dict(route, destination=destination, gateway=gateway, scope=253 if "." in destination else 0, family=family, metric=metric)
    for route in [{"interface": "v0", "table": 198, "protocol": 248, "type": "unicast", "nexthops": None}]
    for destination, gateway, family, metric in [("198.51.100.10/32", None, "ipv4", 0), ("198.51.100.11/32", None, "ipv4", 7),
                                                 ("2001:db8::10/128", None, "ipv6", 1024), ("2001:db8::11/128", "2001:db8::1", "ipv6", 1024),
                                                 ("2001:db8::12/128", None, "ipv6", 1024), ("2001:db8::13/128", None, "ipv6", 1024)]]


def test_wire_layouts_are_the_kernels():
    """pyroute2 supplies the layouts and attribute numbers; they must be the kernel's ABI."""
    assert (netlink.HEADER.size, rtnl_messages.RTMSG.size, rtnl_messages.IFADDRMSG.size, rtnl_messages.IFINFOMSG.size) == (16, 12, 8, 16)
    assert (rtnl_messages.RTA_DST, rtnl_messages.RTA_OIF, rtnl_messages.RTA_GATEWAY, rtnl_messages.RTA_TABLE) == (1, 4, 5, 15)
    assert (rtnl_messages.IFA["IFA_ADDRESS"], rtnl_messages.IFA["IFA_LOCAL"]) == (1, 2)
    assert (rtnl_messages.IFLA["IFLA_ADDRESS"], rtnl_messages.IFLA["IFLA_IFNAME"], rtnl_messages.IFLA["IFLA_EXT_MASK"]) == (1, 3, 29)
    assert [entry[0] for entry in nlmsgerr.nla_map].index("NLMSGERR_ATTR_MSG") == netlink.NLMSGERR_ATTR_MSG
    assert (netstate.RTM_GETROUTE, rtnl_messages.RTM_NEWROUTE, rtnl_messages.RTM_DELROUTE) == (26, 24, 25)


def _decode(datagrams, table=198, names=None):
    routes, done = [], False
    for data in datagrams:
        for kind, flags, seq, start, end in netlink.split_messages(data):
            assert seq == CAPTURED_SEQ
            if kind == netlink.NLMSG_DONE:
                done = True
                continue
            assert kind == rtnl_messages.RTM_NEWROUTE and flags & NLM_F_DUMP_FILTERED
            route = rtnl_messages.parse_route(data, start, end, table, NAMES if names is None else names)
            if route is not None:
                routes.append(route)
    return routes, done


def test_decodes_a_captured_route_dump():
    routes, done = _decode(CAPTURED_DUMP)
    assert done and routes == CAPTURED_ROUTES


def test_route_of_another_table_or_unknown_interface():
    assert _decode(CAPTURED_DUMP, table=199)[0] == []  # RTA_TABLE says 198
    assert [r["interface"] for r in _decode(CAPTURED_DUMP, names={})[0]] == [None] * 4


def test_decodes_a_second_captured_dump():
    routes, done = _decode(CAPTURED_LAYOUTS)
    assert done and routes == CAPTURED_LAYOUTS_ROUTES


def _fast_one(data, start, end, table=198, names=None, seq=CAPTURED_SEQ):
    """route_messages on the one message from ``start`` - 16 to ``end``: (offset it returned, routes it made)."""
    items = []
    return rtnl_messages.route_messages(data, start - 16, end, seq, items, table, NAMES if names is None else names), items


@pytest.mark.parametrize("datagram, decoded_fast", [(CAPTURED_DUMP[0], [1, 3]), (CAPTURED_LAYOUTS[0], [0, 2, 5])])
def test_route_messages_decode_exactly_what_parse_route_does(datagram, decoded_fast):
    """The one-unpack decoder takes the kernel's gateway-less IPv4/IPv6 answers and nothing else (gateway, metric,
    mtu, blackhole: parse_route's), and makes of them what parse_route makes, for any table and interface names."""
    fast = []
    for number, (_kind, _flags, _seq, start, end) in enumerate(netlink.split_messages(datagram)):
        for table, names in ((198, NAMES), (199, NAMES), (198, {})):
            offset, items = _fast_one(datagram, start, end, table, names)
            if offset == start - 16:  # not recognized: left to the loop and parse_route
                assert items == []
                continue
            assert offset == end
            route = rtnl_messages.parse_route(datagram, start, end, table, names)
            assert items == ([] if route is None else [route])
            assert (table == 198) == bool(items)
            fast.append(number)
    assert sorted(set(fast)) == decoded_fast
    # over the whole datagram: the messages up to the first it does not recognize
    starts = [start - 16 for _kind, _flags, _seq, start, _end in netlink.split_messages(datagram)]
    first_other = min(set(range(len(starts))) - set(decoded_fast))
    assert rtnl_messages.route_messages(datagram, 0, len(datagram), CAPTURED_SEQ, [], 198, NAMES) == starts[first_other]


def _changed(datagram, offset, fmt, value):
    out = bytearray(datagram)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


V4_FAST, V6_FAST = CAPTURED_LAYOUTS[0][:52], CAPTURED_LAYOUTS[0][112:228]  # 198.51.100.10/32, 2001:db8::10/128


@pytest.mark.parametrize("message", [
    _changed(V4_FAST, 46, "=H", rtnl_messages.RTA["RTA_IIF"]),            # RTA_OIF's header says RTA_IIF: same size
    _changed(V6_FAST, 66, "=H", rtnl_messages.RTA["RTA_IIF"]),            # the same in the IPv6 layout (RTA_OIF at 64)
    _changed(V6_FAST, 74, "=H", rtnl_messages.RTA["RTA_SESSION"]),        # RTA_CACHEINFO's type
    _changed(V6_FAST, 72, "=H", 32),                                 # RTA_CACHEINFO's length
    _changed(V4_FAST, 16, "=B", socket.AF_INET6),                    # family
    _changed(V4_FAST, 4, "=H", rtnl_messages.RTM_DELROUTE),               # message type
    _changed(V4_FAST, 6, "=H", 0x22 | netlink.NLM_F_DUMP_INTR),      # interrupted dump: the loop marks it
    _changed(V4_FAST, 8, "=I", CAPTURED_SEQ + 1),                    # another request's answer
    _changed(V4_FAST, 0, "=I", 52 + 256),                            # length: same low byte, another size
], ids=["v4-oif-type", "v6-oif-type", "v6-cacheinfo-type", "v6-cacheinfo-length", "family", "type", "dump-intr", "seq", "length"])
def test_route_messages_leave_other_layouts_to_the_loop(message):
    """A message that differs from a known layout anywhere the decoder relies on is not decoded by it."""
    assert rtnl_messages.route_messages(message, 0, len(message), CAPTURED_SEQ, [], 198, NAMES) == 0


def test_route_messages_stop_at_a_truncated_message():
    assert rtnl_messages.route_messages(V4_FAST + V6_FAST, 0, 52 + 100, CAPTURED_SEQ, [], 198, NAMES) == 52
    assert rtnl_messages.route_messages(V4_FAST, 0, 8, CAPTURED_SEQ, [], 198, NAMES) == 0


def _varied(message, rng):
    """``message`` (V4_FAST or V6_FAST) with what a route dict takes from it changed: address, prefix length, protocol,
    scope, type, interface (fields a run does not check)."""
    out = bytearray(message)
    v6 = len(message) == 116
    out[17] = rng.choice([128, 127, 64]) if v6 else rng.choice([32, 31, 24])   # rtm_dst_len
    out[21], out[22], out[23] = rng.choice([248, 4, 99]), rng.choice([0, 253]), rng.choice([1, 6, 11])  # proto, scope, type
    out[40:56 if v6 else 44] = os.urandom(16 if v6 else 4)                      # RTA_DST's value
    struct.pack_into("=I", out, 76 if v6 else 48, rng.choice([2, 3, 9]))         # RTA_OIF's value
    return bytes(out)


_BREAKS = [  # (offset in the message, format, value for V4_FAST, value for V6_FAST): each makes the loop take it
    (8, "=I", CAPTURED_SEQ + 1, CAPTURED_SEQ + 1),                        # another request's answer
    (6, "=H", 0x22 | netlink.NLM_F_DUMP_INTR, 0x22 | netlink.NLM_F_DUMP_INTR),  # interrupted dump
    (4, "=H", rtnl_messages.RTM_DELROUTE, rtnl_messages.RTM_DELROUTE),              # message type
    (46, "=H", rtnl_messages.RTA["RTA_IIF"], rtnl_messages.RTA["RTA_IIF"]),         # an attribute's type (v6: RTA_PRIORITY's)
    (32, "=I", 199, 199),                                                 # RTA_TABLE: another table (decoded, then dropped)
    (16, "=B", socket.AF_INET6, socket.AF_INET),                          # family
]


@pytest.mark.parametrize("seed", range(40))
def test_route_messages_runs_decode_what_one_by_one_does(seed):
    """Runs of one layout are checked and decoded as a whole; whatever is in them (the fields a route takes, a
    message that breaks the layout anywhere, another table, the other layout) the result, and the offset where the
    loop must take over, are those of decoding the same messages one at a time."""
    import random  # pylint: disable=import-outside-toplevel
    rng = random.Random(seed)
    messages = []
    for _run in range(rng.randint(1, 4)):
        base = rng.choice([V4_FAST, V6_FAST])
        messages.extend(_varied(base, rng) for _number in range(rng.choice([1, rtnl_messages._RUN_MIN - 1, rtnl_messages._RUN_MIN, 40, 300])))
    for _break in range(rng.choice([0, 0, 1, 3])):
        where = rng.randrange(len(messages))
        offset, fmt, v4, v6 = rng.choice(_BREAKS)
        messages[where] = _changed(messages[where], offset, fmt, v6 if len(messages[where]) == 116 else v4)
    datagram = b"".join(messages) + (CAPTURED_LAYOUTS[1] if rng.random() < 0.5 else b"")
    expected, stop = [], None
    offset = 0
    for message in messages:  # one by one: each message alone is too short to be a run
        if rtnl_messages.route_messages(message, 0, len(message), CAPTURED_SEQ, expected, 198, NAMES) != len(message):
            stop = offset
            break
        offset += len(message)
    items = []
    assert rtnl_messages.route_messages(bytearray(datagram), 0, len(datagram), CAPTURED_SEQ, items, 198, NAMES) == (
        offset if stop is None else stop)
    assert items == expected
    assert len(items) <= len(messages)


def test_a_changed_attribute_is_read_as_parse_route_reads_it(scripted):
    """Through the dump: RTA_OIF turned into RTA_IIF gives no interface (a mis-decoding fast path would say v0)."""
    changed = _changed(CAPTURED_LAYOUTS[0], 46, "=H", rtnl_messages.RTA["RTA_IIF"])
    kernel = scripted(lambda header, _request: [_reseq(changed, header[2]), _reseq(CAPTURED_LAYOUTS[1], header[2])])
    routes = netstate.read_routes(kernel, 198, LINKS)
    assert routes == [dict(CAPTURED_LAYOUTS_ROUTES[0], interface=None)] + CAPTURED_LAYOUTS_ROUTES[1:]


def test_route_dump_request_filters_by_table():
    request = rtnl_messages.route_dump_request(198)
    assert rtnl_messages.RTMSG.unpack_from(request) == (socket.AF_UNSPEC, 0, 0, 0, 198, 0, 0, 0, 0)
    assert request[12:] == struct.pack("=HHI", 8, 15, 198)
    large = rtnl_messages.route_dump_request(1000)  # beyond a byte: RT_TABLE_COMPAT in the header, the id in RTA_TABLE
    assert large[4] == 252 and large[12:] == struct.pack("=HHI", 8, 15, 1000)


@pytest.mark.parametrize("route", [
    {"destination": "198.51.100.7/32", "interface": "v0", "table": 198, "protocol": 248, "type": "unicast", "family": "ipv4"},
    {"destination": "2001:db8::7/128", "interface": "v0", "table": 198, "protocol": 248, "type": "unicast", "family": "ipv6"},
    {"destination": "198.51.100.9/32", "interface": "v1", "table": 70000, "protocol": 4, "type": "unicast", "family": "ipv4"},
])
def test_added_route_encodes_and_decodes(route):
    msg_type, flags, payload = rtnl_messages.route_request(route, 3 if route["interface"] == "v0" else 2, create=True)
    assert msg_type == rtnl_messages.RTM_NEWROUTE
    assert flags == rtnl_messages.NLM_F_REQUEST | rtnl_messages.NLM_F_CREATE | rtnl_messages.NLM_F_EXCL  # the ack is the batch's business
    data = netlink.pack_message(msg_type, flags, 7, payload)
    [(kind, _flags, seq, start, end)] = netlink.split_messages(data)
    assert (kind, seq, end) == (msg_type, 7, len(data))
    decoded = rtnl_messages.parse_route(data, start, end, route["table"], NAMES)
    # kube-vip's shape (PrepareRoute, pkg/vip/address.go, kube-vip v1.2.2): unicast, scope universe, no gateway, no metric
    assert decoded == dict(route, gateway=None, nexthops=None, metric=0, scope=0)


def test_removed_route_is_the_exact_route_read():
    for route in CAPTURED_ROUTES:
        index = 3 if route["interface"] else None
        msg_type, flags, payload = rtnl_messages.route_request(route, index, create=False)
        assert msg_type == rtnl_messages.RTM_DELROUTE and flags == rtnl_messages.NLM_F_REQUEST
        data = netlink.pack_message(msg_type, flags, 1, payload)
        decoded = rtnl_messages.parse_route(data, 16, len(data), 198, NAMES)
        # type, scope, metric and gateway as read; an IPv6 route without gateway is named with the gateway ::, which the
        # kernel matches only against a route without one
        assert decoded == dict(route, gateway="::" if route["family"] == "ipv6" else route["gateway"])


def test_route_requests_are_route_request_for_each():
    """The batch packs the parts around the address once per kind of route: routes that differ in any one field
    of that kind must still each get their own request."""
    base = CAPTURED_ROUTES[1]
    variants = [base, dict(base, destination="198.51.100.8/32"), dict(base, type="blackhole"), dict(base, scope=0),
                dict(base, table=199), dict(base, table=70000), dict(base, protocol=4), dict(base, destination="198.51.100.0/24"),
                CAPTURED_ROUTES[3], dict(CAPTURED_ROUTES[3], destination="2001:db8::8/128"), dict(base, type=11)]
    links = {3: {"name": "v0"}, 2: {"name": "v1"}}
    items = [(dict(route, interface=name), index, create) for create in (False, True)
             for route in variants for name, index in (("v0", 3), ("v1", 2), (None, None))]
    requests = (rtnl_messages.route_requests([route for route, _index, create in items if not create], False, links)
                + rtnl_messages.route_requests([route for route, _index, create in items if create], True, links))
    assert requests == [rtnl_messages.route_request(*item) for item in items]
    assert len(set(requests)) == len(requests) - 3 * 3  # alike only where adding ignores type and scope (3 variants, 3 indexes)
    # a change set written by hand (no type, scope, interface) gets _route_parts' defaults
    bare = dict((key, base[key]) for key in ("destination", "table", "protocol", "family"))
    assert rtnl_messages.route_requests([bare], False, links) == [rtnl_messages.route_request(dict(bare, type="unicast", scope=0), None, False)]
    with pytest.raises(VipError, match="removing route 198.51.100.7/32 dev eth9 from table 198 .protocol 248.: interface 'eth9' does not exist"):
        rtnl_messages.route_requests([base, dict(base, interface="eth9")], False, links)
    for (route, _index, create), (_type, _flags, payload) in zip(items, requests):
        decoded = rtnl_messages.parse_route(payload, 0, len(payload), route["table"], {})
        assert decoded["destination"] == route["destination"] and decoded["table"] == route["table"]
        if not create:
            assert (decoded["type"], decoded["scope"], decoded["protocol"]) == (route["type"], route["scope"], route["protocol"])


def test_routes_after_a_batch_are_what_the_kernel_would_list():
    route = {"destination": "2001:db8::8/128", "interface": "v0", "table": 198, "protocol": 248, "type": "unicast", "family": "ipv6"}
    _type, _flags, payload = rtnl_messages.route_request(route, 3, create=True)
    # the kernel gives an IPv6 route without RTA_PRIORITY the metric 1024
    assert netstate.added_route(route) == dict(rtnl_messages.parse_route(payload, 0, len(payload), 198, NAMES), metric=1024)
    after = netstate.routes_after(CAPTURED_ROUTES, {"remove": [dict(CAPTURED_ROUTES[1])], "add": [route]})
    assert after == [CAPTURED_ROUTES[0], CAPTURED_ROUTES[2], CAPTURED_ROUTES[3], netstate.added_route(route)]


def test_address_request_encodes_and_decodes():
    addr = {"address": "2001:db8:5::10", "prefix": 128, "interface": "v0", "family": "ipv6"}
    msg_type, flags, payload = rtnl_messages.address_request(addr, 3, create=True)
    assert msg_type == rtnl_messages.RTM_NEWADDR and payload[2] == rtnl_messages.IFA_F_NODAD
    assert rtnl_messages.parse_address(payload, 0, len(payload), {3: {"name": "v0"}}) == dict(addr, scope="global", peer=None, secondary=False)
    msg_type, flags, payload = rtnl_messages.address_request(dict(addr, address="192.0.2.10", prefix=32, family="ipv4"), 3, create=False)
    assert msg_type == rtnl_messages.RTM_DELADDR and payload[2] == 0
    assert rtnl_messages.parse_address(payload, 0, len(payload), {})["interface"] == "3"


def test_parse_link():
    payload = (rtnl_messages.IFINFOMSG.pack(0, 1, 3, 0, 0) + netlink.pack_attr(3, b"v0\0")
               + netlink.pack_attr(1, bytes.fromhex("020000000001")))
    assert rtnl_messages.parse_link(payload, 0, len(payload)) == (3, {"name": "v0", "mac": "02:00:00:00:00:01", "type": 1, "flags": 0})
    bare = rtnl_messages.IFINFOMSG.pack(0, 1, 4, 0x8, 0) + netlink.pack_attr(3, b"tun0\0")
    assert rtnl_messages.parse_link(bare, 0, len(bare)) == (4, {"name": "tun0", "mac": None, "type": 1, "flags": 0x8})


def test_error_answer_carries_the_kernels_reason():
    [(kind, flags, seq, start, end)] = netlink.split_messages(CAPTURED_ERROR)
    assert kind == netlink.NLMSG_ERROR and seq == CAPTURED_SEQ
    code, text = netlink.error_answer(CAPTURED_ERROR, start, end, flags)
    assert (code, text) == (errno.ENETDOWN, "Device for nexthop is not up")
    assert netlink.errno_text(code, text) == "Network is down: Device for nexthop is not up (errno 100)"
    ack = struct.pack("=i", 0) + CAPTURED_ERROR[20:36]
    assert netlink.error_answer(ack, 0, len(ack), 0) == (0, None)


class ScriptedKernel:
    """The far end of a datagram socket pair, answering each request with ``answer(header, request)``.

    Stands in for the kernel where a real one cannot be made to misbehave (an interrupted dump)
    or to answer many failures at once; the kernel tests cover the real thing.
    """

    def __init__(self, answer):
        self.ours, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.answer = answer
        self.requests = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            data = self.theirs.recv(1 << 20)
            if not data:
                return
            for kind, flags, seq, start, end in netlink.split_messages(data):
                self.requests.append((kind, flags, seq, data[start:end]))
                for reply in self.answer((kind, flags, seq), data[start:end]):
                    self.theirs.send(reply)

    def fileno(self):
        """The descriptor netstate duplicates, as it does a pyroute2 socket's."""
        return self.ours.fileno()

    def close(self):
        self.ours.send(b"")
        self.ours.close()
        self.thread.join(5)
        self.theirs.close()


@pytest.fixture
def scripted(monkeypatch):
    """scripted(answer) -> a ScriptedKernel, closed after the test; a test that goes wrong fails in seconds."""
    monkeypatch.setattr(netlink, "ANSWER_TIMEOUT", 5)
    kernels = []

    def start(answer):
        kernels.append(ScriptedKernel(answer))
        return kernels[-1]
    yield start
    for kernel in kernels:
        kernel.close()


def _reseq(datagram, seq):
    """A captured answer with another sequence number (the requester's)."""
    out = bytearray(datagram)
    for _kind, _flags, _seq, start, _end in netlink.split_messages(datagram):
        struct.pack_into("=I", out, start - 8, seq)
    return bytes(out)


def _flagged(datagram, flag):
    out = bytearray(datagram)
    for _kind, flags, _seq, start, _end in netlink.split_messages(datagram):
        struct.pack_into("=H", out, start - 10, flags | flag)
    return bytes(out)


LINKS = dict((index, {"name": name}) for index, name in NAMES.items())


def test_dump_reads_every_part_and_skips_other_answers(scripted):
    def answer(header, _request):
        stale = _reseq(CAPTURED_DUMP[0], header[2] - 1)  # an answer to some earlier request: skipped
        noop = netlink.pack_message(1, 0, header[2], b"")  # NLMSG_NOOP: not a route, not parsed as one
        return [stale, noop] + [_reseq(part, header[2]) for part in CAPTURED_DUMP]
    kernel = scripted(answer)
    assert netstate.read_routes(kernel, 198, LINKS) == CAPTURED_ROUTES
    [(kind, flags, _seq, request)] = kernel.requests
    assert kind == netstate.RTM_GETROUTE and flags == rtnl_messages.NLM_F_REQUEST | netlink.NLM_F_DUMP
    assert request == rtnl_messages.route_dump_request(198)


def test_dump_decodes_both_ways_alike(scripted):
    """read_routes (one-unpack decoder where it applies, parse_route for the rest) gives what parse_route alone gives."""
    kernel = scripted(lambda header, _request: [_reseq(part, header[2]) for part in CAPTURED_LAYOUTS])
    assert netstate.read_routes(kernel, 198, LINKS) == CAPTURED_LAYOUTS_ROUTES == _decode(CAPTURED_LAYOUTS)[0]
    assert netstate.read_routes(kernel, 199, LINKS) == []


def test_interrupted_dump_is_read_again(scripted):
    def answer(header, _request):
        parts = [_reseq(part, header[2]) for part in CAPTURED_DUMP]
        if len(kernel.requests) == 1:  # the first answer says the table changed while it was dumped
            parts[0] = _flagged(parts[0], netlink.NLM_F_DUMP_INTR)
        return parts
    kernel = scripted(answer)
    assert netstate.read_routes(kernel, 198, LINKS) == CAPTURED_ROUTES
    assert len(kernel.requests) == 2


def test_dump_that_never_settles_fails_clearly(scripted):
    kernel = scripted(lambda header, _request: [_flagged(_reseq(part, header[2]), netlink.NLM_F_DUMP_INTR) for part in CAPTURED_DUMP])
    with pytest.raises(VipError, match="reading routes of table 198 failed: the kernel's answer was interrupted 5 times"):
        netstate.read_routes(kernel, 198, {})
    assert len(kernel.requests) == netlink.DUMP_ATTEMPTS


def _error_answer(header, request, code):
    """NLMSG_ERROR (capped: the request's header only) for a request."""
    return netlink.pack_message(netlink.NLMSG_ERROR, netlink.NLM_F_CAPPED, header[2], struct.pack("=i", -code)
                                + struct.pack("=IHHII", 16 + len(request), header[0], header[1], header[2], 0))


def test_dump_errors(scripted):
    kernel = scripted(lambda header, request: [_error_answer(header, request, errno.ENOENT)])
    assert netstate.read_routes(kernel, 4242, {}) == []  # no such table (yet)
    kernel = scripted(lambda header, request: [_error_answer(header, request, errno.EINVAL)])
    with pytest.raises(VipError, match=r"reading the addresses failed: Invalid argument \(errno 22\)"):
        netstate.read_addresses(kernel, {})


def test_batch_asks_one_ack_per_write_and_names_every_failure(scripted, monkeypatch):
    """3,000 removals in writes of 1,024: failures anywhere are named; only each write's last message is acked."""
    monkeypatch.setattr(netlink, "ANSWER_COST", 1)  # the socket pair's buffer is small; the writes stay 1,024
    routes = [{"destination": "2001:db8:1::%x/128" % i, "interface": "v0", "table": 198, "protocol": 248, "type": "unicast",
               "scope": 0, "family": "ipv6"} for i in range(1, 3001)]
    failing = {5, 1024, 1025, 3000}

    def answer(header, request):
        number = int(ipaddress.ip_network(rtnl_messages.parse_route(request, 0, len(request), 198, {})["destination"])[0]) & 0xffff
        if number in failing:
            return [_error_answer(header, request, errno.ESRCH)]
        return [_error_answer(header, request, 0)] if header[1] & netlink.NLM_F_ACK else []

    kernel = scripted(answer)
    with pytest.raises(VipError) as caught:
        netstate.apply_routes(kernel, {"remove": routes, "add": []}, {3: {"name": "v0"}})
    assert str(caught.value) == "; ".join(
        "removing route 2001:db8:1::%x/128 dev v0 from table 198 (protocol 248) failed: No such process (errno 3)" % i
        for i in sorted(failing))
    acked = [index for index, request in enumerate(kernel.requests) if request[1] & netlink.NLM_F_ACK]
    assert acked == [1023, 2047, 2999]
    assert all(request[0] == rtnl_messages.RTM_DELROUTE for request in kernel.requests) and len(kernel.requests) == 3000


def test_batch_without_its_acknowledgement_fails_and_keeps_the_refusals_read(scripted, monkeypatch):
    """The kernel refuses one request and the write's acknowledgement never comes: both are said, nothing hangs."""
    monkeypatch.setattr(netlink, "ANSWER_TIMEOUT", 0.5)
    routes = [{"destination": "2001:db8:1::%x/128" % i, "interface": "v0", "table": 198, "protocol": 248, "type": "unicast",
               "scope": 0, "family": "ipv6"} for i in range(1, 4)]
    kernel = scripted(lambda header, request: [_error_answer(header, request, errno.ESRCH)] if header[2] == kernel.first else [])
    kernel.first = netlink.Channel.sequence(0)
    with pytest.raises(VipError) as caught:
        netstate.apply_routes(kernel, {"remove": routes, "add": []}, {3: {"name": "v0"}})
    assert str(caught.value) == ("removing route 2001:db8:1::1/128 dev v0 from table 198 (protocol 248) failed: No such process (errno 3); "
                                 "sending 3 netlink requests failed: no answer from the kernel within 0.5 s")


def test_batch_refuses_unknown_interface_before_sending(scripted):
    kernel = scripted(lambda header, request: [])
    route = {"destination": "198.51.100.7/32", "interface": "eth9", "table": 198, "protocol": 248, "type": "unicast", "family": "ipv4"}
    with pytest.raises(VipError, match=r"adding route 198.51.100.7/32 dev eth9 to table 198 \(protocol 248\): interface 'eth9' does not exist"):
        netstate.apply_routes(kernel, {"remove": [], "add": [route]}, {3: {"name": "v0"}})
    assert kernel.requests == []


def test_a_borrowed_pyroute2_socket_keeps_its_mode_and_works_after():
    """read_links on a plain pyroute2 IPRoute: a blocking duplicate for the call, then the socket as pyroute2 left it."""
    ipr = pyroute2.IPRoute()
    try:
        before = fcntl.fcntl(ipr.fileno(), fcntl.F_GETFL)
        links = netstate.read_links(ipr)
        assert fcntl.fcntl(ipr.fileno(), fcntl.F_GETFL) == before and before & os.O_NONBLOCK
        assert sorted(link["name"] for link in links.values()) == sorted(link.get_attr("IFLA_IFNAME") for link in ipr.get_links())
    finally:
        ipr.close()
    with netstate.open_iproute() as channel:  # the run's channel: blocking, one per run
        assert not fcntl.fcntl(channel.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK
        assert netstate.read_links(channel) == netstate.read_links(channel)


def test_link_index_names_what_was_done():
    with pytest.raises(VipError, match=r"adding route 198.51.100.7/32: interface 'eth9' does not exist on this host \(interfaces: eth0, lo\)"):
        rtnl_messages.link_index({1: {"name": "lo"}, 2: {"name": "eth0"}}, "eth9", "adding route 198.51.100.7/32")


@pytest.mark.parametrize("route", [
    # an IPv6 multipath route: RTA_MULTIPATH with each hop's interface and gateway
    {"destination": "2001:db8::7/128", "interface": None, "gateway": None, "metric": 1024, "table": 198, "protocol": 248,
     "type": "unicast", "scope": 0, "family": "ipv6",
     "nexthops": [{"gateway": "fe80::a", "interface": "v0", "weight": 1}, {"gateway": "fe80::b", "interface": "v1", "weight": 3}]},
    # an IPv4 one without gateways, scope link
    {"destination": "198.51.100.7/32", "interface": None, "gateway": None, "metric": 0, "table": 198, "protocol": 248,
     "type": "unicast", "scope": 253, "family": "ipv4",
     "nexthops": [{"gateway": None, "interface": "v0", "weight": 1}, {"gateway": None, "interface": "v1", "weight": 1}]},
    # the rarer fields: a source prefix, a preferred source, tos, a metric
    {"destination": "2001:db8::8/128", "interface": "v0", "gateway": "fe80::1", "nexthops": None, "metric": 5, "table": 70000,
     "protocol": 248, "type": "unicast", "scope": 0, "family": "ipv6", "from": "2001:db8:1::/64", "prefsrc": "2001:db8::1"},
    {"destination": "198.51.100.8/32", "interface": "v0", "gateway": None, "nexthops": None, "metric": 7, "table": 198,
     "protocol": 248, "type": "unicast", "scope": 0, "family": "ipv4", "tos": 16, "prefsrc": "192.0.2.11"},
    {"destination": "198.51.100.9/32", "interface": None, "gateway": None, "nexthops": None, "metric": 0, "table": 198,
     "protocol": 248, "type": "unicast", "scope": 0, "family": "ipv4", "nhid": 12},
])
def test_a_removal_names_every_field_the_kernel_matches_on(route):
    """What the kernel reads back from a removal request is the route as it was read (next hops, metric, source prefix,
    tos, preferred source, nexthop object), whether packed alone or in a batch."""
    links = {3: {"name": "v0"}, 2: {"name": "v1"}}
    [request] = rtnl_messages.route_requests([route], False, links)
    assert request == rtnl_messages.route_request(route, 3 if route["interface"] else None, False, links)
    msg_type, _flags, payload = request
    assert msg_type == rtnl_messages.RTM_DELROUTE
    names = {3: "v0", 2: "v1"}
    decoded = rtnl_messages.parse_route(payload, 0, len(payload), route["table"], names)
    assert decoded == route


def test_an_ipv6_removal_without_gateway_names_the_gateway_none():
    """The kernel matches an IPv6 deletion that names only the interface against a gateway route on it too (and deletes
    a whole multipath route): the gateway :: makes it match only a route without one; IPv4 gets no RTA_GATEWAY."""
    for route, gateway in ((CAPTURED_ROUTES[3], "::"), (CAPTURED_ROUTES[1], None)):
        [(_type, _flags, payload)] = rtnl_messages.route_requests([route], False, {3: {"name": "v0"}})
        assert rtnl_messages.parse_route(payload, 0, len(payload), 198, NAMES)["gateway"] == gateway


def test_point_to_point_address_is_removed_with_its_peer():
    addr = {"address": "198.51.100.5", "peer": "198.51.100.6", "prefix": 32, "interface": "v0", "family": "ipv4"}
    _type, _flags, payload = rtnl_messages.address_request(addr, 3, create=False)
    attrs = netlink.attributes(payload, rtnl_messages.IFADDRMSG.size, len(payload))
    local, peer = attrs[rtnl_messages.IFA["IFA_LOCAL"]], attrs[rtnl_messages.IFA["IFA_ADDRESS"]]
    assert socket.inet_ntoa(payload[local[0]:local[1]]) == "198.51.100.5" and socket.inet_ntoa(payload[peer[0]:peer[1]]) == "198.51.100.6"
    assert rtnl_messages.parse_address(payload, 0, len(payload), {3: {"name": "v0"}}) == dict(addr, scope="global", secondary=False)
    assert rtnl_messages.describe_address(addr, False) == "removing address 198.51.100.5 peer 198.51.100.6/32 from v0"

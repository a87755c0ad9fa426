# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel state of links, addresses and routes: readers (netlink -> plain dicts) and appliers.

pyroute2 opens the NETLINK_ROUTE socket (``open_iproute``: strict checking, extended acks) and
names the protocol: message types and flags, the field layouts of the fixed headers
(``rtmsg``, ``ifaddrmsg``, ``ifinfmsg``), attribute numbers. The messages themselves are built
and parsed with ``struct`` (in ``rtnl_messages``) and sent and read by ``netlink.Channel`` (one duplicate of that
socket for the module run), not as pyroute2 message objects. That is the hot path of
vip_routes: pyroute2 decodes every attribute of every message into Python objects and its
synchronous API turns an asyncio loop once per message: pruning 25,000 of 50,000 routes took
46 s where ``ip -batch`` took 0.23 s (docs/benchmarks.md, before this change). Here a message
costs a few ``struct`` calls, and only the attributes the plain dicts need are read; the
kernel's answers for gateway-less routes (kube-vip's) come in runs of one layout, each run
checked as a whole and decoded with one ``iter_unpack`` (``route_messages``), and a route
request is one concatenation around the packed address (``route_requests``).

Readers: one dump per call, filtered by the kernel where it can be (routes: one table, by
RTA_TABLE in the request; the socket's NETLINK_GET_STRICT_CHK makes the kernel honour it).
Appliers: one batch per change set (``netlink.Channel.send_requests``: one acknowledgement per
write, every refusal named with the kernel's reason).

Every function that takes ``ipr`` accepts what ``open_iproute`` returns, or any netlink socket
with ``fileno()`` (a pyroute2 IPRoute), which it then drives through a duplicate for the call.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import socket
import struct

from ansible_collections.baremetal.vip.plugins.module_utils import netlink
from ansible_collections.baremetal.vip.plugins.module_utils.deps import pyroute2
from ansible_collections.baremetal.vip.plugins.module_utils.errors import VipError
from ansible_collections.baremetal.vip.plugins.module_utils.netlink import netlink_error_text
from ansible_collections.baremetal.vip.plugins.module_utils.reconcile import family_of
from ansible_collections.baremetal.vip.plugins.module_utils.rtnl_messages import (
    ARPHRD_ETHER, DEFAULT_METRIC, ETH_P_ARP, IFF_LOOPBACK, IFF_NOARP, RTEXT_FILTER_SKIP_STATS, U32_ATTR,
    address_request, describe_address, describe_route, link_index, parse_address, parse_link, parse_route, restore_request, route_dump_request,
    route_messages, route_requests, route_text)

try:
    from pyroute2.config import AF_NETLINK
    from pyroute2.netlink import NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, NETLINK_ROUTE, SOL_NETLINK
    from pyroute2.netlink.rtnl import RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE
    from ansible_collections.baremetal.vip.plugins.module_utils.rtnl_messages import IFADDRMSG, IFINFOMSG, IFLA
except ImportError:
    pass  # deps.require() reports the missing library before any of these is used


# pyroute2's socket buffers (its NetlinkSocket's sndbuf and rcvbuf defaults; the kernel caps them at
# net.core.wmem_max / rmem_max, doubled): writes of requests are sized to the receive buffer got.
SOCKET_BUFFER = 1048576


def open_iproute():
    """The run's rtnetlink channel: a netlink.Channel on a NETLINK_ROUTE socket with strict checking (the
    kernel honours dump filters) and extended acks; closing it (``with``) closes both.

    The socket is made as pyroute2's NetlinkSocket makes it (``pyroute2.netns.create_socket``, then its
    buffer sizes and options), without pyroute2's IPRoute around it: the Channel never used its API, its
    asyncio loop or its message classes, and importing ``pyroute2.iproute`` (with asyncio, the IPRoute
    API and its mock engine) cost every module run about 40 ms (docs/benchmarks.md, seventh pass).
    """
    sock = pyroute2.netns.create_socket(family=AF_NETLINK, socket_type=socket.SOCK_DGRAM, proto=NETLINK_ROUTE)
    try:
        for level, option, value in ((socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER),
                                     (socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER),
                                     (SOL_NETLINK, NETLINK_EXT_ACK, 1), (SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)):
            sock.setsockopt(level, option, value)
        return netlink.Channel(sock, owns=True)
    except Exception:
        sock.close()
        raise


# --------------------------------------------------------------------------- readers

def read_links(ipr):
    """{index: {"name": ..., "mac": ...}} of every link."""
    payload = IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + U32_ATTR.pack(8, IFLA["IFLA_EXT_MASK"], RTEXT_FILTER_SKIP_STATS)
    with netlink.borrowed(ipr) as channel:
        return dict(channel.dump(RTM_GETLINK, payload, "reading the interfaces", parse_link))


def read_addresses(ipr, links):
    """Every IPv4/IPv6 address: [{"address", "prefix", "interface", "family", "scope"}]."""
    with netlink.borrowed(ipr) as channel:
        return channel.dump(RTM_GETADDR, IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0), "reading the addresses", parse_address, links)


def read_routes(ipr, table, links):
    """Every route of ``table`` (both families, any protocol), one dump filtered by the kernel.

    [] when the table does not exist (yet).
    """
    names = dict((index, link["name"]) for index, link in links.items())
    with netlink.borrowed(ipr) as channel:
        return channel.dump(RTM_GETROUTE, route_dump_request(table), "reading routes of table %s" % table, parse_route, table, names,
                            empty_on=(errno.ENOENT,), fast=route_messages)


def read_ipv4_routes(ipr, links):
    """Every IPv4 route of every table (one dump; ``table`` in each dict says which)."""
    names = dict((index, link["name"]) for index, link in links.items())
    with netlink.borrowed(ipr) as channel:
        return channel.dump(RTM_GETROUTE, route_dump_request(None, socket.AF_INET), "reading the IPv4 routes of every table",
                            parse_route, None, names)


# --------------------------------------------------------------------------- appliers

def route_identity(route):
    """What makes a route one route for the kernel, as a hashable key (a plan's route against a later read)."""
    hops = route.get("nexthops")
    family = route["family"]
    return (route["destination"], family, route.get("interface"), route.get("gateway"),
            tuple((hop.get("gateway"), hop.get("interface"), hop.get("weight", 1)) for hop in hops) if hops else None,
            route.get("metric", DEFAULT_METRIC[family]), route["table"], route["protocol"], route.get("type", "unicast"),
            route.get("scope", 0), route.get("from"), route.get("tos", 0), route.get("prefsrc"), route.get("nhid"))


def crowded_destinations(current, removals):
    """Destinations of ``removals`` that have more than one route in ``current``: there the kernel may take a
    deletion for another of them (an IPv4 multipath route whose first hop is a route's only hop, routes that
    differ only in their metrics), so the table is read back and checked. One pass when every destination is
    alone (kube-vip's tables)."""
    if not removals:
        return set()
    destinations = [route["destination"] for route in current]
    if len(set(destinations)) == len(destinations):
        return set()
    wanted = set(route["destination"] for route in removals)
    seen, crowded = set(), set()
    for destination in destinations:
        if destination in wanted:
            (crowded if destination in seen else seen).add(destination)
    return crowded


def _restorable(route):
    """Whether restore_request can put ``route`` back as it was (no gateway, next hops, source prefix)."""
    return route.get("interface") and not (route.get("gateway") or route.get("nexthops") or route.get("nhid") or route.get("from"))


def apply_routes(ipr, changes, links, current=None, table=None):
    """One batch: removals first (so a moved route can be re-added), then additions. Returns what happened:
    {"removed", "added", "restored": routes done, "failed": what was not done and why (text) or None,
    "routes": the table after}.

    ``current``: the table ``table`` the change set was decided on. When every request was
    acknowledged and no removal's destination has another route, the table after is ``current``
    with the changes made (``routes_after``); otherwise it is read back, and the removals and
    additions done are those the table shows. Where the kernel removed another route in place of
    one of the removals (its deletion matched both: it takes the first), that removal is sent
    again and the other route put back, up to three rounds (``restored``).
    """
    removals, additions = changes["remove"], changes["add"]
    requests = route_requests(removals, False, links) + route_requests(additions, True, links)
    result = {"removed": removals, "added": additions, "restored": [], "failed": None,
              "routes": routes_after(current, changes) if current is not None else None}
    if not requests:
        return result
    count = len(removals)
    reasons = {}  # id(route) -> the kernel's last refusal
    crowded = crowded_destinations(current, removals) if current is not None else set()
    with netlink.borrowed(ipr) as channel:
        try:
            channel.send_requests(requests, lambda i: describe_route(removals[i], False) if i < count else describe_route(additions[i - count], True))
        except netlink.BatchError as exc:
            if current is None or table is None:
                raise
            reasons.update((id(removals[i] if i < count else additions[i - count]), reason) for i, reason in exc.failed.items())
        if not (reasons or crowded):
            return result
        after = read_routes(channel, table, links)
        gone = set(id(route) for route in removals)
        kept = [route for route in current if id(route) not in gone and route["destination"] in crowded]
        restored = []
        for _round in range(3):
            have = set(map(route_identity, after))
            again = [route for route in removals if route["destination"] in crowded and route_identity(route) in have]
            lost = [route for route in kept if route_identity(route) not in have]
            back = [route for route in lost if _restorable(route)]
            if not (again or back):
                break
            retry = route_requests(again, False, links) + [restore_request(route, links) for route in back]
            try:
                channel.send_requests(retry, lambda i: describe_route((again + back)[i], i >= len(again)))
            except netlink.BatchError as exc:
                reasons.update((id((again + back)[i]), reason) for i, reason in exc.failed.items())
            restored.extend(back)
            after = read_routes(channel, table, links)
    have = set(map(route_identity, after))
    failed = (["%s failed: %s" % (describe_route(route, False), reasons.get(id(route), "the kernel removed another route in its place"))
               for route in removals if route_identity(route) in have]
              + ["%s failed: %s" % (describe_route(route, True), reasons.get(id(route), "not in the table afterwards"))
                 for route in additions if route_identity(added_route(route)) not in have]
              + ["route %s of table %s (protocol %s) was removed by the kernel in place of another and could not be put back%s"
                 % (route_text(route), table, route["protocol"], ": %s" % reasons[id(route)] if id(route) in reasons else "")
                 for route in kept if route_identity(route) not in have])
    return {"removed": [route for route in removals if route_identity(route) not in have],
            "added": [route for route in additions if route_identity(added_route(route)) in have],
            "restored": [route for route in restored if route_identity(route) in have],
            "failed": "; ".join(failed) or None, "routes": after}


def added_route(route):
    """``route`` (a change set's addition) as the kernel lists it once route_request added it."""
    return {"destination": route["destination"], "interface": route["interface"], "gateway": None, "nexthops": None,
            "metric": DEFAULT_METRIC[route["family"]], "table": route["table"], "protocol": route["protocol"], "type": "unicast",
            "scope": 0, "family": route["family"]}


def routes_after(current, changes):
    """The table's routes once apply_routes(changes) returned (every request was acknowledged), without reading it again.

    ``current``: the routes the change set was decided on. Routes someone else changed in the
    meantime are not seen (a second read_routes would see them).
    """
    gone = set(id(route) for route in changes["remove"])  # plan_routes removes ``current``'s own dicts
    kept = [route for route in current if id(route) not in gone]
    if len(kept) != len(current) - len(gone):  # removals given as copies: compare what makes a route
        gone = set(route_identity(route) for route in changes["remove"])
        kept = [route for route in current if route_identity(route) not in gone]
    return kept + [added_route(route) for route in changes["add"]]


def address_identity(addr):
    """What makes an address one address for the kernel (hashable)."""
    return (addr["address"], addr["prefix"], addr["interface"], addr.get("peer"))


def apply_addresses(ipr, changes, links):
    """One batch: removals (secondary IPv4 addresses before primaries: deleting a primary deletes or promotes its
    secondaries), then additions. Returns {"removed", "added", "failed": the kernel's refusals (text) or None,
    "addresses": the addresses after (read back only when something was refused, else None)}."""
    removals = sorted(changes["remove"], key=lambda addr: not addr.get("secondary"))
    addrs = [(addr, False) for addr in removals] + [(addr, True) for addr in changes["add"]]
    requests = [address_request(addr, link_index(links, addr["interface"], describe_address(addr, create)), create)
                for addr, create in addrs]
    result = {"removed": removals, "added": changes["add"], "failed": None, "addresses": None}
    if requests:
        with netlink.borrowed(ipr) as channel:
            try:
                channel.send_requests(requests, lambda i: describe_address(*addrs[i]))
            except netlink.BatchError as exc:
                reasons = dict((id(addrs[i][0]), reason) for i, reason in exc.failed.items())
                after = read_addresses(channel, links)
                have = set(map(address_identity, after))
                failed = ["%s failed: %s" % (describe_address(addr, create), reasons.get(id(addr), "outcome unknown"))
                          for addr, create in addrs if (address_identity(addr) in have) == (not create)]
                result = {"removed": [addr for addr in removals if address_identity(addr) not in have],
                          "added": [addr for addr in changes["add"] if address_identity(addr) in have],
                          "failed": "; ".join(failed) or None, "addresses": after}
    return result


# --------------------------------------------------------------------------- announcements

def announce_problem(link):
    """Why nothing can be announced on ``link`` (read_links' dict), or None: gratuitous ARP and unsolicited
    neighbour advertisements are Ethernet frames to the segment, which a loopback or NOARP link has not."""
    name, flags = link.get("name"), link.get("flags", 0)
    if flags & IFF_LOOPBACK:
        return "%s is a loopback interface: there is no segment to announce to" % name
    if flags & IFF_NOARP:
        return "%s does not use ARP or neighbour discovery (NOARP)" % name
    if link.get("type", ARPHRD_ETHER) != ARPHRD_ETHER or not link.get("mac"):
        return "%s is not an Ethernet interface (link type %s)" % (name, link.get("type"))
    return None


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

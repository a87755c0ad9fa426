# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of the host modules: (desired, current, owned) -> change set.

Nothing here talks to the kernel. Inputs are the plain dicts the readers in
``netstate.py`` / ``ipvs.py`` return (or a test builds by hand); outputs are plain dicts the
appliers execute. Every function refuses (``VipError``) before anything changes when the
request is unsafe or contradictory.

Shapes:

* address: ``{"address": "192.0.2.10", "prefix": 32, "interface": "eth0", "family": "ipv4"}``
* route: ``{"destination": "198.51.100.7/32", "interface": "eth0", "table": 198,
  "protocol": 248, "type": "unicast", "family": "ipv4"}``
* IPVS service: ``{"address": "192.0.2.10", "port": 6443, "protocol": "tcp",
  "scheduler": "rr", "real_servers": [{"address": ..., "port": ..., "weight": 1,
  "forward_method": "masquerade"}]}`` (``address`` is None for fwmark services).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

from ansible_collections.baremetal.vip.plugins.module_utils.constants import (
    DEFAULT_ROUTE_PROTOCOL, DEFAULT_ROUTE_TABLE, MAX_ROUTE_PROTOCOL, MAX_ROUTE_TABLE, RESERVED_PROTOCOLS, RESERVED_TABLES)
from ansible_collections.baremetal.vip.plugins.module_utils.deps import netaddr
from ansible_collections.baremetal.vip.plugins.module_utils.errors import VipError

_AF_INET, _AF_INET6, _ntop, _pton = socket.AF_INET, socket.AF_INET6, socket.inet_ntop, socket.inet_pton


# --------------------------------------------------------------------------- address math

def family_of(address):
    """'ipv4' or 'ipv6' for a normalized address or CIDR string."""
    return "ipv6" if ":" in address else "ipv4"


def _canonical(address):
    """Canonical text of an IP address, or None when ``socket.inet_pton`` refuses it.

    ``inet_pton`` / ``inet_ntop`` accept exactly what netaddr accepts by default (INET_PTON) and
    print the same text (compressed lower-case IPv6, ``::ffff:192.0.2.1`` for mapped IPv4), at a
    fraction of its cost; what they refuse goes through netaddr, which words the error.
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        return socket.inet_ntop(family, socket.inet_pton(family, address))
    except (OSError, ValueError):
        return None


def normalize_ip(value, what):
    """One IP address as a normalized string (compressed IPv6); VipError naming ``what``."""
    if not isinstance(value, str) or "/" in value:
        raise VipError("%s: %r is not an IP address" % (what, value))
    text = _canonical(value)
    if text is not None:
        return text
    try:
        return str(netaddr.IPAddress(value))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise VipError("%s: %r is not an IP address" % (what, value))


def normalize_host_cidr(value, what):
    """'198.51.100.7' or '198.51.100.7/32' -> '198.51.100.7/32' ('/128' for IPv6)."""
    if not isinstance(value, str):
        raise VipError("%s: %r is not an IP address" % (what, value))
    address, _sep, prefix = value.partition("/")
    address = _canonical(address) or normalize_ip(address, what)
    full = 128 if ":" in address else 32
    if prefix and prefix != str(full):
        raise VipError("%s: %s is not a host route (kube-vip only writes /%d routes for %s)"
                       % (what, value, full, family_of(address)))
    return "%s/%d" % (address, full)


def normalize_host_cidrs(values, what):
    """[normalize_host_cidr(value)] of ``values``; ``what``: the label's format, given the index ('routes[%d].destination').

    One loop without a call per value for text ``inet_pton`` takes with no or the full prefix
    (a value already canonical is kept as it is); anything else goes through normalize_host_cidr.
    """
    result = []
    append = result.append
    for index, value in enumerate(values):
        if value.__class__ is str:
            address, _sep, prefix = value.partition("/")
            family, full = (_AF_INET6, "128") if ":" in address else (_AF_INET, "32")
            if not prefix or prefix == full:
                try:
                    text = _ntop(family, _pton(family, address))
                except (OSError, ValueError):
                    pass
                else:
                    append(value if prefix and text == address else text + "/" + full)
                    continue
        append(normalize_host_cidr(value, what % index))
    return result


def parse_ranges(values, what):
    """CIDRs, single addresses or 'first-last' ranges -> netaddr.IPSet; VipError on bad input."""
    result = netaddr.IPSet()
    for index, value in enumerate(values or []):
        label = "%s[%d]" % (what, index)
        if not isinstance(value, str):
            raise VipError("%s: %r is not an address, CIDR or range" % (label, value))
        try:
            if "-" in value:
                first, last = (normalize_ip(part.strip(), label) for part in value.split("-", 1))
                result.add(netaddr.IPRange(first, last))
            else:
                result.add(netaddr.IPNetwork(value).cidr)
        except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
            raise VipError("%s: %r is not an address, CIDR or range (%s)" % (label, value, exc))
    return result


def in_ranges(address, ranges):
    """Whether the IP ``address`` (no prefix) lies in the IPSet ``ranges``."""
    return netaddr.IPAddress(address) in ranges


# --------------------------------------------------------------------------- routes

def check_route_scope(table, protocol, destructive):
    """Refuse table 0 always, and reserved tables/protocols for anything that removes routes."""
    if not isinstance(table, int) or not 0 < table <= MAX_ROUTE_TABLE:
        raise VipError("routing table %r is not a table id (1 to %d)" % (table, MAX_ROUTE_TABLE))
    if not isinstance(protocol, int) or not 0 <= protocol <= MAX_ROUTE_PROTOCOL:
        raise VipError("route protocol %r is not a protocol number (0 to %d)" % (protocol, MAX_ROUTE_PROTOCOL))
    if destructive and table in RESERVED_TABLES:
        raise VipError("refusing to remove routes from table %d (%s): it is not kube-vip's table; "
                       "kube-vip's default is %d" % (table, RESERVED_TABLES[table], DEFAULT_ROUTE_TABLE))
    if destructive and protocol in RESERVED_PROTOCOLS:
        raise VipError("refusing to remove routes of protocol %d (%s) from table %d: that protocol is "
                       "not kube-vip's; kube-vip's default is %d"
                       % (protocol, RESERVED_PROTOCOLS[protocol], table, DEFAULT_ROUTE_PROTOCOL))


def is_legacy_route(route, table, protocol):
    """A host route in kube-vip's table without kube-vip's protocol (written by old releases)."""
    full = 128 if route["family"] == "ipv6" else 32
    return (route["table"] == table and route["protocol"] != protocol and route.get("type") == "unicast"
            and route["destination"].endswith("/%d" % full))


def _one_interface_each(desired):
    """VipError for the first destination ``desired`` asks for on two interfaces (the same one twice is fine)."""
    asked = {}
    for index, want in enumerate(desired):
        before = asked.setdefault(want["destination"], want["interface"])
        if before != want["interface"]:
            raise VipError("routes[%d]: %s is asked for on %s and on %s; kube-vip routes a VIP through one interface"
                           % (index, want["destination"], before, want["interface"]))


_NOT_ASKED = object()  # what a destination nobody asked for is asked on (never equal to a route's interface)


# Scopes of a VIP's route: universe (kube-vip's: PrepareRoute, pkg/vip/address.go, kube-vip v0.6 to v1.2) and
# link (iproute2's default for a route without gateway, which older setups of this collection wrote).
VIP_ROUTE_SCOPES = (0, 253)


def is_vip_route(route, interface):
    """Whether ``route`` is kube-vip's route to its destination through ``interface``: unicast, on that interface,
    no gateway, no next hops, scope universe or link, and none of the rarer fields (a source prefix, tos, a
    nexthop object) that make it apply to only some traffic. The metric and preferred source do not matter."""
    return (route["interface"] == interface and route.get("type") == "unicast" and route.get("gateway") is None
            and not route.get("nexthops") and route.get("scope", 0) in VIP_ROUTE_SCOPES
            and not ("from" in route or "tos" in route or "nhid" in route))


def plan_routes(desired, current, table, protocol, prune=False, remove_legacy=()):
    """Change set for kube-vip's routing table.

    ``desired``: list of {"destination": host CIDR, "interface": name} (normalized).
    ``current``: every route the kernel has in ``table`` (any protocol), in the kernel's order.
    Returns {"add": [...], "remove": [...], "legacy": [...], "unchanged": [...]}; removals are
    applied first. Only routes of ``table`` AND ``protocol`` are ever removed, plus legacy host
    routes of ``table`` the caller names in ``remove_legacy``.

    A desired destination keeps its first route of ``table`` and ``protocol`` that is kube-vip's
    route through the asked interface (``is_vip_route``: ``unchanged``); every other route of
    that table and protocol to it (another interface, a gateway, next hops, a second one) is
    removed, and when none was kube-vip's, kube-vip's is added: prune or not. With ``prune``,
    every route of that table and protocol to any other destination goes too, whatever its
    prefix. Adding where the table has a route of another protocol to the same destination is
    refused until that one is named in ``remove_legacy``; where kube-vip's route is there already,
    the other one is only reported (``legacy``). Removals are in the table's order (kube-vip's,
    then the named legacy ones), additions in ``desired``'s. Decided set-wise, a few passes over
    each list: tens of thousands of routes take milliseconds (docs/benchmarks.md).
    """
    check_route_scope(table, protocol, destructive=bool(prune or remove_legacy))
    named_legacy = set(remove_legacy or ())
    asked = dict((want["destination"], want["interface"]) for want in desired)
    if len(asked) != len(desired):
        _one_interface_each(desired)
    ours = [route for route in current if route["protocol"] == protocol and route["table"] == table]
    others = [] if len(ours) == len(current) else [route for route in current if route["table"] == table and route["protocol"] != protocol]
    asked_on = asked.get
    # the VIP routes (the first of kube-vip's shape on its asked interface, per destination), and every other route
    served, elsewhere = {}, []
    other = elsewhere.append
    for route in ours:
        destination = route["destination"]
        interface = asked_on(destination, _NOT_ASKED)
        # is_vip_route, inlined (one call per route costs more than the rest of the loop)
        if (interface == route["interface"] and destination not in served and route["type"] == "unicast" and route["gateway"] is None
                and route["scope"] in VIP_ROUTE_SCOPES and not (route.get("nexthops") or "from" in route or "tos" in route or "nhid" in route)):
            served[destination] = route
        else:
            other(route)
    unchanged = list(served.values())
    if prune:
        remove = elsewhere
    else:
        remove = [route for route in elsewhere if route["destination"] in asked]
    add = [{"destination": destination, "interface": interface, "table": table, "protocol": protocol, "type": "unicast",
            "family": "ipv6" if ":" in destination else "ipv4"}
           for destination, interface in asked.items() if destination not in served]
    legacy = [route for route in others if is_legacy_route(route, table, protocol)]
    if others and add:
        others_by_dst = {}
        for route in others:
            others_by_dst.setdefault(route["destination"], []).append(route)
        for route in add:
            destination = route["destination"]
            if destination in others_by_dst and destination not in named_legacy:
                other = others_by_dst[destination][0]
                raise VipError(
                    "cannot add route %s dev %s to table %d protocol %d: table %d already has %s with "
                    "protocol %s%s; name it in remove_legacy to replace it"
                    % (destination, route["interface"], table, protocol, table, other["destination"],
                       other["protocol"], " (legacy kube-vip route)" if is_legacy_route(other, table, protocol) else ""))
    if named_legacy:
        for route in legacy:
            if route["destination"] in named_legacy and not route["protocol"]:
                raise VipError("remove_legacy: route %s dev %s of table %d has protocol 0 (unspec); a deletion with protocol 0 "
                               "matches a route of any protocol, so it cannot be removed exactly" % (route["destination"], route["interface"], table))
        remove.extend(route for route in legacy if route["destination"] in named_legacy)
        legacy = [route for route in legacy if route["destination"] not in named_legacy]
    return {"add": add, "remove": remove, "unchanged": unchanged, "legacy": legacy}


# --------------------------------------------------------------------------- addresses

def plan_addresses(current, present=(), absent=(), owned=None, protected=(), prune=False, keep=()):
    """Change set for VIP addresses.

    ``present``: addresses that must be on their interface ({"address", "prefix", "interface"}).
    ``absent``: addresses that must not be on their interface ({"address", "interface" or None}).
    ``owned``: IPSet of the ranges kube-vip owns; with ``prune`` every current address inside it
    that is not in ``present`` (same interface) is removed. ``protected`` addresses (the node's
    own) are never removed and may not be asked for; ``keep`` addresses are never pruned.
    Returns {"add": [...], "remove": [...], "unchanged": [...]}.
    """
    protected = set(protected)
    spared = protected | set(keep)
    for item in list(present) + list(absent):
        if item["address"] in protected:
            raise VipError("refusing to manage %s on %s: it is a protected address (the node's own)"
                           % (item["address"], item.get("interface") or "any interface"))
        if owned is not None and not in_ranges(item["address"], owned):
            raise VipError("%s is outside owned_ranges: this module only manages addresses kube-vip owns"
                           % item["address"])
    want = {(p["address"], p["interface"]) for p in present}
    on_host = {}  # address -> the current addresses with it, in the order read (one pass: linear in the sizes)
    for addr in current:
        on_host.setdefault(addr["address"], []).append(addr)
    add, remove, unchanged = [], [], []
    adding, removing = set(), set()
    for item in present:
        found = [a for a in on_host.get(item["address"], ()) if a["interface"] == item["interface"]]
        if found:
            unchanged.extend(found)
        elif (item["address"], item["interface"], item["prefix"]) not in adding:
            adding.add((item["address"], item["interface"], item["prefix"]))
            add.append(dict(item, family=family_of(item["address"])))
    for item in absent:
        for addr in on_host.get(item["address"], ()):
            if item.get("interface") in (None, addr["interface"]) and id(addr) not in removing:
                removing.add(id(addr))
                remove.append(addr)
    if prune and owned is not None:
        for addr in current:
            if ((addr["address"], addr["interface"]) not in want and addr["address"] not in spared
                    and id(addr) not in removing and in_ranges(addr["address"], owned)):
                removing.add(id(addr))
                remove.append(addr)
    return {"add": add, "remove": remove, "unchanged": unchanged}


def unsafe_address_removals(current, remove, routes=None):
    """[(address, reason)] of the removals in ``remove`` the kernel would not make alone.

    * A primary IPv4 address with secondary addresses of its subnet (same prefix length and
      network) that stay: deleting it deletes them too, or promotes one (net.ipv4.conf.*.promote_secondaries).
    * The last IPv4 address of an interface that carries IPv4 routes (``routes``: every IPv4
      route of every table; those of protocol kernel belong to the addresses): the kernel flushes
      every IPv4 route through an interface whose last IPv4 address goes, in every table. The
      interface keeps its first address (the primary).

    ``routes`` None: not read, the second check is not made (``last_address_interfaces`` says when it is needed).
    """
    going = set(id(addr) for addr in remove)
    unsafe = []
    for addr in remove:
        if addr["family"] != "ipv4" or addr.get("secondary"):
            continue
        network = netaddr.IPNetwork("%s/%s" % (addr.get("peer") or addr["address"], addr["prefix"])).cidr
        staying = [other for other in current if id(other) not in going and other["interface"] == addr["interface"]
                   and other["family"] == "ipv4" and other.get("secondary") and other["prefix"] == addr["prefix"]
                   and netaddr.IPAddress(other.get("peer") or other["address"]) in network]
        if staying:
            unsafe.append((addr, "it is the primary address of %s on %s, and the kernel would delete (or promote) its secondary "
                                 "addresses %s with it" % (network, addr["interface"], ", ".join(a["address"] for a in staying))))
    if routes:
        spared = set(id(addr) for addr, _reason in unsafe)
        for interface in last_address_interfaces(current, [addr for addr in remove if id(addr) not in spared]):
            through = [route for route in routes if route["protocol"] != 2 and (
                route.get("interface") == interface or any(hop.get("interface") == interface for hop in route.get("nexthops") or ()))]
            if through:
                first = [addr for addr in remove if addr["interface"] == interface and addr["family"] == "ipv4" and id(addr) not in spared][0]
                unsafe.append((first, "it is the last IPv4 address of %s, and the kernel would flush every IPv4 route through %s "
                                      "with it (%s)" % (interface, interface, ", ".join(
                                          "%s table %s proto %s" % (route["destination"], route["table"], route["protocol"])
                                          for route in through[:5]) + (" and %d more" % (len(through) - 5) if len(through) > 5 else ""))))
    return unsafe


def last_address_interfaces(current, remove):
    """Interfaces whose every IPv4 address is in ``remove``."""
    going = set(id(addr) for addr in remove)
    interfaces = set(addr["interface"] for addr in remove if addr["family"] == "ipv4")
    return sorted(interface for interface in interfaces
                  if not any(addr["interface"] == interface and addr["family"] == "ipv4" and id(addr) not in going for addr in current))


# --------------------------------------------------------------------------- IPVS

def service_key(service):
    """(address, port, protocol) of a virtual service."""
    return (service["address"], service["port"], service["protocol"])


def describe_service(service):
    """'TCP 192.0.2.10:6443' / 'TCP [2001:db8::10]:6443'."""
    if service.get("address") is None:
        return "FWM %s" % service.get("fwmark")
    address = service["address"]
    if ":" in address:
        address = "[%s]" % address
    return "%s %s:%s" % (service["protocol"].upper(), address, service["port"])


def _dest_differs(want, have):
    if want.get("weight", 1) != have.get("weight"):
        return True
    return want.get("forward_method") is not None and want["forward_method"] != have.get("forward_method")


def plan_ipvs(desired, current, owned=None, prune=False):
    """Change set for IPVS virtual services on owned addresses.

    ``desired``: normalized services (with real servers); ``current``: what the kernel has.
    ``owned``: IPSet of addresses the collection manages; services outside it are never touched
    and may not be desired. Returns a dict of ordered lists: remove_services, add_services,
    edit_services, remove_dests, add_dests, edit_dests (dest entries are {"service", "dest"}),
    plus "unchanged" and "foreign" service descriptions.
    """
    changes = {"remove_services": [], "add_services": [], "edit_services": [], "remove_dests": [],
               "add_dests": [], "edit_dests": [], "unchanged": [], "foreign": []}
    inside = {}  # address -> in owned: one range check per address (many services share a VIP)

    def is_owned(address):
        if address not in inside:
            inside[address] = in_ranges(address, owned)
        return inside[address]

    for service in desired:
        if owned is not None and not is_owned(service["address"]):
            raise VipError("IPVS service %s: %s is outside owned_addresses; this module only manages the "
                           "collection's VIPs" % (describe_service(service), service["address"]))
    # Managed: the desired services, and with ``owned`` every service on an owned address.
    # Without ``owned`` an existing desired service is still compared, never added again.
    desired_keys = set(service_key(service) for service in desired)
    by_key = {}
    for service in current:
        if service.get("address") is None or (service_key(service) not in desired_keys
                                              and (owned is None or not is_owned(service["address"]))):
            changes["foreign"].append(describe_service(service))
            continue
        by_key[service_key(service)] = service
    for service in desired:
        have = by_key.pop(service_key(service), None)
        if have is None:
            changes["add_services"].append(service)
            continue
        edits = [] if service["scheduler"] == have.get("scheduler") else [("edit_services", service)]
        have_dests = {(d["address"], d["port"]): d for d in have.get("real_servers") or []}
        for dest in service["real_servers"]:
            old = have_dests.pop((dest["address"], dest["port"]), None)
            if old is None:
                edits.append(("add_dests", {"service": service, "dest": dest}))
            elif _dest_differs(dest, old):  # keep the kernel's forwarding method unless one is asked for
                merged = dict(dest, forward_method=dest.get("forward_method") or old.get("forward_method"))
                edits.append(("edit_dests", {"service": service, "dest": merged}))
        edits.extend(("remove_dests", {"service": service, "dest": old}) for old in have_dests.values())
        for kind, item in edits:
            changes[kind].append(item)
        if not edits:
            changes["unchanged"].append(describe_service(service))
    if prune:
        changes["remove_services"].extend(by_key.values())
    else:
        changes["unchanged"].extend(describe_service(s) for s in by_key.values())
    return changes


def has_changes(changes, keys):
    """Whether any of the lists ``keys`` in a change set is non-empty."""
    return any(changes.get(key) for key in keys)

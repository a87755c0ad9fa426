# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One function per host module: validate options, read, decide, apply (unless check mode).

Each returns the module's result dict (``changed``, what was found, what changed, ``diff``) or
raises ``VipError`` -- always before the first change when the options are at fault.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import gc
import os

from ansible_collections.baremetal.vip.plugins.module_utils import deps
from ansible_collections.baremetal.vip.plugins.module_utils import netlink
from ansible_collections.baremetal.vip.plugins.module_utils import netstate, rtnl_messages
from ansible_collections.baremetal.vip.plugins.module_utils import reconcile
from ansible_collections.baremetal.vip.plugins.module_utils.constants import (
    DEFAULT_ROUTE_PROTOCOL, DEFAULT_ROUTE_TABLE, FORWARD_METHODS, IPVS_PROC_FILE, IPVS_PROTOCOLS)
from ansible_collections.baremetal.vip.plugins.module_utils.errors import VipError

# Option specs shared by the modules.
ROUTE_SCOPE_OPTIONS = dict(
    table=dict(type="int", default=DEFAULT_ROUTE_TABLE),
    protocol=dict(type="int", default=DEFAULT_ROUTE_PROTOCOL),
)

# One IPVS virtual service and its real servers (ipvs_service's services, vip_check's ipvs_service).
IPVS_SERVICE_OPTIONS = dict(
    address=dict(type="str", required=True),
    port=dict(type="int", required=True),
    protocol=dict(type="str", choices=list(IPVS_PROTOCOLS), default="tcp"),
    scheduler=dict(type="str", default="rr"),
    real_servers=dict(type="list", elements="dict", default=[], options=dict(
        address=dict(type="str", required=True),
        port=dict(type="int"),
        weight=dict(type="int", default=1),
        forward_method=dict(type="str", choices=list(FORWARD_METHODS)),
    )),
)


def _ipvs_utils():
    """module_utils.ipvs, imported by the tasks that read IPVS only (vip_routes and vip_address start faster without it)."""
    from ansible_collections.baremetal.vip.plugins.module_utils import ipvs  # pylint: disable=import-outside-toplevel
    return ipvs


def run(module, task, diff=False):
    """Run ``task(params, check_mode)`` for ``module``: the one place a VipError becomes fail_json.

    With ``diff`` (tasks that take the keyword): ``task(params, check_mode, diff=module._diff)``,
    so the text diff is built only when Ansible runs in diff mode.
    """
    deps.require(module)
    try:
        if diff:
            result = task(module.params, module.check_mode, diff=module._diff)  # pylint: disable=protected-access
        else:
            result = task(module.params, module.check_mode)
    except VipError as exc:
        result = dict(exc.result or {})
        for warning in result.pop("warnings", ()):
            module.warn(warning)
        module.fail_json(msg=str(exc), **result)
    for warning in result.pop("warnings", ()):
        module.warn(warning)
    module.exit_json(**result)


def route_line(route):
    """'198.51.100.7/32 dev eth0 table 198 proto 248' (one line of a diff; gateway, next hops, type, metric when they set the
    route apart)."""
    return "%s table %s proto %s" % (rtnl_messages.route_text(route), route["table"], route["protocol"])


def address_line(addr):
    """'192.0.2.10/32 dev eth0' ('198.51.100.5 peer 198.51.100.6/32 dev eth0' for a point-to-point address)."""
    return "%s dev %s" % (rtnl_messages.address_text(addr), addr["interface"])


def service_lines(services):
    """ipvsadm-like text of services and their real servers."""
    lines = []
    for service in services:
        lines.append("%s %s" % (reconcile.describe_service(service), service.get("scheduler")))
        for dest in service.get("real_servers") or []:
            lines.append("  -> %s:%s %s weight %s" % (dest["address"], dest["port"], dest.get("forward_method") or "route",
                                                      dest.get("weight", 1)))
    return lines


def text_diff(before, after):
    """Ansible diff of two line lists."""
    return {"before": "\n".join(sorted(before)) + "\n", "after": "\n".join(sorted(after)) + "\n"}


def _with_iproute(function):
    with netstate.open_iproute() as ipr:
        return function(ipr, netstate.read_links(ipr))


# --------------------------------------------------------------------------- vip_facts

def gather_facts(params, check_mode=False):  # pylint: disable=unused-argument
    """vip_facts: addresses, kube-vip's routes (and legacy ones), IPVS services.

    IPVS: one service dump, then one real-server dump per service. With the optional
    ``params["ipvs_real_servers_of"]`` (addresses, CIDRs or ranges), only the real servers of
    services on those addresses are read; the others have ``real_servers`` None.
    """
    table, protocol = params["table"], params["protocol"]
    reconcile.check_route_scope(table, protocol, destructive=False)
    result = {"changed": False}
    gather = set(params["gather"])

    def read(ipr, links):
        if "links" in gather:  # vip_check's (no choice of vip_facts' gather): the links read for the others
            result["links"] = links
        if "addresses" in gather:
            result["addresses"] = netstate.read_addresses(ipr, links)
        if "routes" in gather:
            routes = netstate.read_routes(ipr, table, links)
            result["routes"] = [r for r in routes if r["protocol"] == protocol]
            result["legacy_routes"] = [r for r in routes if reconcile.is_legacy_route(r, table, protocol)]

    _with_iproute(read)
    if "ipvs" in gather:
        which = params.get("ipvs_real_servers_of")
        if which is not None:
            which = _real_servers_filter(reconcile.parse_ranges(which, "ipvs_real_servers_of"))
        # ip_vs not loaded: nothing to read, and nothing asked (asking generic netlink for the IPVS family would make
        # the kernel load ip_vs, a change a read must not make) or imported (module_utils.ipvs and pyroute2's generic
        # netlink with asyncio cost a module run about 35 ms)
        ipvs_utils = _ipvs_utils() if os.path.exists(IPVS_PROC_FILE) else None
        ipvs = ipvs_utils.open_ipvs() if ipvs_utils else None
        result["ipvs_available"] = ipvs is not None
        result["ipvs_services"] = []
        if ipvs is not None:
            try:
                result["ipvs_services"] = ipvs_utils.read_services(ipvs, which)
            finally:
                ipvs.close()
    result["ansible_facts"] = {"vip_host": dict((k, v) for k, v in result.items() if k != "changed")}
    return result


def _real_servers_filter(ranges, also=()):
    """Which services' real servers to read: those on ``ranges`` (a netaddr.IPSet, or None for
    none) or with a key in ``also``; never fwmark services."""
    wanted = set(also)
    inside = {}  # address -> in ranges (many services share a VIP)

    def real_servers_of(service):
        address = service["address"]
        if address is None:
            return False
        if address not in inside:
            inside[address] = ranges is not None and reconcile.in_ranges(address, ranges)
        return inside[address] or reconcile.service_key(service) in wanted

    return real_servers_of


# --------------------------------------------------------------------------- vip_routes

def desired_routes(routes, destinations=None, interface=None):
    """Normalize the ``routes`` option, or the compact form: ``destinations`` all through ``interface``."""
    if destinations:
        return [{"destination": destination, "interface": interface}
                for destination in reconcile.normalize_host_cidrs(destinations, "destinations[%d]")]
    routes = routes or []
    destinations = reconcile.normalize_host_cidrs([route["destination"] for route in routes], "routes[%d].destination")
    return [{"destination": destination, "interface": route["interface"]} for destination, route in zip(destinations, routes)]


def _route_result(result, routes, return_routes, compact=False):
    """Trim vip_routes' result to ``return_routes``: 'all' (every route of the table in ``routes``), 'changed' (the
    routes added, removed and restored; no ``routes``), 'none' (the counts only); ``counts`` is always there.

    ``compact`` (the task gave ``destinations``) with 'changed': the added and removed routes as their destinations
    (``added_destinations``, ``removed_destinations``, one per route) instead of route dicts.
    """
    result["counts"] = {"routes": len(routes), "added": len(result["added"]), "removed": len(result["removed"]),
                        "legacy_routes": len(result["legacy_routes"])}
    if return_routes == "all":
        result["routes"] = routes
    elif return_routes == "none":
        for key in ("added", "removed", "legacy_routes"):
            del result[key]
    elif compact:
        result["added_destinations"] = [route["destination"] for route in result.pop("added")]
        result["removed_destinations"] = [route["destination"] for route in result.pop("removed")]
    return result


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Python's cyclic garbage collector off for the block, on again after (if it was on).

    A route run allocates tens of thousands of objects, none of them in a reference cycle
    (reference counting frees them as before); the collector's passes over them found nothing:
    some 45 young-generation passes per run at 10,000 routes, and now and then a full one of
    the whole heap (12 ms, a quarter of the run; measured with gc.callbacks).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def reconcile_routes(params, check_mode, diff=False):
    """vip_routes: add kube-vip's routes, prune its orphans, remove named legacy routes.

    One read: once ``apply_routes`` returned with every change acknowledged, the table is the
    one read with the changes made (``netstate.routes_after``); where the kernel refused a change,
    or a removal's destination had other routes, the table is read back and the result says what
    it shows. A failure after a change fails the task with ``changed`` and what was and was not
    done. ``diff``: add the text diff (Ansible's diff mode; check mode shows the same one).
    """
    table, protocol = params["table"], params["protocol"]
    desired = desired_routes(params["routes"], params.get("destinations"), params.get("interface"))
    return_routes = params.get("return_routes") or "all"
    remove_legacy = reconcile.normalize_host_cidrs(params["remove_legacy"] or [], "remove_legacy[%d]")

    def run(ipr, links):
        if {want["interface"] for want in desired}.difference(link["name"] for link in links.values()):
            for want in desired:
                rtnl_messages.link_index(links, want["interface"], "adding route %s to table %s" % (want["destination"], table))
        current = netstate.read_routes(ipr, table, links)
        changes = reconcile.plan_routes(desired, current, table, protocol, params["prune"], remove_legacy)
        changed = bool(changes["add"] or changes["remove"])
        done = {"removed": changes["remove"], "added": changes["add"], "restored": [], "failed": None,
                "routes": netstate.routes_after(current, changes) if changed else current}
        if changed and not check_mode:
            done = netstate.apply_routes(ipr, changes, links, current, table)
        after = done["routes"]
        result = {
            "changed": bool(done["added"] or done["removed"] or done["restored"]),
            "added": done["added"],
            "removed": done["removed"],
            "legacy_routes": changes["legacy"],
        }
        # a failed task says everything (RETURN: added, removed, not_added, not_removed, routes as the kernel has them)
        _route_result(result, [r for r in (current if check_mode else after) if r["protocol"] == protocol],
                      "all" if done["failed"] else return_routes, compact=bool(params.get("destinations")))
        if done["restored"]:
            result["restored"] = done["restored"]
            result["warnings"] = ["the kernel removed %s in place of a route this task removed; it was put back"
                                  % route_line(route) for route in done["restored"]]
        if diff:
            result["diff"] = text_diff([route_line(r) for r in current], [route_line(r) for r in after])
        if done["failed"]:
            result["not_added"] = [route for route in changes["add"] if not any(route is added for added in done["added"])]
            result["not_removed"] = [route for route in changes["remove"] if not any(route is removed for removed in done["removed"])]
            raise VipError(done["failed"], result=result)
        return result

    with _cyclic_gc_paused():
        return _with_iproute(run)


# --------------------------------------------------------------------------- vip_address

def address_request(params):
    """Validate vip_address options -> (present, absent, owned, protected, keep).

    ``address``, or its compact form ``addresses`` (many VIPs with the same prefix, interface and state), each checked
    in one pass with its own name in the message (``addresses[N]``).
    """
    compact = params.get("addresses") is not None
    if compact:
        if params["announce"]:
            raise VipError("announce: give one address, not addresses (an announcement is for the VIP a node takes over)")
        given = [("addresses[%d]" % index, value) for index, value in enumerate(params["addresses"])]
    else:
        given = [("address", params["address"])] if params["address"] is not None else []
    present, absent, seen = [], [], {}
    for what, value in given:
        address = reconcile.normalize_ip(value, what)
        if address in seen:
            raise VipError("%s: %s is listed twice (%s)" % (what, address, seen[address]))
        seen[address] = what
        full = 128 if reconcile.family_of(address) == "ipv6" else 32
        prefix = params["prefix"] if params["prefix"] is not None else full
        if not 0 < prefix <= full:
            raise VipError("prefix %s is not valid for %s (1 to %d)" % (prefix, address, full))
        if params["state"] == "present":
            if not params["interface"]:
                raise VipError("adding %s: interface is required with state=present" % address)
            present.append({"address": address, "prefix": prefix, "interface": params["interface"]})
        else:
            absent.append({"address": address, "interface": params["interface"]})
    if not given and not compact and not params["prune"]:
        raise VipError("nothing to do: give address (or addresses), or prune with owned_ranges")
    if params["prune"] and not params["owned_ranges"]:
        raise VipError("prune needs owned_ranges: without them every address would be a candidate")
    owned = reconcile.parse_ranges(params["owned_ranges"], "owned_ranges") if params["owned_ranges"] else None
    protected = [reconcile.normalize_ip(value, "protected_addresses[%d]" % index)
                 for index, value in enumerate(params["protected_addresses"] or [])]
    keep = [reconcile.normalize_ip(value, "keep_addresses[%d]" % index) for index, value in enumerate(params["keep_addresses"] or [])]
    return present, absent, owned, protected, keep


def reconcile_address(params, check_mode, diff=False):
    """vip_address: one VIP present/absent, optional prune of stray owned addresses (``diff``: add the text diff).

    A removal the kernel would not make alone (``reconcile.unsafe_address_removals``: the last
    IPv4 address of an interface with routes through it, a primary with secondaries that stay)
    is skipped with a warning (``spared``). A failure after a change fails the task with
    ``changed`` and what was and was not done; so does an announcement that fails after the
    address was added. Nothing is announced on an interface that cannot carry an announcement
    (``announce_skipped``).
    """
    present, absent, owned, protected, keep = address_request(params)

    def run(ipr, links):
        for item in present + [a for a in absent if a["interface"]]:
            rtnl_messages.link_index(links, item["interface"], "managing %s" % item["address"])
        current = netstate.read_addresses(ipr, links)
        changes = reconcile.plan_addresses(current, present, absent, owned, protected, params["prune"], keep)
        routes = None
        if reconcile.last_address_interfaces(current, changes["remove"]):
            routes = netstate.read_ipv4_routes(ipr, links)
        unsafe = reconcile.unsafe_address_removals(current, changes["remove"], routes)
        skipped = set(id(addr) for addr, _reason in unsafe)
        changes["remove"] = [addr for addr in changes["remove"] if id(addr) not in skipped]
        changed = bool(changes["add"] or changes["remove"])
        result = {"changed": changed, "added": changes["add"], "removed": changes["remove"], "announced": False}
        if unsafe:
            result["spared"] = [dict(addr, reason=reason) for addr, reason in unsafe]
            result["warnings"] = ["not removing %s from %s: %s" % (rtnl_messages.address_text(addr), addr["interface"], reason)
                                  for addr, reason in unsafe]
        removed = set(id(a) for a in changes["remove"])
        after = [address_line(a) for a in current if id(a) not in removed] + [address_line(a) for a in changes["add"]]
        if changed and not check_mode:
            done = netstate.apply_addresses(ipr, changes, links)
            result.update(changed=bool(done["added"] or done["removed"]), added=done["added"], removed=done["removed"])
            if done["failed"] or diff:
                after = [address_line(a) for a in (done["addresses"] or netstate.read_addresses(ipr, links))]
            if done["failed"]:
                result["not_added"] = [a for a in changes["add"] if not any(a is b for b in done["added"])]
                result["not_removed"] = [a for a in changes["remove"] if not any(a is b for b in done["removed"])]
                if diff:
                    result["diff"] = text_diff([address_line(a) for a in current], after)
                raise VipError(done["failed"], result=result)
        if diff:
            result["diff"] = text_diff([address_line(a) for a in current], after)
        if params["announce"] and present and not check_mode:
            _announce(present[0], links, params["announce_count"], result)
        return result

    return _with_iproute(run)


def _announce(item, links, count, result):
    """Announce ``item`` (vip_address's present VIP) on its interface, saying in ``result`` whether it was; VipError
    carrying ``result`` (what was already changed) when sending fails."""
    link = links[rtnl_messages.link_index(links, item["interface"], "announcing %s" % item["address"])]
    problem = netstate.announce_problem(link)
    if problem:
        result["announce_skipped"] = "%s not announced: %s" % (item["address"], problem)
        result.setdefault("warnings", []).append(result["announce_skipped"])
        return
    try:
        netstate.announce(item["interface"], item["address"], link["mac"], count)
    except VipError as exc:
        raise VipError("%s%s" % (exc, " (the address itself was added)" if result["added"] else ""), result=result)
    result["announced"] = True


# --------------------------------------------------------------------------- ipvs_service

def desired_services(services):
    """Normalize the ``services`` option (duplicates found with sets: linear in the number of services)."""
    result, seen = [], set()
    for index, service in enumerate(services or []):
        what = "services[%d]" % index
        item = {"address": reconcile.normalize_ip(service["address"], what + ".address"),
                "port": service["port"], "protocol": service["protocol"], "scheduler": service["scheduler"],
                "real_servers": []}
        if not 0 < item["port"] < 65536:
            raise VipError("%s.port: %s is not a port (1 to 65535)" % (what, item["port"]))
        dest_keys = set()
        for dindex, dest in enumerate(service["real_servers"] or []):
            dwhat = "%s.real_servers[%d]" % (what, dindex)
            port = dest["port"] if dest["port"] is not None else item["port"]
            if not 0 < port < 65536 or dest["weight"] < 0:
                raise VipError("%s: port %s / weight %s out of range" % (dwhat, port, dest["weight"]))
            address = reconcile.normalize_ip(dest["address"], dwhat + ".address")
            if (address, port) in dest_keys:
                raise VipError("%s: real server %s:%s is listed twice" % (dwhat, address, port))
            dest_keys.add((address, port))
            item["real_servers"].append({"address": address, "port": port, "weight": dest["weight"],
                                         "forward_method": dest["forward_method"]})
        if reconcile.service_key(item) in seen:
            raise VipError("%s: IPVS service %s is listed twice" % (what, reconcile.describe_service(item)))
        seen.add(reconcile.service_key(item))
        result.append(item)
    return result


def reconcile_ipvs(params, check_mode, diff=False):
    """ipvs_service: restore missing services, fix real servers, prune stale owned ones.

    Reads one service dump, then the real servers only of the services this module may change:
    those in ``services`` and those on ``owned_addresses``. Other services (kube-proxy's, fwmark
    ones) are listed in ``foreign`` with ``real_servers`` None: never changed, never read.

    Not read again after applying: ``apply_ipvs`` returns only when the kernel has handled every
    change and raises naming any it refused, so the state after is the state before with the
    changes made (``ipvs.after_changes``, the same derivation check mode shows). A second read
    would cost as much as the first and prove no more than the kernel's answers; the UML tests
    compare this result with ipvsadm's listing. Where the kernel refused part of the batch, the
    services are read again: the failed task says ``changed`` and ``services`` as the kernel has
    them. ``diff``: add the text diff.
    """
    desired = desired_services(params["services"])
    if params["prune"] and not params["owned_addresses"]:
        raise VipError("prune needs owned_addresses: only services on the collection's VIPs may be removed")
    owned = reconcile.parse_ranges(params["owned_addresses"], "owned_addresses") if params["owned_addresses"] else None
    real_servers_of = _real_servers_filter(owned, (reconcile.service_key(s) for s in desired))
    ipvs_utils = _ipvs_utils()
    ipvs = ipvs_utils.open_ipvs()
    if ipvs is None:
        raise VipError("reconciling IPVS services failed: %s" % ipvs_utils.UNAVAILABLE)
    try:
        current = ipvs_utils.read_services(ipvs, real_servers_of)
        changes = reconcile.plan_ipvs(desired, current, owned, params["prune"])
        changed = reconcile.has_changes(changes, ("remove_services", "add_services", "edit_services",
                                                  "remove_dests", "add_dests", "edit_dests"))
        after = ipvs_utils.after_changes(current, changes) if changed else current
        refused = None
        if changed and not check_mode:
            try:
                ipvs_utils.apply_ipvs(ipvs, changes)
            except netlink.BatchError as exc:  # the rest of the batch is done: read what the kernel has
                refused, after = exc, ipvs_utils.read_services(ipvs, real_servers_of)
    finally:
        ipvs.close()
    result = {
        "changed": changed,
        "added": changes["add_services"],
        "removed": changes["remove_services"],
        "updated": {"schedulers": changes["edit_services"], "real_servers_added": changes["add_dests"],
                    "real_servers_removed": changes["remove_dests"], "real_servers_updated": changes["edit_dests"]},
        "foreign": changes["foreign"],
        "services": current if check_mode else after,
    }
    if diff:
        result["diff"] = text_diff(service_lines(current), service_lines(after))
    if refused is not None:
        result["changed"] = sorted(service_lines(current)) != sorted(service_lines(after))
        raise VipError(str(refused), result=_ipvs_result(result, "all"))
    return _ipvs_result(result, params.get("return_services") or "all")


def _ipvs_result(result, return_services):
    """Trim ipvs_service's result to ``return_services``: 'all' (also ``foreign`` and every service in ``services``),
    'changed' (the services added and removed, ``updated``), 'none' (the counts only); ``counts`` is always there."""
    updated = result["updated"]
    result["counts"] = dict(((key, len(value)) for key, value in updated.items()), services=len(result["services"]),
                            added=len(result["added"]), removed=len(result["removed"]), foreign=len(result["foreign"]))
    drop = {"all": (), "changed": ("foreign", "services"), "none": ("added", "removed", "updated", "foreign", "services")}
    for key in drop[return_services]:
        del result[key]
    return result

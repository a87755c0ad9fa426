# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The builder's BGP step: who speaks BGP, vip_bgp's settings and peers, each node's peers and router id
(derived), the rules kube-vip and MetalLB impose on them (checked), and MetalLB's BGPPeers.

:func:`bgp` returns the plan's ``bgp`` part and, separately, what it adds to the nodes and to
``services.metallb``; plan.assemble puts them in place.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_context import kube_vip_version, services_hosts
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_net import (
    netaddr, normalize_selectors, parse_ip, same_expression, selectors_match)
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_schema import user_set
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_spec import (
    CONTROL_PLANE_LABEL, HOSTNAME_LABEL, METALLB_MAX_PORT, format_version, kube_vip_has)


# -- peers -------------------------------------------------------------------------------------

def peers(ctx, peer_values, path, kube_vip_part, node_name=None):
    """vip_bgp.peers or a host's vip_bgp_peers as the builder reads them (keys starting with '_' stay internal)."""
    out, seen = [], {}
    separators = kube_vip_separators(kube_vip_version(kube_vip_part))
    for i, peer in enumerate(peer_values):
        if not peer:
            continue
        ppath = "%s[%d]" % (path, i)
        try:
            ip = parse_ip(peer["address"]) if peer["address"] is not None else None
        except ValueError:
            ctx.error("%s.address (%s) is not an IP address" % (ppath, peer["address"]))
            ip = None
        if ip is not None and str(ip) in seen:
            ctx.error("%s.address (%s) is listed twice (also %s[%d])" % (ppath, ip, path, seen[str(ip)]))
        if ip is not None:
            seen[str(ip)] = i
        # IPv6 in full (every group, leading zeros): ':' -> '-' of the compressed form is not
        # one-to-one (2001:db8::1 and 2001:db8:1:: would both give 2001-db8-1).
        text = ip.format(netaddr.ipv6_verbose) if ip is not None and ip.version == 6 else ip if ip is not None else peer["address"]
        token = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
        if node_name:
            node_token = re.sub(r"[^a-z0-9.]+", "-", node_name.lower()).strip("-.")
            name = "peer-%s-%s" % (node_token, token)
        else:
            name = "peer-%s" % token
        selectors = normalize_selectors(peer["node_selectors"], ppath + ".node_selectors", ctx.errors)
        has_password = bool(peer["password"])
        out.append({
            "address": str(ip) if ip is not None else None,
            "as": peer["as"],
            "port": peer["port"],
            "multihop": peer["multihop"],
            "node_selectors": selectors,
            "has_password": has_password,
            "password_secret": {"name": "vip-bgp-" + name, "key": "password"} if has_password else None,
            "_name": name,
            "_node": node_name,
            "_path": ppath,
            # kube-vip passes peers as "address:AS:password:multihop:port,..." (bgp_peers): a ':' or
            # ',' inside the password would be read as a separator, and so would '/' where the
            # release splits each entry at '/' for MP-BGP options.
            "_kube_vip_unsafe": has_password and any(c in str(peer["password"]) for c in separators),
        })
    return out


def kube_vip_separators(release):
    """The characters kube-vip's bgp_peers format reads as separators in this release."""
    return ":,/" if kube_vip_has(release, "bgp_peer_slash_options") else ":,"


def public_peer(peer):
    """A peer as the plan shows it (without the builder's own keys)."""
    return {key: copy.deepcopy(value) for key, value in peer.items() if not key.startswith("_")}


# -- derive ------------------------------------------------------------------------------------

def speakers(control_plane, services):
    """Which BGP speakers the plan runs: {"control_plane", "kube_vip_services", "metallb"} -> bool."""
    kube_vip_services = services["kube_vip"] if services else None
    return {
        "control_plane": bool(control_plane and control_plane["mode"] == "bgp"),
        "kube_vip_services": bool(kube_vip_services and (kube_vip_services["mode"] == "bgp" or any(
            p["advertisement"] == "bgp" for p in services["pools"]))),
        "metallb": bool(services and services["provider"] == "metallb"
                        and any(p["advertisement"] == "bgp" for p in services["pools"])),
    }


def kube_vip_bgp_hosts(use, nodes_part, services_part):
    """Hosts where a kube-vip instance speaks BGP."""
    hosts = set()
    if use["control_plane"]:
        hosts.update(h for h, n in nodes_part.items() if n["control_plane"])
    if use["kube_vip_services"]:
        hosts.update(services_hosts(services_part, nodes_part))
    return hosts


def node_peers(nodes_part, global_peers, router_id):
    """Each node's peers (its own vip_bgp_peers, or the global peers its labels select) and router id,
    and the global peers whose selectors cannot be decided from the labels the plan knows."""
    result, undecided = {}, set()
    for host, node in nodes_part.items():
        labels = {HOSTNAME_LABEL: node["node_name"]}
        if node["control_plane"]:
            labels[CONTROL_PLANE_LABEL] = ""
        if node["own_peers"] is not None:
            effective = node["own_peers"]
        else:
            effective = []
            for peer in global_peers:
                match = selectors_match(peer["node_selectors"], labels)
                if match is None:
                    undecided.add(peer["address"])
                if match is not False:
                    effective.append(peer)
        rid = router_id
        if rid is None and node["ip"] is not None and node["ip"].version == 4:
            rid = str(node["ip"])
        result[host] = {"effective": effective, "bgp_router_id": rid}
    return result, undecided


def settings(ctx, values, kube_vip_part):
    """vip_bgp's own values: router id, source, timers (checked against each other) and the global peers."""
    path = "vip_bgp"
    router_id = None
    if values["router_id"] is not None:
        try:
            rid = parse_ip(values["router_id"])
            if rid.version != 4:
                raise ValueError
            router_id = str(rid)
        except ValueError:
            ctx.error("%s.router_id (%s) must be an IPv4 address (BGP router ids are 32-bit)" % (path, values["router_id"]))
    source_address = None
    if values["source_address"] is not None:
        try:
            source_address = str(parse_ip(values["source_address"]))
        except ValueError:
            ctx.error("%s.source_address (%s) is not an IP address" % (path, values["source_address"]))
    if values["source_address"] is not None and values["source_interface"] is not None:
        ctx.error("%s.source_address (%s) and %s.source_interface (%s) exclude each other; set one"
                  % (path, values["source_address"], path, values["source_interface"]))
    hold, keepalive = values["hold_time"], values["keepalive_interval"]
    if hold is not None and 0 < hold < 3:
        ctx.error("%s.hold_time is %d; BGP allows 0 or at least 3 seconds" % (path, hold))
    if hold and keepalive is not None and keepalive >= hold:
        ctx.error("%s.keepalive_interval (%d) must be less than hold_time (%d)" % (path, keepalive, hold))
    return {
        "local_as": values["local_as"],
        "router_id": router_id,
        "source_address": source_address,
        "source_interface": values["source_interface"],
        "hold_time": hold,
        "keepalive_interval": keepalive,
        "peers": peers(ctx, values["peers"] or [], path + ".peers", kube_vip_part),
    }


# -- the step ----------------------------------------------------------------------------------

def bgp(ctx, values, kube_vip_part, control_plane, services, nodes_part):
    """{"bgp": the plan's bgp part or None, "nodes": {host: {bgp_router_id, bgp_peers}},
    "metallb": what services.metallb gains (keepalive_time, bgp_peers) or None}."""
    use = speakers(control_plane, services)
    result = {"bgp": None, "nodes": {}, "metallb": None}
    if not any(use.values()):
        host_peer_hosts = [h for h, n in nodes_part.items() if n["own_peers"] is not None]
        if values:
            ctx.warn("vip_bgp is set but nothing uses BGP (vip_control_plane.mode, pool advertisements); ignored")
        if host_peer_hosts:
            ctx.warn("vip_bgp_peers is set on %s but nothing uses BGP; ignored" % ", ".join(host_peer_hosts))
        result["nodes"] = {host: {"bgp_peers": [], "bgp_router_id": None} for host in nodes_part}
        return result
    users = [text for key, text in (("control_plane", "vip_control_plane.mode is bgp"),
                                    ("kube_vip_services", "kube-vip services pools use advertisement bgp"),
                                    ("metallb", "MetalLB pools use advertisement bgp")) if use[key]]
    if not values:
        ctx.error("vip_bgp is required: %s" % "; ".join(users))
        return result
    own = settings(ctx, values, kube_vip_part)
    per_node, undecided = node_peers(nodes_part, own["peers"], own["router_id"])
    result["nodes"] = {host: {"bgp_peers": [public_peer(p) for p in part["effective"]],
                              "bgp_router_id": part["bgp_router_id"]} for host, part in per_node.items()}
    check(ctx, use, users, own, per_node, undecided, kube_vip_part, services, nodes_part, result["nodes"])
    if use["metallb"]:
        result["metallb"] = {"keepalive_time": metallb_keepalive(values, services),
                             "bgp_peers": metallb_peers(ctx, own["peers"], nodes_part)}
    result["bgp"] = dict(own, peers=[public_peer(p) for p in own["peers"]])
    return result


# -- check -------------------------------------------------------------------------------------

def check(ctx, use, users, own, per_node, undecided, kube_vip_part, services, nodes_part, node_bgp):
    """The rules on the derived peers: kube-vip's peer format and port, a peer and router id on every kube-vip
    speaker, colliding sessions, per-host peers the services DaemonSet cannot use, MetalLB's refusals."""
    release = kube_vip_version(kube_vip_part)
    kube_vip_hosts = kube_vip_bgp_hosts(use, nodes_part, services)
    reported = set()
    for host, part in per_node.items():
        if host not in kube_vip_hosts:
            continue
        for peer in part["effective"]:
            kube_vip_peer_rules(ctx, peer, host, reported, release)
        if not part["effective"]:
            ctx.error("hostvars[%s]: no BGP peer for kube-vip (%s): add vip_bgp.peers or vip_bgp_peers on the host"
                      % (host, "; ".join(users)))
        if part["bgp_router_id"] is None:
            ctx.error("hostvars[%s]: no BGP router id: vip_node_ip (%s) is not IPv4; set vip_bgp.router_id"
                      % (host, nodes_part[host]["node_ip"]))
    global_peers = own["peers"]
    speaker_conflicts(ctx, use, nodes_part, services, global_peers, node_bgp)
    if use["kube_vip_services"]:
        global_addresses = sorted(p["address"] for p in global_peers if p["address"])
        differ = [h for h in services_hosts(services, nodes_part) if nodes_part[h]["own_peers"] is not None
                  and sorted(p["address"] for p in nodes_part[h]["own_peers"] if p["address"]) != global_addresses]
        if differ:
            ctx.warn("vip_bgp_peers of %s cannot reach the kube-vip services DaemonSet: it has one configuration "
                     "for every node and peers with vip_bgp.peers (%s) there too; per-host peers apply to the "
                     "control-plane instance and MetalLB only" % (", ".join(differ), ", ".join(global_addresses) or "none"))
    if undecided and kube_vip_hosts:
        ctx.warn("vip_bgp.peers %s: node_selectors use labels other than %s and %s; kube-vip cannot evaluate them "
                 "and peers with every node" % (", ".join(sorted(undecided)), HOSTNAME_LABEL, CONTROL_PLANE_LABEL))
    if own["router_id"] is not None and len(kube_vip_hosts) > 1:
        ctx.warn("vip_bgp.router_id (%s) is shared by %d kube-vip nodes; routers may reject duplicate router ids: "
                 "leave it unset to use each node's IPv4 address" % (own["router_id"], len(kube_vip_hosts)))
    if use["metallb"] and not global_peers and not any(n["own_peers"] for n in nodes_part.values()):
        ctx.error("MetalLB pools use advertisement bgp but no peer is configured: add vip_bgp.peers or vip_bgp_peers")
    if use["metallb"]:
        metallb_rules(ctx, own, services, global_peers, nodes_part)


def kube_vip_peer_rules(ctx, peer, host, reported, release):
    """Errors for a peer kube-vip speaks BGP to from ``host`` (each peer reported once)."""
    if peer["_path"] in reported:
        return
    reported.add(peer["_path"])
    if peer["_kube_vip_unsafe"]:
        if "/" in kube_vip_separators(release):
            chars = "':', ',' or '/'"
            layout = "address:AS:password:multihop:port/options of kube-vip 0.8.10-1.2.1"
        else:
            chars, layout = "':' or ','", "address:AS:password:multihop"
        ctx.error("%s.password contains %s (value hidden), which kube-vip's bgp_peers format (%s) cannot carry; "
                  "kube-vip speaks BGP to this peer from %s" % (peer["_path"], chars, layout, host))
    if peer["port"] != 179 and not kube_vip_has(release, "bgp_peer_port"):
        ctx.error("%s.port is %d but kube-vip %s has no peer port (bgp_peers reads a port from 0.8.10 on) and "
                  "would dial 179; kube-vip speaks BGP to this peer from %s"
                  % (peer["_path"], peer["port"], format_version(release), host))


def speaker_conflicts(ctx, use, nodes_part, services, global_peers, node_bgp):
    """Warn where one node would run two BGP speakers towards the same peer address."""
    kube_vip_services_hosts = set(services_hosts(services, nodes_part))
    global_addresses = {p["address"] for p in global_peers if p["address"]}
    clashes = {}
    for host, node in nodes_part.items():
        own = {p["address"] for p in node_bgp[host]["bgp_peers"] if p["address"]}
        running = []
        if use["control_plane"] and node["control_plane"]:
            running.append(("kube-vip control plane", own))
        if use["kube_vip_services"] and host in kube_vip_services_hosts:
            running.append(("kube-vip services", global_addresses))  # one DaemonSet configuration
        if use["metallb"]:
            running.append(("MetalLB", own))
        for i, (name_a, peers_a) in enumerate(running):
            for name_b, peers_b in running[i + 1:]:
                shared = tuple(sorted(peers_a & peers_b))
                if shared:
                    clashes.setdefault((name_a, name_b, shared), []).append(host)
    for (name_a, name_b, shared), hosts in clashes.items():
        ctx.warn("%s and %s would each open a BGP session from %s to %s: a router keeps one session per neighbour "
                 "address, so these sessions will collide unless the peers accept them from distinct source "
                 "addresses" % (name_a, name_b, ", ".join(hosts), ", ".join(shared)))


def metallb_rules(ctx, own, services, global_peers, nodes_part):
    """What MetalLB's webhook denies in what we render (internal/config, MetalLB v0.16.1)."""
    path = "vip_bgp"
    mode = services["metallb"]["bgp_mode"]
    hold, keepalive = own["hold_time"], own["keepalive_interval"]
    if mode == "native":
        # DiscardFRROnly: keepaliveTime and IPv6 BGP pools are FRR-only (internal/config/validation.go)
        six = ["%s (%s)" % (p["name"], p["family"]) for p in services["pools"]
               if p["advertisement"] == "bgp" and p["family"] in ("ipv6", "dual")]
        if six:
            ctx.error("vip_services.pools %s advertise IPv6 over BGP but MetalLB's native BGP mode "
                      "(vip_services.metallb_bgp_mode native) announces IPv4 only: use frr or frr-k8s"
                      % ", ".join(six))
        if user_set(ctx.written["vip_bgp"], "keepalive_interval") and hold is not None and keepalive != hold // 3:
            ctx.warn("%s.keepalive_interval (%s) is not rendered for MetalLB's native BGP mode, which refuses "
                     "keepaliveTime and derives it from hold_time (%s / 3 = %s)" % (path, keepalive, hold, hold // 3))
    elif hold == 0 and keepalive:
        ctx.error("%s.keepalive_interval (%d) must be 0 when hold_time is 0: MetalLB refuses a keepaliveTime "
                  "above holdTime" % (path, keepalive))
    if own["source_interface"] is not None:
        ctx.warn("%s.source_interface (%s) is not rendered for MetalLB: a BGPPeer has sourceAddress only; set "
                 "vip_bgp.source_address for MetalLB" % (path, own["source_interface"]))
    for peer in list(global_peers) + [p for n in nodes_part.values() for p in n["own_peers"] or []]:
        if peer["port"] > METALLB_MAX_PORT:
            ctx.error("%s.port is %d; MetalLB's BGPPeer peerPort allows 1..%d" % (peer["_path"], peer["port"], METALLB_MAX_PORT))
        if peer["multihop"] and peer["as"] == own["local_as"]:
            ctx.error("%s.multihop is true but AS %d is vip_bgp.local_as (iBGP): MetalLB refuses ebgpMultiHop "
                      "for an iBGP peer" % (peer["_path"], peer["as"]))


# -- MetalLB -----------------------------------------------------------------------------------

def metallb_keepalive(values, services):
    """services.metallb.keepalive_time: vip_bgp.keepalive_interval, except in native mode (which refuses it)."""
    return None if services["metallb"]["bgp_mode"] == "native" else values["keepalive_interval"]


def metallb_peers(ctx, global_peers, nodes_part):
    """MetalLB's BGPPeers: each global peer on the nodes without their own peers, each host peer on its host."""
    own_hosts = [n["node_name"] for n in nodes_part.values() if n["own_peers"] is not None]
    exclude = {"key": HOSTNAME_LABEL, "operator": "NotIn", "values": own_hosts}
    result = []
    for peer in global_peers:
        selectors = copy.deepcopy(peer["node_selectors"])
        if own_hosts:
            if selectors:
                for sel in selectors:
                    exprs = sel.setdefault("matchExpressions", [])
                    if not same_expression(exclude, exprs):  # the user may have written it already
                        exprs.append(copy.deepcopy(exclude))
            else:
                selectors = [{"matchExpressions": [dict(exclude)]}]
        result.append(_metallb_peer(peer, selectors))
    for node in nodes_part.values():
        for peer in node["own_peers"] or []:
            host_label = {HOSTNAME_LABEL: node["node_name"]}
            selectors = copy.deepcopy(peer["node_selectors"])
            if selectors:
                for sel in selectors:
                    sel.setdefault("matchLabels", {}).update(host_label)
            else:
                selectors = [{"matchLabels": host_label}]
            result.append(_metallb_peer(peer, selectors))
    names = {}
    for peer in result:
        if peer["name"] in names:
            ctx.error("MetalLB BGPPeer name %s is made from both %s and %s: the second would overwrite the first; "
                      "rename a node (vip_node_name)" % (peer["name"], names[peer["name"]], peer["path"]))
        names.setdefault(peer["name"], peer["path"])
    for peer in result:
        del peer["path"]
    return result


def _metallb_peer(peer, selectors):
    return {
        "path": peer["_path"],
        "name": peer["_name"],
        "address": peer["address"],
        "as": peer["as"],
        "port": peer["port"],
        "multihop": peer["multihop"],
        "node_selectors": selectors,
        "password_secret": peer["password_secret"],
    }

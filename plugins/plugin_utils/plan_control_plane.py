# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The builder's control-plane step: the VIP, its leader election, routing table and IPVS load balancer."""

from __future__ import annotations

from ansible_collections.baremetal.vip.plugins.module_utils.constants import (
    MAX_ROUTE_PROTOCOL, MAX_ROUTE_TABLE, RESERVED_PROTOCOLS, RESERVED_TABLES)
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_context import (
    check_ifname, kube_vip_version, needs_super_admin, networks, one_interface, require_interfaces)
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_net import family_of, is_dns1123_subdomain, parse_ip
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_spec import (
    CONTROL_PLANE_GROUP, LEADER_ELECTION_PROFILES, LEASE_NAMESPACE, SERVICES_LEASE, default_of, format_version, kube_vip_has)


def control_plane(ctx, values, cluster_part, kube_vip_part, nodes_part):
    """The ``control_plane`` part, or None without vip_control_plane."""
    check_ifname(ctx, values["interface"] if values else None, "vip_control_plane.interface")
    for host, node in nodes_part.items():
        check_ifname(ctx, node["interface"], "hostvars[%s].vip_interface" % host)
    if not values:
        return None
    path = "vip_control_plane"
    ip = None
    try:
        ip = parse_ip(values["address"]) if values["address"] is not None else None
    except ValueError:
        ctx.error("%s.address (%s) must be one IPv4 or IPv6 host address, without a prefix" % (path, values["address"]))
    mode = values["mode"]
    if ip is not None:
        address_rules(ctx, ip, mode, cluster_part)
    cp_hosts = [h for h, n in nodes_part.items() if n["control_plane"]]
    if not cp_hosts:
        ctx.error("vip_control_plane is set but the group %s is empty" % CONTROL_PLANE_GROUP)
    require_interfaces(ctx, nodes_part, cp_hosts, "the control-plane VIP")
    election = leader_election(ctx, values["leader_election"], path + ".leader_election")
    routing_table = values["routing_table"] or {}
    routing_table_rules(ctx, routing_table, mode, kube_vip_version(kube_vip_part), path + ".routing_table")
    load_balancer = values["load_balancer"] or {}
    if values["deployment"] == "daemonset" and cluster_part and cluster_part["distro"] == "kubeadm":
        ctx.warn("%s.deployment is daemonset on kubeadm: the VIP exists only once the cluster runs, so kubeadm init "
                 "cannot use it as controlPlaneEndpoint; static_pod is the usual choice" % path)
    super_host = cp_hosts[0] if cp_hosts and needs_super_admin(cluster_part) else None
    prefix = 32 if ip is None or ip.version == 4 else 128
    daemonset_interface = one_interface(ctx, nodes_part, cp_hosts, "the control-plane DaemonSet (vip_control_plane."
                                        "deployment daemonset)") if values["deployment"] == "daemonset" else None
    kubernetes_addr = None
    if values["deployment"] == "static_pod" and kube_vip_has(kube_vip_version(kube_vip_part), "client_through_vip"):
        # kube-vip #1654: point the static pod's client at the local API server (hostAliases
        # maps kubernetes to 127.0.0.1), as releases before 1.2.2 did by themselves.
        kubernetes_addr = "kubernetes:%d" % values["port"]
    return {
        "address": str(ip) if ip is not None else None,
        "family": family_of(ip.version) if ip is not None else None,
        "prefix": prefix,
        "cidr": "%s/%d" % (ip, prefix) if ip is not None else None,
        "port": values["port"],
        "interface": values["interface"],
        "daemonset_interface": daemonset_interface,
        "kubernetes_addr": kubernetes_addr,
        "mode": mode,
        "deployment": values["deployment"],
        "cp_enable": True,
        "svc_enable": False,
        "leader_election": election,
        "routing_table": {"table": routing_table.get("table"), "protocol": routing_table.get("protocol"),
                          "clean": routing_table.get("clean")},
        "load_balancer": {"enabled": load_balancer.get("enabled"), "port": load_balancer.get("port"),
                          "forward_method": load_balancer.get("forward_method")},
        "privileged": load_balancer.get("forward_method") == "masquerade",
        "super_admin_host": super_host,
    }


def address_rules(ctx, ip, mode, cluster_part):
    """The VIP against the node CIDRs and families; claims it for the overlap sweep."""
    label = "vip_control_plane.address (%s)" % ip
    ctx.claim(ip.version, int(ip), int(ip), label)
    node_nets = networks(cluster_part, "node_cidrs")
    families = cluster_part["families"] if cluster_part else []
    inside = [n for n in node_nets if ip in n]
    if mode == "arp" and node_nets and not inside:
        ctx.error("%s is outside every vip_cluster.node_cidrs (%s); mode arp needs the VIP on the node subnet"
                  % (label, ", ".join(str(n.cidr) for n in node_nets)))
    for net in inside:
        if ip.version == 4 and net.prefixlen < 31 and (ip == net.network or ip == net.broadcast):
            ctx.error("%s is the network or broadcast address of vip_cluster.node_cidrs entry %s" % (label, net.cidr))
    if families and family_of(ip.version) not in families:
        ctx.error("%s is %s but vip_cluster.node_cidrs has only %s" % (label, family_of(ip.version), ", ".join(families)))


def leader_election(ctx, values, path):
    """``control_plane.leader_election``: the profile's timings, overridden one by one, and the Lease."""
    values = values or {}
    default_profile = default_of("vip_control_plane", "leader_election", "profile")
    profile = values.get("profile") or default_profile
    timings = dict(LEADER_ELECTION_PROFILES.get(profile, LEADER_ELECTION_PROFILES[default_profile]))
    for key in ("lease_duration", "renew_deadline", "retry_period"):
        if values.get(key) is not None:
            if values[key] <= 0:
                ctx.error("%s.%s is %d; it must be a positive number of seconds" % (path, key, values[key]))
            timings[key] = values[key]
    lease_duration, renew, retry = timings["lease_duration"], timings["renew_deadline"], timings["retry_period"]
    if lease_duration > 0 and renew > 0 and retry > 0:
        if not lease_duration > renew:
            ctx.error("%s: lease_duration (%d) must be greater than renew_deadline (%d)" % (path, lease_duration, renew))
        if not renew > 1.2 * retry:
            ctx.error("%s: renew_deadline (%d) must be greater than 1.2 x retry_period (%d x 1.2 = %s)"
                      % (path, renew, retry, round(1.2 * retry, 2)))
    lease = values.get("lease_name") or default_of("vip_control_plane", "leader_election", "lease_name")
    if not is_dns1123_subdomain(lease):
        ctx.error("%s.lease_name (%s) is not a valid Lease name (lowercase DNS-1123 subdomain)" % (path, lease))
    if lease == SERVICES_LEASE:
        ctx.error("%s.lease_name (%s) is the lease of kube-vip's services instance; choose another" % (path, lease))
    return {"profile": profile, "lease_name": lease, "lease_namespace": LEASE_NAMESPACE,
            "lease_duration": lease_duration, "renew_deadline": renew, "retry_period": retry}


def routing_table_rules(ctx, routing_table, mode, kube_vip_release, path):
    """vip_control_plane.routing_table: no kernel table or protocol, no clean with a release that deletes every route."""
    table, protocol, clean = routing_table.get("table"), routing_table.get("protocol"), routing_table.get("clean")
    if table is not None and (table in RESERVED_TABLES or not 0 < table <= MAX_ROUTE_TABLE):
        ctx.error("%s.table is %d; use a table in 1..%d other than %s" % (path, table, MAX_ROUTE_TABLE, ", ".join(
            "%d (%s)" % (number, name) for number, name in sorted(RESERVED_TABLES.items()) if number)))
    if protocol is not None and (protocol in RESERVED_PROTOCOLS or not 0 <= protocol <= MAX_ROUTE_PROTOCOL):
        ctx.error("%s.protocol is %d; use %d..%d (%d-%d are reserved by the kernel: %s)"
                  % (path, protocol, max(RESERVED_PROTOCOLS) + 1, MAX_ROUTE_PROTOCOL, min(RESERVED_PROTOCOLS),
                     max(RESERVED_PROTOCOLS), ", ".join(RESERVED_PROTOCOLS[p] for p in sorted(RESERVED_PROTOCOLS))))
    if clean and kube_vip_has(kube_vip_release, "clean_routes_deletes_all"):
        ctx.error("%s.clean is true with vip_kube_vip.version %s: kube-vip 1.2.0-1.2.2 deletes every route about 7 s "
                  "after start (kube-vip #1678, fixed in 1.2.3); upgrade kube-vip or set clean: false"
                  % (path, format_version(kube_vip_release)))
    if clean and mode != "routing_table":
        ctx.warn("%s.clean is true but vip_control_plane.mode is %s: it only acts in routing_table mode" % (path, mode))

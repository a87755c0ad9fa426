# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The builder's first steps, cluster, kube-vip and nodes, and its last ones, nodes_out, owned and overlaps.

Every step is a function ``step(ctx, values, <parts built before it>) -> its part of the plan``
(plan_context.Context: the inputs, errors, warnings and address claims); a step reads other
steps' results only through its arguments.
"""

from __future__ import annotations

import difflib

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_bgp import peers
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_context import (
    cidr_list, kubernetes_version, needs_super_admin, networks)
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_net import family_of, find_overlaps, is_dns1123_label, parse_ip
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_schema import normalize
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_spec import (
    CLUSTER_VARS, CONTROL_PLANE_GROUP, DISTRO_PATHS, HOST_SPEC, HOST_VARS, KUBE_VIP_LOWEST, NODE_CIDR_MASKS, NODE_GROUP,
    POD_SUBNET_NODE_MASK_MAX_DIFF, SUPER_ADMIN_KUBECONFIG, default_of, format_version, kube_vip_has, parse_version)


# -- cluster -------------------------------------------------------------------------------------

def cluster(ctx, values):
    """The ``cluster`` part (without node_cidr_mask_sizes, which needs the nodes)."""
    if not values:
        return None
    node_nets = cidr_list(ctx, values["node_cidrs"], "vip_cluster.node_cidrs")
    if values["node_cidrs"] is not None and not values["node_cidrs"]:
        ctx.error("vip_cluster.node_cidrs must list at least one CIDR")
    pod_nets = cidr_list(ctx, values["pod_cidrs"], "vip_cluster.pod_cidrs")
    svc_nets = cidr_list(ctx, values["service_cidrs"], "vip_cluster.service_cidrs")
    for name, nets in (("pod_cidrs", pod_nets), ("service_cidrs", svc_nets)):
        for i, net in enumerate(nets):
            ctx.claim(net.version, net.first, net.last, "vip_cluster.%s[%d] (%s)" % (name, i, net.cidr))
    version = values["kubernetes_version"]
    distro = values["distro"]
    paths = dict(DISTRO_PATHS.get(distro) or DISTRO_PATHS["kubeadm"])
    name = values["name"]
    if name is not None and not is_dns1123_label(name):
        ctx.error("vip_cluster.name (%s) must be a DNS-1123 label (it becomes the baremetal.vip/cluster label): "
                  "lowercase letters, digits and '-', at most 63" % name)
    result = {
        "name": name,
        "distro": distro,
        "kubernetes_version": version,
        "node_cidrs": [str(n.cidr) for n in node_nets],
        "pod_cidrs": [str(n.cidr) for n in pod_nets],
        "service_cidrs": [str(n.cidr) for n in svc_nets],
        "families": sorted({family_of(n.version) for n in node_nets}),
        "paths": paths,
        "kubeadm_api_version": None,
    }
    paths["super_admin_kubeconfig"] = SUPER_ADMIN_KUBECONFIG if needs_super_admin(result) else None
    result["kubeadm_api_version"] = kubeadm_api_version(distro, kubernetes_version(result))
    return result


def kubeadm_api_version(distro, k8s):
    """apiVersion of kubeadm's configuration (v1beta2 1.15-1.21, v1beta3 1.22-1.30, v1beta4 from 1.31)."""
    if distro != "kubeadm" or k8s is None:
        return None
    if k8s[:2] >= (1, 31):
        return "kubeadm.k8s.io/v1beta4"
    if k8s[:2] >= (1, 22):
        return "kubeadm.k8s.io/v1beta3"
    return "kubeadm.k8s.io/v1beta2"


def node_cidr_mask_sizes(ctx, cluster_part, node_count):
    """kube-controller-manager's node CIDR mask size per family where kubeadm's default does not fit the pod CIDR.

    kubeadm refuses a pod subnet narrower than the node mask (24 for IPv4, 64 for IPv6 unless
    node-cidr-mask-size-ipv4/ipv6 say otherwise) or more than 16 bits wider than it (kubernetes v1.31.0,
    cmd/kubeadm/app/apis/kubeadm/validation/validation.go ValidatePodSubnetNodeMask); and every node needs a node
    CIDR of its own. Where the default does not give every node of the plan one (or is more than 16 bits
    away), the mask is pod prefix + ceil(log2(nodes)), at most the address length and pod prefix + 16;
    a pod CIDR that cannot hold one node CIDR per node is refused. kubeadm only: the collection writes these
    into the kubeadm init configuration (ClusterConfiguration.controllerManager.extraArgs).
    """
    out = {}
    if cluster_part["distro"] != "kubeadm":
        return out
    count = max(node_count, 1)
    share = (count - 1).bit_length()  # ceil(log2(count))
    for i, net in enumerate(networks(cluster_part, "pod_cidrs")):
        family = family_of(net.version)
        default, bits = NODE_CIDR_MASKS[family]
        prefix = net.prefixlen
        widest = min(bits, prefix + POD_SUBNET_NODE_MASK_MAX_DIFF)
        mask = min(max(min(default, widest), prefix + share), widest)
        if (1 << (mask - prefix)) < count:
            ctx.error("vip_cluster.pod_cidrs[%d] (%s) is too small for the plan's %d nodes: kube-controller-manager "
                      "gives every node a node CIDR of its own, and a /%d splits into at most %d (/%d each); "
                      "use a /%d or wider"
                      % (i, net.cidr, count, prefix, 1 << (mask - prefix), mask, bits - share))
            continue
        if mask != default:
            out[family] = mask
    return out


def kube_vip(ctx, values):
    """The ``kube_vip`` part: image, and the environment names this release reads."""
    if not values:
        return None
    version = values["version"]
    parsed = parse_version(version) if version else None
    release = parsed or (0, 0, 0)
    if parsed is not None and release < KUBE_VIP_LOWEST:
        ctx.error("vip_kube_vip.version (%s) is older than %s, the lowest kube-vip release baremetal.vip supports: "
                  "older releases ignore vip_nodename and others of the settings rendered (vip_routingprotocol, "
                  "bgp_hold_time, enable_endpointslices)" % (version, format_version(KUBE_VIP_LOWEST)))
    cp_version = values["cloud_provider_version"]
    port = values["prometheus_port"]
    for key, version_key in (("image", "version"), ("cloud_provider_image", "cloud_provider_version")):
        repo = values[key] or ""
        if "@" in repo or ":" in repo.rsplit("/", 1)[-1]:
            ctx.error("vip_kube_vip.%s (%s) must be a repository without tag or digest: the tag is v<%s>"
                      % (key, repo, version_key))
    return {
        "version": version,
        "image": "%s:v%s" % (values["image"], version),
        "subnet_env": "vip_subnet" if kube_vip_has(release, "vip_subnet") else "vip_cidr",
        "endpointslices_env": "enable_endpointslices" if kube_vip_has(release, "enable_endpointslices_env") else None,
        "drop_all_capabilities": kube_vip_has(release, "drop_all_capabilities"),
        "cloud_provider_image": "%s:v%s" % (values["cloud_provider_image"], cp_version),
        "prometheus_server": ":%d" % port if port else "",
    }


# -- nodes ---------------------------------------------------------------------------------------

def host_order(ctx):
    """Hosts of the control-plane group, then the node group, each once."""
    order, seen = [], set()
    for host in list(ctx.groups.get(CONTROL_PLANE_GROUP) or []) + list(ctx.groups.get(NODE_GROUP) or []):
        if host not in seen:
            seen.add(host)
            order.append(host)
    return order


def nodes(ctx, cluster_part, kube_vip_part):
    """The nodes as the later steps read them: {host: {node_name, ip (netaddr), node_ip, interface,
    effective_interface, control_plane, worker, own_peers}}."""
    order = host_order(ctx)
    host_var_typos(ctx, order)
    if not order:
        ctx.error("no hosts: the inventory groups %s and %s are both empty" % (CONTROL_PLANE_GROUP, NODE_GROUP))
    cp_set, worker_set = set(ctx.groups.get(CONTROL_PLANE_GROUP) or []), set(ctx.groups.get(NODE_GROUP) or [])
    default_interface = (ctx.values["vip_control_plane"] or {}).get("interface")
    result, ips, names = {}, {}, {}
    node_nets = networks(cluster_part, "node_cidrs")
    for host in order:
        written = ctx.hosts_written.get(host) or {}
        path = "hostvars[%s]" % host
        host_values = {key: normalize(written.get(key), HOST_SPEC[key], "%s.%s" % (path, key), ctx.errors) for key in HOST_SPEC}
        source = "vip_node_ip" if host_values["vip_node_ip"] else "ansible_host" if written.get("ansible_host") else "inventory_hostname"
        ip_text = host_values["vip_node_ip"] or written.get("ansible_host") or host
        ip = None
        try:
            ip = parse_ip(str(ip_text))
        except ValueError:
            hint = "" if source == "vip_node_ip" else "; set vip_node_ip to the node's cluster address"
            ctx.error("%s.%s (%s) is not an IP address%s" % (path, source, ip_text, hint))
        if ip is not None:
            label = "%s.%s (%s)" % (path, source, ip)
            if str(ip) in ips:
                ctx.error("%s is also the address of %s" % (label, ips[str(ip)]))
            else:
                ips[str(ip)] = label
                ctx.claim(ip.version, int(ip), int(ip), label)
            if node_nets and not any(ip in net for net in node_nets):
                ctx.error("%s is outside every vip_cluster.node_cidrs (%s)"
                          % (label, ", ".join(str(n.cidr) for n in node_nets)))
        node_name = host_values["vip_node_name"] or host
        if node_name in names:
            ctx.error("%s.vip_node_name (%s) is also the node name of %s" % (path, node_name, names[node_name]))
        names[node_name] = host
        own_peers = None
        if host_values["vip_bgp_peers"] is not None:
            own_peers = peers(ctx, host_values["vip_bgp_peers"], "%s.vip_bgp_peers" % path, kube_vip_part, node_name)
        result[host] = {
            "node_name": node_name,
            "ip": ip,
            "node_ip": str(ip) if ip is not None else None,
            "interface": host_values["vip_interface"],
            "effective_interface": host_values["vip_interface"] or default_interface,
            "control_plane": host in cp_set,
            "worker": host in worker_set,
            "own_peers": own_peers,
        }
    return result


def host_var_typos(ctx, order):
    """Warn once per variable name that looks like a misspelt baremetal.vip variable."""
    known = set(HOST_VARS) | set(CLUSTER_VARS) | {"vip_plan"}
    seen = {}
    for host in order:
        for key in ctx.hosts_written.get(host) or {}:
            if isinstance(key, str) and key.startswith("vip_") and key not in known and key not in seen:
                best = difflib.get_close_matches(key, sorted(known - {"vip_plan"}), n=1, cutoff=0.8)
                seen[key] = best[0] if best else None
                if best:
                    ctx.warn("hostvars[%s].%s is not a baremetal.vip variable and is ignored; did you mean %s?"
                             % (host, key, best[0]))


def nodes_out(nodes_part, control_plane_part, bgp_nodes):
    """The plan's ``nodes``: the nodes with the BGP step's router id and peers of each."""
    super_host = control_plane_part["super_admin_host"] if control_plane_part else None
    out = {}
    for host, node in nodes_part.items():
        bgp = bgp_nodes.get(host) or {}
        out[host] = {
            "node_name": node["node_name"],
            "node_ip": node["node_ip"],
            "interface": node["effective_interface"],
            "control_plane": node["control_plane"],
            "worker": node["worker"],
            "super_admin": host == super_host,
            "bgp_router_id": bgp.get("bgp_router_id"),
            "bgp_peers": bgp.get("bgp_peers", []),
        }
    return out


# -- the end ---------------------------------------------------------------------------------------

def overlaps(ctx):
    """An error per pair of claimed addresses that overlap."""
    claims = ctx.claims
    for later, earlier in find_overlaps(claims):
        ctx.error("%s overlaps %s" % (claims[later][3], claims[earlier][3]))


def owned(control_plane_part, services_part):
    """The plan's ``owned``: what the host modules may add and remove."""
    addresses, service_addresses = [], []
    if control_plane_part:
        addresses.append(control_plane_part["cidr"])
    if services_part:
        service_addresses = list(services_part["owned_cidrs"])
        if services_part["provider"] == "kube_vip":
            addresses.extend(service_addresses)
    routing_table = control_plane_part["routing_table"] if control_plane_part else {
        "table": default_of("vip_control_plane", "routing_table", "table"),
        "protocol": default_of("vip_control_plane", "routing_table", "protocol")}
    ipvs = []
    if control_plane_part and control_plane_part["load_balancer"]["enabled"]:
        ipvs.append({"address": control_plane_part["address"], "port": control_plane_part["load_balancer"]["port"],
                     "protocol": "tcp"})
    return {"addresses": addresses, "service_addresses": service_addresses, "route_table": routing_table["table"],
            "route_protocol": routing_table["protocol"], "ipvs_services": ipvs}

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The builder's services step: the provider, its pools, kube-vip's services DaemonSet or MetalLB."""

from __future__ import annotations

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_context import (
    check_ifname, networks, one_interface, require_interfaces)
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_net import (
    family_of, is_dns1123_label, is_dns1123_subdomain, is_qualified_name, merge_cidrs, netaddr, normalize_selectors,
    parse_pool_entry, selectors_match)
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_schema import user_set
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_spec import (
    CONTROL_PLANE_LABEL, EXCLUDE_LB_LABEL, HOSTNAME_LABEL, KUBE_VIP_DEFAULT_CLASS, SERVICES_LEASE, SUMMARY_POOLS,
    default_of)


def services(ctx, values, cluster, control_plane, nodes):
    """The ``services`` part (MetalLB's BGP peers and keepalive come from the BGP step: plan.assemble)."""
    values = values or {}
    written = ctx.written["vip_services"] or {}
    provider = values.get("provider") or default_of("vip_services", "provider")
    path = "vip_services"
    pools, pool_entries = pool_list(ctx, values.get("pools") or [], provider, cluster, control_plane)
    lb_class = values.get("load_balancer_class")
    if provider != "kube_vip":
        for key in ("placement", "cloud_provider"):
            if user_set(written, key):
                ctx.warn("%s.%s applies only to provider kube_vip (provider is %s); ignored" % (path, key, provider))
    for key in ("metallb_namespace", "metallb_bgp_mode"):
        if provider != "metallb" and user_set(written, key):
            ctx.warn("%s.%s applies only to provider metallb (provider is %s); ignored" % (path, key, provider))
    if provider == "none":
        if pools:
            ctx.warn("%s.pools lists %d pool(s) but provider is none: nothing will serve them" % (path, len(pools)))
        if values.get("local_traffic") or lb_class:
            ctx.warn("%s.local_traffic / load_balancer_class are ignored: provider is none" % path)
        pools = []
    if lb_class is not None and not is_qualified_name(lb_class):
        ctx.error("%s.load_balancer_class (%s) is not a valid class name like kube-vip.io/kube-vip-class" % (path, lb_class))
    result = {
        "provider": provider,
        "load_balancer_class": lb_class,
        "local_traffic": bool(values.get("local_traffic")) and provider != "none",
        "pools": [p["out"] for p in pools],
        "owned_cidrs": merge_cidrs(pool_entries),
        "kube_vip": None,
        "metallb": None,
        # k3s's ServiceLB (Klipper) answers every LoadBalancer Service too (k3s-io/k3s #2323): off on k3s servers
        # when kube-vip or MetalLB serves them (RKE2 runs it only with enable-servicelb)
        "disable_servicelb": (cluster or {}).get("distro") == "k3s" and provider in ("kube_vip", "metallb"),
    }
    if provider == "kube_vip":
        result["kube_vip"] = services_kube_vip(ctx, values, pools, control_plane, nodes)
    elif provider == "metallb":
        namespace = values.get("metallb_namespace")
        if namespace is not None and not is_dns1123_label(namespace):
            ctx.error("%s.metallb_namespace (%s) is not a valid namespace name (DNS-1123 label)" % (path, namespace))
        if not pools:
            ctx.warn("%s.provider is metallb but no pools are listed: MetalLB will assign nothing" % path)
        if lb_class is not None:
            ctx.warn("%s.load_balancer_class (%s) is not rendered for MetalLB: MetalLB takes its class from the "
                     "--lb-class argument of its controller and speaker (Helm value loadBalancerClass), which "
                     "baremetal.vip does not install; set it there" % (path, lb_class))
        metallb_exclude_label(ctx, cluster, pools, nodes)
        result["metallb"] = {"namespace": values.get("metallb_namespace"), "load_balancer_class": lb_class,
                             "bgp_mode": values.get("metallb_bgp_mode"), "keepalive_time": None, "bgp_peers": []}
    return result


def metallb_exclude_label(ctx, cluster, pools, nodes):
    """kubeadm labels control-plane nodes exclude-from-external-load-balancers; MetalLB >= 0.14 skips them:
    warn about pools only control-plane nodes can announce."""
    if not cluster or cluster["distro"] != "kubeadm":
        return
    cps = [n["node_name"] for n in nodes.values() if n["control_plane"]]
    workers = [n["node_name"] for n in nodes.values() if not n["control_plane"]]

    def can_announce(pool, names, control_plane):
        labels = {CONTROL_PLANE_LABEL: ""} if control_plane else {}
        return any(selectors_match(pool["node_selectors"], dict(labels, **{HOSTNAME_LABEL: name})) is not False
                   for name in names)

    names = [p["out"]["name"] for p in pools
             if can_announce(p["out"], cps, True) and not can_announce(p["out"], workers, False)]
    if names:
        ctx.warn("MetalLB pools %s can be announced only from control-plane nodes (%s), which kubeadm labels %s; "
                 "MetalLB >= 0.14 announces nothing from such nodes (metallb #2274): run MetalLB's speaker with "
                 "--ignore-exclude-lb (Helm value speaker.ignoreExcludeLB, MetalLB >= 0.14.4) or remove the label"
                 % (", ".join(names[:SUMMARY_POOLS]) + (", ..." if len(names) > SUMMARY_POOLS else ""),
                     ", ".join(cps), EXCLUDE_LB_LABEL))


def pool_list(ctx, pools, provider, cluster, control_plane):
    """The pools ({"index", "out": the plan's pool}) and every pool entry as (family, first, last, cidrs)."""
    out, names, entries = [], {}, []
    families = cluster["families"] if cluster else []
    node_nets = networks(cluster, "node_cidrs")
    # kube-vip's services DaemonSet runs one mode: with a BGP control plane (often on lo, where
    # ARP cannot answer) its pools default to bgp; MetalLB and everything else default to l2.
    default_advert = "bgp" if provider == "kube_vip" and control_plane and control_plane["mode"] == "bgp" else "l2"
    for i, pool in enumerate(pools):
        if not pool:
            continue
        pool = dict(pool, advertisement=pool["advertisement"] or default_advert)
        path = "vip_services.pools[%d]" % i
        name = pool["name"]
        if name is not None:
            if provider == "metallb":
                # MetalLB pools are objects: a DNS-1123 subdomain (IPAddressPool metadata.name)
                if not is_dns1123_subdomain(name):
                    ctx.error("%s.name (%s) must be a DNS-1123 subdomain (it names MetalLB's IPAddressPool): "
                              "lowercase letters, digits, '-' and '.', at most 253" % (path, name))
            elif not is_dns1123_label(name):
                ctx.error("%s.name (%s) must be a DNS-1123 label: lowercase letters, digits and '-', at most 63" % (path, name))
            if name in names:
                ctx.error("%s.name (%s) is also the name of vip_services.pools[%d]" % (path, name, names[name]))
            names[name] = i
        addresses, cidrs, fams = [], [], set()
        l2_outside = []
        for j, text in enumerate(pool["addresses"] or []):
            try:
                norm, version, first, last, entry_cidrs = parse_pool_entry(text)
            except ValueError as exc:
                ctx.error("%s.addresses[%d] (%s) %s; use a CIDR or first-last" % (path, j, text, exc))
                continue
            if version == 6 and first >> 32 == 0xFFFF:
                ctx.error("%s.addresses[%d] (%s) is in ::ffff:0:0/96, IPv4-mapped IPv6 addresses: MetalLB and "
                          "the kernel read them as IPv4 (%s); write the IPv4 form"
                          % (path, j, norm, "-".join(str(netaddr.IPAddress(a & 0xFFFFFFFF, 4)) for a in (first, last))))
                continue
            addresses.append(norm)
            cidrs.extend(entry_cidrs)
            if provider != "none":
                entries.append((version, first, last, entry_cidrs))
            fams.add(version)
            ctx.claim(version, first, last, "%s (%s, %s)" % (path, name, norm))
            if pool["advertisement"] == "l2" and node_nets and not any(
                    n.version == version and n.first <= first and last <= n.last for n in node_nets):
                l2_outside.append(norm)
        if pool["addresses"] is not None and not pool["addresses"]:
            ctx.error("%s.addresses (%s) is empty" % (path, name))
        if len(fams) > 1 and provider != "metallb":
            # MetalLB serves RequireDualStack/PreferDualStack Services from one pool holding both
            # families (IPAddressPool addresses, api/v1beta1 v0.16.1); kube-vip-cloud-provider
            # takes one pool per namespace and family.
            ctx.error("%s (%s) mixes IPv4 and IPv6 addresses (%s); use one pool per family" % (path, name, ", ".join(addresses)))
        family = family_of(fams.pop()) if len(fams) == 1 else "dual" if fams else None
        for fam in ([family] if family != "dual" else ["ipv4", "ipv6"]):
            if fam and families and fam not in families:
                ctx.error("%s (%s) is %s but vip_cluster.node_cidrs has only %s" % (path, name, fam, ", ".join(families)))
        if l2_outside:
            ctx.warn("%s (%s) advertises %s over l2 but it is outside every vip_cluster.node_cidrs: ARP/NDP "
                     "answers will not reach clients" % (path, name, ", ".join(l2_outside)))
        selectors = normalize_selectors(pool["node_selectors"], path + ".node_selectors", ctx.errors)
        if pool["namespace"] is not None:
            if provider != "kube_vip":
                ctx.error("%s.namespace (%s) applies only to provider kube_vip (provider is %s)" % (path, pool["namespace"], provider))
            elif not is_dns1123_label(pool["namespace"]):
                ctx.error("%s.namespace (%s) is not a valid namespace name" % (path, pool["namespace"]))
        for j, ifname in enumerate(pool["interfaces"] or []):
            check_ifname(ctx, ifname, "%s.interfaces[%d]" % (path, j))
        if pool["interfaces"] and pool["advertisement"] != "l2":
            ctx.error("%s.interfaces (%s) applies only to advertisement l2" % (path, ", ".join(pool["interfaces"])))
        if provider == "kube_vip":
            if selectors:
                ctx.error("%s.node_selectors applies only to provider metallb; kube-vip places service VIPs by "
                          "vip_services.placement" % path)
            if not pool["auto_assign"]:
                ctx.error("%s.auto_assign false applies only to provider metallb; kube-vip-cloud-provider always "
                          "assigns from its pools" % path)
            if len(pool["interfaces"]) > 1:
                ctx.error("%s.interfaces (%s): kube-vip takes one interface per pool" % (path, ", ".join(pool["interfaces"])))
        out.append({"index": i, "out": {
            "name": name,
            "family": family,
            "addresses": addresses,
            "cidrs": cidrs,
            "namespace": pool["namespace"],
            "advertisement": pool["advertisement"],
            "interfaces": list(pool["interfaces"]),
            "node_selectors": selectors,
            "auto_assign": pool["auto_assign"],
        }})
    return out, entries


def services_kube_vip(ctx, values, pools, control_plane, nodes):
    """``services.kube_vip``: the services DaemonSet, its mode, hosts and kube-vip-cloud-provider's ConfigMap."""
    path = "vip_services"
    adverts = sorted({p["out"]["advertisement"] for p in pools})
    if len(adverts) > 1:
        detail = "; ".join("%s: %s" % (p["out"]["name"], p["out"]["advertisement"]) for p in pools[:10])
        ctx.error("%s.pools mix advertisements (%s): one kube-vip services DaemonSet runs one mode, so every pool must "
                  "be l2 or every pool bgp" % (path, detail))
    if adverts == ["bgp"]:
        mode = "bgp"
    elif adverts == ["l2"]:
        mode = "arp"
    else:
        mode = "bgp" if control_plane and control_plane["mode"] == "bgp" else "arp"
    placement = values.get("placement") or default_of("vip_services", "placement")
    local = bool(values.get("local_traffic"))
    if local and placement != "all_nodes":
        ctx.warn("%s.placement is %s but local_traffic is true: the services DaemonSet runs on all nodes so every "
                 "node with endpoints can announce" % (path, placement))
        placement = "all_nodes"
    if placement == "all_nodes":
        # every node that runs workloads (kube_node); control-plane-only nodes announce no Service (kubeadm
        # labels them node.kubernetes.io/exclude-from-external-load-balancers), unless there is no worker
        hosts = [h for h, n in nodes.items() if n["worker"]] or list(nodes)
    else:
        hosts = [h for h, n in nodes.items() if n["control_plane"]]
    require_interfaces(ctx, nodes, hosts, "kube-vip services")
    interface = one_interface(ctx, nodes, hosts, "kube-vip services")
    if mode == "arp" and interface == "lo":
        ctx.error("%s.pools use advertisement l2 but the kube-vip services DaemonSet would answer ARP on lo (the "
                  "interface of %s), which never answers ARP: use advertisement bgp, or set vip_interface on those "
                  "hosts" % (path, ", ".join(hosts)))
    cloud = bool(values.get("cloud_provider"))
    configmap = {}
    for p in pools:
        pool = p["out"]
        scope = pool["namespace"] or "global"
        # kube-vip-cloud-provider takes the first of cidr-<ns>, cidr-global, range-<ns>,
        # range-global that exists: every entry goes in as its exact CIDR cover, so a range can
        # neither hide behind a CIDR key nor be dropped next to one (same addresses either way).
        key = "cidr-" + scope
        configmap[key] = ",".join(([configmap[key]] if key in configmap else []) + pool["cidrs"])
        if pool["interfaces"]:
            key = "interface-" + scope
            if key in configmap and configmap[key] != pool["interfaces"][0]:
                ctx.error("%s.pools[%d].interfaces (%s) conflicts with interface %s of another %s pool: "
                          "kube-vip-cloud-provider has one interface per namespace"
                          % (path, p["index"], pool["interfaces"][0], configmap[key], scope))
            configmap[key] = pool["interfaces"][0]
    if cloud and not pools:
        ctx.warn("%s.cloud_provider is true but no pools are listed: kube-vip-cloud-provider has nothing to assign" % path)
    lb_class = values.get("load_balancer_class")
    # Both kube-vip instances use hostNetwork: on a control-plane node they need distinct metrics ports.
    port = (ctx.values.get("vip_kube_vip") or {}).get("prometheus_port") or 0
    shares_host = bool(control_plane) and any(nodes[h]["control_plane"] for h in hosts)
    metrics = ":%d" % ((port + 1 if port < 65535 else port - 1) if shares_host else port) if port else ""
    return {
        "daemonset_name": "kube-vip-ds",
        "namespace": "kube-system",
        "service_account": "kube-vip",
        "cluster_role": "system:kube-vip-role",
        "cluster_role_binding": "system:kube-vip-binding",
        "lease_name": SERVICES_LEASE,
        "svc_election": local,
        "placement": placement,
        "hosts": sorted(hosts),
        "mode": mode,
        "interface": interface,
        "lb_class_only": lb_class is not None,
        "lb_class_name": lb_class,
        "cloud_provider": {"enabled": cloud, "configmap": configmap, "load_balancer_class": lb_class,
                           "custom_class": lb_class if lb_class not in (None, KUBE_VIP_DEFAULT_CLASS) else None},
        "prometheus_server": metrics,
    }

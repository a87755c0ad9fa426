# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Day-2 judgement on the controller: plain functions of the plan, the nodes' checks and the cluster.

* ``check_options`` - what one node must look like (the options of ``baremetal.vip.vip_check``).
* ``verify_report`` - the cluster-wide verdict of ``playbooks/verify.yml``: who holds the
  control-plane VIP and each kube-vip Service VIP, against the leases (a Service with an address
  whose lease - its own with per-service election, else the common one - is absent or held by
  nobody fails: nobody leads it); for externalTrafficPolicy Local, a Ready services pod and a
  ready endpoint of the Service on the holder; the services DaemonSet's placement; every node's
  findings. The report's keys are what tests and remediate read.
* ``kube_proxy_verdict`` - the live kube-proxy ConfigMap against the plan (failure 1's cause).
* ``service_lb_verdict`` - a live k3s/RKE2 ServiceLB beside kube-vip or MetalLB (k3s-io/k3s #2323).
* ``daemonset_env_verdict`` - the live services DaemonSet's mode env (vip_arp, vip_routingtable, ...) against the
  plan's (failure 3's setting: a DaemonSet edited to routing-table mode serves its Services on no interface).
* ``metallb_l2_vips`` - the live Services' addresses inside the plan's MetalLB L2 pools (no node tells which one
  answers for them: verify's outside check asks who does).
* ``service_vip_strays`` - per node, the Service VIPs it holds without holding their lease
  (what ``playbooks/remediate.yml`` removes).

``cluster`` is the result of ``baremetal.vip.cluster_info`` (or None without a kubeconfig).
"""
from __future__ import annotations

import ipaddress
import json

from ansible_collections.baremetal.vip.plugins.module_utils import constants
from ansible_collections.baremetal.vip.plugins.plugin_utils import render, render_node

CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
KUBE_VIP_DEFAULT_CLASS = "kube-vip.io/kube-vip-class"


def _placement(plan):
    kube_vip = plan["services"].get("kube_vip")
    return kube_vip["placement"] if kube_vip else "all_nodes"


def _services_hosts(plan):
    """Hosts the services DaemonSet runs on (they may hold Service VIPs)."""
    kube_vip = plan["services"].get("kube_vip")
    return set(kube_vip.get("hosts") or ()) if kube_vip else set()


def cluster_read(cluster):
    """(cluster data or None, why it was not read or None) of cluster_info's registered result: a failed read (the
    API unreachable through the kubeconfig's server, say the VIP itself) is judged as no cluster, and said."""
    cluster = render.plain(cluster) if cluster else None
    if cluster and cluster.get("failed"):
        return None, cluster.get("msg") or "cluster_info failed without a message"
    return cluster, None


def live_service_ips(cluster):
    """Addresses of the live LoadBalancer Services (assigned and requested), in first-seen order."""
    out = []
    for svc in (cluster or {}).get("services") or []:
        for ip in list(svc.get("ingress_ips") or []) + list(svc.get("requested_ips") or []):
            if ip not in out:
                out.append(ip)
    return out


def static_pod_expectation(plan, host):
    """What vip_check reads of ``host``'s control-plane kube-vip static pod, or None (not a control-plane
    node, no control-plane VIP, or kube-vip as a DaemonSet). ``svc_enable`` is judged (wanted off)
    only where the plan gives Services to another instance: the services DaemonSet or MetalLB."""
    cp = plan.get("control_plane")
    if not cp or cp["deployment"] != "static_pod" or not plan["nodes"][host]["control_plane"]:
        return None
    provider = plan["services"]["provider"]
    owner = None
    if provider == "metallb":
        owner = "MetalLB (the plan's services provider)"
    elif provider == "kube_vip":
        kube_vip = plan["services"]["kube_vip"] or {}
        owner = "the services DaemonSet %s/%s" % (kube_vip.get("namespace"), kube_vip.get("daemonset_name"))
    return {"path": plan["cluster"]["paths"]["static_pod_dir"].rstrip("/") + "/kube-vip.yaml",
            "svc_enable": bool(cp["svc_enable"]) if owner else None, "services_owner": owner}


def check_options(plan, host, cluster=None, service_routes=()):
    """The vip_check options of ``host``: its expectations, from the plan (and the live Services).

    ``host`` may be a list of hosts: then {host: options} of each, the plan and the cluster read once (verify.yml lays
    out every node's options in one task on the controller instead of once per node)."""
    plan = render.plain(plan)
    live = live_service_ips(cluster_read(cluster)[0])
    keep = list(render.plain(list(service_routes or []))) + live
    if isinstance(host, str):
        return _check_options(plan, host, live, keep)
    return dict((str(name), _check_options(plan, str(name), live, keep)) for name in host)


def _check_options(plan, host, live, keep):
    cp = plan.get("control_plane")
    node = plan["nodes"][host]
    ipvs = None
    if cp and cp["load_balancer"]["enabled"]:
        servers = [{"address": n["node_ip"], "port": cp.get("port") or 6443} for n in plan["nodes"].values()
                   if n["control_plane"] and n["node_ip"]]
        ipvs = {"address": cp["address"], "port": cp["load_balancer"]["port"], "protocol": "tcp", "real_servers": servers}
    return {
        "table": plan["owned"]["route_table"],
        "protocol": plan["owned"]["route_protocol"],
        "control_plane": {"address": cp["address"], "prefix": cp["prefix"], "mode": cp["mode"]} if cp else None,
        "service_ranges": list(plan["owned"]["service_addresses"]),
        "control_plane_only": bool(node["control_plane"] and not node["worker"] and _placement(plan) != "control_plane"
                                   and host not in _services_hosts(plan)),
        "protected_addresses": [node["node_ip"]] if node["node_ip"] else [],
        "watch_addresses": [ip for ip in live if _is_ip(ip)],
        "keep_routes": [{"destination": ip, "interface": node["interface"]} for ip in keep if _is_ip(ip)],
        "ipvs_service": ipvs,
        "sysctls": dict((k, v) for k, v in render_node.host_sysctls(plan, host)),
        "static_pod": static_pod_expectation(plan, host),
    }


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _host_of(plan, node_name):
    """The inventory host whose node name is ``node_name`` (the name itself when none is)."""
    for host, node in plan["nodes"].items():
        if node["node_name"] == node_name:
            return host
    return node_name


def _lease_view(plan, lease):
    """(namespace/name, holder as inventory host or None, expired) of a cluster_info lease."""
    if not lease:
        return None, None, None
    holder = _host_of(plan, lease["holder"]) if lease.get("present") and lease.get("holder") else None
    return "%s/%s" % (lease["namespace"], lease["name"]), holder, lease.get("expired")


# --------------------------------------------------------------------------- the control-plane VIP

def control_plane_vip_device(plan, host):
    """The interface the plan puts the control-plane VIP on, on ``host`` (lo in BGP mode, else the node's interface)."""
    cp = plan.get("control_plane")
    return "lo" if cp and cp["mode"] == "bgp" else plan["nodes"][host]["interface"]


def control_plane_verdict(plan, checks, cluster):
    """(problems, vip record, holders) of the control-plane VIP."""
    cp = plan.get("control_plane")
    problems, holders = [], []
    for host, check in checks.items():
        node = plan["nodes"][host]
        expected = control_plane_vip_device(plan, host)
        for dev in (check or {}).get("vip_interfaces") or []:
            if host not in holders:  # one node with it on two interfaces is one holder (the extra one named below)
                holders.append(host)
            if not node["control_plane"]:
                problems.append("control-plane VIP on %s, which is not a control-plane node" % host)
            elif dev != expected:
                problems.append("control-plane VIP on %s %s, the plan says %s" % (host, dev, expected))
    if not cp:
        return problems, None, holders
    lease = (cluster or {}).get("leases", {}).get("control_plane") if cluster else None
    name, holder, expired = _lease_view(plan, lease)
    if len(holders) != 1:
        problems.append("control-plane VIP %s is on %d nodes%s (exactly one wanted)"
                        % (cp["address"], len(holders), (": " + ", ".join(holders)) if holders else ""))
    elif holder and holders[0] != holder:
        problems.append("control-plane VIP %s is on %s, but lease %s is held by %s" % (cp["address"], holders[0], name, holder))
    record = {"address": cp["address"], "holders": holders, "lease": name,
              "lease_holder": holder if lease else None, "lease_expired": expired}
    return problems, record, holders


# --------------------------------------------------------------------------- Service VIPs

def kube_vip_serves(plan, service):
    """Whether the plan's kube-vip services instance serves ``service`` in ARP mode (one node holds the VIP)."""
    kube_vip = plan["services"].get("kube_vip")
    if plan["services"]["provider"] != "kube_vip" or not kube_vip or kube_vip["mode"] != "arp":
        return False
    klass = service.get("load_balancer_class")
    if kube_vip["lb_class_only"]:
        return klass == kube_vip["lb_class_name"]
    return klass in (None, KUBE_VIP_DEFAULT_CLASS)


def service_vips(plan, cluster):
    """[(service summary, address, lease summary)] of every kube-vip ARP Service VIP in the cluster."""
    kube_vip = plan["services"].get("kube_vip") or {}
    out = []
    for svc in (cluster or {}).get("services") or []:
        if not kube_vip_serves(plan, svc):
            continue
        lease = svc.get("lease") if kube_vip.get("svc_election") else cluster["leases"].get("services")
        # an externalTrafficPolicy Local Service with ready endpoints and an assigned (requested) address that no
        # kube-vip announced has no ingress yet (failure 5): judged by that address, so it is reported on no node;
        # any other Service without ingress is queued, not judged
        pending = svc.get("external_traffic_policy") == "Local" and any(e.get("ready") for e in svc.get("endpoints") or [])
        for ip in svc.get("ingress_ips") or (svc.get("requested_ips") if pending else None) or []:
            if _is_ip(ip):
                out.append((svc, str(ipaddress.ip_address(ip)), lease))
    return out


def metallb_l2_vips(plan, cluster):
    """[{service, address, pool}] of the live LoadBalancer Services' assigned addresses (status ingress) inside a pool of
    the plan's with advertisement l2 when MetalLB is the plan's services provider. Only the Services MetalLB serves:
    its load-balancer class (the plan's; none: Services without a class), as MetalLB v0.16.1
    internal/k8s/controllers/service_controller.go filterByLoadBalancerClass skips the others."""
    if plan["services"]["provider"] != "metallb" or not cluster:
        return []
    klass = (plan["services"].get("metallb") or {}).get("load_balancer_class") or None
    pools = [(p["name"], [ipaddress.ip_network(c, strict=False) for c in p.get("cidrs") or []])
             for p in plan["services"]["pools"] if p.get("advertisement") == "l2"]
    out = []
    for svc in cluster.get("services") or []:
        if (svc.get("load_balancer_class") or None) != klass:
            continue
        for ip in svc.get("ingress_ips") or []:
            if not _is_ip(ip):
                continue
            address = ipaddress.ip_address(ip)
            pool = next((name for name, nets in pools if any(address in net for net in nets)), None)
            if pool:
                out.append({"service": "%s/%s" % (svc["namespace"], svc["name"]), "address": str(address), "pool": pool})
    return out


def _held(addresses_by_host):
    """{address: [hosts]} of the given per-host address lists."""
    out = {}
    for host, addresses in addresses_by_host.items():
        for item in addresses or []:
            hosts = out.setdefault(str(ipaddress.ip_address(item["address"])), [])
            if host not in hosts:
                hosts.append(host)
    return out


def lease_problem(label, lease, per_service):
    """The problem of a kube-vip ARP Service VIP whose lease leads nobody (absent, or present without a holder),
    or None. With per-service election the Service's own lease; without, the common services lease."""
    which = "its own lease (per-service election)" if per_service else "the services lease (no per-service election)"
    name = "%s/%s" % (lease["namespace"], lease["name"]) if lease else "(unknown)"
    if not lease or not lease.get("present"):
        return "%s has an address but %s %s does not exist: no kube-vip instance leads it" % (label, which, name)
    if not lease.get("holder"):
        return "%s has an address but %s %s has no holder: no kube-vip instance leads it" % (label, which, name)
    return None


def ready_endpoint_hosts(plan, service):
    """Inventory hosts (node names where no host has that name) with a ready endpoint of ``service``,
    sorted; None when cluster_info could not read its EndpointSlices."""
    endpoints = service.get("endpoints")
    if endpoints is None:
        return None
    return sorted(set(_host_of(plan, e["node"]) for e in endpoints if e.get("ready") and e.get("node")))


def local_traffic_problems(label, host, node_name, pods, service, ready_hosts, daemonset):
    """What ``host`` (node ``node_name``), holding the VIP of an externalTrafficPolicy Local Service, lacks:
    a Ready pod of the services DaemonSet, and a ready endpoint of the Service (kube-proxy drops traffic
    that reaches a node without one). ``pods``: the DaemonSet's pods of cluster_info; ``ready_hosts``: of
    ready_endpoint_hosts."""
    where = "%s has externalTrafficPolicy Local and is on %s" % (label, host)
    problems = []
    mine = [p for p in pods if p.get("node") == node_name]
    if not mine:
        problems.append("%s, where the services DaemonSet %s runs no pod" % (where, daemonset))
    elif not any(p.get("ready") for p in mine):
        problems.append("%s, where the services DaemonSet %s's pod %s is not Ready (phase %s)"
                        % (where, daemonset, ", ".join(p.get("name") or "?" for p in mine),
                           ", ".join(str(p.get("phase")) for p in mine)))
    if ready_hosts is None:
        problems.append("%s; its endpoints there were not checked: %s" % (where, service.get("endpoints_error") or "not read"))
    elif host not in ready_hosts:
        elsewhere = ("its ready endpoints are on %s" % ", ".join(ready_hosts)) if ready_hosts else "it has no ready endpoint at all"
        draining = [e for e in service.get("endpoints") or []
                    if e.get("node") == node_name and e.get("serving") and e.get("terminating")]
        fate = ("only terminating ones, which kube-proxy serves until they are gone" if draining
                else "traffic to the VIP is dropped there")
        problems.append("%s, which has no ready endpoint of the Service (%s): %s" % (where, elsewhere, fate))
    return problems


def service_vip_verdict(plan, addresses_by_host, cluster, cause=None):
    """(problems, records) of the kube-vip Service VIPs: one holder each, a lease that someone holds, the
    lease holder, and for externalTrafficPolicy Local on the holder a Ready services pod and a ready endpoint.
    ``cause``: what explains a VIP on no node (the services DaemonSet's env drift), said with it."""
    held = _held(addresses_by_host)
    kube_vip = plan["services"].get("kube_vip") or {}
    per_service = bool(kube_vip.get("svc_election"))
    ds = "%s/%s" % (kube_vip.get("namespace"), kube_vip.get("daemonset_name"))
    pods = [p for p in ((cluster or {}).get("kube_vip") or {}).get("pods") or [] if p.get("source") == "daemonset"]
    problems, records = [], []
    for svc, address, lease in service_vips(plan, cluster):
        holders = held.get(address, [])
        name, holder, expired = _lease_view(plan, lease)
        label = "Service VIP %s (%s/%s)" % (address, svc["namespace"], svc["name"])
        ready_hosts = ready_endpoint_hosts(plan, svc)
        record = {"service": "%s/%s" % (svc["namespace"], svc["name"]), "address": address, "holders": holders,
                  "lease": name, "lease_holder": holder, "lease_expired": expired,
                  "election": "per_service" if per_service else "global",
                  "external_traffic_policy": svc.get("external_traffic_policy"),
                  "ready_endpoints_on": ready_hosts, "problems": []}
        leaderless = lease_problem(label, lease, per_service)
        if leaderless:
            record["problems"].append(leaderless)
        if not holders:
            record["problems"].append("%s is on no node%s" % (label, " (cause: %s)" % cause if cause else ""))
        elif len(holders) > 1:
            record["problems"].append("%s is on %d nodes: %s (exactly one wanted)" % (label, len(holders), ", ".join(holders)))
        elif holder and holders[0] != holder:
            record["problems"].append("%s is on %s, but lease %s is held by %s" % (label, holders[0], name, holder))
        if svc.get("external_traffic_policy") == "Local":
            for host in holders:
                node_name = plan["nodes"][host]["node_name"] if host in plan["nodes"] else host
                record["problems"].extend(local_traffic_problems(label, host, node_name, pods, svc, ready_hosts, ds))
        problems.extend(record["problems"])
        records.append(record)
    return problems, records


def service_vip_strays(plan, addresses_by_host, cluster):
    """{host: [address]}: kube-vip Service VIPs inside the plan's owned service ranges that a node holds
    while another node holds their lease (present, not expired). Nothing else is ever listed."""
    plan = render.plain(plan)
    cluster = render.plain(cluster) if cluster else None
    owned = [ipaddress.ip_network(c, strict=False) for c in plan["owned"]["service_addresses"]]
    held = _held(render.plain(addresses_by_host))
    out = dict((host, []) for host in addresses_by_host)
    for _svc, address, lease in service_vips(plan, cluster):
        name, holder, expired = _lease_view(plan, lease)
        if not (name and holder) or expired or not any(ipaddress.ip_address(address) in net for net in owned):
            continue
        for host in held.get(address, []):
            if host != holder and address not in out[host]:
                out[host].append(address)
    return out


# --------------------------------------------------------------------------- the DaemonSet

def daemonset_checked(plan):
    """Whether the services DaemonSet's placement is judged: kube-vip serves Services on all nodes."""
    return plan["services"]["provider"] == "kube_vip" and _placement(plan) == "all_nodes"


def _pinned(node_selector, affinity):
    return any(k in (node_selector or {}) for k in CONTROL_PLANE_LABELS) or "control-plane" in repr(affinity or {})


def pinned_daemonsets(plan, daemonsets, path):
    """Problems of services DaemonSets pinned to control-plane nodes when the plan runs them on all nodes."""
    if not daemonset_checked(plan):
        return []
    problems = []
    for ds in daemonsets or []:
        if not isinstance(ds, dict) or ds.get("kind") != "DaemonSet":
            continue
        pod = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
        if _pinned(pod.get("nodeSelector"), pod.get("affinity")):
            problems.append("services DaemonSet %s in %s is pinned to control-plane nodes; the plan runs it on all nodes"
                            % ((ds.get("metadata") or {}).get("name"), path))
    return problems


def live_daemonset(cluster):
    """The services DaemonSet as cluster_info read it (with its placement), or None when it is not there."""
    ds = ((cluster or {}).get("kube_vip") or {}).get("daemonset") or {}
    return ds if ds.get("present") and "node_selector" in ds else None


def pinned_live_daemonset(plan, daemonset):
    """Problems of the live services DaemonSet (cluster_info) pinned to control-plane nodes."""
    if not daemonset_checked(plan) or not _pinned(daemonset.get("node_selector"), daemonset.get("affinity")):
        return []
    selector = json.dumps(daemonset.get("node_selector") or {}, sort_keys=True)
    affinity = ", and a control-plane node affinity" if "control-plane" in repr(daemonset.get("affinity") or {}) else ""
    return ["services DaemonSet %s/%s in the cluster is pinned to control-plane nodes (nodeSelector %s%s); the plan runs "
            "it on all nodes" % (daemonset["namespace"], daemonset["name"], selector, affinity)]


# --------------------------------------------------------------------------- the DaemonSet's env

def _env_mode(env):
    """How a kube-vip with ``env`` (name -> value) announces what it serves: bgp, arp, wireguard, routing_table or
    none (kube-vip v1.0.0 pkg/manager/manager.go Manager.Start: the first of BGP, ARP, Wireguard, routing table)."""
    for name, mode in (("bgp_enable", "bgp"), ("vip_arp", "arp"), ("vip_wireguard", "wireguard"),
                       ("vip_routingtable", "routing_table")):
        if constants.kube_vip_flag(env.get(name)):
            return mode
    return "none"


def planned_services_env(plan):
    """{name: value} of the plan's services DaemonSet env among constants.KUBE_VIP_MODE_ENV."""
    env = render.services_env(plan, secret_ref={"name": "-", "key": "-"})
    return dict((e["name"], e["value"] if "value" in e else "(valueFrom)") for e in env
                if e["name"] in constants.KUBE_VIP_MODE_ENV)


def daemonset_env_verdict(plan, cluster):
    """Problems of the live services DaemonSet (cluster_info's ``env``) whose mode env differs from the plan's: one
    line naming the DaemonSet and each variable, live value and the plan's (unset: absent; booleans as kube-vip
    reads them, absent is false). Judged where the plan's services provider is kube-vip and the DaemonSet is there."""
    kube_vip = plan["services"].get("kube_vip")
    live_ds = live_daemonset(cluster)
    if plan["services"]["provider"] != "kube_vip" or not kube_vip or not live_ds or live_ds.get("env") is None:
        return []
    want, have = planned_services_env(plan), live_ds["env"]
    drift = []
    for name in constants.KUBE_VIP_MODE_ENV:
        if name in constants.KUBE_VIP_BOOL_ENV:
            same = constants.kube_vip_flag(want.get(name)) == constants.kube_vip_flag(have.get(name))
        else:
            same = want.get(name) == have.get(name)
        if not same:
            drift.append("%s %s (the plan: %s)" % (name, json.dumps(have[name]) if name in have else "unset",
                                                   json.dumps(want[name]) if name in want else "unset"))
    if not drift:
        return []
    live_mode, plan_mode = _env_mode(have), _env_mode(want)
    mode = (": its kube-vip announces Services in %s mode, the plan's is %s mode" % (live_mode, plan_mode)
            if live_mode != plan_mode else "")
    return ["services DaemonSet %s/%s in the cluster has env %s%s" % (live_ds["namespace"], live_ds["name"], ", ".join(drift), mode)]


# --------------------------------------------------------------------------- kube-proxy (failure 1's cause)

def _contains(cidrs, address):
    ip = ipaddress.ip_address(address)
    for cidr in cidrs:
        try:
            if ip in ipaddress.ip_network(str(cidr).strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


def kube_proxy_deletes_vip_service(plan, live):
    """True when the live kube-proxy configuration (cluster_info's kube_proxy) is in IPVS mode without the
    control-plane VIP in ipvs.excludeCIDRs while the plan has kube-vip's load balancer: each of its syncs deletes
    kube-vip's IPVS service (failure 1; k8s.io/kubernetes v1.31.0 pkg/proxy/ipvs/proxier.go cleanLegacyService)."""
    cp = plan.get("control_plane")
    return bool(live and live.get("present") and not live.get("parse_error") and (live.get("mode") or "") == "ipvs"
                and cp and cp["load_balancer"]["enabled"] and not _contains(live.get("exclude_cidrs") or [], cp["address"]))


def kube_proxy_verdict(plan, cluster):
    """(problems, notes) of the live kube-proxy configuration (cluster_info's kube_proxy) against the plan:
    the mode; strictARP where the plan asks for it; in IPVS mode with kube-vip's load balancer, the
    control-plane VIP inside ipvs.excludeCIDRs (else kube-proxy deletes kube-vip's IPVS service)."""
    want = plan["kube_proxy"]
    live = (cluster or {}).get("kube_proxy")
    if not cluster or not want["manage"] or not live:
        return [], []
    configmap = "ConfigMap %s/%s" % (live.get("namespace") or "kube-system", live.get("name") or "kube-proxy")
    where = configmap + " config.conf"
    if not live.get("present"):
        return [], ["%s: not found (k3s and RKE2 have none); kube-proxy's live settings not checked" % configmap]
    if live.get("parse_error"):
        return ["%s: %s (the plan wants mode %s)" % (where, live["parse_error"], want["mode"])], []
    problems = []
    mode = live.get("mode") or ""
    if (mode or "iptables") != want["mode"]:
        problems.append("%s mode is %s, the plan wants %s" % (where, json.dumps(mode) + (" (the default, iptables)" if not mode else ""),
                                                              json.dumps(want["mode"])))
    if want["strict_arp"] and live.get("strict_arp") is not True:
        problems.append("%s ipvs.strictARP is %s, the plan wants true (ARP VIPs with kube-proxy in IPVS mode)"
                        % (where, json.dumps(live.get("strict_arp"))))
    cp = plan.get("control_plane")
    if kube_proxy_deletes_vip_service(plan, live):
        problems.append("%s ipvs.excludeCIDRs is %s, which misses the control-plane VIP %s; the plan wants %s (else kube-proxy "
                        "in IPVS mode deletes kube-vip's IPVS service)"
                        % (where, json.dumps(live.get("exclude_cidrs") or []), cp["address"], json.dumps(want["exclude_cidrs"])))
    return problems, []


# --------------------------------------------------------------------------- k3s/RKE2 ServiceLB (issue 17, item 17)

def service_lb_verdict(plan, cluster):
    """Problems of a live ServiceLB (k3s/RKE2's Klipper: cluster_info's service_lb) beside the plan's services provider.

    ServiceLB answers every LoadBalancer Service without a class on the nodes' own addresses and writes their status,
    so it races kube-vip-cloud-provider and MetalLB for the Services' addresses (k3s-io/k3s #2323). With provider
    none it is nobody's rival: not judged."""
    provider = plan["services"]["provider"]
    live = ((cluster or {}).get("service_lb") or {}).get("services") or []
    if provider not in ("kube_vip", "metallb") or not live:
        return []
    namespace = (cluster.get("service_lb") or {}).get("namespace") or "kube-system"
    rival = "kube-vip" if provider == "kube_vip" else "MetalLB"
    problems = []
    for entry in live:
        program = entry.get("program") or "k3s"
        if program == "rke2":
            fix = "RKE2 runs it only with enable-servicelb: remove that from the servers' configuration and restart rke2-server"
        else:
            fix = ("turn it off on every server (disable: [servicelb]; playbooks/bootstrap.yml writes "
                   "/etc/rancher/k3s/config.yaml.d/50-baremetal-vip-disable-servicelb.yaml) and restart k3s")
        problems.append("%s ServiceLB (Klipper) is live beside %s: pods %s in %s answer Service %s on %s "
                        "(k3s-io/k3s #2323); %s"
                        % (program, rival, ", ".join(entry.get("pods") or []), namespace, entry.get("service"),
                           ", ".join(entry.get("nodes") or []) or "no node yet", fix))
    return problems


# --------------------------------------------------------------------------- the report

def verify_report(plan, checks, cluster=None, daemonsets=None, daemonset_file=None):
    """The report of playbooks/verify.yml from every node's vip_check result (None: the node was not checked)."""
    plan = render.plain(plan)
    checks = render.plain(checks)
    cluster, cluster_error = cluster_read(cluster)
    unchecked = ["%s: not checked (%s)" % (h, (c or {}).get("msg") or "no result") for h, c in checks.items()
                 if not c or c.get("failed") or "findings" not in c]
    checks = dict((h, c) for h, c in checks.items() if c and not c.get("failed") and "findings" in c)
    cluster_problems, vip, holders = control_plane_verdict(plan, checks, cluster)
    live_ds = live_daemonset(cluster)
    if live_ds is not None:  # the live DaemonSet wins over the rendered files
        pinned = pinned_live_daemonset(plan, live_ds)
    else:
        pinned = pinned_daemonsets(plan, daemonsets, daemonset_file)
    cluster_problems += pinned
    proxy_problems, proxy_notes = kube_proxy_verdict(plan, cluster)
    cluster_problems += proxy_problems
    env_drift = daemonset_env_verdict(plan, cluster)
    cluster_problems += env_drift
    service_problems, service_records = service_vip_verdict(
        plan, dict((h, c.get("service_vips")) for h, c in checks.items()), cluster,
        cause="the services DaemonSet's env differs from the plan" if env_drift else None)
    cluster_problems += service_problems
    cluster_problems += service_lb_verdict(plan, cluster)
    if cluster_error:  # first: every verdict above ran without the cluster
        cluster_problems.insert(0, "the cluster was not read (%s): leases, live Services and kube-proxy's ConfigMap "
                                   "not judged, routes judged without the live Services" % cluster_error)
    cp = plan.get("control_plane")
    nodes = {}
    for host, check in checks.items():
        node = plan["nodes"][host]
        nodes[host] = {"vip_interfaces": check["vip_interfaces"], "findings": check["findings"], "notes": check["notes"],
                       "control_plane": node["control_plane"],
                       "vip_interface": control_plane_vip_device(plan, host),
                       "service_vips": check.get("service_vips") or [], "routes": check.get("routes") or [],
                       "sysctls": check.get("sysctls") or {}, "ipvs_available": check.get("ipvs_available"),
                       "static_pod": check.get("static_pod")}
    problems = cluster_problems + unchecked + ["%s: %s" % (h, f) for h, n in nodes.items() for f in n["findings"]]
    return {"ok": not problems, "problems": problems, "vip_holders": holders, "cluster": cluster_problems,
            "cluster_error": cluster_error,
            "vips": [vip] if vip else [], "service_vips": service_records,
            "live_service_ips": live_service_ips(cluster) if cluster else None,
            "metallb_l2_vips": metallb_l2_vips(plan, cluster),
            "kube_proxy": dict(live=(cluster or {}).get("kube_proxy"), notes=proxy_notes) if cluster else None,
            "service_lb": (cluster.get("service_lb") or {}).get("services") if cluster else None,
            "nodes": nodes,
            "daemonset_checked": (live_ds is not None or daemonsets is not None) and daemonset_checked(plan),
            "daemonset_pinned": pinned,
            "daemonset_env": env_drift,
            "daemonset_source": ("cluster" if live_ds is not None else "render_dir" if daemonsets is not None else None)}


def holder_lines(report):
    """One line per VIP of verify's report: who holds the address, and who holds its lease."""
    lines = []
    for vip in (report.get("vips") or []) + (report.get("service_vips") or []):
        what = "Service VIP %s (%s)" % (vip["address"], vip["service"]) if "service" in vip else "VIP %s" % vip["address"]
        lines.append("%s on %s; lease %s held by %s%s" % (
            what, ", ".join(vip.get("holders") or []) or "no node", vip.get("lease") or "unknown",
            vip.get("lease_holder") or "nobody", " (expired)" if vip.get("lease_expired") else ""))
    return lines

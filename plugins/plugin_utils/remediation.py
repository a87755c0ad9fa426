# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``playbooks/remediate.yml`` changes, decided on the controller from verify's report and the plan.

``remediation(plan, report, holder, service_routes)`` is the whole decision: which node keeps the
control-plane VIP (``control_plane_holder``), and per node the options of the host modules that put it
back to the plan (``nodes``: ``vip_address``, ``vip_routes``, ``ipvs_service``, the sysctls to set),
the Service VIPs taken from nodes that do not hold their lease, and the live services DaemonSet's pin or env
drift (``daemonset_apply``: why the plan's DaemonSet is applied again).
The playbook only applies it. ``report`` is ``verdicts.verify_report`` on every node's ``vip_check``
result (its ``nodes`` carry what the nodes hold: kube-vip's routes, the sysctls read, IPVS).
"""
from __future__ import annotations

import ipaddress

from ansible_collections.baremetal.vip.plugins.module_utils import constants
from ansible_collections.baremetal.vip.plugins.plugin_utils import render
from ansible_collections.baremetal.vip.plugins.plugin_utils import verdicts


def _control_plane_hosts(plan):
    return [host for host, node in plan["nodes"].items() if node["control_plane"]]


def control_plane_holder(plan, report, asked=None):
    """(host, why) of the node that keeps the control-plane VIP, or (None, None) without one: ``asked``
    (vip_remediate_holder) when given, else the holder of the control-plane lease (present, not expired),
    else the first control-plane node that holds the VIP now, else the plan's super-admin host or first
    control-plane node. Only checked control-plane nodes are chosen from the cluster's state."""
    cp = plan.get("control_plane")
    if not cp:
        return None, None
    cp_hosts = _control_plane_hosts(plan)
    if asked:
        if asked not in cp_hosts:
            raise ValueError("vip_remediate_holder is %s, which is not a control-plane node of the plan (%s)"
                             % (asked, ", ".join(cp_hosts)))
        return asked, "vip_remediate_holder"
    checked = report["nodes"]
    vip = (report.get("vips") or [{}])[0]
    lease_holder = vip.get("lease_holder")
    if lease_holder in cp_hosts and lease_holder in checked and not vip.get("lease_expired"):
        return lease_holder, "lease"
    current = [host for host in cp_hosts if host in checked and checked[host]["vip_interfaces"]]
    # a node holding it where the plan says first: a copy left on a loopback (a move of upgrade.yml or
    # remove_node.yml that died before it gave its copy up) does not make a node the holder
    on_plan = [host for host in current if verdicts.control_plane_vip_device(plan, host) in checked[host]["vip_interfaces"]]
    if current:
        return (on_plan or current)[0], "current"
    return cp.get("super_admin_host") or cp_hosts[0], "plan"


def holder_said(plan, report, holder):
    """One line for the run's output: where the control-plane VIP belongs, and the lease that says so."""
    vip = (report.get("vips") or [{}])[0]
    lease = ""
    if vip.get("lease"):
        expired = ", expired" if vip.get("lease_expired") else ""
        lease = " (lease %s held by %s%s)" % (vip["lease"], vip.get("lease_holder") or "nobody", expired)
    return "control-plane VIP %s belongs on %s only%s" % (plan["control_plane"]["address"], holder, lease)


def _ip(text):
    """The address of ``text`` (an address or a host CIDR), normalised, or None when it is neither."""
    try:
        return str(ipaddress.ip_interface(str(text)).ip)
    except ValueError:
        return None


def _unique(items):
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _routes(plan, report, host, is_holder, service_routes):
    """kube-vip's routes that stay (every other route of its table with its protocol goes): the control-plane
    VIP's on the holder in routing-table mode, ``service_routes``, and those the node has of live Services."""
    cp = plan.get("control_plane")
    live = set(_ip(ip) for ip in report.get("live_service_ips") or [])
    live.discard(None)
    wanted = [cp["cidr"]] if cp and is_holder and cp["mode"] == "routing_table" else []
    wanted += list(service_routes)
    wanted += [r["destination"] for r in report["nodes"][host]["routes"] if _ip(r["destination"]) in live]
    interface = plan["nodes"][host]["interface"]
    return [{"destination": destination, "interface": interface} for destination in _unique(wanted)]


def _service_vip_strays(plan, report, host):
    """kube-vip Service VIPs inside the owned service ranges that ``host`` holds while another node holds
    their lease (present, not expired)."""
    owned = [ipaddress.ip_network(c, strict=False) for c in plan["owned"]["service_addresses"]]
    out = []
    for record in report.get("service_vips") or []:
        holder = record.get("lease_holder")
        if (not (record.get("lease") and holder) or record.get("lease_expired") or host == holder
                or host not in record["holders"] or not any(ipaddress.ip_address(record["address"]) in net for net in owned)):
            continue
        if record["address"] not in out:
            out.append(record["address"])
    return out


def static_pod_serves_services(plan, report, host):
    """Whether ``host``'s control-plane kube-vip static pod, as verify read it, serves Services (env svc_enable
    on) where the plan gives them to another instance (failure 2's cause). Until the kubelet restarts it from
    the plan's manifest it keeps binding Service addresses again (kube-vip re-applies its addresses every
    ArpBroadcastRate, 3 s: kube-vip v1.0.0 pkg/arp/arp.go ensureIPAndSendGratuitous)."""
    expect = verdicts.static_pod_expectation(plan, host)
    pod = report["nodes"][host].get("static_pod") or {}
    if not expect or expect["svc_enable"] is None or not pod.get("present"):
        return False
    return constants.kube_vip_flag(pod.get("svc_enable")) != expect["svc_enable"]


def node_remediation(plan, report, host, holder, service_routes=()):
    """What remediate.yml applies on ``host`` (None where a host module has nothing to do there)."""
    cp = plan.get("control_plane")
    state = report["nodes"][host]
    options = verdicts.check_options(plan, host)
    is_holder = bool(cp) and host == holder
    protected = options["protected_addresses"]
    vip = None
    if cp and not is_holder:
        vip = {"state": "absent", "address": cp["address"], "prefix": cp["prefix"], "interface": None, "announce": False,
               "prune": False}
    elif is_holder and cp["mode"] in ("arp", "bgp"):
        # pruned: the VIP's exact address on another interface of the holder goes (a copy on lo that a move of
        # upgrade.yml or remove_node.yml left behind), nothing else (owned_ranges is the VIP/32 or /128 only)
        vip = {"state": "present", "address": cp["address"], "prefix": cp["prefix"], "interface": state["vip_interface"],
               "announce": cp["mode"] == "arp", "prune": True}
    if vip:
        vip.update(owned_ranges=[cp["cidr"]], protected_addresses=protected)
    owned_services = list(plan["owned"]["service_addresses"])
    ipvs = None
    if options["ipvs_service"] and state.get("ipvs_available"):
        ipvs = {"services": [options["ipvs_service"]] if is_holder else [], "owned_addresses": [cp["cidr"]]}
    wanted = options["sysctls"]
    read = state.get("sysctls") or {}
    prune = ({"owned_ranges": owned_services, "protected_addresses": protected}
             if options["control_plane_only"] and owned_services else None)
    merged = bool((plan.get("kube_proxy") or {}).get("merge_configmap"))
    return {
        "control_plane_vip": vip,
        "service_vip_prune": prune,
        # pruned again, until they stay gone, once the static pod is placed again (remediate_causes.yml)
        "service_vip_settle": prune if prune and static_pod_serves_services(plan, report, host) else None,
        "service_vip_strays": {"addresses": _service_vip_strays(plan, report, host), "owned_ranges": owned_services,
                               "protected_addresses": protected},
        "routes": {"table": plan["owned"]["route_table"], "protocol": plan["owned"]["route_protocol"],
                   "routes": _routes(plan, report, host, is_holder, service_routes)},
        "ipvs": ipvs,
        # put back again on the holder until the kube-proxy that deleted it has been replaced (remediate_causes.yml):
        # where remediate merges the plan's kube-proxy settings into the live ConfigMap (kube_proxy.merge_configmap)
        "ipvs_settle": ipvs if ipvs and is_holder and merged and verdicts.kube_proxy_deletes_vip_service(
            plan, (report.get("kube_proxy") or {}).get("live")) else None,
        "sysctls": dict((name, str(value)) for name, value in sorted(wanted.items())
                        if (read.get(name) or "").strip() != str(value).strip()),
    }


def remediation(plan, report, holder=None, service_routes=()):
    """The remediation of every node verify's ``report`` checked, and of the cluster.

    ``holder``: vip_remediate_holder (None or empty: chosen, see ``control_plane_holder``). ``service_routes``:
    vip_verify_service_routes (routes that stay, and are added where missing)."""
    plan = render.plain(plan)
    report = render.plain(report)
    service_routes = [str(r) for r in render.plain(list(service_routes or []))]
    keeper, why = control_plane_holder(plan, report, holder or None)
    nodes = dict((host, node_remediation(plan, report, host, keeper, service_routes)) for host in report["nodes"])
    # the live DaemonSet only (a pinned render directory is rendered again, not applied)
    pinned = list(report.get("daemonset_pinned") or []) if report.get("daemonset_source") == "cluster" else []
    # the live DaemonSet's mode env differs from the plan's: applied again, its env replaced by the plan's
    env_drift = list(report.get("daemonset_env") or [])
    return {
        "control_plane_holder": keeper,
        "control_plane_holder_source": why,
        "said": holder_said(plan, report, keeper) if keeper else "no control-plane VIP in the plan",
        "service_vip_strays": dict((h, n["service_vip_strays"]["addresses"]) for h, n in nodes.items()),
        "daemonset_pinned": pinned,
        "daemonset_env": env_drift,
        "daemonset_apply": pinned + env_drift,
        "nodes": nodes,
    }

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One node's VIP state against what the plan expects there (baremetal.vip.vip_check).

``read_state`` reads the kernel once (``hosttasks.gather_facts``: addresses, kube-vip's table,
IPVS, the links; plus the asked sysctls from /proc/sys) and, on control-plane nodes, the one file of the
control-plane kube-vip static pod (``read_static_pod``). ``judge_node`` is a plain function of
(expectations, state) -> findings and notes, built on the decisions of ``reconcile.py``
(``plan_addresses``, ``plan_routes``, ``plan_ipvs``): what those would change is what is wrong.
Nothing is changed, whatever the mode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.baremetal.vip.plugins.module_utils import constants
from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks
from ansible_collections.baremetal.vip.plugins.module_utils import reconcile

PROC_SYS = "/proc/sys"


def read_sysctls(names, root=PROC_SYS):
    """{name: value or None} read from ``root`` (net.ipv4.conf.all.arp_ignore -> net/ipv4/conf/all/arp_ignore)."""
    values = {}
    for name in names:
        try:
            with open(os.path.join(root, *name.split(".")), "r") as handle:
                values[name] = handle.read().strip()
        except (IOError, OSError):
            values[name] = None
    return values


def read_static_pod(path):
    """{"path", "present", "env" ({name: value} of container kube-vip, else the first), "error"} of a static pod file."""
    out = {"path": path, "present": False, "env": None, "error": None}
    try:
        with open(path, "r") as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        if getattr(exc, "errno", None) != 2:  # ENOENT is "absent"; anything else is said
            out["error"] = "reading %s: %s" % (path, exc)
        return out
    out["present"] = True
    try:  # imported here: only control-plane nodes with a static pod need PyYAML (module start-up on the others)
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:  # yaml comes with ansible-core; guarded for the sanity import test
        yaml = None
    try:
        # libyaml's loader where PyYAML has it (as Ansible's own loader): 0.4 ms for the pod instead of 4-8 ms
        pod = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if yaml is not None else None
        if not isinstance(pod, dict):
            raise ValueError("not a mapping" if yaml is not None else "PyYAML is not available")
        containers = ((pod.get("spec") or {}).get("containers") or [])
        named = [c for c in containers if isinstance(c, dict) and c.get("name") == "kube-vip"] or containers[:1]
        env = (named[0].get("env") if named and isinstance(named[0], dict) else None) or []
        out["env"] = dict((str(e.get("name")), e.get("value")) for e in env if isinstance(e, dict) and "name" in e)
    except Exception as exc:  # pylint: disable=broad-except
        out["error"] = "%s does not parse as a Pod: %s" % (path, exc)
    return out


def read_state(params):
    """The node's state in one pass: addresses, routes of kube-vip's table, IPVS (when asked), sysctls."""
    service = params.get("ipvs_service")
    gather = ["links", "addresses", "routes"] + (["ipvs"] if service else [])
    # only the real servers of services on the VIP are judged (kube-proxy's may be thousands)
    state = hosttasks.gather_facts({"table": params["table"], "protocol": params["protocol"], "gather": gather,
                                    "ipvs_real_servers_of": [service["address"]] if service else None})
    state.pop("ansible_facts", None)
    state.pop("changed", None)
    state["sysctls"] = read_sysctls(sorted(params.get("sysctls") or {}))
    if params.get("static_pod"):
        state["static_pod"] = read_static_pod(params["static_pod"]["path"])
    # the MACs of the interfaces that hold VIPs (vip_probe's expected answer), from the links read with the addresses
    state["macs"] = dict((link["name"], link["mac"]) for link in state.pop("links").values() if link["name"])
    return state


def interface_macs(state, interfaces):
    """{interface: MAC} of ``interfaces`` (those holding VIPs), from the links read; absent ones are left out."""
    macs = state.get("macs") or {}
    return dict((name, macs[name]) for name in sorted(set(interfaces)) if macs.get(name))


def _control_plane(value):
    if not value:
        return None
    address = reconcile.normalize_ip(value["address"], "control_plane.address")
    full = 128 if reconcile.family_of(address) == "ipv6" else 32
    prefix = value.get("prefix") or full
    return {"address": address, "prefix": prefix, "cidr": "%s/%d" % (address, full), "mode": value.get("mode") or "arp"}


def vip_interfaces(control_plane, state):
    """Interfaces holding the control-plane VIP: its route (routing-table mode) or its address."""
    if control_plane is None:
        return []
    if control_plane["mode"] == "routing_table":
        return [r["interface"] for r in state["routes"] if r["destination"] == control_plane["cidr"]]
    return [a["interface"] for a in state["addresses"]
            if a["address"] == control_plane["address"] and a["prefix"] == control_plane["prefix"]]


def held_addresses(state, ranges, watch):
    """Addresses of the node inside ``ranges`` (an IPSet or None) or named in ``watch``."""
    return [dict((k, a[k]) for k in ("address", "prefix", "interface")) for a in state["addresses"]
            if a["address"] in watch or (ranges is not None and reconcile.in_ranges(a["address"], ranges))]


def _kept_routes(params, control_plane, state):
    """The keep list as routes the table has now (a keep without interface keeps every interface)."""
    owned = dict(((r["destination"], r["interface"]), r) for r in state["routes"])
    keep = []
    for index, item in enumerate(params.get("keep_routes") or []):
        destination = reconcile.normalize_host_cidr(item["destination"], "keep_routes[%d].destination" % index)
        interface = item.get("interface")
        keep.extend(key for key in owned if key[0] == destination and interface in (None, key[1]))
    if control_plane is not None and control_plane["mode"] == "routing_table":
        keep.extend(key for key in owned if key[0] == control_plane["cidr"])
    return [{"destination": d, "interface": i} for d, i in sorted(set(keep))]


def _ipvs_findings(service, holds_vip, state, findings, notes):
    if not state.get("ipvs_available"):
        notes.append("IPVS not checked: this kernel has no IPVS")
        return
    owned = reconcile.parse_ranges([service["address"]], "ipvs_service.address")
    desired = hosttasks.desired_services([service]) if holds_vip else []
    changes = reconcile.plan_ipvs(desired, state["ipvs_services"], owned, prune=True)
    for item in changes["add_services"]:
        findings.append("IPVS service %s:%s missing on the VIP holder" % (item["address"], item["port"]))
    for item in changes["remove_services"]:
        findings.append("IPVS service %s:%s on a node that does not hold the VIP" % (item["address"], item["port"]))
    for kind, key in (("schedulers", "edit_services"), ("real_servers_added", "add_dests"),
                      ("real_servers_removed", "remove_dests"), ("real_servers_updated", "edit_dests")):
        if changes[key]:
            findings.append("IPVS %s: %s" % (kind, json.dumps(changes[key], sort_keys=True)))


def static_pod_findings(expect, pod):
    """Findings of the control-plane kube-vip static pod ``pod`` (read_static_pod) against ``expect``."""
    if pod["error"]:
        return ["control-plane kube-vip static pod: %s" % pod["error"]]
    if not pod["present"]:
        return ["control-plane kube-vip static pod %s is missing (the plan runs kube-vip as a static pod on this "
                "control-plane node)" % pod["path"]]
    want = expect.get("svc_enable")
    have = (pod["env"] or {}).get("svc_enable")
    if want is not None and constants.kube_vip_flag(have) != bool(want):
        return ["control-plane kube-vip static pod %s has env svc_enable %s, the plan wants %s (Services are handled by %s)"
                % (pod["path"], json.dumps(have), json.dumps(str(bool(want)).lower()),
                   expect.get("services_owner") or "another instance")]
    return []


def judge_node(params, state):
    """Findings (what differs from the expectations) and notes (what was left alone) of one node."""
    control_plane = _control_plane(params.get("control_plane"))
    findings, notes = [], []
    on = vip_interfaces(control_plane, state)
    ranges = reconcile.parse_ranges(params.get("service_ranges"), "service_ranges") if params.get("service_ranges") else None
    watch = set(reconcile.normalize_ip(a, "watch_addresses[%d]" % i) for i, a in enumerate(params.get("watch_addresses") or []))
    protected = [reconcile.normalize_ip(a, "protected_addresses[%d]" % i) for i, a in enumerate(params.get("protected_addresses") or [])]
    if params.get("control_plane_only") and ranges is not None:
        strays = reconcile.plan_addresses(state["addresses"], owned=ranges, protected=protected, prune=True)["remove"]
        findings.extend("Service VIP %s/%s on %s of a control-plane-only node" % (a["address"], a["prefix"], a["interface"])
                        for a in strays)
    current = state["routes"] + state["legacy_routes"]
    routes = reconcile.plan_routes(_kept_routes(params, control_plane, state), current, params["table"], params["protocol"], prune=True)
    findings.extend("stale route %s dev %s table %s proto %s" % (r["destination"], r["interface"], r["table"], r["protocol"])
                    for r in routes["remove"])
    if params.get("ipvs_service"):
        _ipvs_findings(params["ipvs_service"], bool(on), state, findings, notes)
    for name, want in sorted((params.get("sysctls") or {}).items()):
        have = state["sysctls"].get(name)
        if have is None or have != str(want).strip():
            findings.append("sysctl %s is %s, the plan wants %s" % (name, "unreadable" if have is None else have, want))
    if params.get("static_pod") and "static_pod" in state:
        findings.extend(static_pod_findings(params["static_pod"], state["static_pod"]))
    notes.extend("route %s table %s proto %s (not kube-vip protocol; left alone)" % (r["destination"], r["table"], r["protocol"])
                 for r in state["legacy_routes"])
    held = held_addresses(state, ranges, watch)
    return {"changed": False, "vip_interfaces": on, "service_vips": held,
            "interface_macs": interface_macs(state, on + [a["interface"] for a in held]),
            "findings": findings, "notes": notes, "ipvs_available": state.get("ipvs_available"),
            "static_pod": _static_pod_summary(state.get("static_pod")),
            "routes": [{"destination": r["destination"], "interface": r["interface"]} for r in state["routes"]],
            "sysctls": dict(state["sysctls"])}


def _static_pod_summary(pod):
    """What the result says of the static pod: never its env (it may hold a BGP password)."""
    if pod is None:
        return None
    return {"path": pod["path"], "present": pod["present"], "error": pod["error"],
            "svc_enable": (pod["env"] or {}).get("svc_enable")}


def check_node(params, check_mode=False):  # pylint: disable=unused-argument
    """vip_check: read once, judge; VipError names the option or the read that failed."""
    reconcile.check_route_scope(params["table"], params["protocol"], destructive=True)
    return judge_node(params, read_state(params))

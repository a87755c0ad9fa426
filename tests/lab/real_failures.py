# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Field failures 2 and 3 produced by the real kube-vip v1.0.0 on a running real lab (`lab.py up --real`).

No stand-in: each function changes what an operator or a crash changes in the field (a static pod edited on one
node; the services DaemonSet edited to routing-table mode, its kube-vip killed while a Service is deleted) and
waits until the real kube-vip has done what it does. `make demo` runs them through `lab.py drift-static-pod` and
`lab.py stale-route`; tests/lab/test_real_failures.py asserts on the same states. Every function runs in the lab's
switch namespace (the API through the VIP) and returns what it saw, as plain data.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import yaml

from testkit.netns import vip_holders

STATIC_POD = os.path.join("etc", "kubernetes", "manifests", "kube-vip.yaml")
DS_PATH = "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-vip-ds"
# kube-vip v1.0.0's routing-table mode (pkg/kubevip/config_envvar.go: vip_routingtable, vip_routingtableid,
# vip_routingprotocol; vip_arp off, else cmd/kube-vip.go / pkg/manager/manager.go start the ARP engine first).
# vip_cleanroutingtable stays unset (false), as the plan's default routing_table.clean: false renders it.
ROUTING_TABLE_ENV = {"vip_arp": "false", "vip_routingtable": "true", "vip_routingtableid": "198",
                     "vip_routingprotocol": "248"}


class ScenarioError(Exception):
    """A step of a scenario did not happen in time; the message names the step and what was last seen."""


def wait_until(what, probe, timeout, interval=0.5):
    """(seconds, value) once probe() is true; ScenarioError naming WHAT after TIMEOUT seconds."""
    started = time.monotonic()
    value = None
    while time.monotonic() - started < timeout:
        value = probe()
        if value:
            return time.monotonic() - started, value
        time.sleep(interval)
    raise ScenarioError("%s: not within %ds (last %r)" % (what, timeout, value))


def kube_vip_routes(lab, node):
    """Destinations in table 198 with protocol 248 in NODE's namespace (iproute2)."""
    proc = subprocess.run(["ip", "-n", lab.node(node)["netns"], "-j", "route", "show", "table", "198", "proto", "248"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:  # "FIB table does not exist" until the first route goes in
        if "does not exist" not in proc.stderr:
            raise ScenarioError("reading table 198 on %s: %s" % (node, proc.stderr.strip()))
        return []
    return sorted(r["dst"] if "/" in r["dst"] else r["dst"] + "/32" for r in json.loads(proc.stdout or "[]"))


def lease_holder(real, namespace, name):
    status, body = real.request("GET", "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s" % (namespace, name))
    return (body.get("spec") or {}).get("holderIdentity") if status == 200 else None


def create_lb_service(real, name, policy="Cluster", timeout=30):
    """Create LoadBalancer Service default/NAME; its address once kube-vip-cloud-provider gave it one."""
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy, "selector": {"app": name},
                     "ports": [{"port": 80, "targetPort": 8080}]}}
    status, got = real.request("POST", "/api/v1/namespaces/default/services", body)
    if status not in (200, 201, 409):
        raise ScenarioError("creating Service default/%s: %s %s" % (name, status, got))

    def address():
        dummy, svc = real.request("GET", "/api/v1/namespaces/default/services/%s" % name)
        return ((svc or {}).get("metadata", {}).get("annotations") or {}).get("kube-vip.io/loadbalancerIPs")
    return wait_until("an address for Service default/%s (kube-vip-cloud-provider)" % name, address, timeout)[1]


def delete_service(real, name):
    real.request("DELETE", "/api/v1/namespaces/default/services/%s" % name)


def static_pod_path(lab, node):
    return os.path.join(lab.node(node)["dir"], "root", STATIC_POD)


def static_pod_env(lab, node):
    with open(static_pod_path(lab, node)) as handle:
        return {e["name"]: e.get("value") for e in yaml.safe_load(handle)["spec"]["containers"][0]["env"]}


def enable_services(lab, node):
    """NODE's kube-vip static pod file edited to svc_enable 'true' (atomically, as an editor's save; the runner
    restarts kube-vip from it). Returns the file's text before, for the caller to put back."""
    path = static_pod_path(lab, node)
    with open(path) as handle:
        original = handle.read()
    drifted = re.sub(r"(- name: svc_enable\n\s+value: )['\"]?false['\"]?", r"\1'true'", original)
    if drifted == original:
        raise ScenarioError("%s's static pod has no svc_enable 'false' to edit:\n%s" % (node, original))
    with open(path + ".tmp", "w") as handle:
        handle.write(drifted)
    os.replace(path + ".tmp", path)
    return original


def drift_static_pod(real, node, service="drift-web", timeout=90):
    """Failure 2: NODE's control-plane kube-vip static pod edited to svc_enable "true" (an edit on one node; the
    runner restarts kube-vip from it) while the services DaemonSet serves LoadBalancer Service SERVICE.

    kube-vip v1.0.0 pkg/manager/manager_arp.go (startARP): with svc_enable and no svc_election its leader on the
    common services lease (plndr-svcs-lock, which no DaemonSet pod contends) binds every LoadBalancer Service's
    address on its vip_interface (pkg/services), beside the DaemonSet's holder. Returns the address, the
    DaemonSet's holder, NODE and the seconds until NODE carried the address.
    """
    address = create_lb_service(real, service)
    lease = "kubevip-%s" % service
    dummy, holder = wait_until("%s bound on its lease holder" % service, lambda: (
        lease_holder(real, "default", lease)
        if vip_holders(real.lab, address) == [lease_holder(real, "default", lease)] else None), 60)
    enable_services(real.lab, node)
    seconds = wait_until("Service %s's address %s on %s" % (service, address, node),
                         lambda: node in vip_holders(real.lab, address), timeout)[0]
    return {"service": service, "address": address, "daemonset_holder": holder, "drifted_node": node,
            "bound_after_s": round(seconds, 1), "holders": vip_holders(real.lab, address),
            "services_lease_holder": lease_holder(real, "kube-system", "plndr-svcs-lock")}


def set_services_env(real, overrides):
    """Edit the live services DaemonSet's kube-vip env (an update by hand, as with kubectl edit); the lab's
    placement (the DaemonSet controller's stand-in) then restarts its pods. Returns the DaemonSet before."""
    dummy, before = real.request("GET", DS_PATH)
    ds = json.loads(json.dumps(before))
    ds["metadata"].pop("managedFields", None)
    container = ds["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [e for e in container["env"] if e["name"] not in overrides] + [
        {"name": k, "value": v} for k, v in overrides.items()]
    status, got = real.request("PUT", DS_PATH, ds)
    if status != 200:
        raise ScenarioError("editing the services DaemonSet's env: %s %s" % (status, got))
    real.place_workloads()
    return before


def restore_daemonset(real, before):
    """Put the services DaemonSet back as BEFORE (the lab's own undo of set_services_env) and place it."""
    dummy, live = real.request("GET", DS_PATH)
    body = json.loads(json.dumps(before))
    body["metadata"].pop("managedFields", None)
    body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    real.request("PUT", DS_PATH, body)
    real.place_workloads()


def route_holder(real, address, lease):
    """The node whose table 198 proto 248 has ADDRESS, once exactly that node has it and holds LEASE."""
    holders = [n["name"] for n in real.lab.nodes if address + "/32" in kube_vip_routes(real.lab, n["name"])]
    holder = lease_holder(real, "default", lease)
    return holders[0] if holder and holders == [holder] else None


def container(lab, node, pod):
    """(pid, restarts, state) of the pod's kube-vip container as NODE's runner reports it."""
    info = ((lab.pods()[node]["pods"].get(pod) or {}).get("containers") or {}).get("kube-vip") or {}
    return info.get("pid"), info.get("restarts", 0), info.get("state")


def stale_route(real, keep="rt-keep", gone="rt-gone", clean_wait=15.0, edited=None):
    """Failure 3: the services DaemonSet in routing-table mode serves Services KEEP and GONE; GONE's holder's
    kube-vip is SIGKILLed, GONE deleted while it is dead, the runner restarts it: GONE's route stays.

    kube-vip v1.0.0 adds a Service's route (table 198, protocol 248) on the holder of the Service's lease
    (pkg/cluster/service.go StartLoadBalancerService) and removes it when it sees the Service deleted
    (pkg/services/processor.go Delete). A route whose Service was deleted while kube-vip was dead stays: on start
    it cleans its table only with vip_cleanroutingtable (pkg/manager/manager_table.go startTableMode ->
    cleanRoutes, 10 s after start), which the plan renders false by default; CLEAN_WAIT seconds are waited past
    the restart to show it. EDITED(before) is called as soon as the DaemonSet is edited, with the DaemonSet as it
    was (for restore_daemonset, also when a later step fails). Returns the holder, both addresses and the routes
    seen.
    """
    before = set_services_env(real, ROUTING_TABLE_ENV)
    if edited:
        edited(before)
    kept, removed = create_lb_service(real, keep), create_lb_service(real, gone)
    seconds, holder = wait_until("route of %s on its lease holder" % gone,
                                 lambda: route_holder(real, removed, "kubevip-%s" % gone), 60)
    keeper = wait_until("route of %s on its lease holder" % keep,
                        lambda: route_holder(real, kept, "kubevip-%s" % keep), 60)[1]
    bound = [a for a in (kept, removed) if vip_holders(real.lab, a)]
    if bound:
        raise ScenarioError("routing-table mode bound %s on an interface" % bound)
    pod = "kube-vip-ds-%s" % holder
    pid, count, dummy = container(real.lab, holder, pod)
    real.lab.pause(holder)
    real.lab.kill(holder, pod)
    delete_service(real, gone)
    time.sleep(2)
    real.lab.pause(holder, paused=False)
    restarted_s = wait_until("%s's kube-vip restarted" % holder, lambda: (
        container(real.lab, holder, pod)[1:] == (count + 1, "running") and container(real.lab, holder, pod)[0] != pid), 30)[0]
    time.sleep(clean_wait)
    return {"holder": holder, "keeper": keeper, "kept": kept, "removed": removed, "route_after_s": round(seconds, 1),
            "restarted_after_s": round(restarted_s, 1),
            "routes": {n["name"]: kube_vip_routes(real.lab, n["name"]) for n in real.lab.nodes}}

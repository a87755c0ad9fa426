# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Day-2 failures 3, 5, 2 and 4 (issue 13) made by the real kube-vip v1.0.0 in one real lab, found by verify.yml
and fixed by remediate.yml.

No fake_kube_vip here: the leftovers are what the real kube-vip (built from github.com/kube-vip/kube-vip v1.0.0)
does, on the namespace nodes of `lab.py up --real`; the witnesses are iproute2 in the nodes' network namespaces
and the real API server. The scenarios share one bring-up (test_real_lab's module-scoped real_lab fixture, brought
up once for this module) and run in file order; each puts the lab back as it found it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

import labplacement
import realbin
import yaml
from real_failures import STATIC_POD, container, enable_services, kube_vip_routes, static_pod_env, wait_until
from testkit import TOP
from testkit.labrun import (LAB_PY, PY, api, check_partition, lab_cli, lab_playbook, pod_logs, real_lab_up, run_playbook,
                            verify, wait_service_address)
from testkit.netns import link_mac, vip_holders


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network and mount namespaces)")

NODES = ["cp1", "cp2", "cp3", "w1", "w2"]


@pytest.fixture(scope="module")
def real_lab(tmp_path_factory):
    yield from real_lab_up(tmp_path_factory, "reallab", NODES)


# routes that are not kube-vip's (another protocol in its table; its protocol in another table): they must survive
FOREIGN = [("198.51.100.13/32", "198", "static"), ("203.0.113.7/32", "200", "248")]


def node_changes(out):
    """{host: changed count} of the lab's nodes in a json-callback run."""
    return {h: s["changed"] for h, s in out["stats"].items() if h in NODES}


def remediate(the_lab, tag):
    started = time.monotonic()
    code, out, text = run_playbook(the_lab, "remediate.yml")
    print("remediate.yml (%s): rc %d in %.1fs" % (tag, code, time.monotonic() - started))
    assert code == 0 and out is not None, text
    return out


def all_routes_text(the_lab, node):
    return subprocess.run(["ip", "-n", the_lab.node(node)["netns"], "route", "show", "table", "all"],
                          capture_output=True, text=True, check=True).stdout


def foreign_present(the_lab, node):
    text = all_routes_text(the_lab, node)
    return [dst for dst, table, proto in FOREIGN
            if re.search(r"^%s dev eth0 table %s proto %s\b" % (re.escape(dst.split("/", maxsplit=1)[0]), table, proto), text, re.M)]


def lease_holder(state, namespace, name):
    got = api(state, "GET", "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s" % (namespace, name))
    return (got["body"].get("spec") or {}).get("holderIdentity") if got["status"] == 200 else None


def create_lb_service(state, name, policy="Cluster"):
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy, "selector": {"app": name},
                     "ports": [{"port": 80, "targetPort": 8080}]}}
    lab_cli(state, "api", "POST", "/api/v1/namespaces/default/services", "--body", json.dumps(body))
    return wait_service_address(state, "default", name)


def delete_service(state, name):
    lab_cli(state, "api", "DELETE", "/api/v1/namespaces/default/services/%s" % name, check=False)


def test_failure3_stale_route_after_a_restart_in_routing_table_mode(real_lab):
    """Failure 3 by the real kube-vip v1.0.0 in routing-table mode, made by `lab.py stale-route`
    (tests/lab/real_failures.py stale_route, whose docstring cites kube-vip: the route of a Service deleted while
    kube-vip was dead stays, as vip_cleanroutingtable is off by default). verify.yml reports the route as stale and
    names the cause, the services DaemonSet's env (vip_arp off, vip_routingtable on: kube-vip v1.0.0
    pkg/manager/manager.go Manager.Start takes the routing-table engine only without BGP, ARP and Wireguard);
    remediate.yml removes exactly the stale route and puts the plan's env back on the DaemonSet; the live Service's
    route and routes of another table or protocol stay; a second remediate changes nothing.
    """
    state = real_lab.state_dir
    added_foreign = []
    holder = None
    try:
        seen = json.loads(lab_cli(state, "stale-route").stdout)
        holder, keeper, keep, gone = seen["holder"], seen["keeper"], seen["kept"], seen["removed"]
        print("routing-table mode: %s/32 in table 198 proto 248 on %s after %ss; its kube-vip restarted after %ss;"
              " routes now %s" % (gone, holder, seen["route_after_s"], seen["restarted_after_s"], seen["routes"]))
        assert all(vip_holders(real_lab, a) == [] for a in (keep, gone)), "routing-table mode bound an address"
        routes = kube_vip_routes(real_lab, holder)
        assert gone + "/32" in routes, "the restarted kube-vip removed the route\n%s" % pod_logs(real_lab, "kube-vip-ds")
        assert keep + "/32" in kube_vip_routes(real_lab, keeper)
        netns = real_lab.node(holder)["netns"]
        for dst, table, proto in FOREIGN:
            subprocess.run(["ip", "-n", netns, "route", "add", dst, "dev", "eth0", "table", table, "proto", proto],
                           check=True)
            added_foreign.append(dst)

        code, report = verify(real_lab, "stale-route")
        assert code != 0
        stale = "stale route %s/32 dev eth0 table 198 proto 248" % gone
        assert stale in report["nodes"][holder]["findings"], report["nodes"][holder]
        # the cause: the services DaemonSet's env (live vs plan), and the live Service's VIP on no node because of it
        drift = report["daemonset_env"]
        assert len(drift) == 1 and drift[0].startswith("services DaemonSet kube-system/kube-vip-ds in the cluster has env"), drift
        for said in ('vip_arp "false" (the plan: "true")', 'vip_routingtable "true" (the plan: unset)',
                     "announces Services in routing_table mode, the plan's is arp mode"):
            assert said in drift[0], drift
        assert ("Service VIP %s (default/%s) is on no node (cause: the services DaemonSet's env differs from the plan)"
                % (keep, "rt-keep")) in report["problems"], report["problems"]
        for node, data in report["nodes"].items():
            assert not any(keep in f for f in data["findings"]), (node, data["findings"])
            assert not any("stale route" in f for f in data["findings"] if node != holder), (node, data["findings"])

        out = remediate(real_lab, "stale-route")
        assert sum(node_changes(out).values()) > 0
        ds = api(state, "GET", "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-vip-ds")["body"]
        env = {e["name"]: e.get("value") for e in ds["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env.get("vip_arp") == "true" and not {"vip_routingtable", "vip_routingtableid", "vip_routingprotocol"} & set(env), env
        assert gone + "/32" not in kube_vip_routes(real_lab, holder)
        assert keep + "/32" in kube_vip_routes(real_lab, keeper)
        assert foreign_present(real_lab, holder) == [dst for dst, dummy, dummy in FOREIGN], all_routes_text(real_lab, holder)
        snapshot = {n: all_routes_text(real_lab, n) for n in NODES}
        code, report = verify(real_lab, "stale-route-after")
        assert not any("stale route" in f for data in report["nodes"].values() for f in data["findings"]), report["problems"]
        assert report["daemonset_env"] == [], report["daemonset_env"]

        out = remediate(real_lab, "stale-route-again")
        assert node_changes(out) == {n: 0 for n in NODES}, node_changes(out)
        assert {n: all_routes_text(real_lab, n) for n in NODES} == snapshot
    finally:
        if holder:
            for dst, table, proto in FOREIGN:
                if dst in added_foreign:
                    subprocess.run(["ip", "-n", real_lab.node(holder)["netns"], "route", "del", dst, "dev", "eth0",
                                    "table", table, "proto", proto], check=False)
        try:  # the Services deleted (kube-vip removes the live one's route), the DaemonSet back in ARP mode
            lab_cli(state, "stale-route", "--undo", check=False)
        finally:
            for node in NODES:  # a failed run's leftovers (a stale route remediate did not get to)
                for dst in kube_vip_routes(real_lab, node):
                    subprocess.run(["ip", "-n", real_lab.node(node)["netns"], "route", "del", dst, "table", "198",
                                    "proto", "248"], check=False)


def endpoint_slice(service, node, address):
    """The EndpointSlice the EndpointSlice controller would write: one ready, serving endpoint on ``node``.
    kube-vip v1.0.0 reads conditions.serving without a nil check (pkg/endpoints/providers/endpointslices.go
    GetLocalEndpoints), as the controller always sets it."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": service + "-lab", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service}},
            "endpoints": [{"addresses": [address], "nodeName": node,
                           "conditions": {"ready": True, "serving": True, "terminating": False}}],
            "ports": [{"port": 8080, "protocol": "TCP"}]}


def service_record(report, name):
    return [r for r in report["service_vips"] if r["service"] == "default/" + name]


def test_failure5_local_service_pending_with_kube_vip_on_control_plane_only(real_lab):
    """Failure 5 by the real kube-vip v1.0.0: the services DaemonSet pinned to control-plane nodes (the drift the
    plan forbids, applied by the collection's own field manager as an older inventory left it), a Service with
    externalTrafficPolicy Local whose only ready endpoint is on w1: no node announces it, since with services
    election a kube-vip stands for a Local Service's lease only while its own node has a serving endpoint
    (pkg/services/processor.go: the endpoint watcher for Local Services; GetLocalEndpoints compares nodeName).
    verify.yml says why (the pinned DaemonSet, the address on no node, its ready endpoints on w1); after
    remediate.yml (the plan's DaemonSet on all nodes again) and the lab's placement, the real kube-vip on w1
    takes the address."""
    state = real_lab.state_dir
    placed = json.loads(lab_cli(state, "pin-daemonset").stdout)
    assert sorted(n for p, n in placed.items() if p.startswith("kube-vip-ds-")) == ["cp1", "cp2", "cp3"], placed
    try:
        lab_cli(state, "api", "POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", "--body",
                json.dumps(endpoint_slice("local-web", "w1", "203.0.113.140")))
        address = create_lb_service(state, "local-web", "Local")
        watched = time.monotonic()
        seen = set()
        while time.monotonic() - watched < 20:  # longer than the lease duration (15 s): nobody takes it
            seen.update(vip_holders(real_lab, address))
            time.sleep(1)
        assert seen == set(), "Local Service %s announced by %s with kube-vip on the control plane only" % (address, seen)

        code, report = verify(real_lab, "local-pending")
        assert code != 0
        text = " | ".join(report["problems"])
        assert "services DaemonSet kube-system/kube-vip-ds in the cluster is pinned to control-plane nodes" in text, text
        record = service_record(report, "local-web")
        assert record and record[0]["holders"] == [] and record[0]["ready_endpoints_on"] == ["w1"], record
        assert any("is on no node" in p for p in record[0]["problems"]), record

        remediate(real_lab, "local-pending")
        lab_cli(state, "place")  # the DaemonSet controller's stand-in: pods on w1 and w2 again
        seconds, dummy = wait_until(
            "w1 holding %s and its lease" % address,
            lambda: vip_holders(real_lab, address) == ["w1"] and lease_holder(state, "default", "kubevip-local-web") == "w1",
            60)
        print("failure 5: %s on w1 %.1fs after the services DaemonSet was placed on all nodes again" % (address, seconds))
        code, report = verify(real_lab, "local-fixed")
        assert code == 0, report["problems"]
        assert service_record(report, "local-web")[0]["holders"] == ["w1"]
    finally:
        delete_service(state, "local-web")
        lab_cli(state, "api", "DELETE", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/local-web-lab",
                check=False)


# ------------------------------------------------------------------ MetalLB L2 beside the drifted kube-vip
# MetalLB v0.16.1's controller and speaker (built by tests/realbin/metallb), placed by the lab's placement
# (labplacement.metallb_workloads); the pools are the lab's own pool given to MetalLB, rendered by playbooks/render.yml and
# applied by roles/cluster_apply. The address is inside the plan's pool, as a Service address is on a cluster that
# moved from kube-vip to MetalLB, so remediate.yml may take it off a control-plane-only node.
METALLB_SERVICE = "mlb-web"
METALLB_ADDRESS = "198.51.100.14"  # in the lab's pool public (198.51.100.0/28), above what the cloud provider hands out here
METALLB_SET = "metallb-l2"
METALLB_VARS = {"vip_services": {"provider": "metallb", "pools": [
    {"name": "public", "addresses": ["198.51.100.0/28"], "advertisement": "l2"}]}}
SPEAKER_NODE = "cp1"  # the only node with a ready endpoint of the Local Service: MetalLB's only candidate
POST_SCRIPT = """
import json, sys
import lab, reallab
the_lab = lab.Lab(sys.argv[1])
reallab.enter_netns(the_lab.state["switch"])
real = reallab.RealLab(the_lab)
with open(sys.argv[2]) as handle:
    todo = json.load(handle)
for method, path, body in todo:
    status, data = real.request(method, path, body)
    if status >= 300 and status not in (404, 409):
        sys.exit("%s %s: %s %s" % (method, path, status, str(data)[:500]))
"""
PROBE_SCRIPT = """
import json, sys
from ansible_collections.baremetal.vip.plugins.module_utils import vipprobe
print(json.dumps(vipprobe.solicit("br0", sys.argv[1], {sys.argv[2]: sys.argv[3]}, float(sys.argv[4]))[sys.argv[2]]))
"""
# the scripts above run in a process of their own (the switch's namespace): the test helpers and the collection
SCRIPT_ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    [os.path.join(TOP, ".collections"), os.path.join(TOP, "tests", "lab"), os.path.join(TOP, "tests", "realbin")]))


def api_path(obj):
    """The collection path of OBJ on the API server (the kinds MetalLB's lab objects and CRDs have)."""
    group, version = obj["apiVersion"].split("/") if "/" in obj["apiVersion"] else ("", obj["apiVersion"])
    plural = {"CustomResourceDefinition": "customresourcedefinitions", "ServiceAccount": "serviceaccounts",
              "ClusterRoleBinding": "clusterrolebindings", "Deployment": "deployments", "DaemonSet": "daemonsets",
              "Namespace": "namespaces", "EndpointSlice": "endpointslices", "Service": "services"}[obj["kind"]]
    base = "/api/%s" % version if not group else "/apis/%s/%s" % (group, version)
    namespace = obj["metadata"].get("namespace")
    return "%s%s/%s" % (base, "/namespaces/%s" % namespace if namespace else "", plural)


def api_requests(the_lab, tmp_path, todo, name):
    """[(method, path, body)] through the lab's admin.conf, from the switch, in one process; 404/409 are fine."""
    path = tmp_path / ("%s.json" % name)
    path.write_text(json.dumps(todo))
    proc = subprocess.run([PY, "-c", POST_SCRIPT, the_lab.state_dir, str(path)], capture_output=True, text=True,
                          check=False, env=SCRIPT_ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def metallb_crds_from_module():
    """MetalLB v0.16.1's CRDs (config/crd/bases, all nine: the speaker and controller also write ServiceL2Status and
    ConfigurationState) from the module source the build downloaded."""
    bases = os.path.join(realbin.module_source(realbin.METALLB_DIR, realbin.METALLB_MODULE), "config", "crd", "bases")
    crds = []
    for name in sorted(os.listdir(bases)):
        with open(os.path.join(bases, name)) as handle:
            crds.append(yaml.safe_load(handle))
    return crds


def metallb_version():
    return [b.version for b in realbin.binaries() if b.name == "metallb-controller"][0]


def apply_metallb_pools(the_lab, tmp_path):
    """playbooks/render.yml on the lab's inventory with the lab's pool given to MetalLB (METALLB_VARS), then
    roles/cluster_apply on the MetalLB manifests it rendered (their own set, kube-proxy untouched): one
    ansible-playbook run from the switch. Returns the seconds it took."""
    render, apply_dir = tmp_path / "render", tmp_path / "apply"
    (apply_dir / "cluster").mkdir(parents=True)
    extra = tmp_path / "metallb-vars.yml"
    extra.write_text(yaml.safe_dump(METALLB_VARS))
    play = tmp_path / "metallb-pools.yml"
    play.write_text(yaml.safe_dump([
        {"name": "render", "ansible.builtin.import_playbook": os.path.join(TOP, "playbooks", "render.yml")},
        {"name": "apply the MetalLB pools", "hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "the MetalLB manifests only", "ansible.builtin.copy": {
                "src": str(render / "cluster" / "metallb-pools.yaml"), "dest": str(apply_dir / "cluster") + "/",
                "mode": "0644"}},
            {"name": "cluster_apply", "ansible.builtin.include_role": {"name": "baremetal.vip.cluster_apply"}, "vars": {
                "cluster_apply_kubeconfig": os.path.join(the_lab.state_dir, "admin.conf"),
                "cluster_apply_dir": str(apply_dir), "cluster_apply_cluster_name": METALLB_SET,
                "cluster_apply_kube_proxy": False, "cluster_apply_webhook_timeout": 0}}]}]))
    started = time.monotonic()
    proc = lab_playbook(the_lab, str(play), "-e", "vip_render_dir=%s" % render, "-e", "@%s" % extra,
                        "-e", "ansible_python_interpreter=%s" % PY)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return time.monotonic() - started


def metallb_service():
    """A LoadBalancer Service, externalTrafficPolicy Local, asking for METALLB_ADDRESS (spec.loadBalancerIP: MetalLB
    v0.16.1 controller/service.go allocates the requested address from the pool that holds it; the lab's
    kube-vip-cloud-provider v0.0.12 takes a Service with spec.loadBalancerIP as already addressed and only copies it
    to kube-vip.io/loadbalancerIPs, pkg/provider/loadBalancer.go checkLegacyLoadBalancerIPAnnotation)."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": METALLB_SERVICE, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "loadBalancerIP": METALLB_ADDRESS,
                     "selector": {"app": METALLB_SERVICE}, "ports": [{"port": 80, "targetPort": 8080}]}}


def start_metallb(the_lab, tmp_path):
    """MetalLB L2 in the lab: CRDs, the controller and a speaker per node (the lab's placement), the collection's
    pools, and the Local Service with its one ready endpoint on SPEAKER_NODE (no controller-manager here). Returns
    the seconds from its start to the address in the Service's status (MetalLB's controller) and to ARP answers."""
    started = time.monotonic()
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": labplacement.METALLB_NAMESPACE}}
    api_requests(the_lab, tmp_path, [("POST", api_path(o), o) for o in [namespace] + metallb_crds_from_module()
                                     + labplacement.metallb_workloads(metallb_version())], "metallb-objects")
    lab_cli(the_lab.state_dir, "place")
    placed = time.monotonic() - started
    pools = apply_metallb_pools(the_lab, tmp_path)
    slice_ = endpoint_slice(METALLB_SERVICE, SPEAKER_NODE, the_lab.node(SPEAKER_NODE)["ipv4"])
    service = metallb_service()
    api_requests(the_lab, tmp_path, [("POST", api_path(service), service),
                                     ("POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", slice_)],
                 "metallb-service")
    created = time.monotonic()

    def assigned():
        svc = api(the_lab.state_dir, "GET", "/api/v1/namespaces/default/services/" + METALLB_SERVICE)["body"]
        ingress = [i.get("ip") for i in (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or []]
        return svc if ingress == [METALLB_ADDRESS] else None

    seconds, svc = wait_until("MetalLB's controller assigning %s" % METALLB_ADDRESS, assigned, 60)
    return {"placed_s": placed, "pools_s": pools, "assigned_s": seconds, "service": svc, "created": created}


def stop_metallb(the_lab, tmp_path):
    """MetalLB's workloads deleted and the placement run again (their pods stop); the Service and its slice
    deleted. The CRDs and the pools stay (nothing reads them without MetalLB)."""
    todo = [("DELETE", "%s/%s" % (api_path(o), o["metadata"]["name"]), None)
            for o in labplacement.metallb_workloads(metallb_version()) if o["kind"] in ("Deployment", "DaemonSet")]
    todo += [("DELETE", "/api/v1/namespaces/default/services/" + METALLB_SERVICE, None),
             ("DELETE", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/%s-lab" % METALLB_SERVICE, None)]
    api_requests(the_lab, tmp_path, todo, "metallb-stop")
    lab_cli(the_lab.state_dir, "place", check=False)


def arp_answers(the_lab, address, timeout=1.5):
    """MACs answering ARP for ADDRESS on the lab's switch (vip_probe's solicit from the switch namespace, asking
    from the switch's own address on that segment), each distinct MAC once, sorted."""
    switch = the_lab.state["switch"]
    source = "198.51.100.254" if address.startswith("198.51.100.") else "192.0.2.1"
    proc = subprocess.run([PY, LAB_PY, "exec", "--state-dir", the_lab.state_dir, "--", PY, "-c", PROBE_SCRIPT,
                           link_mac(switch, "br0"), address, source, str(timeout)],
                          capture_output=True, text=True, check=False, env=SCRIPT_ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return sorted(set(json.loads(proc.stdout)))


def metallb_outside(report):
    """verify's outside record of METALLB_ADDRESS (the MetalLB L2 Service address)."""
    found = [v for v in (report.get("outside") or {}).get("vips") or [] if v["address"] == METALLB_ADDRESS]
    assert len(found) == 1, report.get("outside")
    assert found[0]["label"] == "MetalLB L2 Service address (default/%s, pool public)" % METALLB_SERVICE, found
    return found[0]


def test_failure2_control_plane_kube_vip_drifted_to_svc_enable(real_lab, tmp_path):
    """Failure 2 by the real kube-vip v1.0.0: cp2's control-plane static pod edited to svc_enable "true" while the
    services DaemonSet (per-service election, kubevip-<name> leases) and MetalLB L2 serve the Services. The runner
    restarts it from the edited manifest. kube-vip v1.0.0 pkg/manager/manager_arp.go (startARP): with cp_enable it
    starts the control-plane cluster and, unless EnableServices, waits there; with svc_enable and no svc_election it
    runs leader election on the common services lease (ServicesLeaseName, plndr-svcs-lock, which no DaemonSet pod
    contends) and its leader's services watcher binds every LoadBalancer Service's address on the instance's
    vip_interface (pkg/services/processor.go Add: without services election neither the traffic policy nor the
    endpoints are asked; lbClassFilterLegacy takes a Service without a class): cp2's eth0.

    The kube-vip Service (drift-web) ends up on cp2 beside the DaemonSet's holder. The MetalLB Service (mlb-web,
    externalTrafficPolicy Local, its one ready endpoint on cp1, the address from the collection's IPAddressPool) is
    announced by MetalLB v0.16.1's speaker on cp1 (speaker/layer2_controller.go ShouldAnnounce: Local takes the nodes
    with a ready endpoint; no kube-vip of the DaemonSet stands for it, none of them has one) and bound by the drifted
    kube-vip on cp2: from the switch two MACs answer ARP for it. verify.yml names cp2 and the static pod's env;
    remediate.yml places the plan's static pod again (the runner restarts kube-vip) and both addresses leave cp2:
    drift-web is on its DaemonSet holder only and for mlb-web exactly one MAC answers, cp1's (MetalLB's speaker).
    verify.yml with the MetalLB plan (METALLB_VARS) asks that from the switch itself (its outside check on the live
    Services' addresses in the plan's L2 pools): two MACs before remediate.yml (a problem), one after."""
    state = real_lab.state_dir
    path = os.path.join(real_lab.node("cp2")["dir"], "root", STATIC_POD)
    original = None
    assert static_pod_env(real_lab, "cp2")["svc_enable"] == "false"
    macs = {node: link_mac(real_lab.node(node)["netns"], "eth0") for node in ("cp1", "cp2")}
    try:
        address = create_lb_service(state, "drift-web")
        dummy, holder = wait_until("drift-web bound on its lease holder", lambda: (
            lease_holder(state, "default", "kubevip-drift-web")
            if vip_holders(real_lab, address) == [lease_holder(state, "default", "kubevip-drift-web")] else None), 60)
        assert holder in ("w1", "w2")

        metallb = start_metallb(real_lab, tmp_path)
        annotations = metallb["service"]["metadata"].get("annotations") or {}
        assert annotations.get("metallb.io/ip-allocated-from-pool") == "public", annotations
        seconds, answers = wait_until("MetalLB's speaker on %s answering ARP for %s" % (SPEAKER_NODE, METALLB_ADDRESS),
                                      lambda: arp_answers(real_lab, METALLB_ADDRESS), 60)
        print("MetalLB L2: workloads placed in %.1fs, pools rendered and applied in %.1fs, %s assigned %.1fs after the "
              "Service, ARP answered by %s %.1fs after that"
              % (metallb["placed_s"], metallb["pools_s"], METALLB_ADDRESS, metallb["assigned_s"], answers, seconds))
        assert answers == [macs[SPEAKER_NODE]], (answers, macs, pod_logs(real_lab, "speaker"))
        assert vip_holders(real_lab, METALLB_ADDRESS) == []  # MetalLB puts it on no interface
        assert vip_holders(real_lab, address) == [holder]  # MetalLB's controller left drift-web's address alone

        original = enable_services(real_lab, "cp2")  # an edit on one node; the runner restarts kube-vip from it
        seconds, dummy = wait_until("both Service addresses on cp2", lambda: (
            "cp2" in vip_holders(real_lab, address) and "cp2" in vip_holders(real_lab, METALLB_ADDRESS)), 90)
        print("failure 2: cp2's drifted kube-vip bound %s and %s %.1fs after the edit (holders %s; plndr-svcs-lock held "
              "by %s)" % (address, METALLB_ADDRESS, seconds, vip_holders(real_lab, address),
                          lease_holder(state, "kube-system", "plndr-svcs-lock")))
        assert sorted(vip_holders(real_lab, address)) == sorted(["cp2", holder])
        assert vip_holders(real_lab, METALLB_ADDRESS) == ["cp2"]
        answers = arp_answers(real_lab, METALLB_ADDRESS)
        print("failure 2: MACs answering ARP for %s from the switch: %s (cp1 %s, cp2 %s)"
              % (METALLB_ADDRESS, answers, macs["cp1"], macs["cp2"]))
        assert answers == sorted([macs["cp1"], macs["cp2"]]), answers

        # verify with the plan the MetalLB cluster has (the lab's pool given to MetalLB, METALLB_VARS): its outside
        # check asks, from the switch, how many MACs answer ARP for the MetalLB L2 address (no node says who holds it)
        metallb_plan = ("-e", "@%s" % (tmp_path / "metallb-vars.yml"))
        code, report = verify(real_lab, "svc-enable", *metallb_plan)
        assert code != 0
        said = metallb_outside(report)
        assert (said["count"], sorted(said["macs"]), said["ok"]) == (2, sorted([macs["cp1"], macs["cp2"]]), False), said
        assert "2 MAC addresses answer ARP" in said["problem"], said
        assert "outside (from lab-switch): %s" % said["problem"] in report["problems"], report["problems"]
        cp2 = report["nodes"]["cp2"]["findings"]
        assert any("static pod" in f and "svc_enable" in f and "true" in f for f in cp2), cp2
        assert any(address in f and "control-plane-only node" in f for f in cp2), cp2
        assert any(METALLB_ADDRESS in f and "control-plane-only node" in f for f in cp2), cp2
        for node in ("cp1", "cp3"):
            assert not any("svc_enable" in f for f in report["nodes"][node]["findings"]), report["nodes"][node]

        remediate(real_lab, "svc-enable")
        assert static_pod_env(real_lab, "cp2")["svc_enable"] == "false"
        # remediate_causes.yml prunes it again until the restarted kube-vip (svc_enable off) stops re-adding it:
        # gone when remediate.yml returns, and still gone two of kube-vip's re-apply periods (3 s) later
        for vip in (address, METALLB_ADDRESS):
            assert "cp2" not in vip_holders(real_lab, vip), (vip, vip_holders(real_lab, vip))
        time.sleep(6)
        for vip in (address, METALLB_ADDRESS):
            assert "cp2" not in vip_holders(real_lab, vip), (vip, vip_holders(real_lab, vip))
        print("failure 2: %s and %s off cp2 when remediate.yml returned and 6 s later" % (address, METALLB_ADDRESS))
        wait_until("cp2's kube-vip running again", lambda: container(real_lab, "cp2", "kube-vip")[2] == "running", 30)
        assert vip_holders(real_lab, address) == [holder], vip_holders(real_lab, address)
        answers = arp_answers(real_lab, METALLB_ADDRESS)
        print("failure 2: after remediate.yml, MACs answering ARP for %s: %s" % (METALLB_ADDRESS, answers))
        assert answers == [macs[SPEAKER_NODE]], answers
        assert vip_holders(real_lab, METALLB_ADDRESS) == []
        code, report = verify(real_lab, "svc-enable-after", *metallb_plan)
        said = metallb_outside(report)
        assert (said["count"], said["macs"], said["ok"], said["problem"]) == (1, [macs[SPEAKER_NODE]], True, None), said
        print("failure 2: verify.yml's outside check on %s: 2 MACs before remediate.yml, %s after" % (METALLB_ADDRESS, said["macs"]))
    finally:
        if original and static_pod_env(real_lab, "cp2")["svc_enable"] != "false":
            with open(path, "w") as out:
                out.write(original)
        stop_metallb(real_lab, tmp_path)
        delete_service(state, "drift-web")


def test_failure4_partition_of_the_vip_holder_default_profile(real_lab):
    """Failure 4 by the real kube-vip v1.0.0 under the default profile (15 / 10 / 2 s): testkit.labrun.check_partition;
    the partition_tolerant profile (30 / 20 / 5 s) runs the same scenario on test_real_lab_profiles' lab."""
    check_partition(real_lab, "default")

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real lab: etcd, kube-apiserver, kubeadm and kube-vip built from their modules, on the namespace nodes.

The collection's rendered kube-vip static pod runs unchanged (tests/lab/podrunner.py, the stand-in for
kubelet, starts it); the witnesses are iproute2 in the nodes, the real API server's Lease and /version,
and verify.yml. Under CI=true a missing binary is a build, never a skip (realbin builds it first).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time

import netaddr
import pytest
import yaml

import realbin
from testkit.ansible import ansible_env
from testkit.labrun import LAB_PY, PY, api, failover_bound, lab_cli, lab_playbook, pod_logs, real_lab_up, wait_service_address
from testkit.metallb_real import (EXAMPLE_SET, METALLB_EXAMPLES, METALLB_KINDS, NS, apply_role, apply_set_tasks, apply_sets,
                                  contained, example_render_dir, foreign_pool, metallb_crds, metallb_objects)
from testkit.netns import link_mac, vip_holders

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network and mount namespaces)")

NODES = ["cp1", "cp2", "cp3", "w1", "w2"]
BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope="module")
def real_lab(tmp_path_factory):
    yield from real_lab_up(tmp_path_factory, "reallab", NODES)


def lab_vars(the_lab):
    return the_lab.inventory()["all"]["vars"]


def test_built_programs_are_the_releases_the_lab_names():
    """examples/lab names kube-vip, Kubernetes and (by the plan's default) the cloud provider the wrappers build."""
    assert realbin.version_mismatches() == []
    paths = realbin.ensure()  # builds what is missing: a missing binary is never a skip
    out = subprocess.run([paths["kube-apiserver"], "--version"], capture_output=True, text=True, check=True).stdout
    kubernetes, dummy, dummy = realbin.lab_versions()
    assert out.strip() == "Kubernetes v%s" % kubernetes
    # MetalLB's speaker logs its release first, then refuses to start without a node (speaker/main.go, v0.16.1)
    metallb = [b.version for b in realbin.binaries() if b.name == "metallb-speaker"][0]
    proc = subprocess.run([paths["metallb-speaker"], "--namespace=metallb-system"], capture_output=True, text=True,
                          check=False, timeout=30)
    assert proc.returncode == 1 and "MetalLB speaker starting version %s" % metallb.lstrip("v") in proc.stdout + proc.stderr
    assert "must specify --node-name" in proc.stdout + proc.stderr


def test_vip_on_exactly_one_control_plane_node_holding_the_lease(real_lab):
    vip = lab_vars(real_lab)["vip_control_plane"]["address"]
    deadline = time.monotonic() + 30
    holders = []
    while time.monotonic() < deadline:
        holders = vip_holders(real_lab, vip)
        if len(holders) == 1:
            break
        time.sleep(0.5)
    assert len(holders) == 1, "VIP holders %s\n%s" % (holders, pod_logs(real_lab))
    assert holders[0].startswith("cp")
    lease = api(real_lab.state_dir, "GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/plndr-cp-lock")
    assert lease["status"] == 200, lease
    assert lease["body"]["spec"]["holderIdentity"] == holders[0]


def test_api_answers_through_the_vip_with_the_built_release(real_lab):
    """A client on the lab's switch reaches a real kube-apiserver through https://VIP:6443."""
    cp = lab_vars(real_lab)["vip_control_plane"]
    ca = os.path.join(real_lab.node("cp1")["dir"], "root", "etc", "kubernetes", "pki", "ca.crt")
    proc = lab_cli(real_lab.state_dir, "exec", "--", "curl", "-sS", "--max-time", "5", "--cacert", ca,
                   "https://%s:%d/version" % (cp["address"], cp["port"]))
    version = json.loads(proc.stdout)
    kubernetes, dummy, dummy = realbin.lab_versions()
    assert version["gitVersion"] == "v" + kubernetes
    proc = lab_cli(real_lab.state_dir, "exec", "--", "curl", "-sS", "--max-time", "5", "--cacert", ca,
                   "https://%s:%d/readyz" % (cp["address"], cp["port"]))
    assert proc.stdout.strip() == "ok"


def test_every_pod_runs_from_a_built_binary(real_lab):
    pods = real_lab.pods()
    for node in ("cp1", "cp2", "cp3"):
        assert set(pods[node]["pods"]) >= {"etcd", "kube-apiserver", "kube-vip"}, pods[node]
        for name in ("etcd", "kube-apiserver", "kube-vip"):
            assert pods[node]["pods"][name]["phase"] == "Running", (node, name, pods[node]["pods"][name])
    for node in ("w1", "w2"):  # no static pod on a worker: only what the lab placed from our DaemonSet
        assert all("/pods.d/" in pod["file"] for pod in pods[node]["pods"].values()), pods[node]
    with open(os.path.join(real_lab.node("cp1")["dir"], "root", "etc", "kubernetes", "manifests", "kube-vip.yaml")) as f:
        manifest = yaml.safe_load(f)
    assert manifest["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "baremetal.vip"


def test_verify_passes_on_the_healthy_real_lab(real_lab):
    """verify.yml with the real kubeconfig: one holder, the lease's, kube-proxy's live ConfigMap, placement."""
    report_path = os.path.join(real_lab.state_dir, "verify-healthy.json")
    proc = lab_playbook(real_lab, "verify.yml", "-e", "vip_verify_report=%s" % report_path)
    assert proc.returncode == 0, proc.stdout[-4000:]
    with open(report_path) as handle:
        report = json.load(handle)
    assert report["ok"] is True
    assert report["kubeconfig"]["path"] == os.path.join(real_lab.state_dir, "admin.conf")


def outside_verify(the_lab, name, *extra):
    """verify.yml with the lab's inventory: its outside checks run on lab-switch (the switch namespace): rc, report."""
    report_path = os.path.join(the_lab.state_dir, "verify-%s.json" % name)
    proc = lab_playbook(the_lab, "verify.yml", "-e", "vip_verify_report=%s" % report_path, *extra)
    with open(report_path) as handle:
        return proc, json.load(handle)


def test_verify_from_the_switch_one_mac_the_holders_and_tls_readyz_with_the_cluster_ca(real_lab):
    """The outside checks against the real kube-vip and kube-apiserver: from the switch (the lab's controller), exactly
    one MAC answers ARP for the control-plane VIP, the holder's eth0 (iproute2 in the holder's namespace says which);
    TLS to VIP:6443 verifies against the cluster CA (the lab's vip_verify_outside.ca_file: kubeadm's pki/ca.crt on
    cp1) and /readyz answers ok.
    Then the CA not matching (front-proxy-ca.crt, a real CA of the cluster that did not sign the serving certificate)
    fails the TLS check, and only it."""
    vip = lab_vars(real_lab)["vip_control_plane"]["address"]
    holders = vip_holders(real_lab, vip)
    assert len(holders) == 1, holders
    holder_mac = link_mac(real_lab.node(holders[0])["netns"], "eth0")
    proc, report = outside_verify(real_lab, "outside")
    assert proc.returncode == 0 and report["ok"] is True, (report["problems"], proc.stdout[-3000:])
    out = report["outside"]
    assert out["checked"] is True and out["vantage"] == "lab-switch"
    cp = [v for v in out["vips"] if v["label"] == "control-plane VIP"][0]
    assert (cp["address"], cp["interface"], cp["count"], cp["macs"], cp["holder"], cp["ok"]) == (
        vip, "br0", 1, [holder_mac], holders[0], True), cp
    api = out["api"]
    assert (api["tls"], api["readyz_status"], api["readyz_body"], api["ok"]) == (True, 200, "ok", True), api
    assert api["ca"] == os.path.join(real_lab.node("cp1")["dir"], "root", "etc", "kubernetes", "pki", "ca.crt")
    assert "%s: 1 MAC(s) answer (%s); holder %s" % (vip, holder_mac, holders[0]) in proc.stdout
    wrong_ca = os.path.join(real_lab.node("cp1")["dir"], "root", "etc", "kubernetes", "pki", "front-proxy-ca.crt")
    wrong = {"vip_verify_outside": {"vantage": "lab-switch", "ca_file": wrong_ca}}
    proc, report = outside_verify(real_lab, "outside-wrong-ca", "-e", json.dumps(wrong))
    assert proc.returncode != 0 and report["ok"] is False
    api = report["outside"]["api"]
    assert api["tls"] is False and api["ca"] == wrong_ca and "certificate not accepted" in api["problem"], api
    assert report["problems"] == ["outside (from lab-switch): %s" % api["problem"]], report["problems"]


def test_verify_from_the_switch_counts_a_second_namespace_answering_arp_for_the_vip(real_lab):
    """A namespace on the lab's switch that also carries the control-plane VIP (two claimants, as after a partition
    or a stale copy outside the cluster): the nodes' view stays clean, verify from outside sees two MACs and fails.

    The switch (the controller) reads the cluster through the VIP (admin.conf's server), so which claimant its own
    ARP entry names decides whether the API answers; the test pins that entry, once to each:
    - to the holder: the cluster is read, and only the outside check fails;
    - to the rogue (no API server there, the connection is refused): verify still judges the nodes and the outside
      and writes its report, whose first problem says the cluster was not read; remediate.yml changes nothing and
      says why."""
    vip = lab_vars(real_lab)["vip_control_plane"]["address"]
    holders = vip_holders(real_lab, vip)
    assert len(holders) == 1, holders
    holder_mac = link_mac(real_lab.node(holders[0])["netns"], "eth0")
    switch, rogue = real_lab.state["switch"], real_lab.state["id"] + "-rogue"
    subprocess.run(["ip", "netns", "add", rogue], check=True)
    try:
        for argv in (["-n", switch, "link", "add", "rogueport", "type", "veth", "peer", "name", "eth0", "netns", rogue],
                     ["-n", switch, "link", "set", "rogueport", "master", "br0", "up"],
                     ["-n", rogue, "address", "add", "%s/24" % vip, "dev", "eth0"],
                     ["-n", rogue, "link", "set", "eth0", "up"]):
            subprocess.run(["ip"] + argv, check=True)
        rogue_mac = link_mac(rogue, "eth0")
        pin = ["ip", "-n", switch, "neigh", "replace", vip, "dev", "br0", "nud", "permanent", "lladdr"]
        subprocess.run(pin + [holder_mac], check=True)
        proc, report = outside_verify(real_lab, "outside-rogue")
        assert proc.returncode != 0 and report["ok"] is False and report["cluster_error"] is None, report["problems"]
        cp = [v for v in report["outside"]["vips"] if v["label"] == "control-plane VIP"][0]
        assert cp["count"] == 2 and sorted(cp["macs"]) == sorted([holder_mac, rogue_mac]) and cp["ok"] is False, cp
        assert "2 MAC addresses answer ARP on br0" in cp["problem"] and "(%s)" % holders[0] in cp["problem"]
        assert any(p.startswith("outside (from lab-switch): control-plane VIP %s: 2 MAC" % vip) for p in report["problems"])
        assert report["vips"][0]["holders"] == holders  # the nodes' own view: still one holder

        subprocess.run(pin + [rogue_mac], check=True)
        proc, report = outside_verify(real_lab, "outside-rogue-api")
        assert proc.returncode != 0 and report["ok"] is False, proc.stdout[-3000:]
        assert report["cluster_error"].startswith("reading the cluster's VIP state"), report["cluster_error"]
        assert report["problems"][0].startswith("the cluster was not read (%s)" % report["cluster_error"]), report["problems"]
        assert report["vips"][0]["holders"] == holders and report["kube_proxy"] is None
        assert sorted(report["nodes"]) == sorted(NODES)
        cp = [v for v in report["outside"]["vips"] if v["label"] == "control-plane VIP"][0]
        assert cp["count"] == 2 and cp["ok"] is False, cp
        assert report["outside"]["api"]["ok"] is False, report["outside"]["api"]
        proc = lab_playbook(real_lab, "remediate.yml")
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert "Nothing was changed: the cluster could not be read through %s" % os.path.join(
            real_lab.state_dir, "admin.conf") in proc.stdout, proc.stdout[-3000:]
        assert "Keep the control-plane VIP on the holder only" not in proc.stdout
        assert vip_holders(real_lab, vip) == holders
    finally:
        subprocess.run(["ip", "-n", switch, "neigh", "del", vip, "dev", "br0"], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", rogue], check=False)
        subprocess.run(["ip", "-n", switch, "link", "del", "rogueport"], check=False, capture_output=True)
        for netns in [switch] + [n["netns"] for n in real_lab.nodes]:  # forget the rogue's answer everywhere
            subprocess.run(["ip", "-n", netns, "neigh", "flush", "to", vip], check=False, capture_output=True)


def jwt_subject(token):
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))["sub"]


def test_services_daemonset_and_cloud_provider_run_under_their_service_accounts(real_lab):
    """Our DaemonSet on every node that runs workloads (never on the control-plane-only nodes), the cloud
    provider on a control-plane node, each with its own token."""
    pods = real_lab.pods()
    for node in NODES:
        name = "kube-vip-ds-%s" % node
        if node.startswith("cp"):
            assert name not in pods[node]["pods"], pods[node]
            continue
        assert pods[node]["pods"][name]["phase"] == "Running", (node, pods[node]["pods"].get(name), pod_logs(real_lab))
    cloud = [n for n in NODES if "kube-vip-cloud-provider-0" in pods[n]["pods"]]
    assert len(cloud) == 1 and cloud[0].startswith("cp"), cloud
    accounts = {"kube-vip-ds-w1": "system:serviceaccount:kube-system:kube-vip",
                "kube-vip-cloud-provider-0": "system:serviceaccount:kube-system:kube-vip-cloud-controller"}
    for pod, subject in accounts.items():
        node = "w1" if pod.endswith("w1") else cloud[0]
        with open(os.path.join(real_lab.node(node)["dir"], "pods.d", pod + ".yaml.serviceaccount", "token")) as handle:
            assert jwt_subject(handle.read()) == subject
        got = api(real_lab.state_dir, "GET", "/api/v1/namespaces/kube-system/pods/%s" % pod)
        assert got["body"]["spec"]["nodeName"] == node
        assert got["body"]["status"]["phase"] == "Running"


def create_service(state, namespace, name):
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}
    got = lab_cli(state, "api", "POST", "/api/v1/namespaces/%s/services" % namespace, "--body", json.dumps(body))
    return json.loads(got.stdout)


def wait_bound(the_lab, address, lease_ns, lease, timeout=30):
    """(holders, lease holder) once exactly the lease holder carries the address."""
    deadline = time.monotonic() + timeout
    holders, holder = [], None
    while time.monotonic() < deadline:
        holders = vip_holders(the_lab, address)
        got = api(the_lab.state_dir, "GET", "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s" % (lease_ns, lease))
        holder = (got["body"].get("spec") or {}).get("holderIdentity") if got["status"] == 200 else None
        if holder and holders == [holder]:
            break
        time.sleep(0.5)
    return holders, holder


def test_load_balancer_service_gets_a_pool_address_bound_on_its_lease_holder(real_lab):
    """The real cloud provider hands out an address of the pool we render; the real kube-vip on the node
    holding the Service's lease (svc_election: kubevip-<service>) binds it, and no other node does."""
    create_service(real_lab.state_dir, "default", "web")
    address = wait_service_address(real_lab.state_dir, "default", "web")
    assert netaddr.IPAddress(address) in netaddr.IPNetwork("198.51.100.0/28"), address
    holders, holder = wait_bound(real_lab, address, "default", "kubevip-web")
    assert holder and holders == [holder], (holders, holder, pod_logs(real_lab, "kube-vip-ds"))
    assert holder in ("w1", "w2")


def test_namespace_pool_serves_its_namespace(real_lab):
    lab_cli(real_lab.state_dir, "api", "POST", "/api/v1/namespaces", "--body",
            json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}))
    create_service(real_lab.state_dir, "team-a", "api")
    address = wait_service_address(real_lab.state_dir, "team-a", "api")
    assert netaddr.IPAddress(address) in netaddr.IPRange("198.51.100.32", "198.51.100.47"), address
    holders, holder = wait_bound(real_lab, address, "team-a", "kubevip-api")
    assert holder and holders == [holder], (holders, holder)


def test_the_rendered_rbac_is_what_authorises_kube_vip(real_lab):
    """Take the leases verbs out of the ClusterRole we render: the services kube-vip can no longer elect a
    holder for a new Service, and says it is forbidden; with the rendered role back, it binds the address."""
    path = "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:kube-vip-role"
    original = api(real_lab.state_dir, "GET", path)["body"]
    crippled = json.loads(json.dumps(original))
    crippled["rules"] = [r for r in crippled["rules"] if "leases" not in r.get("resources", [])]
    assert len(crippled["rules"]) < len(original["rules"])
    lab_cli(real_lab.state_dir, "api", "PUT", path, "--body", json.dumps(crippled))
    try:
        create_service(real_lab.state_dir, "default", "rbac-probe")
        address = wait_service_address(real_lab.state_dir, "default", "rbac-probe")
        time.sleep(8)
        assert vip_holders(real_lab, address) == [], "bound without the leases verbs"
        assert "forbidden" in pod_logs(real_lab, "kube-vip-ds").lower()
    finally:
        restored = api(real_lab.state_dir, "GET", path)["body"]
        original["metadata"]["resourceVersion"] = restored["metadata"]["resourceVersion"]
        lab_cli(real_lab.state_dir, "api", "PUT", path, "--body", json.dumps(original))
    holders, holder = wait_bound(real_lab, address, "default", "kubevip-rbac-probe", timeout=40)
    assert holder and holders == [holder], (holders, holder)


def test_sigkill_of_the_holder_moves_the_vip_within_lease_physics(real_lab):
    """SIGKILL the holder's kube-vip: another control-plane node takes the VIP and the API answers again.

    Bound (not tighter than the physics, see test_real_lab_profiles.failover_bound): lease duration +
    2 x 2.2 x retry period + 2 s, from the plan's profile; lease duration + retry period + 2 s is printed.
    """
    lv = lab_vars(real_lab)
    vip = lv["vip_control_plane"]["address"]
    election = {"default": (15, 10, 2), "partition_tolerant": (30, 20, 5)}[
        (lv["vip_control_plane"].get("leader_election") or {}).get("profile", "default")]
    bound = failover_bound(election[0], election[2])
    holders = vip_holders(real_lab, vip)
    assert len(holders) == 1, holders
    old = holders[0]
    real_lab.pause(old)  # the killed kube-vip stays dead: its VIP stays on its interface, as after a crash
    try:
        killed = time.monotonic()
        real_lab.kill(old, "kube-vip")
        moved = None
        while time.monotonic() - killed < bound + 10:
            now = [h for h in vip_holders(real_lab, vip) if h != old]
            if now:
                moved = time.monotonic() - killed
                new = now[0]
                break
            time.sleep(0.1)
        print("failover after SIGKILL of %s's kube-vip: %s s (bound %.1f s; lease + retry + 2 = %d s)"
              % (old, moved, bound, election[0] + election[2] + 2))
        assert moved is not None and moved <= bound, "%s\n%s" % (moved, pod_logs(real_lab))
        lease = api(real_lab.state_dir, "GET",
                    "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/plndr-cp-lock")
        assert lease["body"]["spec"]["holderIdentity"] == new
        # the killed holder never cleaned up: two nodes carry the VIP now; verify names it
        assert sorted(vip_holders(real_lab, vip)) == sorted([old, new])
        report_path = os.path.join(real_lab.state_dir, "verify-killed.json")
        proc = lab_playbook(real_lab, "verify.yml", "-e", "vip_verify_report=%s" % report_path)
        assert proc.returncode != 0, proc.stdout[-3000:]
        with open(report_path) as handle:
            report = json.load(handle)
        text = json.dumps(report)
        assert old in text and new in text, text[:3000]
        # remediate.yml leaves the address on the lease holder only; verify passes again
        proc = lab_playbook(real_lab, "remediate.yml")
        assert proc.returncode == 0, proc.stdout[-4000:]
        assert vip_holders(real_lab, vip) == [new]
        proc = lab_playbook(real_lab, "verify.yml")
        assert proc.returncode == 0, proc.stdout[-4000:]
    finally:
        real_lab.pause(old, paused=False)


# -------------------------------------------- cluster_apply on the real API server: MetalLB v0.16.1
# (the MetalLB CRDs and the examples' custom resources, applied and read back: testkit/metallb_real.py)


@pytest.fixture(scope="module")
def metallb_crds_installed(real_lab, tmp_path_factory):
    """The six MetalLB v0.16.1 CRDs and Namespace metallb-system, applied by k8s_apply_set (its own set,
    no prune), Established on the real API server."""
    tmp_path = tmp_path_factory.mktemp("metallb-crds")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    result, = apply_sets(real_lab, tmp_path, "crds",
                         dict(objects=[namespace] + metallb_crds(), set_name="metallb-crds", prune=False))
    assert not result.get("failed"), result
    assert {a["kind"] for a in result["applied"]} == {"Namespace", "CustomResourceDefinition"}
    for crd in metallb_crds():
        deadline = time.monotonic() + 30
        while True:
            got = api(real_lab.state_dir, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/%s"
                      % crd["metadata"]["name"])["body"]
            if any(c["type"] == "Established" and c["status"] == "True"
                   for c in (got.get("status") or {}).get("conditions") or []):
                break
            assert time.monotonic() < deadline, got.get("status")
            time.sleep(0.5)
    return tmp_path


def test_every_metallb_cr_rendered_for_the_examples_is_accepted_and_pruning_keeps_foreign_objects(
        real_lab, metallb_crds_installed, tmp_path):
    """roles/cluster_apply applies the MetalLB custom resources rendered for each MetalLB example, one example
    after another into the same set: the real API server validates each against MetalLB v0.16.1's CRD schema
    (fieldValidation=Strict: no field dropped) and stores exactly the rendered spec; each run prunes what the
    example before left, and nothing else: an IPAddressPool without our labels, one of another set, and the
    lab's own set (the kube-vip objects bootstrap.yml applied) stay. A second run of the last example changes
    nothing. With no MetalLB webhook registered nothing waits: the role runs with cluster_apply_webhook_timeout 0
    (a refusal would fail it at once). The collection renders no Community and no BFDProfile
    (plugins/plugin_utils/render.py)."""
    state = real_lab.state_dir
    assert METALLB_EXAMPLES, "no MetalLB example in tests/golden"
    lab_set_before = api(state, "GET", "/apis/apps/v1/daemonsets?labelSelector=baremetal.vip/cluster=default")
    assert lab_set_before["body"]["items"], "the lab's own set has no DaemonSet"
    for name, labels in (("foreign", {}), ("other-set", {"app.kubernetes.io/managed-by": "baremetal.vip",
                                                         "baremetal.vip/cluster": "other"})):
        got = lab_cli(state, "api", "POST", "/apis/metallb.io/v1beta1/namespaces/%s/ipaddresspools" % NS,
                      "--body", json.dumps(foreign_pool(name, labels)))
        assert json.loads(got.stdout)["status"] == 201
    seen_kinds = set()
    for example in METALLB_EXAMPLES:
        render_dir, rendered = example_render_dir(example, str(tmp_path))
        rc, out = apply_role(real_lab, tmp_path, render_dir, "apply-" + example)
        assert rc == 0, "%s: %s" % (example, out[-4000:])
        wanted = [o for o in rendered if o["kind"] in METALLB_KINDS]
        stored_all = metallb_objects(real_lab)
        for kind in METALLB_KINDS:
            live = {n: o for n, o in stored_all[kind].items() if (o["metadata"].get("labels") or {}).get(
                "baremetal.vip/cluster") == EXAMPLE_SET}
            names = sorted(o["metadata"]["name"] for o in wanted if o["kind"] == kind)
            assert sorted(live) == names, (example, kind, sorted(live), names)  # the previous example's pruned
            for obj in (o for o in wanted if o["kind"] == kind):
                seen_kinds.add(kind)
                stored = live[obj["metadata"]["name"]]
                problems = contained(obj["spec"], stored["spec"])
                assert not problems, (example, kind, obj["metadata"]["name"], problems)
                managers = [m["manager"] for m in stored["metadata"]["managedFields"]]
                assert managers == ["baremetal.vip"], managers
        pools = stored_all["IPAddressPool"]
        assert {"foreign", "other-set"} <= set(pools), (example, sorted(pools))
    assert {"IPAddressPool", "L2Advertisement", "BGPAdvertisement", "BGPPeer"} <= seen_kinds, seen_kinds
    rc, out = apply_role(real_lab, tmp_path, render_dir, "again-" + example)
    assert rc == 0 and re.search(r"localhost\s*:\s*ok=\d+\s+changed=0\b", out), out[-3000:]
    lab_set_after = api(state, "GET", "/apis/apps/v1/daemonsets?labelSelector=baremetal.vip/cluster=default")
    assert sorted(d["metadata"]["name"] for d in lab_set_after["body"]["items"]) == sorted(
        d["metadata"]["name"] for d in lab_set_before["body"]["items"])


def test_the_real_api_server_rejects_a_cr_the_crd_schema_refuses(real_lab, metallb_crds_installed, tmp_path):
    """A field MetalLB v0.16.1's BGPPeer schema lacks (holdtime for holdTime; without fieldValidation=Strict the
    server would drop it with a warning and store the rest), and a string where IPAddressPool's schema says
    boolean: k8s_apply_set fails naming the field, and nothing is stored."""
    unknown = {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "bad", "namespace": NS},
               "spec": {"myASN": 64512, "peerASN": 64513, "peerAddress": "192.0.2.254", "holdtime": "30s"}}
    wrong_type = foreign_pool("bad", {})
    wrong_type["spec"]["autoAssign"] = "yes"
    cases = [(unknown, "holdtime", "bgppeers"), (wrong_type, "autoAssign", "ipaddresspools")]
    results = apply_sets(real_lab, tmp_path, "bad", *[dict(objects=[bad], set_name="bad-crs", prune=False)
                                                      for bad, dummy, dummy in cases])
    for (bad, field, plural), result in zip(cases, results):
        assert result.get("failed"), result
        assert "applying the set bad-crs: apply %s %s %s/bad" % (bad["apiVersion"], bad["kind"], NS) in result["msg"]
        assert field in result["msg"], result["msg"]
        path = "/apis/%s/namespaces/%s/%s/bad" % (bad["apiVersion"], NS, plural)
        assert api(real_lab.state_dir, "GET", path)["status"] == 404


WEBHOOK_SERVICE = {"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "metallb-webhook-service", "namespace": NS},
                   "spec": {"ports": [{"port": 443, "targetPort": 9443}], "selector": {"component": "controller"}}}
WEBHOOK_CONFIG = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
    "metadata": {"name": "metallb-webhook-configuration"},
    "webhooks": [{"name": "ipaddresspoolvalidationwebhook.metallb.io", "admissionReviewVersions": ["v1"],
                  "clientConfig": {"service": {"name": "metallb-webhook-service", "namespace": NS,
                                               "path": "/validate-metallb-io-v1beta1-ipaddresspool"}},
                  "failurePolicy": "Fail", "sideEffects": "None", "timeoutSeconds": 2,
                  "rules": [{"apiGroups": ["metallb.io"], "apiVersions": ["v1beta1"],
                             "operations": ["CREATE", "UPDATE"], "resources": ["ipaddresspools"]}]}]}
VWC_PATH = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"


def test_metallb_webhook_outage_on_the_real_server_waits_then_fails_or_goes_through(
        real_lab, metallb_crds_installed, tmp_path):
    """With MetalLB's ValidatingWebhookConfiguration (as MetalLB v0.16.1's config/manifests/metallb-native.yaml
    registers it:
    metallb-webhook-configuration, service metallb-system/metallb-webhook-service, failurePolicy Fail) and no
    controller behind the Service, the real API server refuses the write ("failed calling webhook"):
    k8s_apply_set retries and fails after webhook_timeout with the explanation; once the webhook goes
    away while it waits (as when it starts answering), the same apply goes through."""
    state = real_lab.state_dir
    pool = foreign_pool("webhook-probe", {})
    lab_cli(state, "api", "POST", "/apis/metallb.io/v1beta1/namespaces/%s/ipaddresspools" % NS,
            "--body", json.dumps(pool))
    pool["spec"]["autoAssign"] = True
    lab_cli(state, "api", "POST", "/api/v1/namespaces/%s/services" % NS, "--body", json.dumps(WEBHOOK_SERVICE))
    lab_cli(state, "api", "POST", VWC_PATH, "--body", json.dumps(WEBHOOK_CONFIG))
    try:
        result, = apply_sets(real_lab, tmp_path, "outage", dict(objects=[pool], set_name="webhook",
                                                                webhook_timeout=3, retry_delay=1))
        assert result.get("failed"), result
        assert "the MetalLB webhook was not ready within 3s" in result["msg"], result["msg"]
        assert "failed calling webhook" in result["msg"], result["msg"]
        stored = api(state, "GET", "/apis/metallb.io/v1beta1/namespaces/%s/ipaddresspools/webhook-probe" % NS)
        assert stored["body"]["spec"]["autoAssign"] is False  # the refused update stored nothing
        result_file = tmp_path / "recovers.json"
        path = tmp_path / "recovers.yml"
        tasks = apply_set_tasks(real_lab, result_file,
                                [dict(objects=[pool], set_name="webhook", webhook_timeout=60, retry_delay=1)])
        path.write_text(yaml.safe_dump([{"name": "recovers", "hosts": "localhost", "gather_facts": False,
                                         "tasks": tasks}]))
        log = tmp_path / "recovers.log"
        with open(log, "w") as handle:
            waiting = subprocess.Popen(
                [PY, LAB_PY, "exec", "--state-dir", state, "--", os.path.join(BIN, "ansible-playbook"), "-i",
                 "localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % PY, str(path)],
                stdout=handle, stderr=subprocess.STDOUT, cwd=TOP,
                env=ansible_env())
        deadline = time.monotonic() + 60
        while "TASK [apply 0]" not in log.read_text() and waiting.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(6)  # the module started and was refused at least once (retry_delay 1 s)
        assert waiting.poll() is None, log.read_text()[-3000:]
    finally:
        lab_cli(state, "api", "DELETE", VWC_PATH + "/metallb-webhook-configuration", check=False)
        lab_cli(state, "api", "DELETE", "/api/v1/namespaces/%s/services/metallb-webhook-service" % NS, check=False)
    waiting.wait(timeout=120)
    assert waiting.returncode == 0, log.read_text()[-3000:]
    with open(result_file) as handle:
        result, = json.load(handle)
    assert result["webhook_retries"] >= 1 and result["changed"] and not result.get("failed"), result
    stored = api(state, "GET", "/apis/metallb.io/v1beta1/namespaces/%s/ipaddresspools/webhook-probe" % NS)
    assert stored["body"]["spec"]["autoAssign"] is True

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

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "realbin"))

import lab  # noqa: E402  pylint: disable=wrong-import-position
from test_real_lab_profiles import failover_bound  # noqa: E402  pylint: disable=wrong-import-position
import realbin  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network and mount namespaces)")

NODES = ["cp1", "cp2", "cp3", "w1", "w2"]
LAB_PY = os.path.join(HERE, "lab.py")
PY = sys.executable
BIN = os.path.dirname(sys.executable)


def lab_cli(state, command, *args, check=True):
    proc = subprocess.run([PY, LAB_PY, command, "--state-dir", state] + list(args), capture_output=True, text=True,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError("lab.py %s %s failed (%d):\n%s\n%s" % (command, " ".join(args), proc.returncode,
                                                                    proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


def api(state, method, path):
    proc = lab_cli(state, "api", method, path, check=False)
    return json.loads(proc.stdout)


def playbook(the_lab, name, *extra):
    """ansible-playbook NAME from the switch namespace (the lab's controller) with the lab's admin.conf."""
    return subprocess.run(
        [PY, LAB_PY, "exec", "--state-dir", the_lab.state_dir, "--", os.path.join(BIN, "ansible-playbook"),
         "-i", the_lab.inventory_path, os.path.join(TOP, "playbooks", name),
         "-e", "vip_kubeconfig=%s" % os.path.join(the_lab.state_dir, "admin.conf")] + list(extra),
        capture_output=True, text=True, check=False, cwd=TOP,
        env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(TOP, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                 ANSIBLE_DEPRECATION_WARNINGS="0"))


def vip_holders(the_lab, vip):
    """Nodes whose interfaces carry the VIP, read with iproute2 in each node's namespace."""
    holders = []
    for node in the_lab.nodes:
        out = subprocess.run(["ip", "-n", node["netns"], "-o", "addr", "show"], capture_output=True, text=True,
                             check=True).stdout
        if re.search(r"\binet %s/" % re.escape(vip), out):
            holders.append(node["name"])
    return holders


def pod_logs(the_lab, pattern="kube-vip"):
    out = []
    for node in the_lab.nodes:
        log_dir = os.path.join(node["dir"], "logs")
        for name in sorted(os.listdir(log_dir)) if os.path.isdir(log_dir) else []:
            if pattern in name:
                with open(os.path.join(log_dir, name), errors="replace") as handle:
                    out.append("--- %s/%s\n%s" % (node["name"], name, "\n".join(handle.read().splitlines()[-25:])))
    return "\n".join(out)


@pytest.fixture(scope="module")
def real_lab(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("reallab") / "lab")
    started = time.monotonic()
    proc = subprocess.run([PY, LAB_PY, "up", "--real", "--nodes", ",".join(NODES), "--state-dir", state],
                          capture_output=True, text=True, check=False)
    print("lab up --real: %.1fs\n%s" % (time.monotonic() - started, proc.stdout[-3000:]))
    if proc.returncode != 0:
        subprocess.run([PY, LAB_PY, "down", "--state-dir", state], check=False)
        pytest.fail("lab up --real failed:\n%s\n%s" % (proc.stdout[-6000:], proc.stderr[-6000:]))
    the_lab = lab.Lab(state)
    try:
        yield the_lab
    finally:
        subprocess.run([PY, LAB_PY, "down", "--state-dir", state], check=False)


def lab_vars(the_lab):
    return the_lab.inventory()["all"]["vars"]


def test_built_programs_are_the_releases_the_lab_names():
    """examples/lab names kube-vip, Kubernetes and (by the plan's default) the cloud provider the wrappers build."""
    assert realbin.version_mismatches() == []
    paths = realbin.ensure()  # builds what is missing: a missing binary is never a skip
    out = subprocess.run([paths["kube-apiserver"], "--version"], capture_output=True, text=True, check=True).stdout
    kubernetes, dummy, dummy = realbin.lab_versions()
    assert out.strip() == "Kubernetes v%s" % kubernetes


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
    proc = playbook(real_lab, "verify.yml", "-e", "vip_verify_report=%s" % report_path)
    assert proc.returncode == 0, proc.stdout[-4000:]
    with open(report_path) as handle:
        report = json.load(handle)
    assert report["ok"] is True
    assert report["kubeconfig"]["path"] == os.path.join(real_lab.state_dir, "admin.conf")


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


def wait_service_address(state, namespace, name, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        svc = api(state, "GET", "/api/v1/namespaces/%s/services/%s" % (namespace, name))["body"]
        address = (svc.get("metadata", {}).get("annotations") or {}).get("kube-vip.io/loadbalancerIPs")
        if address:
            return address
        time.sleep(0.5)
    raise AssertionError("no address for %s/%s within %ds" % (namespace, name, timeout))


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
        proc = playbook(real_lab, "verify.yml", "-e", "vip_verify_report=%s" % report_path)
        assert proc.returncode != 0, proc.stdout[-3000:]
        with open(report_path) as handle:
            report = json.load(handle)
        text = json.dumps(report)
        assert old in text and new in text, text[:3000]
        # remediate.yml leaves the address on the lease holder only; verify passes again
        proc = playbook(real_lab, "remediate.yml")
        assert proc.returncode == 0, proc.stdout[-4000:]
        assert vip_holders(real_lab, vip) == [new]
        proc = playbook(real_lab, "verify.yml")
        assert proc.returncode == 0, proc.stdout[-4000:]
    finally:
        real_lab.pause(old, paused=False)

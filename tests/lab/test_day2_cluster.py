# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/verify.yml and playbooks/remediate.yml with vip_kubeconfig: the lab plus the Kubernetes
API test double (tests/k8s_double, NOT a Kubernetes API server) on 127.0.0.1, read on the controller.

The double holds the control-plane lease plndr-cp-lock with cp2 as holder, two LoadBalancer
Services (default/web, 198.51.100.1; default/api, 198.51.100.5, externalTrafficPolicy Local) with
their per-service leases (the lab's plan has svc_election: kubevip-web held by w1, kubevip-api by
w2), api's EndpointSlice with a ready endpoint on w2 and the services DaemonSet's pods on w1 and
w2; the lab has the VIP on cp1 (kube-vip's stand-in), each Service VIP on its lease holder, a
kube-vip route for the live Service and two stale ones for Services the API no longer has.
Witnesses: iproute2 inside the nodes, the static pod files in the nodes' private /etc/kubernetes.
One lab (cp1, cp2, w1, w2) and one double for the module; `pytest -s` prints the timings.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import time

import pytest
import yaml

import fake_kube_vip
import lab
from k8s_double.server import KubeDouble
from testkit import BIN, TOP
from testkit.ansible import ansible, lab_env
from testkit.k8s_objects import kube_proxy, service_leases, services_daemonset
from testkit.netns import addresses, holders, kube_vip_routes, witness


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network and mount namespaces)")

LIVE = "198.51.100.1"
API = "198.51.100.5"
TIMINGS = {}


def seed():
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [
        {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
         "metadata": {"name": "plndr-cp-lock", "namespace": "kube-system"},
         "spec": {"holderIdentity": "cp2", "leaseDurationSeconds": 3600, "renewTime": now, "acquireTime": now}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
         "status": {"loadBalancer": {"ingress": [{"ip": LIVE}]}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "default"},
         "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [{"port": 443, "protocol": "TCP"}]},
         "status": {"loadBalancer": {"ingress": [{"ip": API}]}}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",  # api's pod, ready on w2
         "metadata": {"name": "api-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "api"}},
         "endpoints": [{"addresses": ["203.0.113.140"], "nodeName": "w2", "conditions": {"ready": True}}]},
    ] + service_leases({"web": "w1", "api": "w2"}, now) + services_daemonset(["w1", "w2"]) + kube_proxy()


def live_kube_proxy(double):
    """(config.conf of the live ConfigMap, the DaemonSet's pod template annotations)."""
    config = yaml.safe_load(double.get("v1", "ConfigMap", "kube-proxy", "kube-system")["data"]["config.conf"])
    ds = double.get("apps/v1", "DaemonSet", "kube-proxy", "kube-system")
    return config, ds["spec"]["template"]["metadata"].get("annotations") or {}


def changed(out):
    """Changed tasks per lab node (the controller's play, remediate's kube-proxy ConfigMap merge, apart)."""
    return {h: s["changed"] for h, s in out["stats"].items() if h != "localhost"}


@pytest.fixture(scope="module")
def cluster_lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("day2-cluster")
    the_lab = lab.Lab(str(base / "state"))
    started = time.monotonic()
    the_lab.up(["cp1", "cp2", "w1", "w2"])
    fake = fake_kube_vip.FakeKubeVip(the_lab.state_dir)
    fake.apply(leader="cp1")  # and web's VIP on w1
    cp1, w2 = the_lab.node("cp1"), the_lab.node("w2")
    fake.addr(w2, API + "/32", w2["interface"])  # api's VIP on its lease holder
    fake.inject("stale-routes", "cp1")  # 198.51.100.3 and .4: Services the API does not have
    fake.route(cp1, LIVE + "/32", cp1["interface"])  # the live Service's route
    double = KubeDouble(seed=seed()).start()
    double.kubeconfig = double.write_kubeconfig(str(base / "double.kubeconfig"))
    TIMINGS["lab up + double"] = time.monotonic() - started
    yield the_lab, double, fake
    double.stop()
    the_lab.down()
    print("\nday-2 cluster timings (s): %s" % json.dumps({k: round(v, 1) for k, v in TIMINGS.items()}))


def playbook(the_lab, double, label, name, *args):
    started = time.monotonic()
    rc, out = ansible("-i", the_lab.inventory_path, os.path.join("playbooks", name),
                      "-e", "vip_kubeconfig=%s" % double.kubeconfig, *args, program="ansible-playbook")
    TIMINGS[label] = time.monotonic() - started
    assert double.token not in json.dumps(out)
    return rc, out


def kube_vip_env(the_lab, node):
    with open(os.path.join(the_lab.node(node)["dir"], "root", "etc/kubernetes/manifests/kube-vip.yaml")) as handle:
        pod = yaml.safe_load(handle)
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    return env["vip_leaseduration"], env["vip_renewdeadline"], env["vip_retryperiod"]


def test_verify_reports_the_lease_holder_and_only_dead_services_routes(cluster_lab, tmp_path):
    the_lab, double, dummy = cluster_lab
    report = tmp_path / "report.json"
    rc, dummy = playbook(the_lab, double, "verify.yml (mismatch)", "verify.yml", "-e", "vip_verify_report=%s" % report)
    assert rc != 0
    data = json.loads(report.read_text())
    assert data["vips"] == [{"address": "192.0.2.10", "holders": ["cp1"], "lease": "kube-system/plndr-cp-lock",
                             "lease_holder": "cp2", "lease_expired": False}]
    problems = "\n".join(data["problems"])
    assert "control-plane VIP 192.0.2.10 is on cp1, but lease kube-system/plndr-cp-lock is held by cp2" in problems
    assert "cp1: stale route 198.51.100.3/32" in problems and "cp1: stale route 198.51.100.4/32" in problems
    assert LIVE not in problems
    assert data["live_service_ips"] == [API, LIVE]
    # failure 1's cause in the live cluster: the VIP is not in the ConfigMap's ipvs.excludeCIDRs
    assert ('ConfigMap kube-system/kube-proxy config.conf ipvs.excludeCIDRs is [], which misses the control-plane VIP '
            '192.0.2.10; the plan wants ["192.0.2.10/32"] (else kube-proxy in IPVS mode deletes kube-vip\'s IPVS service)') in problems
    assert "strictARP" not in problems and "mode is" not in problems  # those are as planned
    # failure 2's cause: the lab's control-plane nodes have no kube-vip static pod yet
    assert "cp1: control-plane kube-vip static pod /etc/kubernetes/manifests/kube-vip.yaml is missing" in problems
    assert data["daemonset_source"] == "cluster" and "pinned" not in problems


def test_remediate_follows_the_lease_and_keeps_the_live_services_route(cluster_lab, tmp_path):
    the_lab, double, dummy = cluster_lab
    cp1 = the_lab.node("cp1")["netns"]
    before = live_kube_proxy(double)
    rc, out = playbook(the_lab, double, "remediate.yml --check", "remediate.yml", "--check", "--diff")
    assert rc == 0, json.dumps(out)[-3000:]
    assert holders(the_lab) == ["cp1"]
    assert live_kube_proxy(double) == before and "excludeCIDRs" not in before[0]["ipvs"]
    rc, out = playbook(the_lab, double, "remediate.yml", "remediate.yml")
    assert rc == 0, json.dumps(out)[-3000:]
    assert holders(the_lab) == ["cp2"]
    # the live ConfigMap merged (the rest of config.conf kept) and kube-proxy restarted to read it
    config, annotations = live_kube_proxy(double)
    assert config["ipvs"] == {"strictARP": True, "scheduler": "rr", "excludeCIDRs": ["192.0.2.10/32"]}, config
    assert config["mode"] == "ipvs" and config["clusterCIDR"] == "203.0.113.128/25"
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert kube_vip_routes(cp1) == [LIVE]
    survivors = {(r["dst"], r["protocol"]) for r in witness(cp1, "route", "show", "table", "all")}
    assert {("198.51.100.13", "static"), ("203.0.113.7", "248")} <= survivors
    report = tmp_path / "after.json"
    rc, dummy = playbook(the_lab, double, "verify.yml (after)", "verify.yml", "-e", "vip_verify_report=%s" % report)
    data = json.loads(report.read_text())
    assert rc == 0 and data["ok"] is True, data["problems"]
    assert data["vips"][0]["holders"] == ["cp2"] and data["vips"][0]["lease_holder"] == "cp2"


def test_partition_tolerant_profile_is_placed_serially_once(cluster_lab):
    the_lab, double, dummy = cluster_lab
    rc, out = playbook(the_lab, double, "remediate.yml le=default", "remediate.yml",
                       "-e", "vip_remediate_leader_election=default")
    assert rc == 0, json.dumps(out)[-3000:]
    assert kube_vip_env(the_lab, "cp1") == kube_vip_env(the_lab, "cp2") == ("15", "10", "2")
    for worker in ("w1", "w2"):
        assert not os.path.exists(os.path.join(the_lab.node(worker)["dir"], "root", "etc/kubernetes/manifests/kube-vip.yaml"))
    rc, out = playbook(the_lab, double, "remediate.yml le=pt --check --diff", "remediate.yml", "--check", "--diff",
                       "-e", "vip_remediate_leader_election=partition_tolerant")
    assert rc == 0, json.dumps(out)[-3000:]
    assert changed(out) == {"cp1": 1, "cp2": 1, "w1": 0, "w2": 0}
    assert kube_vip_env(the_lab, "cp1") == ("15", "10", "2")
    rc, out = playbook(the_lab, double, "remediate.yml le=pt", "remediate.yml",
                       "-e", "vip_remediate_leader_election=partition_tolerant")
    assert rc == 0, json.dumps(out)[-3000:]
    assert kube_vip_env(the_lab, "cp1") == kube_vip_env(the_lab, "cp2") == ("30", "20", "5")
    # one control-plane node at a time: the leader-election play ran in two batches of one host
    le_play = [p for p in out["plays"] if p["play"]["name"].startswith("Apply a leader-election profile")]
    assert len(le_play) == 2
    rc, out = playbook(the_lab, double, "remediate.yml le=pt again", "remediate.yml",
                       "-e", "vip_remediate_leader_election=partition_tolerant")
    assert rc == 0, json.dumps(out)[-3000:]
    assert changed(out) == {"cp1": 0, "cp2": 0, "w1": 0, "w2": 0}
    assert out["stats"]["localhost"]["changed"] == 0  # the kube-proxy ConfigMap already has the plan's settings


def service_vip_holders(the_lab, address):
    return holders(the_lab, address + "/32")


def test_verify_reports_each_service_vip_with_its_lease(cluster_lab, tmp_path):
    the_lab, double, dummy = cluster_lab
    report = tmp_path / "report.json"
    playbook(the_lab, double, "verify.yml (service VIPs)", "verify.yml", "-e", "vip_verify_report=%s" % report)
    data = json.loads(report.read_text())
    assert [(v["service"], v["address"], v["holders"], v["lease"], v["lease_holder"], v["election"], v["problems"])
            for v in data["service_vips"]] == [
        ("default/api", API, ["w2"], "default/kubevip-api", "w2", "per_service", []),
        ("default/web", LIVE, ["w1"], "default/kubevip-web", "w1", "per_service", [])]


def test_service_vip_on_two_nodes_and_on_a_non_holder_then_remediate(cluster_lab, tmp_path):
    the_lab, double, fake = cluster_lab
    w1, w2 = the_lab.node("w1"), the_lab.node("w2")
    fake.addr(w1, API + "/32", w1["interface"])  # api (lease: w2) also on w1: two nodes
    fake.addr(w1, LIVE + "/32", w1["interface"], remove=True)  # web (lease: w1) on w2 only: a non-holder
    fake.addr(w2, LIVE + "/32", w2["interface"])
    assert service_vip_holders(the_lab, API) == ["w1", "w2"] and service_vip_holders(the_lab, LIVE) == ["w2"]
    report = tmp_path / "before.json"
    rc, dummy = playbook(the_lab, double, "verify.yml (service VIPs broken)", "verify.yml", "-e", "vip_verify_report=%s" % report)
    assert rc != 0
    problems = json.loads(report.read_text())["problems"]
    assert "Service VIP %s (default/api) is on 2 nodes: w1, w2 (exactly one wanted)" % API in problems
    assert "Service VIP %s (default/web) is on w2, but lease default/kubevip-web is held by w1" % LIVE in problems
    rc, out = playbook(the_lab, double, "remediate.yml --check (service VIPs)", "remediate.yml", "--check", "--diff")
    assert rc == 0, json.dumps(out)[-3000:]
    assert service_vip_holders(the_lab, API) == ["w1", "w2"] and service_vip_holders(the_lab, LIVE) == ["w2"]
    rc, out = playbook(the_lab, double, "remediate.yml (service VIPs)", "remediate.yml")
    assert rc == 0, json.dumps(out)[-3000:]
    assert service_vip_holders(the_lab, API) == ["w2"]  # left on its lease holder only
    assert service_vip_holders(the_lab, LIVE) == []  # taken from the non-holder; kube-vip on w1 binds it again
    assert any(a.startswith(w1["ipv4"].split("/")[0] + "/") for a in addresses(w1["netns"]))  # the node's own stays
    rc, dummy = playbook(the_lab, double, "verify.yml (web on no node)", "verify.yml", "-e", "vip_verify_report=%s" % report)
    assert rc != 0
    assert json.loads(report.read_text())["problems"] == ["Service VIP %s (default/web) is on no node" % LIVE]
    fake.addr(w1, LIVE + "/32", w1["interface"])  # what kube-vip on the lease holder does
    rc, dummy = playbook(the_lab, double, "verify.yml (service VIPs fixed)", "verify.yml", "-e", "vip_verify_report=%s" % report)
    assert rc == 0, json.loads(report.read_text())["problems"]


def test_verify_judges_the_live_services_daemonset(cluster_lab, tmp_path):
    the_lab, double, dummy = cluster_lab
    pinned = services_daemonset([])[0]
    pinned["spec"]["template"]["spec"]["nodeSelector"] = {"node-role.kubernetes.io/control-plane": ""}
    double.seed([pinned])
    report = tmp_path / "pinned.json"
    try:
        rc, dummy = playbook(the_lab, double, "verify.yml (live DaemonSet pinned)", "verify.yml", "-e", "vip_verify_report=%s" % report)
        assert rc != 0
        data = json.loads(report.read_text())
        assert data["daemonset_source"] == "cluster"
        assert data["problems"] == ['services DaemonSet kube-system/kube-vip-ds in the cluster is pinned to control-plane nodes '
                                    '(nodeSelector {"node-role.kubernetes.io/control-plane": ""}); the plan runs it on all nodes']
    finally:
        double.seed(services_daemonset([])[:1])
    rc, dummy = playbook(the_lab, double, "verify.yml (live DaemonSet fixed)", "verify.yml", "-e", "vip_verify_report=%s" % report)
    assert rc == 0, json.loads(report.read_text())["problems"]


def plan_services_daemonset(the_lab, render_dir):
    """The plan's services DaemonSet, as playbooks/render.yml writes it (DIR/cluster/kube-vip-services.yaml)."""
    rc, out = ansible("-i", the_lab.inventory_path, os.path.join("playbooks", "render.yml"),
                      "-e", "vip_render_dir=%s" % render_dir, program="ansible-playbook")
    assert rc == 0, json.dumps(out)[-3000:]
    with open(os.path.join(render_dir, "cluster", "kube-vip-services.yaml")) as handle:
        return [d for d in yaml.safe_load_all(handle) if d and d.get("kind") == "DaemonSet"][0]


def apply_as_baremetal_vip(double, obj):
    """Server-side apply ``obj`` to the double with k8s_apply_set (field manager baremetal.vip), as bootstrap.yml's
    cluster_apply does: here the plan's DaemonSet pinned to control-plane nodes, as a pinned render directory
    (failure 5 in the lab) applied by bootstrap would leave it."""
    args = {"kubeconfig": double.kubeconfig, "objects": [obj], "set_name": "default", "prune": False}
    rc, out = ansible("localhost", "-m", "baremetal.vip.k8s_apply_set", "-a", json.dumps(args))
    assert rc == 0, json.dumps(out)[-3000:]


def live_pod_spec(double):
    return double.get("apps/v1", "DaemonSet", "kube-vip-ds", "kube-system")["spec"]["template"]["spec"]


def test_remediate_applies_the_plans_services_daemonset_over_a_pinned_one(cluster_lab, tmp_path):
    the_lab, double, dummy = cluster_lab
    plan_ds = plan_services_daemonset(the_lab, str(tmp_path / "render"))
    assert "nodeSelector" not in plan_ds["spec"]["template"]["spec"]  # the lab's plan runs it on all nodes
    pinned = json.loads(json.dumps(plan_ds))
    pinned["spec"]["template"]["spec"]["nodeSelector"] = {"node-role.kubernetes.io/control-plane": ""}
    apply_as_baremetal_vip(double, pinned)
    assert live_pod_spec(double)["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    rc, out = playbook(the_lab, double, "remediate.yml --check (pinned DaemonSet)", "remediate.yml", "--check", "--diff")
    assert rc == 0, json.dumps(out)[-3000:]
    assert live_pod_spec(double)["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}  # a dry run
    apply = [t["hosts"]["localhost"] for p in out["plays"] if p["play"]["name"].startswith("Apply the plan's services DaemonSet")
             for t in p["tasks"] if t["task"]["name"].endswith("Apply the cluster objects and prune those that left the set")]
    assert len(apply) == 1 and apply[0]["changed"], apply
    assert [a["kind"] + "/" + a["name"] for a in apply[0]["applied"]] == ["DaemonSet/kube-vip-ds"], apply[0]["applied"]
    assert "nodeSelector" in json.dumps(apply[0]["diff"])  # the diff shows the pin going
    rc, out = playbook(the_lab, double, "remediate.yml (pinned DaemonSet)", "remediate.yml")
    assert rc == 0, json.dumps(out)[-3000:]
    live = double.get("apps/v1", "DaemonSet", "kube-vip-ds", "kube-system")
    assert live["spec"] == plan_ds["spec"]  # the plan's DaemonSet: its placement back (all nodes)
    assert all(live["metadata"]["labels"][k] == v for k, v in plan_ds["metadata"]["labels"].items())
    rc, out = playbook(the_lab, double, "remediate.yml (pinned DaemonSet, again)", "remediate.yml")
    assert rc == 0, json.dumps(out)[-3000:]
    assert changed(out) == {"cp1": 0, "cp2": 0, "w1": 0, "w2": 0}
    assert out["stats"]["localhost"]["changed"] == 0
    assert double.get("apps/v1", "DaemonSet", "kube-vip-ds", "kube-system")["metadata"]["resourceVersion"] == \
        live["metadata"]["resourceVersion"]
    report = tmp_path / "after.json"
    rc, dummy = playbook(the_lab, double, "verify.yml (DaemonSet applied)", "verify.yml", "-e", "vip_verify_report=%s" % report)
    data = json.loads(report.read_text())
    assert rc == 0 and data["ok"] is True, data["problems"]
    assert data["daemonset_source"] == "cluster"


def test_remediate_says_when_another_field_manager_pins_the_daemonset(cluster_lab):
    the_lab, double, dummy = cluster_lab
    before = double.get("apps/v1", "DaemonSet", "kube-vip-ds", "kube-system")
    pinned = json.loads(json.dumps({k: before[k] for k in ("apiVersion", "kind", "spec")}))
    pinned["metadata"] = {k: before["metadata"][k] for k in ("name", "namespace", "labels")}
    pinned["spec"]["template"]["spec"]["nodeSelector"] = {"node-role.kubernetes.io/control-plane": ""}
    double.seed([pinned])  # written by another field manager ("seed"), as kubectl edit would
    try:
        rc, out = playbook(the_lab, double, "remediate.yml (foreign pin)", "remediate.yml")
        assert rc != 0
        failed = [t["hosts"]["localhost"]["msg"] for p in out["plays"] for t in p["tasks"]
                  if t["hosts"].get("localhost", {}).get("failed")]
        assert len(failed) == 1 and "another field manager owns this placement" in failed[0], failed
        assert "kubectl -n kube-system patch daemonset kube-vip-ds" in failed[0]
        assert live_pod_spec(double)["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    finally:
        double.seed([before])
    assert "nodeSelector" not in live_pod_spec(double)


def playbook_without_kubeconfig(the_lab, label, home, name, *args):
    """ansible-playbook with no vip_kubeconfig and HOME=``home`` (where bootstrap.yml fetches admin.conf to)."""
    env = lab_env(HOME=str(home))
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", the_lab.inventory_path, os.path.join("playbooks", name)]
                          + list(args), cwd=TOP, env=env, capture_output=True, text=True, check=False)
    TIMINGS[label] = time.monotonic() - started
    return proc.returncode, json.loads(proc.stdout)


def said(out, task):
    """The debug message of ``task`` (the play's first host that ran it)."""
    return [next(iter(t["hosts"].values()))["msg"] for p in out["plays"] for t in p["tasks"] if t["task"]["name"] == task]


def test_without_vip_kubeconfig_the_admin_conf_bootstrap_fetched_is_used(cluster_lab, tmp_path):
    the_lab, double, dummy = cluster_lab
    home = tmp_path / "home"
    # where bootstrap.yml -e vip_bootstrap_kubeadm_init=true fetches admin.conf (the lab's cluster is "default")
    fetched = home / ".cache" / "baremetal.vip" / "bootstrap" / "default-admin.conf"
    report = tmp_path / "report.json"
    rc, out = playbook_without_kubeconfig(the_lab, "verify.yml (no kubeconfig)", home, "verify.yml",
                                          "-e", "vip_verify_report=%s" % report)
    data = json.loads(report.read_text())
    assert data["kubeconfig"] == {"path": None, "source": "none"}
    assert data["vips"][0]["lease"] is None and data["live_service_ips"] is None  # the cluster was not read
    os.makedirs(fetched.parent)
    double.write_kubeconfig(str(fetched))
    rc, out = playbook_without_kubeconfig(the_lab, "verify.yml (fetched admin.conf)", home, "verify.yml",
                                          "-e", "vip_verify_report=%s" % report)
    assert double.token not in json.dumps(out)
    data = json.loads(report.read_text())
    assert rc == 0 and data["ok"] is True, data["problems"]
    assert data["kubeconfig"] == {"path": str(fetched), "source": "bootstrap_admin_conf"}
    assert data["vips"][0]["lease"] == "kube-system/plndr-cp-lock" and data["vips"][0]["lease_holder"] == "cp2"
    assert data["daemonset_source"] == "cluster"
    say = "Say which kubeconfig reads the cluster (its path, never its content)"
    assert said(out, say) == ["Reading the cluster through %s (the admin.conf bootstrap.yml's kubeadm init fetched)" % fetched]
    # a file left by a cluster torn down since: the fallback can be turned off
    rc, out = playbook_without_kubeconfig(the_lab, "verify.yml (fallback off)", home, "verify.yml",
                                          "-e", "vip_verify_report=%s" % report, "-e", "vip_day2_bootstrap_admin_conf=false")
    data = json.loads(report.read_text())
    assert data["kubeconfig"] == {"path": None, "source": "none"} and data["live_service_ips"] is None
    assert said(out, say) == ["No kubeconfig (vip_kubeconfig unset, vip_day2_bootstrap_admin_conf=false): nothing is read from the cluster"]
    # remediate finds it too: it reads the leases through it and merges into the live ConfigMap through it
    rc, out = playbook_without_kubeconfig(the_lab, "remediate.yml --check (fetched admin.conf)", home, "remediate.yml",
                                          "--check", "--diff")
    assert rc == 0, json.dumps(out)[-3000:]
    assert double.token not in json.dumps(out)
    assert said(out, say) == ["Reading the cluster through %s (the admin.conf bootstrap.yml's kubeadm init fetched)" % fetched]
    lease = said(out, "Say which node keeps the control-plane VIP")
    assert lease == ["control-plane VIP 192.0.2.10 belongs on cp2 only (lease kube-system/plndr-cp-lock held by cp2)"], lease
    merge = [t for p in out["plays"] for t in p["tasks"] if t["task"]["name"].endswith("Read the kube-proxy ConfigMap")]
    assert merge and not merge[0]["hosts"]["localhost"].get("skipped"), merge

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/verify.yml and playbooks/remediate.yml with vip_kubeconfig: the lab plus the Kubernetes
API test double (tests/k8s_double, NOT a Kubernetes API server) on 127.0.0.1, read on the controller.

The double holds the control-plane lease plndr-cp-lock with cp2 as holder and one LoadBalancer
Service (default/web, 198.51.100.1); the lab has the VIP on cp1 (kube-vip's stand-in), a kube-vip
route for the live Service and two stale ones for Services the API no longer has. Witnesses:
iproute2 inside the nodes, the static pod files in the nodes' private /etc/kubernetes.
One lab (cp1, cp2, w1) and one double for the module; `pytest -s` prints the timings.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
for _path in (HERE, TESTS):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import fake_kube_vip  # noqa: E402  pylint: disable=wrong-import-position
import lab  # noqa: E402  pylint: disable=wrong-import-position
from k8s_double.server import KubeDouble  # noqa: E402  pylint: disable=wrong-import-position
from test_day2 import holders, kube_vip_routes  # noqa: E402  pylint: disable=wrong-import-position
from test_lab import _witness, ansible  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network and mount namespaces)")

LIVE = "198.51.100.1"
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
    ]


@pytest.fixture(scope="module")
def cluster_lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("day2-cluster")
    the_lab = lab.Lab(str(base / "state"))
    started = time.monotonic()
    the_lab.up(["cp1", "cp2", "w1"])
    fake = fake_kube_vip.FakeKubeVip(the_lab.state_dir)
    fake.apply(leader="cp1")
    cp1 = the_lab.node("cp1")
    fake.inject("stale-routes", "cp1")  # 198.51.100.3 and .4: Services the API does not have
    fake.route(cp1, LIVE + "/32", cp1["interface"])  # the live Service's route
    double = KubeDouble(seed=seed()).start()
    double.kubeconfig = double.write_kubeconfig(str(base / "double.kubeconfig"))
    TIMINGS["lab up + double"] = time.monotonic() - started
    yield the_lab, double
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
    the_lab, double = cluster_lab
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
    assert data["live_service_ips"] == [LIVE]


def test_remediate_follows_the_lease_and_keeps_the_live_services_route(cluster_lab, tmp_path):
    the_lab, double = cluster_lab
    cp1 = the_lab.node("cp1")["netns"]
    rc, out = playbook(the_lab, double, "remediate.yml --check", "remediate.yml", "--check", "--diff")
    assert rc == 0, json.dumps(out)[-3000:]
    assert holders(the_lab) == ["cp1"]
    rc, out = playbook(the_lab, double, "remediate.yml", "remediate.yml")
    assert rc == 0, json.dumps(out)[-3000:]
    assert holders(the_lab) == ["cp2"]
    assert kube_vip_routes(cp1) == [LIVE]
    survivors = {(r["dst"], r["protocol"]) for r in _witness(cp1, "route", "show", "table", "all")}
    assert {("198.51.100.13", "static"), ("203.0.113.7", "248")} <= survivors
    report = tmp_path / "after.json"
    rc, dummy = playbook(the_lab, double, "verify.yml (after)", "verify.yml", "-e", "vip_verify_report=%s" % report)
    data = json.loads(report.read_text())
    assert rc == 0 and data["ok"] is True, data["problems"]
    assert data["vips"][0]["holders"] == ["cp2"] and data["vips"][0]["lease_holder"] == "cp2"


def test_partition_tolerant_profile_is_placed_serially_once(cluster_lab):
    the_lab, double = cluster_lab
    rc, out = playbook(the_lab, double, "remediate.yml le=default", "remediate.yml",
                       "-e", "vip_remediate_leader_election=default")
    assert rc == 0, json.dumps(out)[-3000:]
    assert kube_vip_env(the_lab, "cp1") == kube_vip_env(the_lab, "cp2") == ("15", "10", "2")
    assert not os.path.exists(os.path.join(the_lab.node("w1")["dir"], "root", "etc/kubernetes/manifests/kube-vip.yaml"))
    rc, out = playbook(the_lab, double, "remediate.yml le=pt --check --diff", "remediate.yml", "--check", "--diff",
                       "-e", "vip_remediate_leader_election=partition_tolerant")
    assert rc == 0, json.dumps(out)[-3000:]
    assert {h: s["changed"] for h, s in out["stats"].items()} == {"cp1": 1, "cp2": 1, "w1": 0}
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
    assert {h: s["changed"] for h, s in out["stats"].items()} == {"cp1": 0, "cp2": 0, "w1": 0}

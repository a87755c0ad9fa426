# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/verify.yml on Service VIPs that kube-vip holds but cannot serve: the lab (cp1, w1, w2) plus the
Kubernetes API test double (tests/k8s_double, NOT a Kubernetes API server) on 127.0.0.1.

The lab's plan has per-service election (svc_election). The double holds the control-plane lease (cp1) and
three Services kube-vip serves: default/web (externalTrafficPolicy Cluster, lease held by w1), default/api and
default/db (externalTrafficPolicy Local, leases held by w2 and w1), with their EndpointSlices and the services
DaemonSet's pods; the nodes hold each Service VIP where its lease is. verify then reads what it needs through
cluster_info and the nodes through vip_check; iproute2 inside the nodes witnesses who holds each address.
Then, as in failure 5, api's only ready endpoint moves to w1 and w2's services pod turns not Ready, db loses
the services pod on its holder, and a Service gets an address with no lease: verify must fail on each, and
say which Service, which VIP, which node and what is missing. A Service still pending an address is not judged.
"""

from __future__ import annotations

import datetime
import json
import os

import pytest

import fake_kube_vip
import lab
from k8s_double.server import KubeDouble
from testkit.ansible import ansible
from testkit.k8s_objects import service_leases, services_daemonset
from testkit.netns import holders


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network and mount namespaces)")

WEB, API, DB, ORPHAN, QUEUED = "198.51.100.1", "198.51.100.5", "198.51.100.6", "198.51.100.7", "198.51.100.8"


def lb_service(name, address, policy="Cluster", requested=None):
    """A LoadBalancer Service; ``address`` None: still pending (no status.loadBalancer.ingress)."""
    spec = {"type": "LoadBalancer", "externalTrafficPolicy": policy, "ports": [{"port": 80, "protocol": "TCP"}]}
    if requested:
        spec["loadBalancerIP"] = requested
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec,
            "status": {"loadBalancer": {"ingress": [{"ip": address}] if address else []}}}


def endpoint_slice(service, endpoints):
    """The EndpointSlice of ``service`` with (node, ready) endpoints, as the EndpointSlice controller writes it."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": service + "-1", "namespace": "default", "labels": {"kubernetes.io/service-name": service}},
            "endpoints": [{"addresses": ["203.0.113.%d" % (140 + i)], "nodeName": node, "conditions": {"ready": ready}}
                          for i, (node, ready) in enumerate(endpoints)],
            "ports": [{"port": 80, "protocol": "TCP"}]}


def seed():
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ([{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
              "metadata": {"name": "plndr-cp-lock", "namespace": "kube-system"},
              "spec": {"holderIdentity": "cp1", "leaseDurationSeconds": 3600, "renewTime": now, "acquireTime": now}},
             lb_service("web", WEB), lb_service("api", API, "Local"), lb_service("db", DB, "Local"),
             endpoint_slice("web", [("w1", True), ("w2", True)]), endpoint_slice("api", [("w2", True)]),
             endpoint_slice("db", [("w1", True)])]
            + service_leases({"web": "w1", "api": "w2", "db": "w1"}, now) + services_daemonset(["w1", "w2"]))


@pytest.fixture(scope="module")
def endpoints_lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("day2-endpoints")
    the_lab = lab.Lab(str(base / "state"))
    the_lab.up(["cp1", "w1", "w2"])
    fake = fake_kube_vip.FakeKubeVip(the_lab.state_dir)
    fake.apply(leader="cp1")  # the control-plane VIP on cp1, web's VIP on w1
    w1, w2 = the_lab.node("w1"), the_lab.node("w2")
    fake.addr(w2, API + "/32", w2["interface"])  # each Service VIP on its lease holder
    fake.addr(w1, DB + "/32", w1["interface"])
    double = KubeDouble(seed=seed()).start()
    double.kubeconfig = double.write_kubeconfig(str(base / "double.kubeconfig"))
    yield the_lab, double, fake
    double.stop()
    the_lab.down()


def verify(the_lab, double, report):
    rc, out = ansible("-i", the_lab.inventory_path, os.path.join("playbooks", "verify.yml"),
                      "-e", "vip_kubeconfig=%s" % double.kubeconfig, "-e", "vip_verify_report=%s" % report,
                      program="ansible-playbook")
    assert double.token not in json.dumps(out)
    return rc, out, json.loads(report.read_text())


def service_problems(data):
    return [p for p in data["problems"] if p.startswith("Service VIP")]


def holders_of(the_lab, address):
    return holders(the_lab, address + "/32")


def test_each_service_vip_served_where_it_is_held_passes(endpoints_lab, tmp_path):
    the_lab, double, dummy = endpoints_lab
    assert [holders_of(the_lab, a) for a in (WEB, API, DB)] == [["w1"], ["w2"], ["w1"]]
    dummy, dummy, data = verify(the_lab, double, tmp_path / "report.json")
    assert service_problems(data) == [], data["problems"]
    assert [(v["service"], v["holders"], v["lease_holder"], v["external_traffic_policy"], v["ready_endpoints_on"],
             v["problems"]) for v in data["service_vips"]] == [
        ("default/api", ["w2"], "w2", "Local", ["w2"], []),
        ("default/db", ["w1"], "w1", "Local", ["w1"], []),
        ("default/web", ["w1"], "w1", "Cluster", ["w1", "w2"], [])]


def test_local_service_vips_without_a_ready_pod_or_endpoint_and_a_vip_nobody_leads_fail(endpoints_lab, tmp_path):
    the_lab, double, fake = endpoints_lab
    w2_pod, w1_pod = (double.get("v1", "Pod", "kube-vip-ds-%s" % n, "kube-system") for n in ("w2", "w1"))
    w2_pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    double.seed([w2_pod, endpoint_slice("api", [("w1", True), ("w2", False)]),  # failure 5: api's ready pod is on w1
                 lb_service("orphan", ORPHAN), lb_service("queued", None, requested=QUEUED)])
    fake.addr(the_lab.node("w1"), ORPHAN + "/32", the_lab.node("w1")["interface"])
    assert double.delete("v1", "Pod", "kube-vip-ds-w1", "kube-system")  # the services pod on w1 is gone (db's VIP stays)
    try:
        rc, out, data = verify(the_lab, double, tmp_path / "broken.json")
    finally:
        double.seed([w1_pod, dict(w2_pod, status=dict(w2_pod["status"], conditions=[{"type": "Ready", "status": "True"}]))])
    assert rc != 0
    expected = [
        "Service VIP %s (default/api) has externalTrafficPolicy Local and is on w2, where the services DaemonSet "
        "kube-system/kube-vip-ds's pod kube-vip-ds-w2 is not Ready (phase Running)" % API,
        "Service VIP %s (default/api) has externalTrafficPolicy Local and is on w2, which has no ready endpoint of the "
        "Service (its ready endpoints are on w1): traffic to the VIP is dropped there" % API,
        "Service VIP %s (default/db) has externalTrafficPolicy Local and is on w1, where the services DaemonSet "
        "kube-system/kube-vip-ds runs no pod" % DB,
        "Service VIP %s (default/orphan) has an address but its own lease (per-service election) default/kubevip-orphan "
        "does not exist: no kube-vip instance leads it" % ORPHAN]
    assert service_problems(data) == expected
    assert [(v["service"], v["holders"], v["lease_holder"]) for v in data["service_vips"]] == [
        ("default/api", ["w2"], "w2"), ("default/db", ["w1"], "w1"), ("default/orphan", ["w1"], None),
        ("default/web", ["w1"], "w1")]
    assert QUEUED in data["live_service_ips"] and QUEUED not in json.dumps(data["problems"])
    failed = [t for p in out["plays"] for t in p["tasks"] if t["task"]["name"] == "Fail with a summary"]
    assert all(message in json.dumps(failed) for message in expected)

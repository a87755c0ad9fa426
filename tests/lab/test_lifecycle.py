# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/reset.yml, playbooks/remove_node.yml and adding a node with bootstrap.yml --limit, on the namespace lab
with the Kubernetes API test double (tests/k8s_double, NOT a Kubernetes API server) as the cluster.

Witnesses: iproute2 inside the nodes (addresses, every routing table), the files of the nodes' private trees
(STATE/nodes/NODE/root, byte for byte) and the double's stored objects. kube-vip itself does not run here
(fake_kube_vip puts its host state on the nodes); where remove_node.yml waits for kube-vip's leader election to move
the VIP, a thread stands in for it: when the holder's static pod disappears (kubelet stops kube-vip, which releases
the lease plndr-cp-lock: kube-vip v1.0.0 pkg/cluster/clusterLeaderElection.go runs the control-plane election with
ReleaseOnCancel: true and deletes the VIP in OnStoppedLeading), it adds the VIP on the next control-plane node and
deletes it on the holder, as the new leader and the old one do.
One lab (cp1, cp2, w1, w2; w2 outside the inventory until the membership test adds it) for the module.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import threading
import time

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))

import fake_kube_vip  # noqa: E402  pylint: disable=wrong-import-position
import lab  # noqa: E402  pylint: disable=wrong-import-position
from k8s_double.server import KubeDouble  # noqa: E402  pylint: disable=wrong-import-position
from testkit.ansible import ansible  # noqa: E402  pylint: disable=wrong-import-position
from testkit.k8s_objects import kube_proxy  # noqa: E402  pylint: disable=wrong-import-position
from testkit.netns import addresses, witness  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network and mount namespaces)")

VIP = "192.0.2.10"
STATIC_POD = "etc/kubernetes/manifests/kube-vip.yaml"
FOREIGN_POD = "etc/kubernetes/manifests/kube-vip-legacy.yaml"  # a kube-vip someone else placed, named like ours
FOREIGN_CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-vip", "namespace": "kube-system"},
              "data": {"range-global": "203.0.113.200-203.0.113.210"}}  # no labels: not ours, whatever its name
OTHER_SET_CM = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "other-cluster", "namespace": "kube-system",
                             "labels": {"app.kubernetes.io/managed-by": "baremetal.vip", "baremetal.vip/cluster": "other"}},
                "data": {"a": "b"}}
TIMINGS = {}


def node_files(the_lab, name):
    """{path: bytes} of every regular file in the node's private tree."""
    root = os.path.join(the_lab.node(name)["dir"], "root")
    out = {}
    for top, _dirs, files in os.walk(root):
        for file in files:
            path = os.path.join(top, file)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    out[os.path.relpath(path, root)] = handle.read()
    return out


def node_routes(netns):
    """Every route of every table but the kernel's own (derived from the addresses, compared on their own; IPv6
    link-local ones appear a moment after the lab is up)."""
    return sorted(json.dumps(r, sort_keys=True) for r in witness(netns, "route", "show", "table", "all")
                  if r.get("protocol") != "kernel")


def snapshot(the_lab, names):
    return {n: {"addresses": addresses(the_lab.node(n)["netns"]), "routes": node_routes(the_lab.node(n)["netns"]),
                "files": node_files(the_lab, n)} for n in names}


def write_inventory(the_lab, path, names, extra_host_vars=None):
    """The lab's inventory with only ``names`` (w2 is added later) and the switch as verify's vantage point,
    optionally with host variables changed."""
    inventory = the_lab.inventory()
    for group in inventory["all"]["children"].values():
        hosts = group.get("hosts") or {}
        for host in list(hosts):
            if host not in names and host != lab.VANTAGE_HOST:
                del hosts[host]
            elif extra_host_vars and host in extra_host_vars:
                hosts[host].update(extra_host_vars[host])
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(inventory, handle)
    return path


def playbook(inventory, label, name, *args):
    started = time.monotonic()
    rc, out = ansible("-i", inventory, os.path.join("playbooks", name), *args, program="ansible-playbook")
    TIMINGS[label] = time.monotonic() - started
    return rc, out


def messages(out):
    """Every failure message of a json-callback run, as one text."""
    found = []
    for play in out.get("plays", []):
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed") or result.get("unreachable"):
                    found.append("%s %s: %s %s" % (task["task"]["name"], host, result.get("msg", ""),
                                                   str(result.get("stderr") or result.get("module_stderr") or "")[:800]))
    return "\n".join(found)


def loopback(netns):
    """The addresses on the namespace's lo, as ADDRESS/PREFIX."""
    return {"%s/%s" % (a["local"], a["prefixlen"]) for link in witness(netns, "addr", "show", "dev", "lo")
            for a in link.get("addr_info", [])}


def changed(out):
    return {h: s["changed"] for h, s in out["stats"].items()}


def ours(double, kind, api_version="v1"):
    return sorted("%s/%s" % (o["metadata"].get("namespace"), o["metadata"]["name"]) for o in double.list(api_version, kind)
                  if (o["metadata"].get("labels") or {}).get("baremetal.vip/cluster") == "default")


@pytest.fixture(scope="module")
def life_lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("lifecycle")
    started = time.monotonic()
    the_lab = lab.Lab(str(base / "state"))
    the_lab.up(["cp1", "cp2", "w1", "w2"])
    the_lab._record_modprobe()  # pylint: disable=protected-access  # no IPVS modules in this kernel: modprobe records
    double = KubeDouble(seed=kube_proxy() + [copy.deepcopy(FOREIGN_CM), copy.deepcopy(OTHER_SET_CM)]).start()
    double.kubeconfig = double.write_kubeconfig(str(base / "double.kubeconfig"))
    inventory = write_inventory(the_lab, str(base / "inventory.yml"), ["cp1", "cp2", "w1"])
    # foreign state that every playbook here must leave alone
    cp1 = the_lab.node("cp1")
    foreign_pod = os.path.join(cp1["dir"], "root", FOREIGN_POD)
    os.makedirs(os.path.dirname(foreign_pod), exist_ok=True)
    with open(foreign_pod, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kube-vip", "namespace": "kube-system"},
                        "spec": {"containers": [{"name": "kube-vip", "image": "ghcr.io/kube-vip/kube-vip:v0.8.0"}]}}, handle)
    lab.ip_batch(["route add 198.51.100.77/32 dev eth0 table 198 proto static",  # kube-vip's table, another protocol
                  "address add 203.0.113.99/32 dev lo"], cp1["netns"])  # an address outside the plan
    before = snapshot(the_lab, ["cp1", "cp2", "w1", "w2"])
    kube_proxy_before = double.get("v1", "ConfigMap", "kube-proxy", "kube-system")["data"]["config.conf"]
    TIMINGS["lab up + double"] = time.monotonic() - started
    yield {"lab": the_lab, "double": double, "inventory": inventory, "base": base, "before": before,
           "kube_proxy_before": kube_proxy_before}
    double.stop()
    the_lab.down()
    print("\nlifecycle timings (s): %s" % json.dumps({k: round(v, 1) for k, v in TIMINGS.items()}))


def bootstrap(env, label, *args, inventory=None):
    rc, out = playbook(inventory or env["inventory"], label, "bootstrap.yml", "-e", "vip_kubeconfig=%s" % env["double"].kubeconfig,
                       "-e", "vip_bootstrap_verify=false", *args)
    assert rc == 0, messages(out) or json.dumps(out)[:3000]
    fake_kube_vip.FakeKubeVip(env["lab"].state_dir).apply(leader="cp1")  # kube-vip's host state: VIP, Service VIPs
    return out


def test_reset_refused_without_confirmation_and_check_mode_lists_every_removal(life_lab):
    env = life_lab
    the_lab, double = env["lab"], env["double"]
    bootstrap(env, "bootstrap")
    assert ours(double, "DaemonSet", "apps/v1") and ours(double, "ConfigMap")
    placed = snapshot(the_lab, ["cp1", "cp2", "w1"])
    assert VIP + "/32" in placed["cp1"]["addresses"] and STATIC_POD in placed["cp1"]["files"]
    kubeconfig = "vip_kubeconfig=%s" % double.kubeconfig
    rc, out = playbook(env["inventory"], "reset (no confirmation)", "reset.yml", "-e", kubeconfig)
    assert rc != 0 and "Not confirmed" in messages(out) and "vip_reset_confirm=true" in messages(out)
    rc, out = playbook(env["inventory"], "reset --check --diff", "reset.yml", "--check", "--diff", "-e", kubeconfig)
    assert rc == 0, messages(out)
    diffs = json.dumps(out)
    for removed in ("kube-vip-ds", "kube-vip-cloud-provider", "/etc/kubernetes/manifests/kube-vip.yaml",
                    "/etc/sysctl.d/90-baremetal-vip.conf", "/etc/modules-load.d/baremetal-vip.conf", VIP):
        assert removed in diffs, removed
    assert snapshot(the_lab, ["cp1", "cp2", "w1"]) == placed
    assert ours(double, "DaemonSet", "apps/v1")


def test_reset_with_the_api_unreachable_says_so_and_leaves_the_nodes(life_lab, tmp_path):
    env = life_lab
    the_lab = env["lab"]
    placed = snapshot(the_lab, ["cp1", "cp2", "w1"])
    gone = env["double"].write_kubeconfig(str(tmp_path / "gone.kubeconfig"))
    with open(gone, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"  # nothing listens on the discard port
    with open(gone, "w", encoding="utf-8") as handle:
        yaml.safe_dump(config, handle)
    rc, out = playbook(env["inventory"], "reset (API unreachable)", "reset.yml", "-e", "vip_reset_confirm=true",
                       "-e", "vip_kubeconfig=%s" % gone)
    text = messages(out)
    assert rc != 0 and "Removing baremetal.vip's cluster objects through %s failed" % gone in text, text
    assert "Nothing was removed from the nodes" in text and "vip_reset_cluster=false" in text
    assert snapshot(the_lab, ["cp1", "cp2", "w1"]) == placed


def test_reset_leaves_every_node_as_before_and_foreign_things_alone_then_nothing_to_do(life_lab):
    env = life_lab
    the_lab, double = env["lab"], env["double"]
    rc, out = playbook(env["inventory"], "reset", "reset.yml", "-e", "vip_reset_confirm=true",
                       "-e", "vip_kubeconfig=%s" % double.kubeconfig)
    assert rc == 0, messages(out)
    after = snapshot(the_lab, ["cp1", "cp2", "w1", "w2"])
    for name in ("cp1", "cp2", "w1", "w2"):
        for key in ("addresses", "routes", "files"):
            assert after[name][key] == env["before"][name][key], (name, key)
    assert "203.0.113.99/32" in after["cp1"]["addresses"] and FOREIGN_POD in after["cp1"]["files"]
    assert any("198.51.100.77" in r and '"protocol": "static"' in r for r in after["cp1"]["routes"])
    # the cluster: our objects gone, the unlabelled ConfigMap and another set's ConfigMap kept, kube-proxy as it was
    for kind, api_version in (("DaemonSet", "apps/v1"), ("Deployment", "apps/v1"), ("ConfigMap", "v1"),
                              ("ServiceAccount", "v1"), ("ClusterRole", "rbac.authorization.k8s.io/v1"),
                              ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1")):
        assert ours(double, kind, api_version) == [], kind
    assert double.get("v1", "ConfigMap", "kube-vip", "kube-system")["data"] == FOREIGN_CM["data"]
    assert double.get("v1", "ConfigMap", "other-cluster", "kube-system")["data"] == OTHER_SET_CM["data"]
    proxy = double.get("v1", "ConfigMap", "kube-proxy", "kube-system")
    assert proxy["data"]["config.conf"] == env["kube_proxy_before"]
    assert "baremetal.vip/kube-proxy-config-before" not in (proxy["metadata"].get("annotations") or {})
    rc, out = playbook(env["inventory"], "reset again", "reset.yml", "-e", "vip_reset_confirm=true",
                       "-e", "vip_kubeconfig=%s" % double.kubeconfig)
    assert rc == 0, messages(out)
    assert set(changed(out).values()) == {0}, changed(out)


def services_daemonset_nodes(double):
    ds = double.get("apps/v1", "DaemonSet", "kube-vip-ds", "kube-system")
    terms = ds["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    return terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"]


def test_adding_a_node_with_limit_places_it_and_rechecks_the_plan(life_lab):
    env = life_lab
    the_lab, double, base = env["lab"], env["double"], env["base"]
    bootstrap(env, "bootstrap after reset")
    assert services_daemonset_nodes(double) == ["w1"]
    # w2 with an address inside the pool 198.51.100.0/28: refused before w2 is touched
    bad = write_inventory(the_lab, str(base / "inventory-bad.yml"), ["cp1", "cp2", "w1", "w2"],
                          {"w2": {"vip_node_ip": "198.51.100.5"}})
    w2_before = snapshot(the_lab, ["w2"])
    rc, out = playbook(bad, "bootstrap --limit w2 (address in a pool)", "bootstrap.yml", "--limit", "w2,localhost",
                       "-e", "vip_kubeconfig=%s" % double.kubeconfig, "-e", "vip_bootstrap_verify=false")
    text = messages(out)
    assert rc != 0 and "198.51.100.5" in text and "w2" in text, text
    assert snapshot(the_lab, ["w2"]) == w2_before
    good = write_inventory(the_lab, str(base / "inventory-w2.yml"), ["cp1", "cp2", "w1", "w2"])
    bootstrap(env, "bootstrap --limit w2", "--limit", "w2,localhost", inventory=good)
    files = node_files(the_lab, "w2")
    assert "etc/sysctl.d/90-baremetal-vip.conf" in files and "etc/modules-load.d/baremetal-vip.conf" in files
    assert STATIC_POD not in files  # a worker has no control-plane kube-vip
    assert services_daemonset_nodes(double) == ["w1", "w2"]
    env["inventory"] = good


class ElectionStandIn(threading.Thread):
    """Stands in for kube-vip's leader election on cp1 -> cp2: once cp1's static pod file is gone, cp2 takes the VIP
    and cp1 lets it go (kube-vip v1.0.0 releases the lease on a graceful stop; the next follower acquires it: the
    Lease kube-system/plndr-cp-lock names cp2, which remove_node.yml waits for before it gives cp1's loopback copy up)."""

    def __init__(self, the_lab, double):
        super().__init__(daemon=True)
        self.the_lab, self.double, self.moved, self.stop = the_lab, double, threading.Event(), threading.Event()

    def run(self):
        cp1, cp2 = self.the_lab.node("cp1"), self.the_lab.node("cp2")
        pod = os.path.join(cp1["dir"], "root", STATIC_POD)
        while not self.stop.is_set():
            if not os.path.exists(pod):
                time.sleep(0.5)
                self.double.seed([{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                   "metadata": {"name": "plndr-cp-lock", "namespace": "kube-system"},
                                   "spec": {"holderIdentity": "cp2", "leaseDurationSeconds": 15}}])
                subprocess.run(["ip", "-n", cp2["netns"], "address", "add", VIP + "/32", "dev", "eth0"], check=False)
                subprocess.run(["ip", "-n", cp1["netns"], "address", "del", VIP + "/32", "dev", "eth0"], check=False)
                self.moved.set()
                return
            time.sleep(0.2)


def test_remove_node_refuses_the_last_control_plane_node_before_touching_anything(life_lab):
    env = life_lab
    the_lab, base = env["lab"], env["base"]
    lone = write_inventory(the_lab, str(base / "inventory-lone.yml"), ["cp1", "w1", "w2"])
    placed = snapshot(the_lab, ["cp1", "w1", "w2"])
    rc, out = playbook(lone, "remove_node cp1 (last)", "remove_node.yml", "-e", "vip_remove_node=cp1")
    text = messages(out)
    assert rc != 0 and "vip_remove_node is cp1, the last control-plane node of the plan (kube_control_plane: cp1)" in text
    assert "Nothing was changed" in text
    rc, out = playbook(lone, "remove_node cp9", "remove_node.yml", "-e", "vip_remove_node=cp9")
    assert rc != 0 and "vip_remove_node is 'cp9', which is not a node of the plan (cp1, w1, w2)" in messages(out)
    assert snapshot(the_lab, ["cp1", "w1", "w2"]) == placed


def test_remove_node_moves_the_vip_first_and_stops_when_it_does_not_move(life_lab):
    env = life_lab
    the_lab, double = env["lab"], env["double"]
    cp1 = the_lab.node("cp1")
    assert VIP + "/32" in addresses(cp1["netns"])
    args = ("-e", "vip_remove_node=cp1", "-e", "vip_kubeconfig=%s" % double.kubeconfig)
    # nobody takes the VIP (no kube-vip elsewhere): the run stops and says how to go on
    rc, out = playbook(env["inventory"], "remove_node cp1 (VIP stays)", "remove_node.yml", *args,
                       "-e", "vip_remove_node_timeout=3")
    text = messages(out)
    assert rc != 0 and "did not move from cp1 to another control-plane node (cp2) within 3 s (vip_remove_node_timeout)" in text
    assert "vip_remediate_holder=cp2" in text
    assert os.path.exists(os.path.join(cp1["dir"], "root", "etc/sysctl.d/90-baremetal-vip.conf"))  # the rest untouched
    assert VIP + "/32" not in loopback(cp1["netns"])  # the loopback copy is not left behind (always)
    # the failed run stopped cp1's kube-vip, so cp1 no longer holds the VIP: this run does not move it (no copy on lo;
    # the real lab's test_real_upgrade.py checks that path); the election stand-in puts it on cp2, then cp1 is cleaned
    election = ElectionStandIn(the_lab, double)
    election.start()
    try:
        rc, out = playbook(env["inventory"], "remove_node cp1", "remove_node.yml", *args)
    finally:
        election.stop.set()
    assert rc == 0, messages(out)
    assert election.moved.is_set()
    assert VIP + "/32" not in loopback(cp1["netns"])  # and no copy on lo
    assert VIP + "/32" not in addresses(cp1["netns"]) and VIP + "/32" in addresses(the_lab.node("cp2")["netns"])
    files = node_files(the_lab, "cp1")
    assert STATIC_POD not in files and "etc/sysctl.d/90-baremetal-vip.conf" not in files
    assert FOREIGN_POD in files and "203.0.113.99/32" in addresses(cp1["netns"])
    assert STATIC_POD in node_files(the_lab, "cp2")  # the other nodes keep theirs
    assert services_daemonset_nodes(double) == ["w1", "w2"]

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/cluster_apply in real ansible-playbook runs against the Kubernetes API test double
(tests/k8s_double, NOT a Kubernetes API server): kube-proxy's --cleanup-ipvs flag, and the BGP password
Secrets applied with their values, never shown.

The render directory comes from playbooks/render.yml on an example inventory (hosts unreachable:
nothing connects); the role then runs on localhost with the double's kubeconfig. Witnesses: the
double's stored kube-proxy DaemonSet and its log of requests.
"""

from __future__ import annotations

import base64
import json
import os
import sys

import pytest
import yaml

from k8s_double.server import KubeDouble
from testkit.ansible import ansible, run_render
from testkit.inventory import unreachable_inventory


CLEANUP = "--cleanup-ipvs=true"
COMMAND = ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"]
KUBE_PROXY_CONF = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n"


def kubeadm_seed(command):
    """kube-proxy's ConfigMap and DaemonSet as kubeadm init leaves them."""
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
         "data": {"config.conf": KUBE_PROXY_CONF}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
         "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                  "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                               "spec": {"containers": [{"name": "kube-proxy", "command": list(command),
                                                        "image": "registry.k8s.io/kube-proxy:v1.20.15"}]}}}},
    ]


@pytest.fixture(scope="module")
def render_dirs(tmp_path_factory):
    """example -> its render directory (rendered once for the module)."""
    out = {}
    for example in ("render-kubeadm-legacy", "arp-metallb"):
        work = tmp_path_factory.mktemp(example)
        run_render(unreachable_inventory(example, str(work / "inventory.yml")), str(work / "out"))
        out[example] = str(work / "out")
    return out


def apply_role(tmp_path, double, render_dir, *extra):
    playbook = tmp_path / "apply.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Apply a render directory", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Apply", "ansible.builtin.include_role": {"name": "baremetal.vip.cluster_apply"},
                   "vars": {"cluster_apply_kubeconfig": double.kubeconfig, "cluster_apply_dir": render_dir,
                            "cluster_apply_cluster_name": "test", "cluster_apply_retry_delay": 0.1}}]}]))
    return ansible("-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable, str(playbook),
                   *extra, program="ansible-playbook")


@pytest.fixture
def double(tmp_path):
    the_double = KubeDouble(seed=kubeadm_seed(COMMAND)).start()
    the_double.kubeconfig = the_double.write_kubeconfig(str(tmp_path / "double.kubeconfig"))
    yield the_double
    the_double.stop()


def proxy(double):
    return double.get("apps/v1", "DaemonSet", "kube-proxy", "kube-system")


def proxy_writes(double, start=0):
    return [(m, p) for m, p in double.requests[start:] if m != "GET" and "/daemonsets/kube-proxy" in p]


def task(out, name):
    return [t for p in out["plays"] for t in p["tasks"] if t["task"]["name"].split(" : ")[-1] == name]


FLAG_TASK = "Add the kube-proxy flags the plan asks for (--cleanup-ipvs, Kubernetes < 1.21), only those it lacks"


def test_cleanup_ipvs_added_once_on_a_1_20_plan_check_mode_first(tmp_path, double, render_dirs):
    legacy = render_dirs["render-kubeadm-legacy"]
    with open(os.path.join(legacy, "cluster", "kube-proxy-daemonset-patch.yaml")) as handle:
        assert CLEANUP in handle.read()
    rc, out = apply_role(tmp_path, double, legacy, "--check", "--diff")
    assert rc == 0, json.dumps(out)[-4000:]
    assert proxy(double)["spec"]["template"]["spec"]["containers"][0]["command"] == COMMAND
    flag = task(out, FLAG_TASK)[0]["hosts"]["localhost"]
    assert flag["changed"] and flag["container_flags"][0]["added"] == [CLEANUP]
    assert all("dryRun=All" in path for dummy, path in proxy_writes(double))
    assert CLEANUP in flag["diff"][0]["after"]

    start = len(double.requests)
    rc, out = apply_role(tmp_path, double, legacy)
    assert rc == 0, json.dumps(out)[-4000:]
    live = proxy(double)
    assert live["spec"]["template"]["spec"]["containers"][0]["command"] == COMMAND + [CLEANUP]
    # the ConfigMap merge and the flag each notify the one restart: one annotation patch, after the flag patch
    writes = proxy_writes(double, start)
    assert len(writes) == 2 and "kubectl.kubernetes.io/restartedAt" in live["spec"]["template"]["metadata"]["annotations"]

    start, revision = len(double.requests), double.store.revision
    rc, out = apply_role(tmp_path, double, legacy)
    assert rc == 0, json.dumps(out)[-4000:]
    assert out["stats"]["localhost"]["changed"] == 0
    assert proxy_writes(double, start) == [] and double.store.revision == revision
    assert proxy(double)["spec"]["template"]["spec"]["containers"][0]["command"].count(CLEANUP) == 1


def test_cleanup_ipvs_false_set_by_the_user_is_left_alone(tmp_path, render_dirs):
    double = KubeDouble(seed=kubeadm_seed(COMMAND + ["--cleanup-ipvs=false"])).start()
    try:
        double.kubeconfig = double.write_kubeconfig(str(tmp_path / "double.kubeconfig"))
        rc, out = apply_role(tmp_path, double, render_dirs["render-kubeadm-legacy"])
        assert rc == 0, json.dumps(out)[-4000:]
        assert proxy(double)["spec"]["template"]["spec"]["containers"][0]["command"] == COMMAND + ["--cleanup-ipvs=false"]
        assert task(out, FLAG_TASK)[0]["hosts"]["localhost"]["container_flags"][0] == {
            "kind": "DaemonSet", "name": "kube-proxy", "namespace": "kube-system", "found": True, "added": []}
        # the restart that follows comes from the ConfigMap merge only
        assert [p for dummy, p in proxy_writes(double)] == ["/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"]
        # the BGP password Secrets of the render directory (vip_split_secrets keeps their values apart) reach the API
        # with their values, which the run's output never shows
        secret = double.get("v1", "Secret", "vip-bgp-peer-192-0-2-1", "metallb-system")
        assert secret["type"] == "kubernetes.io/basic-auth"
        assert base64.b64decode(secret["data"]["password"]) == b"example-only-secret"
        assert "example-only-secret" not in json.dumps(out)
    finally:
        double.stop()


def test_never_on_a_1_21_or_later_plan(tmp_path, double, render_dirs):
    modern = render_dirs["arp-metallb"]
    assert not os.path.exists(os.path.join(modern, "cluster", "kube-proxy-daemonset-patch.yaml"))
    rc, out = apply_role(tmp_path, double, modern)
    assert rc == 0, json.dumps(out)[-4000:]
    assert proxy(double)["spec"]["template"]["spec"]["containers"][0]["command"] == COMMAND
    assert task(out, FLAG_TASK)[0]["hosts"]["localhost"].get("skipped") is True

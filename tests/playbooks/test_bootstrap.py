# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/bootstrap.yml on the network-namespace lab, with the Kubernetes API test double
(tests/k8s_double, NOT a Kubernetes API server) standing in for the cluster on 127.0.0.1.

The cluster steps run on the controller (localhost); the lab nodes never reach the double.
kubeadm itself does not run: the double's first request stands for "the API answers", and at
that moment the test plays kubeadm init (admin.conf appears on the control-plane nodes) and
kube-vip (tests/lab/fake_kube_vip.py puts the VIP on cp1), so the imported verify.yml can pass.

Witnesses: the files in each node's private /etc/kubernetes (STATE/nodes/NODE/root/...), the
double's stored objects and its log of requests (method, path, webhook failures still pending).
One lab (cp1, cp2, w1) for the whole module; `pytest -s` prints the timings.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time

import pytest
import yaml

import fake_kube_vip
import fake_kubeadm
import lab
from k8s_double.server import KubeDouble
from testkit.ansible import ansible

HERE = os.path.dirname(os.path.abspath(__file__))


NODES = ["cp1", "cp2", "w1"]
VIP = "192.0.2.10"
TIMINGS = {}
RBAC_KINDS = ("serviceaccounts", "clusterroles", "clusterrolebindings")
KUBE_PROXY_CONF = """apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
ipvs:
  strictARP: false
"""
# What kubeadm init leaves in the cluster that the bootstrap touches: kube-proxy's ConfigMap and DaemonSet.
KUBEADM_SEED = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
     "data": {"config.conf": KUBE_PROXY_CONF, "kubeconfig.conf": "kubeconfig of kube-proxy"}},
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
     "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
              "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                           "spec": {"containers": [{"name": "kube-proxy",
                                                    "image": "registry.k8s.io/kube-proxy:v1.31.4"}]}}}},
]
# kubeadm_config_init_settings of the kubeadm init test: the user's own settings, some repeating the collection's
# (same kubernetesVersion and bindPort: accepted), one extra certSAN
INIT_SETTINGS = {
    "InitConfiguration": {"nodeRegistration": {"kubeletExtraArgs": [{"name": "node-labels", "value": "example.test/vip=yes"}]},
                          "localAPIEndpoint": {"bindPort": 6443}},
    "ClusterConfiguration": {"kubernetesVersion": "1.31.0", "featureGates": {"EtcdLearnerMode": True},
                             "networking": {"dnsDomain": "cluster.example.test"},
                             "apiServer": {"certSANs": ["api.example.test", VIP], "extraArgs": [{"name": "v", "value": "2"}]}},
    "KubeletConfiguration": {"cgroupDriver": "systemd"},
}
METALLB_VARS = {"vip_services": {"provider": "metallb", "pools": [{"name": "public", "addresses": ["198.51.100.0/28"]}]}}


class RequestLog(list):
    """The double's request log: (method, path, webhook failures pending); runs a hook once, first."""

    def __init__(self, double, on_first=None):
        super().__init__()
        self.double = double
        self.on_first = on_first

    def append(self, item):
        hook, self.on_first = self.on_first, None
        if hook:
            hook()
        super().append((item[0], item[1], self.double.webhook_failures))


def start_double(tmp_path, name, on_first=None):
    double = KubeDouble(seed=KUBEADM_SEED).start()
    double.requests = RequestLog(double, on_first)
    double.kubeconfig = double.write_kubeconfig(str(tmp_path / ("%s.kubeconfig" % name)))
    return double


def node_file(the_lab, node, path):
    return os.path.join(the_lab.node(node)["dir"], "root", path.lstrip("/"))


def pod_kubeconfig(the_lab, node, manifest="/etc/kubernetes/manifests/kube-vip.yaml"):
    """The host path kube-vip's static pod mounts as its kubeconfig."""
    with open(node_file(the_lab, node, manifest)) as handle:
        pod = yaml.safe_load(handle)
    return [v["hostPath"]["path"] for v in pod["spec"]["volumes"] if v["name"] == "kubeconfig"][0]


def writes(double):
    return [(method, path.split("?")[0], pending) for method, path, pending in double.requests if method != "GET"]


def index_of(entries, fragment):
    return next(i for i, entry in enumerate(entries) if fragment in entry[1])


def no_ipvs_modprobe(the_lab, state):
    """This kernel may have no IPVS: then bind-mount a recorder over modprobe inside each node's own
    mount namespace (never on the machine; it dies with the lab), as molecule/host_prep does."""
    probe = subprocess.run(["modprobe", "--dry-run", "--quiet", "ip_vs"], capture_output=True, check=False)
    if probe.returncode == 0:
        return None
    log = os.path.join(state, "modprobe.log")
    recorder = os.path.join(state, "modprobe-recorder.sh")
    with open(recorder, "w") as handle:
        handle.write("#!/bin/sh\necho \"$*\" >> %s\n" % log)
    os.chmod(recorder, 0o755)
    target = shutil.which("modprobe")
    for node in the_lab.nodes:
        subprocess.run(["nsenter", "--target", str(node["pid"]), "--mount", "--", "mount", "--bind", recorder, target],
                       check=True)
    return log


@pytest.fixture(scope="module")
def bootstrap_lab(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (network and mount namespaces)")
    base = tmp_path_factory.mktemp("bootstrap")
    the_lab = lab.Lab(str(base / "state"))
    started = time.monotonic()
    the_lab.up(NODES)
    TIMINGS["lab up"] = time.monotonic() - started
    the_lab.modprobe_log = no_ipvs_modprobe(the_lab, str(base))
    the_lab.render_dir = str(base / "render")
    the_lab.snapshots = {}
    yield the_lab
    started = time.monotonic()
    the_lab.down()
    TIMINGS["lab down"] = time.monotonic() - started
    print("\nbootstrap timings (s): %s" % json.dumps({k: round(v, 2) for k, v in TIMINGS.items()}))


def bootstrap(the_lab, label, *args):
    started = time.monotonic()
    rc, out = ansible("-i", the_lab.inventory_path, os.path.join("playbooks", "bootstrap.yml"),
                      "-e", "vip_bootstrap_render_dir=%s" % the_lab.render_dir, *args, program="ansible-playbook")
    TIMINGS[label] = time.monotonic() - started
    return rc, out


def changed(out):
    return {host: stats["changed"] for host, stats in out["stats"].items()}


def kubeadm_init_and_kube_vip(the_lab):
    """At the first API request: what kubeadm init and kube-vip would have done by then."""
    def hook():
        the_lab.snapshots["cp1 kubeconfig at first request"] = pod_kubeconfig(the_lab, "cp1")
        for node in ("cp1", "cp2"):
            path = node_file(the_lab, node, "/etc/kubernetes/admin.conf")
            with open(path, "w") as handle:
                handle.write("# stands in for kubeadm's admin.conf (the test's kubeadm init)\n")
        fake_kube_vip.FakeKubeVip(the_lab.state_dir).apply(leader="cp1")
    return hook


@pytest.fixture(scope="module")
def double(bootstrap_lab, tmp_path_factory):
    the_double = start_double(tmp_path_factory.mktemp("double"), "kubeadm", kubeadm_init_and_kube_vip(bootstrap_lab))
    yield the_double
    the_double.stop()


def test_first_run_places_kube_vip_before_init_then_applies_then_admin_conf(bootstrap_lab, double):
    rc, out = bootstrap(bootstrap_lab, "first run", "-e", "vip_kubeconfig=%s" % double.kubeconfig)
    assert rc == 0, json.dumps(out)[-4000:]
    # before the first API request (kubeadm init), cp1's kube-vip ran on super-admin.conf
    assert bootstrap_lab.snapshots["cp1 kubeconfig at first request"] == "/etc/kubernetes/super-admin.conf"
    # after the apply, back on admin.conf; cp2 never used super-admin.conf
    assert pod_kubeconfig(bootstrap_lab, "cp1") == "/etc/kubernetes/admin.conf"
    assert pod_kubeconfig(bootstrap_lab, "cp2") == "/etc/kubernetes/admin.conf"
    assert not os.path.exists(node_file(bootstrap_lab, "w1", "/etc/kubernetes/manifests/kube-vip.yaml"))
    # the kubeadm fragment: VIP as controlPlaneEndpoint and certSAN, plus the KubeProxyConfiguration
    with open(node_file(bootstrap_lab, "cp1", "/etc/kubernetes/baremetal-vip/kubeadm-vip.yaml")) as handle:
        docs = [d for d in yaml.safe_load_all(handle) if d]
    cluster = docs[0]
    assert cluster["apiVersion"] == "kubeadm.k8s.io/v1beta4" and cluster["kind"] == "ClusterConfiguration"
    assert cluster["controlPlaneEndpoint"] == "%s:6443" % VIP
    assert VIP in cluster["apiServer"]["certSANs"]
    assert docs[1]["kind"] == "KubeProxyConfiguration" and docs[1]["ipvs"]["excludeCIDRs"] == ["%s/32" % VIP]
    assert not os.path.exists(node_file(bootstrap_lab, "w1", "/etc/kubernetes/baremetal-vip/kubeadm-vip.yaml"))
    # host preparation: sysctls persisted and applied inside the node, modules persisted (and asked for)
    assert os.path.exists(node_file(bootstrap_lab, "w1", "/etc/sysctl.d/90-baremetal-vip.conf"))
    arp_ignore = subprocess.run(["ip", "netns", "exec", bootstrap_lab.node("w1")["netns"], "sysctl", "-n",
                                 "net.ipv4.conf.all.arp_ignore"], capture_output=True, text=True, check=True)
    assert arp_ignore.stdout.strip() == "1"
    if bootstrap_lab.modprobe_log:
        with open(bootstrap_lab.modprobe_log) as handle:
            assert "ip_vs" in handle.read()
    # the cluster: RBAC before the DaemonSet, cloud-provider ConfigMap, kube-proxy merged and restarted once
    done = writes(double)
    assert index_of(done, "/clusterroles/") < index_of(done, "/daemonsets/kube-vip-ds")
    assert max(i for i, w in enumerate(done) if w[1].split("/")[-2] in RBAC_KINDS) < index_of(done, "/daemonsets/")
    assert double.get("apps/v1", "DaemonSet", "kube-vip-ds", "kube-system") is not None
    assert double.get("v1", "ConfigMap", "kubevip", "kube-system")["data"]["cidr-global"] == "198.51.100.0/28"
    config = yaml.safe_load(double.get("v1", "ConfigMap", "kube-proxy", "kube-system")["data"]["config.conf"])
    assert config["mode"] == "ipvs" and config["ipvs"] == {"strictARP": True, "excludeCIDRs": ["%s/32" % VIP]}
    proxy = double.get("apps/v1", "DaemonSet", "kube-proxy", "kube-system")
    assert "kubectl.kubernetes.io/restartedAt" in proxy["spec"]["template"]["metadata"]["annotations"]
    assert sum(1 for w in done if w[1].endswith("/daemonsets/kube-proxy")) == 1
    # verify.yml ran at the end (kube-vip's stand-in put the VIP on cp1) and passed
    assert any(p["play"]["name"] == "Read every node's VIP state and compare it with the plan" for p in out["plays"])
    # the kubeconfig's token never reaches the output
    assert double.token not in json.dumps(out)


def test_second_run_changes_nothing_and_applies_nothing(bootstrap_lab, double):
    before, revision = len(double.requests), double.store.revision
    rc, out = bootstrap(bootstrap_lab, "second run", "-e", "vip_kubeconfig=%s" % double.kubeconfig)
    assert rc == 0, json.dumps(out)[-4000:]
    assert changed(out) == {"cp1": 0, "cp2": 0, "w1": 0, "localhost": 0}
    # server-side applies are sent again, but no stored object changes (the double moves its revision
    # only on a real change), nothing is created or deleted, kube-proxy is not restarted
    assert double.store.revision == revision
    methods = {m for m, dummy, dummy in list(double.requests)[before:]}
    assert methods <= {"GET", "PATCH"}
    revision_after = double.store.revision
    rc, out = bootstrap(bootstrap_lab, "check run", "-e", "vip_kubeconfig=%s" % double.kubeconfig, "--check",
                        "-e", "vip_bootstrap_verify=false")
    assert rc == 0, json.dumps(out)[-4000:]
    assert changed(out) == {"cp1": 0, "cp2": 0, "w1": 0, "localhost": 0}
    assert double.store.revision == revision_after


def test_unreachable_api_fails_with_the_explanation(bootstrap_lab, tmp_path):
    gone = start_double(tmp_path, "gone")
    gone.stop()
    rc, out = bootstrap(bootstrap_lab, "unreachable", "-e", "vip_kubeconfig=%s" % gone.kubeconfig,
                        "-e", "vip_bootstrap_phase=init", "-e", "vip_bootstrap_api_timeout=2",
                        "-e", "vip_bootstrap_api_delay=1")
    assert rc != 0
    text = json.dumps(out)
    assert "The Kubernetes API did not answer within 2s through %s" % gone.kubeconfig in text
    assert "cannot reach the Kubernetes API at http://127.0.0.1:%d" % gone.port in text
    assert "Nothing was applied; the super-admin host keeps super-admin.conf" in text
    assert gone.token not in text
    # vip_bootstrap_phase=init: cp1 is on super-admin.conf, and stays there since nothing was applied
    assert pod_kubeconfig(bootstrap_lab, "cp1") == "/etc/kubernetes/super-admin.conf"
    assert pod_kubeconfig(bootstrap_lab, "cp2") == "/etc/kubernetes/admin.conf"


def test_metallb_resources_wait_for_the_webhook_check_mode_first(bootstrap_lab, tmp_path):
    mlb = start_double(tmp_path, "metallb")
    extra = tmp_path / "metallb.yml"
    extra.write_text(yaml.safe_dump(METALLB_VARS))
    try:
        args = ("-e", "vip_kubeconfig=%s" % mlb.kubeconfig, "-e", "@%s" % extra, "-e", "vip_bootstrap_verify=false")
        rc, out = bootstrap(bootstrap_lab, "metallb --check", *args, "--check")
        assert rc == 0, json.dumps(out)[-4000:]
        assert mlb.list("metallb.io/v1beta1", "IPAddressPool") == []
        assert all("dryRun=All" in path for m, path, dummy in mlb.requests if m in ("PATCH", "DELETE") and
                   "/metallb.io/" in path)
        mlb.webhook_failures = 2
        rc, out = bootstrap(bootstrap_lab, "metallb (webhook fails twice)", *args)
        assert rc == 0, json.dumps(out)[-4000:]
        assert [p["metadata"]["name"] for p in mlb.list("metallb.io/v1beta1", "IPAddressPool")] == ["public"]
        assert [a["metadata"]["name"] for a in mlb.list("metallb.io/v1beta1", "L2Advertisement")] == ["public"]
        metallb_writes = [r for r in mlb.requests if r[0] != "GET" and "/metallb.io/" in r[1] and "dryRun" not in r[1]]
        # the first two were refused by the (not yet ready) webhook; pools and advertisements came after
        assert [w[2] for w in metallb_writes[:2]] == [2, 1]
        assert all(w[2] == 0 for w in metallb_writes[2:]) and len(metallb_writes) >= 4
        # the phase is read from the host again: admin.conf exists now, so cp1 is on admin.conf
        assert pod_kubeconfig(bootstrap_lab, "cp1") == "/etc/kubernetes/admin.conf"
        # no kube-vip services objects in a MetalLB cluster
        assert mlb.get("apps/v1", "DaemonSet", "kube-vip-ds", "kube-system") is None
    finally:
        mlb.stop()


def test_without_a_kubeconfig_the_cluster_steps_say_what_to_do(bootstrap_lab):
    rc, out = bootstrap(bootstrap_lab, "no kubeconfig", "-e", "vip_bootstrap_verify=false")
    assert rc == 0, json.dumps(out)[-4000:]
    text = json.dumps(out)
    assert "vip_kubeconfig is not set: nothing was applied. The cluster objects are in %s/" % bootstrap_lab.render_dir in text
    assert "-e vip_kubeconfig=" in text
    # the lab's plan manages kube-proxy on kubeadm (kube_proxy.merge_configmap): the patch and its merge are named
    assert "kube-proxy-configmap-patch.yaml merges into config.conf" in text and "merge the kube-proxy settings" in text
    rendered = os.listdir(bootstrap_lab.render_dir)
    assert any(os.path.exists(os.path.join(bootstrap_lab.render_dir, d, "cluster", "kube-vip-services.yaml"))
               for d in rendered)


def test_k3s_manifests_go_to_the_auto_deploy_directory_and_server_args(bootstrap_lab, tmp_path):
    extra = tmp_path / "k3s.yml"
    extra.write_text(yaml.safe_dump({"vip_cluster": {
        "distro": "k3s", "kubernetes_version": "v1.31.4+k3s1", "node_cidrs": ["192.0.2.0/24", "198.51.100.0/24"],
        "pod_cidrs": ["203.0.113.128/25"], "service_cidrs": ["203.0.113.64/26"]}}))
    rc, out = bootstrap(bootstrap_lab, "k3s", "-e", "@%s" % extra, "-e", "vip_bootstrap_verify=false")
    assert rc == 0, json.dumps(out)[-4000:]
    assert "k3s: the manifests are in /var/lib/rancher/k3s/server/manifests" in json.dumps(out)
    with open(node_file(bootstrap_lab, "cp1", "/etc/rancher/k3s/config.yaml.d/50-baremetal-vip-tls-san.yaml")) as handle:
        assert yaml.safe_load(handle) == {"tls-san+": [VIP]}
    assert not os.path.exists(node_file(bootstrap_lab, "w1", "/etc/rancher/k3s/config.yaml.d/50-baremetal-vip-tls-san.yaml"))
    assert os.path.exists(node_file(bootstrap_lab, "w1", "/etc/rancher/k3s/config.yaml.d/50-baremetal-vip-kube-proxy.yaml"))
    # kube-vip serves the Services: k3s's ServiceLB off on the servers (k3s-io/k3s #2323), said to need a restart
    servicelb = "/etc/rancher/k3s/config.yaml.d/50-baremetal-vip-disable-servicelb.yaml"
    for host in ("cp1", "cp2"):
        with open(node_file(bootstrap_lab, host, servicelb)) as handle:
            assert yaml.safe_load(handle) == {"disable+": ["servicelb"]}
        assert stat.S_IMODE(os.stat(node_file(bootstrap_lab, host, servicelb)).st_mode) == 0o600
    assert not os.path.exists(node_file(bootstrap_lab, "w1", servicelb))
    assert "k3s ServiceLB is turned off in /etc/rancher/k3s/config.yaml.d on cp1" in json.dumps(out)
    pod = node_file(bootstrap_lab, "cp1", "/var/lib/rancher/k3s/agent/pod-manifests/kube-vip.yaml")
    with open(pod) as handle:
        assert "/etc/rancher/k3s/k3s.yaml" in handle.read()
    for name in ("kube-vip-services", "kube-vip-cloud-provider"):
        assert os.path.exists(node_file(bootstrap_lab, "cp2", "/var/lib/rancher/k3s/server/manifests/baremetal-vip-%s.yaml" % name))
    assert not os.path.exists(node_file(bootstrap_lab, "w1", "/var/lib/rancher/k3s/server/manifests"))


def tree_state(root):
    """{relative path: (size, mtime_ns)} of every file under root (to show a run wrote nothing there)."""
    out = {}
    for base, dummy, files in os.walk(root):
        for name in files:
            info = os.stat(os.path.join(base, name))
            out[os.path.relpath(os.path.join(base, name), root)] = (info.st_size, info.st_mtime_ns)
    return out


def read_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def test_rke2_inventory_uses_the_rke2_paths(bootstrap_lab, tmp_path):
    """examples/rke2's cluster vars on the lab nodes: every file in RKE2's places, nothing of kubeadm's, no API write."""
    with open(os.path.join(lab.TOP, "examples", "rke2", "inventory.yml")) as handle:
        rke2_vars = yaml.safe_load(handle)["all"]["vars"]
    assert rke2_vars["vip_cluster"]["distro"] == "rke2"
    extra = tmp_path / "rke2.yml"
    extra.write_text(yaml.safe_dump(rke2_vars))
    quiet = start_double(tmp_path, "rke2")
    kubeadm_dirs = {node: tree_state(node_file(bootstrap_lab, node, "/etc/kubernetes")) for node in NODES}
    try:
        args = ("-e", "@%s" % extra, "-e", "vip_bootstrap_verify=false", "-e", "vip_kubeconfig=%s" % quiet.kubeconfig)
        rc, out = bootstrap(bootstrap_lab, "rke2", *args)
        assert rc == 0, json.dumps(out)[-4000:]
        assert "rke2: the manifests are in /var/lib/rancher/rke2/server/manifests" in json.dumps(out)
        for node in ("cp1", "cp2"):
            assert read_yaml(node_file(bootstrap_lab, node, "/etc/rancher/rke2/config.yaml.d/50-baremetal-vip-tls-san.yaml")) == {
                "tls-san+": [VIP]}
            # the static pod in RKE2's kubelet directory, on RKE2's kubeconfig (no super-admin.conf outside kubeadm)
            assert pod_kubeconfig(bootstrap_lab, node, "/var/lib/rancher/rke2/agent/pod-manifests/kube-vip.yaml") == \
                "/etc/rancher/rke2/rke2.yaml"
            with open(node_file(bootstrap_lab, node, "/var/lib/rancher/rke2/server/manifests/baremetal-vip-metallb-pools.yaml")) as handle:
                docs = [d for d in yaml.safe_load_all(handle) if d]
            assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [("IPAddressPool", "public"), ("L2Advertisement", "public")]
            assert docs[0]["spec"]["addresses"] == ["192.0.2.64/27"]
        for node in NODES:
            assert read_yaml(node_file(bootstrap_lab, node, "/etc/rancher/rke2/config.yaml.d/50-baremetal-vip-kube-proxy.yaml")) == {
                "kube-proxy-arg+": ["proxy-mode=ipvs", "ipvs-strict-arp=true"]}
        assert not os.path.exists(node_file(bootstrap_lab, "w1", "/etc/rancher/rke2/config.yaml.d/50-baremetal-vip-tls-san.yaml"))
        assert not os.path.exists(node_file(bootstrap_lab, "w1", "/var/lib/rancher/rke2/agent/pod-manifests/kube-vip.yaml"))
        assert not os.path.exists(node_file(bootstrap_lab, "w1", "/var/lib/rancher/rke2/server/manifests"))
        # nothing of kubeadm's: /etc/kubernetes untouched on every node, and no write to the API (RKE2 applies its manifests)
        assert {node: tree_state(node_file(bootstrap_lab, node, "/etc/kubernetes")) for node in NODES} == kubeadm_dirs
        assert [r for r in quiet.requests if r[0] != "GET"] == []
        rc, out = bootstrap(bootstrap_lab, "rke2 again", *args)
        assert rc == 0, json.dumps(out)[-4000:]
        assert changed(out) == {"cp1": 0, "cp2": 0, "w1": 0, "localhost": 0}
    finally:
        quiet.stop()


def fake_kubeadm_on_path(the_lab, node, work):
    """tests/playbooks/fake_kubeadm.py (a late failure of kubeadm init) as `kubeadm` on the node's PATH
    (/usr/local/sbin, in its own mount namespace); returns its log."""
    fakebin = os.path.join(work, "fakebin-" + node)
    os.makedirs(fakebin)
    log = os.path.join(work, "kubeadm-calls.jsonl")
    wrapper = os.path.join(fakebin, "kubeadm")
    with open(wrapper, "w") as handle:
        handle.write("#!/bin/sh\nFAKE_KUBEADM_LOG=%s exec %s %s \"$@\"\n"
                     % (log, sys.executable, os.path.join(HERE, "fake_kubeadm.py")))
    os.chmod(wrapper, 0o755)
    subprocess.run(["nsenter", "--target", str(the_lab.node(node)["pid"]), "--mount", "--", "mount", "--bind", fakebin,
                    "/usr/local/sbin"], check=True)
    return log


def kubeadm_calls(log):
    if not os.path.exists(log):
        return []
    with open(log) as handle:
        return [json.loads(line) for line in handle]


def test_kubeadm_init_opt_in_check_mode_then_a_late_failure_masks_its_secrets(bootstrap_lab, tmp_path):
    """The opt-in kubeadm init's check mode and failure report. Its success path runs the real kubeadm on a real
    lab (tests/lab/test_real_kubeadm_init.py); the fake kubeadm here only fails late, with the secrets kubeadm has
    created by then in its stderr, which the real kubeadm cannot be made to do on demand."""
    # cp1 as before kubeadm init: no admin.conf, no kube-vip manifest (the tests above left both)
    for name in ("admin.conf", "super-admin.conf", "manifests/kube-vip.yaml"):
        path = node_file(bootstrap_lab, "cp1", "/etc/kubernetes/" + name)
        if os.path.exists(path):
            os.remove(path)
    log = fake_kubeadm_on_path(bootstrap_lab, "cp1", str(tmp_path))
    admin_dest = tmp_path / "controller" / "admin.conf"
    settings = tmp_path / "kubeadm-settings.yml"
    settings.write_text(yaml.safe_dump({"kubeadm_config_init_settings": INIT_SETTINGS}))
    args = ("-e", "vip_bootstrap_kubeadm_init=true", "-e", "vip_bootstrap_admin_conf=%s" % admin_dest,
            "-e", "@%s" % settings, "-e", "vip_bootstrap_verify=false")
    rc, out = bootstrap(bootstrap_lab, "kubeadm init --check", *args, "--check")
    assert rc == 0, json.dumps(out)[-4000:]
    assert "would run kubeadm init --config /etc/kubernetes/baremetal-vip/kubeadm-init.yaml --upload-certs" in json.dumps(out)
    assert kubeadm_calls(log) == [] and not admin_dest.exists()
    assert not os.path.exists(node_file(bootstrap_lab, "cp1", "/etc/kubernetes/admin.conf"))

    # kubeadm init fails (its stderr carries the token, the certificate key and the CA hash): a clear failure,
    # none of them in the output, no admin.conf fetched, nothing applied
    rc, out = bootstrap(bootstrap_lab, "kubeadm init fails", *args)
    assert rc != 0
    text = json.dumps(out)
    assert ("kubeadm init --config /etc/kubernetes/baremetal-vip/kubeadm-init.yaml --upload-certs failed on cp1 "
            "(rc 1)") in text
    assert "error creating bootstrap token ********: fake kubeadm fails here" in text
    assert "Nothing was applied to the cluster." in text
    for secret in (fake_kubeadm.TOKEN, fake_kubeadm.CERT_KEY, fake_kubeadm.CA_HASH):
        assert secret not in text
    assert [c["argv"] for c in kubeadm_calls(log)] == [
        ["init", "--config", "/etc/kubernetes/baremetal-vip/kubeadm-init.yaml", "--upload-certs"]]
    assert not admin_dest.exists()
    tasks = [task["task"]["name"] for play in out["plays"] for task in play["tasks"]]
    assert not [name for name in tasks if name.startswith("Wait until the API answers")], tasks
    assert not os.path.exists(node_file(bootstrap_lab, "cp1", "/etc/kubernetes/admin.conf"))
    # kube-vip's static pod was placed before kubeadm ran, on super-admin.conf (kubeadm 1.31), and stays there
    assert pod_kubeconfig(bootstrap_lab, "cp1") == "/etc/kubernetes/super-admin.conf"


def test_kubeadm_fragment_ipv6_vip_and_v1beta3(tmp_path):
    """The kubeadm_config role in render mode (no host, no root): an IPv6 VIP in brackets, v1beta3 for 1.30."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"vip_cluster": {"distro": "kubeadm", "kubernetes_version": "1.30.2", "node_cidrs": ["2001:db8:1::/64"],
                                 "pod_cidrs": ["2001:db8:42::/56"], "service_cidrs": ["2001:db8:43::/112"]},
                 "vip_kube_vip": {"version": "1.0.3"},
                 "vip_control_plane": {"address": "2001:db8:1::10", "interface": "eth0"}},
        "children": {"kube_control_plane": {"hosts": {"cp1": {"ansible_host": "2001:db8:1::11"}}},
                     "kube_node": {"hosts": {"w1": {"ansible_host": "2001:db8:1::21"}}}}}}))
    playbook = tmp_path / "render.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Render the kubeadm fragment", "hosts": "kube_control_plane:kube_node", "gather_facts": False,
        "tasks": [{"name": "Plan", "baremetal.vip.lb_plan": None, "run_once": True},
                  {"name": "Fragment", "ansible.builtin.include_role": {"name": "baremetal.vip.kubeadm_config"},
                   "vars": {"kubeadm_config_render_dir": str(tmp_path / "out")}}]}]))
    rc, out = ansible("-i", str(inventory), str(playbook), program="ansible-playbook")
    assert rc == 0, json.dumps(out)[-3000:]
    with open(tmp_path / "out/hosts/cp1/etc/kubernetes/baremetal-vip/kubeadm-vip.yaml") as handle:
        text = handle.read()
    assert text.startswith("---\n#\n# Managed by baremetal.vip (Ansible).")  # inside the first document, for kubeadm
    cluster, proxy = [d for d in yaml.safe_load_all(text) if d]
    assert cluster == {"apiVersion": "kubeadm.k8s.io/v1beta3", "kind": "ClusterConfiguration",
                       "kubernetesVersion": "v1.30.2", "controlPlaneEndpoint": "[2001:db8:1::10]:6443",
                       "apiServer": {"certSANs": ["2001:db8:1::10"]}}
    assert proxy["kind"] == "KubeProxyConfiguration"
    assert not (tmp_path / "out/hosts/w1").exists()


# A host no task can reach (a network namespace that does not exist: a contact ends `unreachable`, no packet is sent).
_NEVER_REACHED = {"ansible_connection": "baremetal.vip.netns", "ansible_netns_name": "vip-never-%d" % os.getpid(), "vip_node_ip": "192.0.2.11",
                  "vip_node_name": "cp1.example.test"}


def test_bootstrap_refuses_kubeadm_init_settings_before_any_host(tmp_path):
    """playbooks/bootstrap.yml with the opt-in kubeadm init: settings that change the collection's are refused on the
    controller right after the plan, before host preparation contacts any node."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"vip_cluster": {"distro": "kubeadm", "kubernetes_version": "1.31.4", "node_cidrs": ["192.0.2.0/24"]},
                 "vip_kube_vip": {"version": "1.0.3"},
                 "vip_control_plane": {"address": VIP, "interface": "eth0"},
                 "kubeadm_config_init_settings": {"ClusterConfiguration": {"controlPlaneEndpoint": "203.0.113.5:6443"}}},
        "children": {"kube_control_plane": {"hosts": {"cp1": _NEVER_REACHED}}}}}))
    rc, out = ansible("-i", str(inventory), os.path.join("playbooks", "bootstrap.yml"), "-e", "vip_bootstrap_kubeadm_init=true",
                      program="ansible-playbook")
    assert rc != 0 and out["stats"]["cp1"]["failures"] == 1 and out["stats"]["cp1"]["unreachable"] == 0
    tasks = [task["task"]["name"] for play in out["plays"] for task in play["tasks"]]
    assert tasks[-1] == "baremetal.vip.kubeadm_config : Refuse kubeadm_config_init_settings that change what the collection sets", tasks
    assert "Prepare the hosts" not in tasks
    assert ('kubeadm_config_init_settings.ClusterConfiguration.controlPlaneEndpoint is \\"203.0.113.5:6443\\", the '
            'collection sets \\"%s:6443\\"' % VIP) in json.dumps(out)


def test_kubeadm_init_settings_that_change_the_collections_are_refused_before_any_host(tmp_path):
    """kubeadm_config_init_settings checked on the controller: the entry point init refuses, naming each conflicting
    setting, both values and the source of the collection's, before it contacts the host (never reachable here: a
    contact would end `unreachable`); validate_init refuses a document kind the settings cannot hold."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"vip_cluster": {"distro": "kubeadm", "kubernetes_version": "1.31.4", "node_cidrs": ["192.0.2.0/24"],
                                 "pod_cidrs": ["203.0.113.128/25"]},
                 "vip_kube_vip": {"version": "1.0.3"},
                 "vip_control_plane": {"address": VIP, "interface": "eth0"}},
        "children": {"kube_control_plane": {"hosts": {"cp1": _NEVER_REACHED}}}}}))

    def run(tasks_from, init_settings):
        playbook = tmp_path / ("%s.yml" % tasks_from)
        playbook.write_text(yaml.safe_dump([{
            "name": "kubeadm init settings", "hosts": "kube_control_plane", "gather_facts": False,
            "tasks": [{"name": "Plan", "baremetal.vip.lb_plan": None, "run_once": True},
                      {"name": "Init", "ansible.builtin.include_role": {"name": "baremetal.vip.kubeadm_config",
                                                                        "tasks_from": tasks_from},
                       "vars": {"kubeadm_config_init_settings": init_settings,
                                "kubeadm_config_admin_conf_dest": str(tmp_path / "admin.conf")}}]}]))
        rc, out = ansible("-i", str(inventory), str(playbook), program="ansible-playbook")
        assert rc != 0 and out["stats"]["cp1"]["failures"] == 1 and out["stats"]["cp1"]["unreachable"] == 0
        return json.dumps(out)

    text = run("init", {
        "InitConfiguration": {"nodeRegistration": {"name": "cp1"}, "localAPIEndpoint": {"bindPort": 6443}},
        "ClusterConfiguration": {"controlPlaneEndpoint": "203.0.113.5:6443", "kubernetesVersion": "v1.31.4",
                                 "networking": {"podSubnet": "203.0.113.0/25", "serviceSubnet": "203.0.113.64/26"},
                                 "apiServer": {"certSANs": ["api.example.test"]}}})
    assert ('kubeadm init on cp1: kubeadm_config_init_settings.InitConfiguration.nodeRegistration.name is \\"cp1\\", '
            'the collection sets \\"cp1.example.test\\" from the plan\'s node name') in text
    assert ('kubeadm_config_init_settings.ClusterConfiguration.controlPlaneEndpoint is \\"203.0.113.5:6443\\", the '
            'collection sets \\"%s:6443\\" from the control-plane VIP and port (vip_control_plane)' % VIP) in text
    assert ('kubeadm_config_init_settings.ClusterConfiguration.networking.podSubnet is \\"203.0.113.0/25\\", the '
            'collection sets \\"203.0.113.128/25\\" from vip_cluster.pod_cidrs') in text
    # the plan has no service CIDRs: a serviceSubnet here would bypass the plan's checks
    assert ('kubeadm_config_init_settings.ClusterConfiguration.networking.serviceSubnet is \\"203.0.113.64/26\\", the '
            'collection sets nothing from vip_cluster.service_cidrs') in text
    # repeated with the collection's values (bindPort, kubernetesVersion) and extra SANs: not refused
    assert "bindPort" not in text and "kubernetesVersion" not in text and "certSANs is" not in text
    assert not (tmp_path / "admin.conf").exists()

    text = run("validate_init", {"KubeProxyConfiguration": {"mode": "iptables"}})
    assert "kubeadm_config_init_settings must be a mapping of InitConfiguration, ClusterConfiguration and/or" in text
    assert "(got the keys ['KubeProxyConfiguration']). The KubeProxyConfiguration is the plan's (vip_kube_proxy)." in text

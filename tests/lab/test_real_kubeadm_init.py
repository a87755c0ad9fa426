# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""bootstrap.yml's opt-in `kubeadm init` (-e vip_bootstrap_kubeadm_init=true) with the REAL kubeadm.

A real lab of one control-plane node and one worker left as before `kubeadm init` (`Lab.up(real=True,
bring_up=False)`: binaries built by tests/realbin, a static-pod runner per node, nothing in
/etc/kubernetes). The real kubeadm (k8s.io/kubernetes v1.31.0, built by realbin) is `kubeadm` on cp1's
PATH: a small wrapper bound over /usr/local/sbin inside cp1's own mount namespace logs each call, what
kube-vip's static pod mounted at that moment, and kubeadm's output (to prove its secrets never reach
Ansible's output), then runs the real binary. bootstrap.yml runs from the lab's switch (the controller)
with the fetched admin.conf and the imported verify.yml.

Which phases run. `kubeadm init` (v1.31.0 cmd/kubeadm/app/cmd/init.go) runs preflight, certs, kubeconfig,
etcd, control-plane, kubelet-start, wait-control-plane, upload-config, upload-certs, mark-control-plane,
bootstrap-token, kubelet-finalize, addon, show-join-command. There is no kubelet here (the runner,
tests/lab/podrunner.py, stands in for it), so the test's kubeadm_config_init_settings skip, through the
InitConfiguration's skipPhases that kubeadm itself reads, exactly the phases that need one:
  * preflight: the node's container runtime (CRI socket, image pulls) and kubelet checks
    (cmd/kubeadm/app/preflight/checks.go);
  * kubelet-start: writes the kubelet's files and runs `systemctl restart kubelet`
    (cmd/phases/init/kubelet.go, phases/kubelet/kubelet.go TryStartKubelet): never on the test machine;
  * wait-control-plane: polls the kubelet's healthz on port 10248 first (cmd/phases/init/waitcontrolplane.go
    WaitForKubelet);
  * upload-config/kubelet and mark-control-plane: patch the Node object the kubelet registers and wait
    for it (phases/patchnode AnnotateCRISocket, phases/markcontrolplane via util/apiclient PatchNode).
Everything else is the real kubeadm against the real API server: certificates, kubeconfigs, the etcd and
kube-apiserver (and controller-manager/scheduler) static pod manifests, upload-config kubeadm (its
client polls until the API answers through admin.conf, i.e. through the VIP: phases/kubeconfig
EnsureAdminClusterRoleBinding, so kube-vip must hold the VIP before this succeeds), upload-certs,
bootstrap-token, kubelet-finalize (nothing to do without the kubelet's client certificate), addon
coredns and kube-proxy, show-join-command. On a real host with a kubelet nothing is skipped: the
collection renders no skipPhases of its own. The runner cannot run kube-controller-manager and
kube-scheduler (not built): it reports them as errors and runs nothing, as it must.

tests/playbooks/fake_kubeadm.py remains only for what the real kubeadm cannot be made to do on demand
(a late failure whose stderr carries the token, the certificate key and the CA hash).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
import yaml
from cryptography import x509


import lab
import realbin
from testkit.ansible import lab_env
from testkit.labrun import api, lab_cli, pod_logs
from testkit.netns import vip_holders

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network and mount namespaces)")

NODES = ["cp1", "w1"]
VIP = "192.0.2.10"
LAB_PY = os.path.join(HERE, "lab.py")
BIN = os.path.dirname(sys.executable)
TIMINGS = {}
# The phases that need a kubelet (see the module docstring); everything else runs.
NEED_A_KUBELET = ["preflight", "kubelet-start", "wait-control-plane", "upload-config/kubelet", "mark-control-plane"]
INIT_SETTINGS = {
    "InitConfiguration": {
        "skipPhases": NEED_A_KUBELET,
        # the loaded 2-core test machine: the API may need more than kubeadm's default minute to answer
        "timeouts": {"kubernetesAPICall": "3m0s"},
        "nodeRegistration": {"kubeletExtraArgs": [{"name": "node-labels", "value": "example.test/vip=yes"}]},
        "localAPIEndpoint": {"bindPort": 6443},  # the collection's value, repeated: accepted
    },
    "ClusterConfiguration": {
        "kubernetesVersion": "1.31.0",  # the collection's, spelt without the v: accepted
        "featureGates": {"EtcdLearnerMode": True},
        "networking": {"dnsDomain": "cluster.example.test"},
        "apiServer": {"certSANs": ["api.example.test", VIP], "extraArgs": [{"name": "v", "value": "2"}]},
        # a test cluster on a shared disk (as tests/lab/reallab.py): etcd's fsync is its slowest part
        "etcd": {"local": {"extraArgs": [{"name": "unsafe-no-fsync", "value": "true"}]}},
    },
    "KubeletConfiguration": {"cgroupDriver": "systemd"},
}
WRAPPER = """#!/bin/sh
# the real kubeadm, with a record of the call (tests/lab/test_real_kubeadm_init.py)
manifest=/etc/kubernetes/manifests/kube-vip.yaml
mount=none
# the host path of the kubeconfig volume (the container always sees it as admin.conf)
if [ -f "$manifest" ]; then mount=$(sed -n 's|^ *path: \\(/etc/kubernetes/[a-z-]*\\.conf\\)$|\\1|p' "$manifest"); fi
echo "$* | kube-vip kubeconfig: $mount" >> {work}/kubeadm-calls.log
{kubeadm} "$@" > {work}/kubeadm.out 2> {work}/kubeadm.err
rc=$?
cat {work}/kubeadm.out
cat {work}/kubeadm.err >&2
exit $rc
"""


def node_file(the_lab, node, path):
    return os.path.join(the_lab.node(node)["dir"], "root", path.lstrip("/"))


def read_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def init_lab(tmp_path_factory):
    """cp1 and w1 with the real programs and runners, kubeadm not run yet; the real kubeadm on cp1's PATH."""
    base = tmp_path_factory.mktemp("kubeadm-init")
    binaries = realbin.ensure()  # builds what is missing: a missing binary is never a skip
    the_lab = lab.Lab(str(base / "lab"))
    started = time.monotonic()
    try:
        the_lab.up(NODES, real=True, bring_up=False)
    except BaseException:
        the_lab.down()
        raise
    TIMINGS["lab up (not initialised)"] = time.monotonic() - started
    try:
        work = base / "work"
        bindir = work / "bin"
        bindir.mkdir(parents=True)
        (bindir / "kubeadm").write_text(WRAPPER.format(work=work, kubeadm=binaries["kubeadm"]))
        (bindir / "kubeadm").chmod(0o755)
        # only inside cp1's own mount namespace (it dies with the lab); the machine's /usr/local/sbin is untouched
        subprocess.run(["nsenter", "--target", str(the_lab.node("cp1")["pid"]), "--mount", "--",
                        "mount", "--bind", str(bindir), "/usr/local/sbin"], check=True)
        settings = work / "settings.yml"
        settings.write_text(yaml.safe_dump({"kubeadm_config_init_settings": INIT_SETTINGS}))
        the_lab.work = work
        the_lab.admin_conf = str(work / "controller" / "admin.conf")
        the_lab.args = ["-e", "vip_bootstrap_kubeadm_init=true", "-e", "vip_bootstrap_admin_conf=%s" % the_lab.admin_conf,
                        "-e", "@%s" % settings, "-e", "vip_bootstrap_render_dir=%s" % (work / "render")]
        yield the_lab
    finally:
        the_lab.down()
        print("\nreal kubeadm init timings (s): %s" % json.dumps({k: round(v, 1) for k, v in TIMINGS.items()}))


def bootstrap(the_lab, label, *extra):
    """bootstrap.yml from the lab's switch (the controller); (rc, parsed JSON output, raw text)."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, LAB_PY, "exec", "--state-dir", the_lab.state_dir, "--", os.path.join(BIN, "ansible-playbook"),
         "-i", the_lab.inventory_path, os.path.join(TOP, "playbooks", "bootstrap.yml")] + the_lab.args + list(extra),
        capture_output=True, text=True, check=False, cwd=TOP, env=lab_env())
    TIMINGS[label] = time.monotonic() - started
    try:
        return proc.returncode, json.loads(proc.stdout), proc.stdout + proc.stderr
    except ValueError:
        raise AssertionError("bootstrap.yml gave no JSON (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout[-4000:],
                                                                              proc.stderr[-4000:]))


def kubeadm_calls(the_lab):
    path = the_lab.work / "kubeadm-calls.log"
    return path.read_text().splitlines() if path.exists() else []


def test_bootstrap_runs_the_real_kubeadm_init_after_kube_vip(init_lab):
    the_lab = init_lab
    assert not os.path.exists(node_file(the_lab, "cp1", "/etc/kubernetes/admin.conf"))
    rc, out, text = bootstrap(the_lab, "bootstrap with kubeadm init")
    if rc != 0:
        err = the_lab.work / "kubeadm.err"
        pytest.fail("bootstrap.yml failed (%d):\n%s\n%s\nkubeadm's stderr: %s" % (
            rc, text[-5000:], pod_logs(the_lab, ""), err.read_text()[-3000:] if err.exists() else "(not run)"))

    # one call, while kube-vip's static pod was in place on super-admin.conf (kubeadm >= 1.29)
    assert kubeadm_calls(the_lab) == [
        "init --config /etc/kubernetes/baremetal-vip/kubeadm-init.yaml --upload-certs"
        " | kube-vip kubeconfig: /etc/kubernetes/super-admin.conf"]
    # what the collection gave kubeadm: its settings and the user's merged
    with open(node_file(the_lab, "cp1", "/etc/kubernetes/baremetal-vip/kubeadm-init.yaml")) as handle:
        docs = [d for d in yaml.safe_load_all(handle) if d]
    assert [d["kind"] for d in docs] == ["InitConfiguration", "ClusterConfiguration", "KubeProxyConfiguration",
                                         "KubeletConfiguration"]
    init, cluster = docs[0], docs[1]
    assert init["localAPIEndpoint"] == {"advertiseAddress": "192.0.2.11", "bindPort": 6443}
    assert init["nodeRegistration"]["name"] == "cp1" and init["skipPhases"] == NEED_A_KUBELET
    assert cluster["controlPlaneEndpoint"] == "%s:6443" % VIP
    assert cluster["apiServer"]["certSANs"] == [VIP, "api.example.test"]
    assert cluster["networking"] == {"podSubnet": "203.0.113.128/25", "serviceSubnet": "203.0.113.64/26",
                                     "dnsDomain": "cluster.example.test"}
    assert {"name": "node-cidr-mask-size-ipv4", "value": "26"} in cluster["controllerManager"]["extraArgs"]
    assert docs[3] == {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
                       "cgroupDriver": "systemd"}

    # the real kubeadm ran every phase but those that need a kubelet
    said = (the_lab.work / "kubeadm.out").read_text()
    for phase in ("[certs]", "[kubeconfig]", "[etcd]", "[control-plane]", "[upload-config]", "[upload-certs]",
                  "[bootstrap-token]", "Applied essential addon: CoreDNS", "Applied essential addon: kube-proxy",
                  "Your Kubernetes control-plane has initialized successfully!"):
        assert phase in said, said
    for phase in ("[preflight]", "[kubelet-start]", "[wait-control-plane]", "[mark-control-plane]"):
        assert phase not in said, said
    # its secrets (join token, certificate key) never reach Ansible's output
    token = re.search(r"--token ([a-z0-9]{6}\.[a-z0-9]{16})", said).group(1)
    cert_key = re.search(r"--certificate-key ([0-9a-f]{64})", said).group(1)
    assert token not in text and cert_key not in text

    # certificates, kubeconfigs and static pod manifests written by kubeadm, on cp1 only
    with open(node_file(the_lab, "cp1", "/etc/kubernetes/pki/apiserver.crt"), "rb") as handle:
        sans = x509.load_pem_x509_certificate(handle.read()).extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
    assert {VIP, "192.0.2.11", "203.0.113.65"} <= {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert {"api.example.test", "kubernetes.default.svc.cluster.example.test"} <= set(sans.get_values_for_type(x509.DNSName))
    # the clients on the VIP; controller-manager and scheduler on the node's own API server (kubeadm v1.31.0
    # cmd/kubeadm/app/phases/kubeconfig/kubeconfig.go: their specs take the LocalAPIEndpoint)
    for name, server in (("admin.conf", VIP), ("super-admin.conf", VIP), ("kubelet.conf", VIP),
                         ("controller-manager.conf", "192.0.2.11"), ("scheduler.conf", "192.0.2.11")):
        config = read_yaml(node_file(the_lab, "cp1", "/etc/kubernetes/" + name))
        assert config["clusters"][0]["cluster"]["server"] == "https://%s:6443" % server, name
    manifests = sorted(os.listdir(node_file(the_lab, "cp1", "/etc/kubernetes/manifests")))
    assert manifests == ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml",
                         "kube-vip.yaml"]
    assert not os.path.exists(node_file(the_lab, "w1", "/etc/kubernetes/pki"))

    # the runner runs etcd, kube-apiserver and kube-vip from those manifests; the two it has no binary for, not at all
    pods = the_lab.pods()["cp1"]["pods"]
    for name in ("etcd", "kube-apiserver", "kube-vip"):
        assert pods[name]["phase"] == "Running", (name, pods[name])
    for name in ("kube-controller-manager", "kube-scheduler"):
        assert pods[name]["phase"] == "Error" and "has no binary in this lab" in pods[name]["error"], pods[name]
        assert pods[name]["containers"] == {}
    # kube-vip holds the VIP and the real API server answers through it, with the built release
    assert vip_holders(the_lab, VIP) == ["cp1"], pod_logs(the_lab)
    proc = lab_cli(the_lab.state_dir, "exec", "--", "curl", "-sS", "--max-time", "5", "--cacert",
                   node_file(the_lab, "cp1", "/etc/kubernetes/pki/ca.crt"), "https://%s:6443/version" % VIP)
    kubernetes, dummy, dummy = realbin.lab_versions()
    assert json.loads(proc.stdout)["gitVersion"] == "v" + kubernetes

    # the cluster, read through the admin.conf the playbook fetched (private) to the controller
    assert oct(os.stat(the_lab.admin_conf).st_mode & 0o777) == "0o600"
    with open(the_lab.admin_conf) as src, open(os.path.join(the_lab.state_dir, "admin.conf"), "w") as dst:
        dst.write(src.read())  # where `lab.py api` reads it (removed by `lab.py down`)
    uploaded = api(the_lab.state_dir, "GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    assert uploaded["status"] == 200, uploaded
    stored = yaml.safe_load(uploaded["body"]["data"]["ClusterConfiguration"])
    assert stored["controlPlaneEndpoint"] == "%s:6443" % VIP and stored["apiServer"]["certSANs"] == [VIP, "api.example.test"]
    assert stored["networking"]["podSubnet"] == "203.0.113.128/25"
    for path in ("/api/v1/namespaces/kube-system/secrets/kubeadm-certs", "/api/v1/namespaces/kube-public/configmaps/cluster-info",
                 "/apis/apps/v1/namespaces/kube-system/deployments/coredns",
                 "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-vip-ds"):
        assert api(the_lab.state_dir, "GET", path)["status"] == 200, path
    # kube-proxy's ConfigMap: written by kubeadm's addon phase from the collection's KubeProxyConfiguration, then merged
    # by cluster_apply with the same settings (no excludeCIDRs: the real lab's VIP has no kube-vip IPVS balancer)
    proxy = api(the_lab.state_dir, "GET", "/api/v1/namespaces/kube-system/configmaps/kube-proxy")["body"]
    config = yaml.safe_load(proxy["data"]["config.conf"])
    assert config["mode"] == docs[2]["mode"] == "ipvs" and config["ipvs"]["strictARP"] is docs[2]["ipvs"]["strictARP"] is True
    assert config["ipvs"].get("excludeCIDRs") == docs[2]["ipvs"].get("excludeCIDRs")
    lease = api(the_lab.state_dir, "GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/plndr-cp-lock")
    assert lease["body"]["spec"]["holderIdentity"] == "cp1"
    # after the apply, cp1's kube-vip back on admin.conf; verify.yml (imported) passed
    pod = read_yaml(node_file(the_lab, "cp1", "/etc/kubernetes/manifests/kube-vip.yaml"))
    assert [v["hostPath"]["path"] for v in pod["spec"]["volumes"] if v["name"] == "kubeconfig"] == [
        "/etc/kubernetes/admin.conf"]
    assert "VIP %s on cp1; lease kube-system/plndr-cp-lock held by cp1" % VIP in text
    assert any(p["play"]["name"] == "Read every node's VIP state and compare it with the plan" for p in out["plays"])


def test_second_run_does_not_run_kubeadm_again(init_lab):
    the_lab = init_lab
    ca = node_file(the_lab, "cp1", "/etc/kubernetes/pki/ca.crt")
    before = os.stat(ca).st_mtime_ns
    rc, out, text = bootstrap(the_lab, "bootstrap again", "-e", "vip_bootstrap_verify=false")
    assert rc == 0, text[-5000:]
    assert {host: stats["changed"] for host, stats in out["stats"].items()} == {"cp1": 0, "w1": 0, "localhost": 0}
    assert len(kubeadm_calls(the_lab)) == 1 and os.stat(ca).st_mtime_ns == before
    assert vip_holders(the_lab, VIP) == ["cp1"]

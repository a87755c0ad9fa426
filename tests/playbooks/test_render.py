"""playbooks/render.yml on every example inventory: goldens, determinism, unreachable hosts, schemas.

Goldens live in tests/golden/<example>/ (the render directory, byte for byte). After an intended
change, regenerate them and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/playbooks/test_render.py
"""
import os
import shutil
import stat
import subprocess
import sys

import pytest
import yaml

from testkit import render_schemas
from testkit.ansible import ansible_env, run_render
from testkit.inventory import examples, read_example, unreachable_inventory

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

BIN = os.path.dirname(sys.executable)
GOLDEN = os.path.join(TOP, "tests", "golden")
EXAMPLES = examples()
KUBE_PROXY_FIELDS = {"apiVersion", "kind", "mode", "ipvs"}


def tree(root):
    out = {}
    for base, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(base, name)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, root)] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return out


# Golden files carry this suffix so that linters do not read rendered multi-document YAML as
# the collection's own YAML (ansible-test's yamllint refuses multi-document streams).
SUFFIX = ".golden"


def golden_tree(root):
    """tree() of a golden directory, with the suffix taken off every name."""
    return {name[:-len(SUFFIX)]: value for name, value in tree(root).items() if name.endswith(SUFFIX)}


def write_golden(out, golden):
    shutil.rmtree(golden, ignore_errors=True)
    for name, (data, _mode) in tree(out).items():
        path = os.path.join(golden, name + SUFFIX)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)


# Rendered a second time (determinism) besides the golden run: one case per distribution.
TWICE = [e for e in ("render-k3s-bgp", "render-kubeadm-legacy", "render-rke2-routing") if e in EXAMPLES]


@pytest.fixture(scope="module", params=EXAMPLES)
def rendered(request, tmp_path_factory):
    """Render each example with every host unreachable (ssh to 192.0.2.2xx): nothing may connect."""
    example = request.param
    work = tmp_path_factory.mktemp("render-" + example)
    inventory = unreachable_inventory(example, str(work / "inventory.yml"))
    out = work / "out"
    run_render(inventory, str(out))
    return example, str(out)


def test_matches_golden(rendered):
    example, out = rendered
    golden = os.path.join(GOLDEN, example)
    if os.environ.get("UPDATE_GOLDEN"):
        write_golden(out, golden)
    got, want = tree(out), golden_tree(golden)
    assert sorted(got) == sorted(want), "file list differs from %s (UPDATE_GOLDEN=1 to regenerate)" % golden
    for name, (data, mode) in got.items():
        assert data == want[name][0], "%s differs from the golden (UPDATE_GOLDEN=1 to regenerate)" % name
        assert mode == (0o600 if "/manifests/" in name or "pod-manifests" in name or "config.yaml.d" in name or "secret" in name
                        else mode), name


@pytest.mark.parametrize("example", TWICE)
def test_render_again_identical_bytes(example, tmp_path):
    """A second run (the example inventory as is) gives the bytes of the golden run (hosts unreachable).

    It runs with -vv: no BGP password of the example may appear in Ansible's output.
    """
    again = tmp_path / "again"
    inventory = os.path.join(TOP, "examples", example, "inventory.yml")
    output = run_render(inventory, str(again), "-vv")
    assert {name: data for name, (data, _mode) in tree(str(again)).items()} == \
        {name: data for name, (data, _mode) in golden_tree(os.path.join(GOLDEN, example)).items()}
    with open(inventory, encoding="utf-8") as handle:
        text = handle.read()
    for secret in ("example-only-secret", "s3cret"):
        if secret in text:
            assert secret not in output


def test_static_pods_are_0600(rendered):
    _example, out = rendered
    for name, (_data, mode) in tree(out).items():
        if name.endswith("/kube-vip.yaml") or "/manifests/" in name or "secret" in name:
            assert mode == 0o600, name


def _k8s_version(example):
    with open(os.path.join(TOP, "examples", example, "inventory.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["all"]["vars"]["vip_cluster"]["kubernetes_version"]


def test_every_rendered_object_validates(rendered):
    example, out = rendered
    version = _k8s_version(example)
    seen = 0
    for name, (data, _mode) in sorted(tree(out).items()):
        if not name.endswith(".yaml"):
            continue
        for doc in yaml.safe_load_all(data):
            assert doc is not None, name
            if not isinstance(doc, dict) or "kind" not in doc:
                continue  # patches, kube-proxy-arg fragments
            if doc["apiVersion"].startswith("kubeadm.k8s.io/"):
                continue  # kubeadm's own configuration: the real kubeadm validates it (test_kubeadm_validate.py)
            seen += 1
            if doc["kind"] == "KubeProxyConfiguration":
                assert set(doc) <= KUBE_PROXY_FIELDS and set(doc["ipvs"]) <= {"strictARP", "excludeCIDRs"}, name
                continue
            render_schemas.validate(doc, version)
            if "cluster/" in name or "/manifests/" in name and "pod-manifests" not in name:
                assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "baremetal.vip", name
    assert seen


def test_check_mode_writes_nothing(tmp_path):
    out = tmp_path / "out"
    run_render(os.path.join(TOP, "examples", EXAMPLES[0], "inventory.yml"), str(out), "--check")
    assert not out.exists() or not any(f for _b, _d, f in os.walk(out) if f)


HOST_MODE_PLAY = """
- name: Place the VIP layer on the hosts (check mode)
  hosts: kube_control_plane:kube_node
  gather_facts: false
  tasks:
    - name: Plan
      baremetal.vip.lb_plan:
      run_once: true
    - name: Roles
      ansible.builtin.include_role:
        name: "baremetal.vip.{{ role }}"
      loop: [kube_vip_control_plane, kube_vip_services, metallb, kube_proxy, host_prep]
      loop_control:
        loop_var: role
"""


def test_host_mode_check_diff_changes_nothing(tmp_path):
    """Without a render dir the roles target the host itself: --check --diff shows the files, writes none."""
    inv = read_example("render-kubeadm-legacy")
    inv["all"]["children"] = {"kube_control_plane": {"hosts": {"cp1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "vip_node_ip": "192.0.2.11"}}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inv))
    (tmp_path / "play.yml").write_text(HOST_MODE_PLAY)
    watched = ["/etc/kubernetes/manifests/kube-vip.yaml", "/etc/modules-load.d/baremetal-vip.conf",
               "/etc/sysctl.d/90-baremetal-vip.conf", "/etc/kubernetes/baremetal-vip/kube-proxy-configuration.yaml"]
    before = {p: os.path.exists(p) for p in watched}
    env = ansible_env()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml"),
                           "--check", "--diff"], cwd=TOP, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert {p: os.path.exists(p) for p in watched} == before
    out = proc.stdout
    assert "+  name: kube-vip" in out or "name: kube-vip" in out  # the static pod's diff is shown
    assert "/etc/modules-load.d/baremetal-vip.conf" in out
    assert "example-only-secret" not in out


def test_bootstrap_super_admin_on_the_plan_host_only(tmp_path):
    """kubeadm >= 1.29 bootstrap: with the switch on, only the plan's super-admin host mounts super-admin.conf."""
    example = "arp-metallb" if "arp-metallb" in EXAMPLES else "lab"
    out = tmp_path / "out"
    run_render(os.path.join(TOP, "examples", example, "inventory.yml"), str(out), "-e", "kube_vip_control_plane_use_super_admin=true")
    paths = {}
    for host in ("cp1", "cp2"):
        with open(os.path.join(str(out), "hosts", host, "etc/kubernetes/manifests/kube-vip.yaml"), encoding="utf-8") as handle:
            paths[host] = yaml.safe_load(handle)["spec"]["volumes"][0]["hostPath"]["path"]
    assert paths == {"cp1": "/etc/kubernetes/super-admin.conf", "cp2": "/etc/kubernetes/admin.conf"}


def test_rke2_example_renders_into_the_rke2_paths(tmp_path):
    """examples/rke2: kube-vip in RKE2's pod-manifests on its kubeconfig, manifests in its auto-deploy directory,
    kube-proxy arguments in config.yaml.d, and nothing in kubeadm's places."""
    out = str(tmp_path / "out")
    run_render(unreachable_inventory("rke2", str(tmp_path / "inventory.yml")), out)
    files = set(tree(os.path.join(out, "hosts")))
    for host in ("cp1", "cp2", "cp3"):
        with open(os.path.join(out, "hosts", host, "var/lib/rancher/rke2/agent/pod-manifests/kube-vip.yaml"), encoding="utf-8") as handle:
            pod = [d for d in yaml.safe_load_all(handle) if d][0]
        assert [v["hostPath"]["path"] for v in pod["spec"]["volumes"] if v["name"] == "kubeconfig"] == ["/etc/rancher/rke2/rke2.yaml"]
        assert "%s/var/lib/rancher/rke2/server/manifests/baremetal-vip-metallb-pools.yaml" % host in files
    for host in ("cp1", "worker1"):
        assert "%s/etc/rancher/rke2/config.yaml.d/50-baremetal-vip-kube-proxy.yaml" % host in files
    assert not [f for f in files if "/etc/kubernetes/" in f or "/k3s/" in f]
    assert not [f for f in files if f.startswith("worker") and "/var/lib/rancher/" in f]

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`kubeadm config validate` (the real kubeadm v1.31.0, built by tests/realbin/realbin.py) on every kubeadm
configuration the collection renders: the fragment (roles/kubeadm_config/templates/kubeadm-vip.yaml.j2) and the full
init configuration (kubeadm-init.yaml.j2) of every control-plane host, for every kubeadm example and version case.

Rendered through ansible-playbook with the role's entry point render_init (tests/playbooks/render_kubeadm.yml, the
entry point playbooks/render.yml uses). kubeadm v1.31.0 reads kubeadm.k8s.io/v1beta3 (the plan's API for 1.22-1.30)
and v1beta4 (from 1.31), not v1beta2 (render-kubeadm-legacy's own 1.20); it refuses control planes older than 1.30
(cmd/kubeadm/app/constants/constants.go MinimumControlPlaneVersion), so the 1.22 case (v1beta3, the oldest release
that API serves) is validated with kubernetesVersion set to v1.30.0, the rest of the rendering left as it is.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

import realbin
from testkit.ansible import ansible_env
from testkit.inventory import examples, read_example

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

BIN = os.path.dirname(sys.executable)
PLAYBOOK = os.path.join(HERE, "render_kubeadm.yml")
CONFIG_DIR = "etc/kubernetes/baremetal-vip"


KUBEADM_EXAMPLES = [e for e in examples() if read_example(e)["all"]["vars"]["vip_cluster"]["distro"] == "kubeadm"]
# (the example's own version unless kubeadm v1.31.0 cannot read its API), 1.22.0 (oldest v1beta3), 1.30.6 (v1beta3),
# 1.31.0 (v1beta4, kubeadm's own)
VERSIONS = ("own", "1.22.0", "1.30.6", "1.31.0")
CASES = [(e, v) for e in KUBEADM_EXAMPLES for v in VERSIONS
         if not (v == "own" and e == "render-kubeadm-legacy")]  # 1.20: kubeadm.k8s.io/v1beta2
# Settings the plan refuses at the other versions (rightly: tests/unit/plan), changed for those cases only:
# kube-proxy's --cleanup-ipvs is gone from 1.21, mode nftables needs 1.31.
ADJUST = {
    "render-kubeadm-legacy": lambda v: {"vip_kube_proxy": {"cleanup_ipvs": False}},
    "routing-table": lambda v: {"vip_kube_proxy": {"mode": "iptables"}} if v in ("1.22.0", "1.30.6") else {},
}


@pytest.fixture(scope="module")
def kubeadm():
    try:
        return realbin.ensure(["kubeadm"])["kubeadm"]
    except Exception as exc:  # pylint: disable=broad-except
        pytest.skip("the real kubeadm is not built (make real-bin): %s" % exc)


def render(tmp_path, example, version=None, extra_vars=None, check=True):
    """tests/playbooks/render_kubeadm.yml on the example (its kubernetes_version replaced); (returncode, out dir, output)."""
    inv = read_example(example)
    if version:
        inv["all"]["vars"]["vip_cluster"]["kubernetes_version"] = version
    for key, value in (extra_vars or {}).items():
        current = inv["all"]["vars"].get(key)
        inv["all"]["vars"][key] = dict(current, **value) if isinstance(current, dict) and isinstance(value, dict) else value
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(inv))
    out = tmp_path / "out"
    env = ansible_env()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), PLAYBOOK,
                           "-e", "vip_render_dir=%s" % out], cwd=TOP, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    if check:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc.returncode, out, proc.stdout


def rendered_files(out):
    """{host: {file name: path}} of the kubeadm files written under out/hosts."""
    files = {}
    for host in sorted(os.listdir(out / "hosts")) if (out / "hosts").exists() else []:
        folder = out / "hosts" / host / CONFIG_DIR
        if folder.exists():
            files[host] = {name: folder / name for name in sorted(os.listdir(folder))}
    return files


def validate(kubeadm_bin, path, tmp_path, kubernetes_version=None):
    """kubeadm config validate --config PATH (kubernetesVersion replaced first when given): (returncode, output)."""
    if kubernetes_version:
        text = path.read_text()
        assert "kubernetesVersion: v" in text, path
        path = tmp_path / ("%s-%s" % (path.parent.parent.parent.parent.name, path.name))
        path.write_text("\n".join("kubernetesVersion: %s" % kubernetes_version if line.startswith("kubernetesVersion: ")
                                  else line for line in text.split("\n")))
    proc = subprocess.run([kubeadm_bin, "config", "validate", "--config", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def docs_of(path):
    with open(path, encoding="utf-8") as handle:
        return [d for d in yaml.safe_load_all(handle) if d]


@pytest.mark.parametrize("example,version", CASES)
def test_kubeadm_config_validate_passes(kubeadm, tmp_path, example, version):
    """Every file of every control-plane host passes kubeadm config validate (kubernetes v1.31.0,
    cmd/kubeadm/app/cmd/config.go newCmdConfigValidate: the documents loaded and validated as kubeadm init does).
    The init configuration carries the plan's pod subnet, and kube-controller-manager's node CIDR mask where the
    pod CIDR is narrower than kubeadm's default node mask (validation.go ValidatePodSubnetNodeMask)."""
    _rc, out, _output = render(tmp_path, example, None if version == "own" else version,
                               ADJUST.get(example, lambda v: {})(version))
    files = rendered_files(out)
    plan_vars = read_example(example)["all"]["vars"]
    if not plan_vars.get("vip_control_plane"):
        assert files == {}, "no control-plane VIP: no kubeadm configuration"
        return
    cps = sorted((read_example(example)["all"]["children"]["kube_control_plane"]["hosts"] or {}))
    assert sorted(files) == cps
    swap = "v1.30.0" if version == "1.22.0" else None
    for host, names in files.items():
        assert sorted(names) == ["kubeadm-init.yaml", "kubeadm-vip.yaml"], host
        for name, path in names.items():
            rc, output = validate(kubeadm, path, tmp_path, swap)
            assert rc == 0 and output == "ok", "%s %s: %s" % (host, name, output)
        init = docs_of(names["kubeadm-init.yaml"])
        cluster = next(d for d in init if d["kind"] == "ClusterConfiguration")
        assert cluster["networking"]["podSubnet"] == ",".join(plan_vars["vip_cluster"]["pod_cidrs"])
        if version == "1.22.0" or version == "1.30.6":
            assert cluster["apiVersion"] == "kubeadm.k8s.io/v1beta3"


def test_without_the_node_mask_kubeadm_refuses(kubeadm, tmp_path):
    """The lab's rule (kubernetes v1.31.0, validation.go ValidatePodSubnetNodeMask): the lab's 5 nodes on a /25 pod CIDR
    get node-cidr-mask-size-ipv4 28 from the plan; without it kubeadm refuses the /25 against its default /24. And
    kubeadm refuses a leading document of comments only (cmd/kubeadm/app/util/marshal.go SplitYAMLDocuments), which is
    why the managed-by header sits inside the first document."""
    _rc, out, _output = render(tmp_path, "lab")
    path = rendered_files(out)["cp1"]["kubeadm-init.yaml"]
    docs = docs_of(path)
    cluster = next(d for d in docs if d["kind"] == "ClusterConfiguration")
    assert cluster["controllerManager"]["extraArgs"] == [{"name": "node-cidr-mask-size-ipv4", "value": "28"}]
    assert path.read_text().startswith("---\n#\n# Managed by baremetal.vip")
    del cluster["controllerManager"]
    bare = tmp_path / "no-mask.yaml"
    bare.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    rc, output = validate(kubeadm, bare, tmp_path)
    assert rc != 0 and "the size of pod subnet with mask 25 is smaller than the size of node subnet with mask 24" in output
    header_first = tmp_path / "header-first.yaml"
    header_first.write_text("# a header\n" + path.read_text())
    rc, output = validate(kubeadm, header_first, tmp_path)
    assert rc != 0 and "kind and apiVersion is mandatory" in output


@pytest.mark.parametrize("version,extra_args,expected", [
    ("1.31.0", [{"name": "bind-address", "value": "0.0.0.0"}, {"name": "node-cidr-mask-size-ipv4", "value": "28"}],
     [{"name": "bind-address", "value": "0.0.0.0"}, {"name": "node-cidr-mask-size-ipv4", "value": "28"}]),
    ("1.30.6", {"bind-address": "0.0.0.0"}, {"bind-address": "0.0.0.0", "node-cidr-mask-size-ipv4": "28"}),
])
def test_user_controller_manager_arguments_kept(kubeadm, tmp_path, version, extra_args, expected):
    """kubeadm_config_init_settings with controllerManager.extraArgs of the API version's shape (v1beta4: a list of
    {name, value}, v1beta3: a map; kubernetes v1.31.0 cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go Arg): the user's
    arguments are kept, the plan's mask added once (repeating it with the same value is accepted); kubeadm validates."""
    settings = {"ClusterConfiguration": {"controllerManager": {"extraArgs": extra_args}}}
    _rc, out, _output = render(tmp_path, "lab", version, {"kubeadm_config_init_settings": settings})
    path = rendered_files(out)["cp1"]["kubeadm-init.yaml"]
    cluster = next(d for d in docs_of(path) if d["kind"] == "ClusterConfiguration")
    assert cluster["controllerManager"]["extraArgs"] == expected
    rc, output = validate(kubeadm, path, tmp_path)
    assert rc == 0 and output == "ok", output


def test_user_node_mask_conflicts_refused(tmp_path):
    """A node-cidr-mask-size-ipv4 other than the plan's, and a plain node-cidr-mask-size (kube-controller-manager refuses
    it next to the per-family flags: kubernetes v1.31.0 cmd/kube-controller-manager/app/core.go setNodeCIDRMaskSizes),
    are refused on the controller before anything is written, both at once; a wrong extraArgs shape too."""
    settings = {"ClusterConfiguration": {"controllerManager": {"extraArgs": [
        {"name": "node-cidr-mask-size-ipv4", "value": "26"}, {"name": "node-cidr-mask-size", "value": "24"}]}}}
    rc, out, output = render(tmp_path, "lab", None, {"kubeadm_config_init_settings": settings}, check=False)
    output = output.replace('\\"', '"')
    assert rc != 0
    assert ('kubeadm_config_init_settings.ClusterConfiguration.controllerManager.extraArgs node-cidr-mask-size-ipv4 is '
            '"26", the collection sets "28" from vip_cluster.pod_cidrs' in output), output
    assert "node-cidr-mask-size is" in output and "refuses it next to node-cidr-mask-size-ipv4" in output
    assert rendered_files(out) == {}
    shape = {"ClusterConfiguration": {"controllerManager": {"extraArgs": {"node-cidr-mask-size-ipv4": "28"}}}}
    (tmp_path / "shape").mkdir()
    rc, out, output = render(tmp_path / "shape", "lab", None, {"kubeadm_config_init_settings": shape}, check=False)
    assert rc != 0 and "controllerManager.extraArgs a list of {name, value} (kubeadm.k8s.io/v1beta4)" in output

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cluster_apply and k8s_apply_set against the real lab's API server (tests/lab/test_real_lab.py): MetalLB v0.16.1's
CRDs and the custom resources rendered for the examples, applied from the switch namespace, read back as stored.

The MetalLB CRDs (tests/data/metallb-crds: config/crd/bases at MetalLB v0.16.1, byte-for-byte) are installed
through k8s_apply_set; the real kube-apiserver then validates every custom resource the collection renders
for the MetalLB examples against their openAPIV3Schema. The examples' rendered output is tests/golden
(tests/playbooks/test_render.py keeps it equal to playbooks/render.yml's). No MetalLB controller runs here.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess

import yaml

from testkit import BIN, TOP
from testkit.ansible import ansible_env
from testkit.labrun import LAB_PY, PY, lab_cli

GOLDEN = os.path.join(TOP, "tests", "golden")
CRD_DIR = os.path.join(TOP, "tests", "data", "metallb-crds")
EXAMPLE_SET = "metallb-examples"  # not the lab's own set ("default"): pruning it must leave the lab alone
METALLB_KINDS = {"IPAddressPool": ("metallb.io/v1beta1", "ipaddresspools"),
                 "L2Advertisement": ("metallb.io/v1beta1", "l2advertisements"),
                 "BGPAdvertisement": ("metallb.io/v1beta1", "bgpadvertisements"),
                 "BGPPeer": ("metallb.io/v1beta2", "bgppeers"),
                 "Community": ("metallb.io/v1beta1", "communities"),
                 "BFDProfile": ("metallb.io/v1beta1", "bfdprofiles")}
METALLB_EXAMPLES = sorted(e for e in os.listdir(GOLDEN) if any(
    f.startswith("metallb-") for f in os.listdir(os.path.join(GOLDEN, e, "cluster"))))
NS = "metallb-system"


def metallb_crds():
    crds = []
    for name in sorted(os.listdir(CRD_DIR)):
        if name.endswith(".yaml.gz"):
            with gzip.open(os.path.join(CRD_DIR, name), "rt", encoding="utf-8") as handle:
                crds.append(yaml.safe_load(handle))
    return crds


def example_render_dir(example, dest):
    """DEST/cluster/*.yaml: the MetalLB manifests rendered for an example (its goldens, suffix dropped)."""
    cluster = os.path.join(dest, example, "cluster")
    os.makedirs(cluster, exist_ok=True)
    objects = []
    for name in sorted(os.listdir(os.path.join(GOLDEN, example, "cluster"))):
        if name.startswith("metallb-"):
            with open(os.path.join(GOLDEN, example, "cluster", name)) as src:
                text = src.read()
            with open(os.path.join(cluster, name[:-len(".golden")]), "w") as out:
                out.write(text)
            objects += [d for d in yaml.safe_load_all(text) if d]
    return os.path.dirname(cluster), objects


def run_tasks(the_lab, tmp_path, tasks, name="play"):
    """An ansible-playbook of TASKS on localhost in the switch namespace (the lab's client); (rc, stdout)."""
    path = tmp_path / ("%s.yml" % name)
    path.write_text(yaml.safe_dump([{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    proc = subprocess.run(
        [PY, LAB_PY, "exec", "--state-dir", the_lab.state_dir, "--", os.path.join(BIN, "ansible-playbook"),
         "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % PY, str(path)],
        capture_output=True, text=True, check=False, cwd=TOP,
        env=ansible_env(ANSIBLE_DEPRECATION_WARNINGS="0"))
    return proc.returncode, proc.stdout + proc.stderr


def the_lab_kubeconfig(the_lab):
    return os.path.join(the_lab.state_dir, "admin.conf")


def apply_set_tasks(the_lab, result_file, runs):
    """One k8s_apply_set task per mapping of RUNS (its parameters), with the lab's admin.conf; a failure
    does not stop the next; the results, in order, written to RESULT_FILE as a JSON list."""
    tasks = []
    for index, params in enumerate(runs):
        params = dict(params, kubeconfig=the_lab_kubeconfig(the_lab))
        params.setdefault("retry_delay", 0.5)
        tasks.append({"name": "apply %d" % index, "baremetal.vip.k8s_apply_set": params,
                      "register": "applied_%d" % index, "ignore_errors": True})
    content = "{{ [%s] | to_json }}" % ", ".join("applied_%d" % i for i in range(len(runs)))
    return tasks + [{"name": "results", "ansible.builtin.copy": {"content": content, "dest": str(result_file)}}]


def apply_sets(the_lab, tmp_path, name, *runs):
    """[module result per run] of k8s_apply_set runs against the real API server, in one ansible-playbook."""
    result_file = tmp_path / ("%s.json" % name)
    rc, out = run_tasks(the_lab, tmp_path, apply_set_tasks(the_lab, result_file, runs), name)
    assert rc == 0, out[-4000:]
    with open(result_file) as handle:
        return json.load(handle)


def apply_role(the_lab, tmp_path, render_dir, name):
    """roles/cluster_apply on a render directory, set EXAMPLE_SET, kube-proxy untouched; (rc, stdout)."""
    return run_tasks(the_lab, tmp_path, [{"name": "cluster_apply", "ansible.builtin.include_role": {
        "name": "baremetal.vip.cluster_apply"}, "vars": {
            "cluster_apply_kubeconfig": the_lab_kubeconfig(the_lab), "cluster_apply_dir": render_dir,
            "cluster_apply_cluster_name": EXAMPLE_SET, "cluster_apply_kube_proxy": False,
            "cluster_apply_webhook_timeout": 0}}], name)


LIST_SCRIPT = """
import json, sys
from kubernetes import client, config
api = config.new_client_from_config(config_file=sys.argv[1])
out = {}
for kind, (version, plural) in json.loads(sys.argv[2]).items():
    got = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "metallb.io", version.split("/")[1], sys.argv[3], plural)
    out[kind] = {o["metadata"]["name"]: o for o in got["items"]}
print(json.dumps(out))
"""


def metallb_objects(the_lab):
    """{kind: {name: object}} of every MetalLB kind in metallb-system as the real API server stores it (one
    client process in the switch namespace)."""
    proc = lab_cli(the_lab.state_dir, "exec", "--", PY, "-c", LIST_SCRIPT, the_lab_kubeconfig(the_lab),
                   json.dumps(METALLB_KINDS), NS)
    return json.loads(proc.stdout)


def contained(want, got, where="spec"):
    """Problems where GOT (stored) lacks or changes what WANT (rendered) says; server defaults may add."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return ["%s: %r stored as %r" % (where, want, got)]
        return [p for k, v in want.items() for p in contained(v, got.get(k), "%s.%s" % (where, k))]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return ["%s: %r stored as %r" % (where, want, got)]
        return [p for i, (w, g) in enumerate(zip(want, got)) for p in contained(w, g, "%s[%d]" % (where, i))]
    return [] if want == got else ["%s: %r stored as %r" % (where, want, got)]


def foreign_pool(name, labels):
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"addresses": ["203.0.113.240/29"], "autoAssign": False}}

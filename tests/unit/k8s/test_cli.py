"""The modules and the cluster_apply role run by ansible / ansible-playbook against the API double."""
import base64
import json
import os
import subprocess

import pytest
import yaml

from testkit.ansible import ansible_env

from .seeds import cluster_seed

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.join(TOP, ".venv", "bin")
PASSWORD = "bgp-s3cret-value"


def run(args, tmp_path, json_output=False):
    env = ansible_env(ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), ANSIBLE_DEPRECATION_WARNINGS="0")
    if json_output:
        env.update(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    proc = subprocess.run(args, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=240,
                          check=False)
    return proc.returncode, proc.stdout + proc.stderr


def adhoc(module, args, tmp_path, verbose=False, check=False):
    cmd = [os.path.join(BIN, "ansible"), "localhost", "-m", module, "-a", args]
    cmd += (["-vvv"] if verbose else []) + (["--check"] if check else [])
    code, out = run(cmd, tmp_path, json_output=not verbose)
    if verbose:
        return code, out, None
    result = json.JSONDecoder().raw_decode(out[out.index("{"):])[0]
    return code, out, result["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_cluster_info_adhoc(k8s_double, tmp_path):
    k8s_double.seed(cluster_seed())
    code, out, res = adhoc("baremetal.vip.cluster_info", "kubeconfig=%s" % k8s_double.kubeconfig, tmp_path)
    assert code == 0, out
    assert res["changed"] is False and res["leases"]["control_plane"]["holder"] == "cp1"
    assert [s["name"] for s in res["services"]] == ["web", "api"]
    assert res["kube_proxy"]["strict_arp"] is True
    assert {p["node"] for p in res["kube_vip"]["pods"]} == {"cp1", "w1"}
    assert res["metallb"] == {"installed": True, "pools": []}
    assert k8s_double.token not in out
    code, out = adhoc("baremetal.vip.cluster_info", "kubeconfig=%s" % k8s_double.kubeconfig, tmp_path,
                      verbose=True, check=True)[:2]
    assert code == 0 and '"holder": "cp1"' in out and k8s_double.token not in out


def test_cluster_info_forbidden_and_unreachable_are_explained(k8s_double, tmp_path):
    token = k8s_double.add_forbidden_token()
    kubeconfig = k8s_double.write_kubeconfig(str(tmp_path / "admin.conf"), token=token)
    code, out = adhoc("baremetal.vip.cluster_info", "kubeconfig=%s" % kubeconfig, tmp_path, verbose=True)[:2]
    assert code != 0 and "forbidden (HTTP 403)" in out and "super-admin.conf" in out
    assert token not in out
    url = k8s_double.url
    k8s_double.stop()
    code, out, res = adhoc("baremetal.vip.cluster_info", "kubeconfig=%s" % kubeconfig, tmp_path)
    assert code != 0 and res["failed"]
    assert "cannot reach the Kubernetes API at %s" % url in res["msg"] and token not in out


POOLS = [
    {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
     "metadata": {"name": "public", "namespace": "metallb-system"}, "spec": {"addresses": ["198.51.100.0/28"]}},
    {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
     "metadata": {"name": "web", "namespace": "metallb-system"}, "spec": {"addresses": ["198.51.100.16/28"]}},
    {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
     "metadata": {"name": "public", "namespace": "metallb-system"}, "spec": {"ipAddressPools": ["public", "web"]}},
]
SECRET = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
          "metadata": {"name": "vip-bgp-peer-192-0-2-1", "namespace": "metallb-system"},
          "stringData": {"password": PASSWORD}}
KUBE_PROXY = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
     "data": {"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                             "mode: \"\"\nipvs:\n  strictARP: false\n  excludeCIDRs: null\n  scheduler: rr\n",
              "kubeconfig.conf": "apiVersion: v1\n"}},
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
     "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
              "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                           "spec": {"containers": [{"name": "kube-proxy", "image": "k8s/kube-proxy"}]}}}},
]


def render_dir(tmp_path, pools):
    """A render directory as the render roles write it (objects, secrets, kube-proxy documents)."""
    cluster = tmp_path / "render" / "cluster"
    cluster.mkdir(parents=True, exist_ok=True)
    header = "#\n# Managed by baremetal.vip (Ansible).\n#\n"
    (cluster / "metallb-pools.yaml").write_text(header + yaml.safe_dump_all(pools, explicit_start=True))
    (cluster / "metallb-bgp-secrets.yaml").write_text(header + yaml.safe_dump_all([SECRET], explicit_start=True))
    (cluster / "kube-proxy-configuration.yaml").write_text(header + yaml.safe_dump(
        {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration", "mode": "ipvs"},
        explicit_start=True))
    (cluster / "kube-proxy-configmap-patch.yaml").write_text(header + yaml.safe_dump(
        {"mode": "ipvs", "ipvs": {"strictARP": True, "excludeCIDRs": ["192.0.2.10/32"]}}, explicit_start=True))
    (cluster / "nodes.json").write_text("{}")
    return str(tmp_path / "render")


def role_playbook(tmp_path, kubeconfig, directory, **overrides):
    role_vars = dict(cluster_apply_kubeconfig=kubeconfig, cluster_apply_dir=directory,
                     cluster_apply_cluster_name="lab", cluster_apply_retry_delay=0.1,
                     cluster_apply_webhook_timeout=20)
    role_vars.update(overrides)
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([{
        "name": "Apply the rendered cluster objects", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Apply", "ansible.builtin.include_role": {"name": "baremetal.vip.cluster_apply"},
                   "vars": role_vars}]}]))
    return str(path)


def playbook(tmp_path, path, *flags):
    return run([os.path.join(BIN, "ansible-playbook"), path, "-vvv"] + list(flags), tmp_path)


def recap(out):
    line = [x for x in out.splitlines() if x.startswith("localhost") and "ok=" in x][-1]
    return dict(item.split("=") for item in line.split(":", 1)[1].split())


def restarted_at(double):
    ds = double.get("apps/v1", "DaemonSet", "kube-proxy", "kube-system")
    return ((ds["spec"]["template"]["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/restartedAt"))


def test_role_check_apply_idempotence_prune(k8s_double, tmp_path):
    k8s_double.seed(KUBE_PROXY)
    directory = render_dir(tmp_path, POOLS)
    play = role_playbook(tmp_path, k8s_double.kubeconfig, directory)

    # check mode: a diff, nothing stored, kube-proxy not restarted
    code, out = playbook(tmp_path, play, "--check", "--diff")
    assert code == 0, out[-3000:]
    assert "198.51.100.16/28" in out and "+    mode: ipvs" not in out
    assert k8s_double.list("metallb.io/v1beta1", "IPAddressPool") == []
    assert restarted_at(k8s_double) is None
    assert PASSWORD not in out and k8s_double.token not in out

    # apply (the webhook refuses the first two MetalLB writes)
    k8s_double.webhook_failures = 2
    code, out = playbook(tmp_path, play, "--diff")
    assert code == 0, out[-3000:]
    assert recap(out)["changed"] == "3"  # objects, kube-proxy ConfigMap, kube-proxy restart
    assert PASSWORD not in out and k8s_double.token not in out
    assert '"webhook_retries": 2' in out
    pools = {p["metadata"]["name"]: p for p in k8s_double.list("metallb.io/v1beta1", "IPAddressPool")}
    assert sorted(pools) == ["public", "web"]
    assert pools["web"]["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "baremetal.vip",
                                                  "baremetal.vip/cluster": "lab"}
    secret = k8s_double.get("v1", "Secret", "vip-bgp-peer-192-0-2-1", "metallb-system")
    assert secret["data"] == {"password": base64.b64encode(PASSWORD.encode()).decode()}
    assert "stringData" not in secret
    conf = yaml.safe_load(k8s_double.get("v1", "ConfigMap", "kube-proxy", "kube-system")["data"]["config.conf"])
    expected = {"strictARP": True, "excludeCIDRs": ["192.0.2.10/32"], "scheduler": "rr"}
    assert conf["mode"] == "ipvs" and conf["ipvs"] == expected
    first_restart = restarted_at(k8s_double)
    assert first_restart

    # second run: nothing changes, no restart
    code, out = playbook(tmp_path, play)
    assert code == 0 and recap(out)["changed"] == "0", out[-3000:]
    assert restarted_at(k8s_double) == first_restart

    # a pool left the inventory: it is pruned; a hand-made pool is never touched
    k8s_double.seed([{"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                      "metadata": {"name": "hand-made", "namespace": "metallb-system"},
                      "spec": {"addresses": ["203.0.113.0/28"]}}])
    render_dir(tmp_path, [POOLS[0], dict(POOLS[2], spec={"ipAddressPools": ["public"]})])
    code, out = playbook(tmp_path, play)
    assert code == 0, out[-3000:]
    names = sorted(p["metadata"]["name"] for p in k8s_double.list("metallb.io/v1beta1", "IPAddressPool"))
    assert names == ["hand-made", "public"]
    assert restarted_at(k8s_double) == first_restart


def test_role_crds_missing_fails_with_the_explanation(k8s_double, tmp_path):
    k8s_double.crds_missing = True
    play = role_playbook(tmp_path, k8s_double.kubeconfig, render_dir(tmp_path, POOLS))
    code, out = playbook(tmp_path, play)
    assert code != 0 and "MetalLB CRDs are not installed" in out
    assert PASSWORD not in out and k8s_double.token not in out


@pytest.mark.parametrize("check", [True, False])
def test_apply_set_module_in_a_playbook(k8s_double, tmp_path, check):
    path = tmp_path / "apply.yml"
    path.write_text(yaml.safe_dump([{
        "name": "Apply", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Apply the pools", "baremetal.vip.k8s_apply_set": {
            "kubeconfig": k8s_double.kubeconfig, "set_name": "lab", "objects": POOLS + [
                {k: v for k, v in SECRET.items() if k != "stringData"}],
            "secret_string_data": {"metallb-system/vip-bgp-peer-192-0-2-1": {"password": PASSWORD}}}}]}]))
    code, out = playbook(tmp_path, str(path), "--diff", *(["--check"] if check else []))
    assert code == 0 and recap(out)["changed"] == "1", out[-3000:]
    assert PASSWORD not in out and k8s_double.token not in out
    assert '"password": "********"' in out  # the diff shows the key, never the value
    stored = k8s_double.list("metallb.io/v1beta1", "IPAddressPool")
    assert len(stored) == (0 if check else 2)


def test_role_refuses_an_empty_set_with_pruning(k8s_double, tmp_path):
    k8s_double.seed([dict(POOLS[0], metadata=dict(POOLS[0]["metadata"], labels={
        "app.kubernetes.io/managed-by": "baremetal.vip", "baremetal.vip/cluster": "lab"}))])
    (tmp_path / "empty" / "cluster").mkdir(parents=True)
    play = role_playbook(tmp_path, k8s_double.kubeconfig, str(tmp_path / "empty"))
    code, out = playbook(tmp_path, play)
    assert code != 0 and "would delete every object of the set lab" in out
    assert len(k8s_double.list("metallb.io/v1beta1", "IPAddressPool")) == 1

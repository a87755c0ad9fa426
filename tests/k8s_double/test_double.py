"""Tests of the Kubernetes API test double itself (plain HTTP, no client library)."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

from .fieldsets import selector_matches
from .server import KubeDouble

POOLS = "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools"
CM = "/api/v1/namespaces/kube-system/configmaps"


def call(double, method, path, body=None, ctype="application/json", token=None):
    data = None
    if body is not None:
        data = (yaml.safe_dump(body) if ctype.endswith("yaml") else json.dumps(body)).encode()
    req = urllib.request.Request(double.url + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + (token or double.token))
    req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def pool(name, addresses, labels=None):
    meta = {"name": name, "namespace": "metallb-system"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": meta,
            "spec": {"addresses": addresses}}


def apply(double, path, obj, manager="baremetal.vip", extra=""):
    return call(double, "PATCH", "%s?fieldManager=%s%s" % (path, manager, extra), obj,
                "application/apply-patch+yaml")


def test_discovery_lists_groups_and_resources(k8s_double):
    code, groups = call(k8s_double, "GET", "/apis")
    assert code == 200
    names = {g["name"]: [v["version"] for v in g["versions"]] for g in groups["groups"]}
    assert names["metallb.io"] == ["v1beta1", "v1beta2"]
    assert "coordination.k8s.io" in names and "rbac.authorization.k8s.io" in names
    code, core = call(k8s_double, "GET", "/api/v1")
    assert {"services", "services/status", "configmaps", "nodes", "pods"} <= {r["name"] for r in core["resources"]}
    code, peers = call(k8s_double, "GET", "/apis/metallb.io/v1beta2")
    assert [r["kind"] for r in peers["resources"] if "/" not in r["name"]] == ["BGPPeer"]


def test_auth_401_and_forbidden_403_keep_discovery(k8s_double):
    assert call(k8s_double, "GET", CM, token="wrong")[0] == 401
    token = k8s_double.add_forbidden_token()
    assert call(k8s_double, "GET", "/api/v1", token=token)[0] == 200
    code, status = call(k8s_double, "GET", CM + "/kube-proxy", token=token)
    assert code == 403 and status["reason"] == "Forbidden"
    assert 'cannot get resource "configmaps"' in status["message"]


def test_crds_missing_hides_metallb(k8s_double):
    k8s_double.crds_missing = True
    groups = call(k8s_double, "GET", "/apis")[1]
    assert "metallb.io" not in [g["name"] for g in groups["groups"]]
    assert call(k8s_double, "GET", "/apis/metallb.io/v1beta1")[0] == 404
    code, status = call(k8s_double, "GET", POOLS)
    assert code == 404 and status["message"] == "the server could not find the requested resource"


def test_webhook_fails_the_first_n_metallb_writes(k8s_double):
    k8s_double.webhook_failures = 2
    for attempt in range(2):
        code, status = apply(k8s_double, POOLS + "/a", pool("a", ["198.51.100.0/28"]))
        assert code == 500 and "failed calling webhook" in status["message"], attempt
        assert "connection refused" in status["message"]
    assert call(k8s_double, "GET", POOLS)[1]["items"] == []  # reads are not webhooked
    assert apply(k8s_double, POOLS + "/a", pool("a", ["198.51.100.0/28"]))[0] == 201


def test_server_side_apply_create_noop_change_and_dry_run(k8s_double):
    code, created = apply(k8s_double, POOLS + "/a", pool("a", ["198.51.100.0/28"]))
    assert code == 201 and created["metadata"]["generation"] == 1
    assert created["metadata"]["managedFields"][0]["manager"] == "baremetal.vip"
    assert created["metadata"]["managedFields"][0]["operation"] == "Apply"
    rv = created["metadata"]["resourceVersion"]
    again = apply(k8s_double, POOLS + "/a", pool("a", ["198.51.100.0/28"]))[1]
    assert again["metadata"]["resourceVersion"] == rv  # a no-op apply changes nothing
    dry = apply(k8s_double, POOLS + "/a", pool("a", ["198.51.100.16/28"]), extra="&dryRun=All")[1]
    assert dry["spec"]["addresses"] == ["198.51.100.16/28"] and dry["metadata"]["generation"] == 2
    assert k8s_double.get("metallb.io/v1beta1", "IPAddressPool", "a", "metallb-system")["spec"]["addresses"] == [
        "198.51.100.0/28"]
    changed = apply(k8s_double, POOLS + "/a", pool("a", ["198.51.100.16/28"]))[1]
    assert changed["metadata"]["generation"] == 2 and changed["metadata"]["resourceVersion"] != rv


def test_apply_removes_fields_the_manager_stopped_applying(k8s_double):
    obj = pool("a", ["198.51.100.0/28"], labels={"x": "1"})
    obj["spec"]["autoAssign"] = False
    apply(k8s_double, POOLS + "/a", obj)
    del obj["spec"]["autoAssign"]
    del obj["metadata"]["labels"]
    out = apply(k8s_double, POOLS + "/a", obj)[1]
    assert "autoAssign" not in out["spec"] and "labels" not in out["metadata"]


def test_apply_conflicts_with_another_manager_unless_forced(k8s_double):
    k8s_double.seed([{"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
                      "data": {"config.conf": "mode: iptables\n", "kubeconfig.conf": "k"}}])
    mine = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
            "data": {"config.conf": "mode: ipvs\n"}}
    code, status = apply(k8s_double, CM + "/kube-proxy", mine)
    assert code == 409 and 'conflict with "seed"' in status["message"] and ".data.config.conf" in status["message"]
    code, out = apply(k8s_double, CM + "/kube-proxy", mine, extra="&force=true")
    assert code == 200 and out["data"] == {"config.conf": "mode: ipvs\n", "kubeconfig.conf": "k"}
    managers = {m["manager"]: m["fieldsV1"] for m in out["metadata"]["managedFields"]}
    assert managers["baremetal.vip"] == {"f:data": {"f:config.conf": {}}}
    assert managers["seed"]["f:data"] == {"f:kubeconfig.conf": {}}


def test_list_label_selector_create_delete_and_status(k8s_double):
    call(k8s_double, "POST", POOLS, pool("a", ["198.51.100.0/28"], labels={"app": "x", "tier": "1"}))
    call(k8s_double, "POST", POOLS, pool("b", ["198.51.100.16/28"]))
    assert call(k8s_double, "POST", POOLS, pool("b", ["198.51.100.16/28"]))[0] == 409
    found = call(k8s_double, "GET", POOLS + "?labelSelector=app%3Dx%2Ctier+in+%281%2C2%29")[1]
    assert [i["metadata"]["name"] for i in found["items"]] == ["a"]
    found = call(k8s_double, "GET", "/apis/metallb.io/v1beta1/ipaddresspools?labelSelector=%21app")[1]
    assert [i["metadata"]["name"] for i in found["items"]] == ["b"]
    assert call(k8s_double, "DELETE", POOLS + "/b?dryRun=All")[0] == 200
    assert call(k8s_double, "GET", POOLS + "/b")[0] == 200
    assert call(k8s_double, "DELETE", POOLS + "/b")[0] == 200
    assert call(k8s_double, "GET", POOLS + "/b")[0] == 404
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "default"},
           "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}
    created = call(k8s_double, "POST", "/api/v1/namespaces/default/services", svc)[1]
    assert "status" not in created  # status only through the subresource
    out = call(k8s_double, "PATCH", "/api/v1/namespaces/default/services/s/status",
               {"status": svc["status"]}, "application/merge-patch+json")[1]
    assert out["status"] == svc["status"]


def test_bgppeer_is_one_object_in_two_versions(k8s_double):
    peer = {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": "p", "namespace": "metallb-system"},
            "spec": {"myASN": 65000, "peerASN": 65001, "peerAddress": "192.0.2.1"}}
    apply(k8s_double, "/apis/metallb.io/v1beta2/namespaces/metallb-system/bgppeers/p", peer)
    code, old = call(k8s_double, "GET", "/apis/metallb.io/v1beta1/namespaces/metallb-system/bgppeers/p")
    assert code == 200 and old["apiVersion"] == "metallb.io/v1beta1" and old["spec"]["peerASN"] == 65001


def test_selector_matches():
    labels = {"a": "1", "b": "2"}
    assert selector_matches("a=1,b==2", labels)
    assert not selector_matches("a!=1", labels)
    assert selector_matches("a in (1,3),c notin (x)", labels)
    assert not selector_matches("b notin (2)", labels)
    assert selector_matches("a,!c", labels) and not selector_matches("c", labels)


def test_standalone_script_serves_and_stops(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump([{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}]))
    kubeconfig = tmp_path / "kc"
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "server.py")
    proc = subprocess.Popen([sys.executable, script, "--seed", str(seed), "--kubeconfig", str(kubeconfig)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "test double at http://127.0.0.1:" in line
        config = yaml.safe_load(kubeconfig.read_text())
        url, token = config["clusters"][0]["cluster"]["server"], config["users"][0]["user"]["token"]
        req = urllib.request.Request(url + "/api/v1/nodes", headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert [n["metadata"]["name"] for n in json.loads(resp.read())["items"]] == ["n1"]
    finally:
        proc.terminate()
        proc.wait(5)
        proc.stdout.close()


def test_stopped_double_is_unreachable(tmp_path):
    double = KubeDouble().start()
    url = double.url
    double.stop()
    started = time.monotonic()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/api", timeout=2)
    assert time.monotonic() - started < 2


def test_json_patch_test_guard_add_and_dry_run(k8s_double):
    ds_path = "/apis/apps/v1/namespaces/kube-system/daemonsets"
    k8s_double.seed([{"apiVersion": "apps/v1", "kind": "DaemonSet",
                      "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
                      "spec": {"template": {"spec": {"containers": [{"name": "kube-proxy", "command": ["kube-proxy"]}]}}},
                      "status": {"numberReady": 1}}])
    base = "/spec/template/spec/containers/0/command"
    add = {"op": "add", "path": base + "/-", "value": "--cleanup-ipvs=true"}
    stale = [{"op": "test", "path": base, "value": ["other"]}, add]
    code, body = call(k8s_double, "PATCH", ds_path + "/kube-proxy", stale, "application/json-patch+json")
    assert code == 422 and body["message"] == "testing value %s failed: test failed" % base
    revision = k8s_double.store.revision
    fresh = [{"op": "test", "path": base, "value": ["kube-proxy"]}, add]
    code, body = call(k8s_double, "PATCH", ds_path + "/kube-proxy?dryRun=All", fresh, "application/json-patch+json")
    assert code == 200 and body["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "--cleanup-ipvs=true"
    assert k8s_double.store.revision == revision
    code, body = call(k8s_double, "PATCH", ds_path + "/kube-proxy?fieldManager=me", fresh, "application/json-patch+json")
    assert code == 200 and body["status"] == {"numberReady": 1} and body["metadata"]["generation"] == 2
    stored = k8s_double.get("apps/v1", "DaemonSet", "kube-proxy", "kube-system")
    assert stored["spec"]["template"]["spec"]["containers"][0]["command"] == ["kube-proxy", "--cleanup-ipvs=true"]
    assert "me" in [m["manager"] for m in stored["metadata"]["managedFields"]]
    code, body = call(k8s_double, "PATCH", ds_path + "/kube-proxy", fresh, "application/json-patch+json")
    assert code == 422  # the list changed: the same guarded patch is refused
    missing = [{"op": "remove", "path": "/spec/template/spec/containers/3"}]
    assert call(k8s_double, "PATCH", ds_path + "/kube-proxy", missing, "application/json-patch+json")[0] == 422

"""Apply with pruning: the pure decisions, then apply_set() against the Kubernetes API test double."""
import copy

import pytest

from ansible_collections.baremetal.vip.plugins.module_utils import k8s_apply, k8s_client

from . import seeds

NS = "metallb-system"
POOL = "metallb.io/v1beta1"
LABELS = {k8s_apply.MANAGED_BY_LABEL: k8s_apply.MANAGED_BY, k8s_apply.SET_LABEL: "lab"}
POOL_KINDS = [{"apiVersion": POOL, "kind": "IPAddressPool"}, {"apiVersion": POOL, "kind": "L2Advertisement"}]


def pool(name, addresses, labels=None):
    meta = {"name": name, "namespace": NS}
    if labels is not None:
        meta["labels"] = dict(labels)
    return {"apiVersion": POOL, "kind": "IPAddressPool", "metadata": meta, "spec": {"addresses": addresses}}


def l2(name, pools):
    return {"apiVersion": POOL, "kind": "L2Advertisement", "metadata": {"name": name, "namespace": NS},
            "spec": {"ipAddressPools": pools}}


def desired():
    return [
        l2("public", ["public"]),
        pool("public", ["198.51.100.0/28"]),
        pool("web", ["198.51.100.16/28"]),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kubevip", "namespace": "kube-system"},
         "data": {"range-global": "198.51.100.20-198.51.100.30"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "system:kube-vip-role"}, "rules": []},
    ]


class FakeClock:
    """Time that moves only when slept (the webhook wait without real waiting)."""

    def __init__(self):
        self.now = 0.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def api(k8s_double):
    client = k8s_client.Api(k8s_double.kubeconfig)
    yield client
    client.close()


# ------------------------------------------------------------------ pure functions

def test_prepare_labels_orders_and_defaults_namespace():
    objs = k8s_apply.prepare(desired(), "lab")
    assert [o["kind"] for o in objs] == ["ClusterRole", "ConfigMap", "IPAddressPool", "IPAddressPool",
                                         "L2Advertisement"]
    assert all(o["metadata"]["labels"] == LABELS for o in objs)
    cm = k8s_apply.prepare([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}], "lab",
                           namespace="kube-system")
    assert cm[0]["metadata"]["namespace"] == "kube-system"


def test_prepare_reports_every_bad_object_at_once():
    objs = [pool("a", []), {"kind": "ConfigMap", "metadata": {}}, "text", pool("a", ["x"])]
    objs[3]["apiVersion"] = "metallb.io/v1beta2"  # same group, same object
    with pytest.raises(ValueError) as err:
        k8s_apply.prepare(objs, "lab")
    msg = str(err.value)
    assert "objects[1] has no apiVersion, metadata.name" in msg and "objects[2] is not a mapping" in msg
    assert "objects[3] (metallb.io/v1beta2 IPAddressPool metallb-system/a) repeats objects[0]" in msg


def test_prune_plan_deletes_only_labelled_undesired_objects():
    live = [pool("public", [], LABELS), pool("old", [], LABELS), pool("theirs", []),
            pool("other-set", [], dict(LABELS, **{k8s_apply.SET_LABEL: "prod"})),
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": LABELS}}]
    plan = k8s_apply.prune_plan(k8s_apply.prepare([pool("public", [])], "lab"), live, "lab")
    assert [o["metadata"]["name"] for o in plan] == ["old"]


def test_prune_kinds_adds_extra_and_never_namespaces():
    objs = [pool("a", []), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}]
    kinds = k8s_apply.prune_kinds(objs, [{"apiVersion": POOL, "kind": "L2Advertisement"},
                                         {"apiVersion": POOL, "kind": "IPAddressPool"}])
    assert kinds == [(POOL, "IPAddressPool"), (POOL, "L2Advertisement")]


def test_secret_values_never_in_the_diff_and_compared_by_value():
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": NS},
            "data": {"password": "czNjcmV0"}}
    applied = dict(live, data=None, stringData={"password": "s3cret"})
    applied.pop("data")
    assert k8s_apply.same(live, applied)
    diff = k8s_apply.object_diff(None, live)
    assert "czNjcmV0" not in diff["after"] and "s3cret" not in diff["after"] and "********" in diff["after"]


# ------------------------------------------------------------------ against the double

def test_apply_then_second_apply_is_unchanged(k8s_double, api):
    first = k8s_apply.apply_set(api, desired(), "lab", extra_prune_kinds=POOL_KINDS)
    assert first["changed"] and {a["action"] for a in first["applied"]} == {"created"}
    stored = k8s_double.get(POOL, "IPAddressPool", "public", NS)
    assert stored["metadata"]["labels"] == LABELS
    assert [m["manager"] for m in stored["metadata"]["managedFields"]] == ["baremetal.vip"]
    second = k8s_apply.apply_set(api, desired(), "lab", extra_prune_kinds=POOL_KINDS)
    assert not second["changed"] and second["diff"] == [] and second["pruned"] == []
    assert {a["action"] for a in second["applied"]} == {"unchanged"}
    assert k8s_double.get(POOL, "IPAddressPool", "public", NS)["metadata"]["resourceVersion"] == \
        stored["metadata"]["resourceVersion"]


def test_removed_pool_is_pruned_and_unlabelled_pool_never(k8s_double, api):
    k8s_double.seed([pool("hand-made", ["203.0.113.0/28"]),
                     pool("other-cluster", ["203.0.113.16/28"], dict(LABELS, **{k8s_apply.SET_LABEL: "prod"}))])
    k8s_apply.apply_set(api, desired(), "lab", extra_prune_kinds=POOL_KINDS)
    smaller = [o for o in desired() if o["metadata"]["name"] != "web"]
    out = k8s_apply.apply_set(api, smaller, "lab", extra_prune_kinds=POOL_KINDS)
    assert out["changed"] and [p["name"] for p in out["pruned"]] == ["web"]
    names = sorted(p["metadata"]["name"] for p in k8s_double.list(POOL, "IPAddressPool"))
    assert names == ["hand-made", "other-cluster", "public"]
    # the last pool and advertisement go too when their kinds are listed for pruning
    out = k8s_apply.apply_set(api, [], "lab", extra_prune_kinds=POOL_KINDS)
    expected = [("IPAddressPool", "public"), ("L2Advertisement", "public")]
    assert sorted((p["kind"], p["name"]) for p in out["pruned"]) == expected
    assert out["pruned"][0]["kind"] == "L2Advertisement"  # advertisements before their pools
    names = sorted(p["metadata"]["name"] for p in k8s_double.list(POOL, "IPAddressPool"))
    assert names == ["hand-made", "other-cluster"]
    assert k8s_double.get("v1", "ConfigMap", "kubevip", "kube-system") is not None  # kind not listed


def test_check_mode_stores_nothing_and_shows_a_diff(k8s_double, api):
    k8s_apply.apply_set(api, desired(), "lab", extra_prune_kinds=POOL_KINDS)
    before = copy.deepcopy(k8s_double.store.objects)
    changed = desired()[:2] + [pool("web", ["198.51.100.32/28"])]
    kinds = POOL_KINDS + [{"apiVersion": "v1", "kind": "ConfigMap"},
                          {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole"}]
    out = k8s_apply.apply_set(api, changed, "lab", check_mode=True, extra_prune_kinds=kinds)
    assert k8s_double.store.objects == before
    actions = {(a["kind"], a["name"]): a["action"] for a in out["applied"]}
    assert actions[("IPAddressPool", "web")] == "configured" and actions[("IPAddressPool", "public")] == "unchanged"
    assert sorted(p["name"] for p in out["pruned"]) == ["kubevip", "system:kube-vip-role"]
    web = [d for d in out["diff"] if d["after_header"].endswith("metallb-system/web")][0]
    assert "198.51.100.16/28" in web["before"] and "198.51.100.32/28" in web["after"]
    deletes = [d for d in out["diff"] if d["after_header"] == "(absent)"]
    assert len(deletes) == 2 and all(d["after"] == "" for d in deletes)
    writes = [r for r in k8s_double.requests if r[0] in ("PATCH", "DELETE", "POST", "PUT")][-5:]
    assert all("dryRun=All" in request[1] for request in writes)


def test_check_mode_on_an_empty_cluster_creates_nothing(k8s_double, api):
    out = k8s_apply.apply_set(api, desired(), "lab", check_mode=True)
    assert out["changed"] and {a["action"] for a in out["applied"]} == {"created"}
    assert k8s_double.store.objects == {}
    assert len(out["diff"]) == 5 and all(d["before"] == "" for d in out["diff"])


def test_webhook_not_ready_then_ready_within_the_timeout(k8s_double, api):
    k8s_double.webhook_failures = 3
    clock = FakeClock()
    out = k8s_apply.apply_set(api, desired(), "lab", webhook_timeout=30, retry_delay=2,
                              sleeper=k8s_apply.Sleeper(clock.clock, clock.sleep))
    assert out["webhook_retries"] == 3 and clock.slept == [2, 2, 2]
    assert k8s_double.get(POOL, "IPAddressPool", "web", NS) is not None


def test_webhook_never_ready_fails_with_the_explained_error(k8s_double, api):
    k8s_double.webhook_failures = 1000
    clock = FakeClock()
    with pytest.raises(k8s_client.K8sError) as err:
        k8s_apply.apply_set(api, desired(), "lab", webhook_timeout=10, retry_delay=3,
                            sleeper=k8s_apply.Sleeper(clock.clock, clock.sleep))
    msg = str(err.value)
    assert msg.startswith("the MetalLB webhook was not ready within 10s: apply metallb.io/v1beta1 IPAddressPool")
    assert "connection refused" in msg and clock.slept == [3, 3, 3, 1]
    assert k8s_double.get("v1", "ConfigMap", "kubevip", "kube-system") is not None  # applied before


def test_crds_missing_is_explained(k8s_double, api):
    k8s_double.crds_missing = True
    with pytest.raises(k8s_client.K8sError) as err:
        k8s_apply.apply_set(api, desired(), "lab")
    assert "does not serve metallb.io/v1beta1 IPAddressPool" in str(err.value)
    assert "MetalLB CRDs are not installed" in str(err.value)


def test_crds_missing_is_no_reason_to_fail_pruning_other_kinds(k8s_double, api):
    k8s_double.crds_missing = True
    objs = [o for o in desired() if not o["apiVersion"].startswith("metallb.io")]
    out = k8s_apply.apply_set(api, objs, "lab", extra_prune_kinds=POOL_KINDS)
    assert out["changed"] and out["pruned"] == []


def test_forbidden_is_explained_and_token_never_shown(k8s_double, tmp_path):
    token = k8s_double.add_forbidden_token()
    api = k8s_client.Api(k8s_double.write_kubeconfig(str(tmp_path / "admin.conf"), token=token))
    with pytest.raises(k8s_client.K8sError) as err:
        k8s_apply.apply_set(api, desired(), "lab")
    api.close()
    msg = str(err.value)
    assert "forbidden (HTTP 403)" in msg and "kubeadm:cluster-admins" in msg and "super-admin.conf" in msg
    assert token not in msg and k8s_double.token not in msg


def test_kube_proxy_configmap_owned_by_kubeadm_is_taken_over_with_force(k8s_double, api):
    k8s_double.seed([{"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
                      "data": {"config.conf": "mode: iptables\n"}}])
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
          "data": {"config.conf": "mode: ipvs\n"}}
    with pytest.raises(k8s_client.K8sError, match="HTTP 409"):
        k8s_apply.apply_set(api, [cm], "lab", force=False, prune=False)
    out = k8s_apply.apply_set(api, [cm], "lab", prune=False)
    assert out["applied"][0]["action"] == "configured"


def test_check_mode_into_a_namespace_the_same_run_creates(k8s_double, api):
    k8s_double.require_namespaces = True
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, pool("public", ["198.51.100.0/28"])]
    out = k8s_apply.apply_set(api, objs, "lab", check_mode=True)
    assert [a["action"] for a in out["applied"]] == ["created", "created"]
    assert k8s_double.store.objects == {}
    with pytest.raises(k8s_client.K8sError, match='namespaces "metallb-system" not found'):
        k8s_apply.apply_set(api, objs[1:], "lab", check_mode=True)
    out = k8s_apply.apply_set(api, objs, "lab")
    assert k8s_double.get(POOL, "IPAddressPool", "public", NS) is not None


def test_unauthorized_is_explained(k8s_double, tmp_path):
    kubeconfig = k8s_double.write_kubeconfig(str(tmp_path / "stale"), token="stale-token-123")
    with pytest.raises(k8s_client.K8sError) as err:
        k8s_client.Api(kubeconfig)
    assert "HTTP 401" in str(err.value) and "stale-token-123" not in str(err.value)


def test_unnamed_writers_are_named_after_their_user_agent(k8s_double, api):
    k8s_double.seed([{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"x": "y"}}}])
    api.patch("v1", "Node", "n1", None, {"metadata": {"labels": {"a": "b"}}}, field_manager=None)
    node = k8s_double.get("v1", "Node", "n1")
    assert node["metadata"]["labels"] == {"x": "y", "a": "b"}
    assert [m["manager"] for m in node["metadata"]["managedFields"]] == ["seed", "OpenAPI-Generator"]


# ---------------------------------------------------------------- flags of kube-proxy's container

CLEANUP = "--cleanup-ipvs=true"
KUBE_PROXY = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "kube-proxy", "namespace": "kube-system",
              "container": "kube-proxy"}


def proxy_container(double):
    spec = double.get("apps/v1", "DaemonSet", "kube-proxy", "kube-system")["spec"]["template"]["spec"]
    return [c for c in spec["containers"] if c["name"] == "kube-proxy"][0]


def test_flags_patch_appends_with_guards_and_only_what_is_missing():
    ds = seeds.kube_proxy_daemonset(command=seeds.KUBEADM_PROXY_COMMAND, extra_container=True)
    base = "/spec/template/spec/containers/1"
    assert k8s_apply.container_flags_patch(ds, [CLEANUP, "--v=2"], "kube-proxy") == [
        {"op": "test", "path": base + "/name", "value": "kube-proxy"},
        {"op": "test", "path": base + "/command", "value": seeds.KUBEADM_PROXY_COMMAND},
        {"op": "add", "path": base + "/command/-", "value": CLEANUP},
        {"op": "add", "path": base + "/command/-", "value": "--v=2"}]
    # any value of the flag, in command or args, bare or not, counts as present
    for present in (["--cleanup-ipvs=false"], ["--cleanup-ipvs"], ["--cleanup-ipvs=true"]):
        with_flag = seeds.kube_proxy_daemonset(command=seeds.KUBEADM_PROXY_COMMAND, args=present)
        assert k8s_apply.container_flags_patch(with_flag, [CLEANUP], "kube-proxy") is None
    # a longer flag sharing the prefix is another flag
    other = seeds.kube_proxy_daemonset(command=["kube-proxy", "--cleanup-ipvs-later=1"])
    assert k8s_apply.container_flags_patch(other, [CLEANUP], "kube-proxy")[-1]["value"] == CLEANUP


def test_flags_patch_uses_args_without_a_command_and_names_a_missing_container():
    args_only = seeds.kube_proxy_daemonset(args=["--config=/var/lib/kube-proxy/config.conf"])
    assert k8s_apply.container_flags_patch(args_only, [CLEANUP], None)[-1] == {
        "op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": CLEANUP}
    bare = seeds.kube_proxy_daemonset()
    assert k8s_apply.container_flags_patch(bare, [CLEANUP], "kube-proxy")[-1] == {
        "op": "add", "path": "/spec/template/spec/containers/0/args", "value": [CLEANUP]}
    with pytest.raises(ValueError, match="apps/v1 DaemonSet kube-system/kube-proxy has no container proxy"):
        k8s_apply.container_flags_patch(bare, [CLEANUP], "proxy")


def test_ensure_flags_adds_once_then_changes_nothing(k8s_double, api):
    k8s_double.seed([seeds.kube_proxy_daemonset(command=seeds.KUBEADM_PROXY_COMMAND)])
    first = k8s_apply.ensure_container_flags(api, KUBE_PROXY, [CLEANUP])
    assert first["changed"] and first["added"] == [CLEANUP] and first["found"]
    assert proxy_container(k8s_double)["command"] == seeds.KUBEADM_PROXY_COMMAND + [CLEANUP]
    assert "--cleanup-ipvs=true" in first["diff"][0]["after"] and CLEANUP not in first["diff"][0]["before"]
    revision = k8s_double.store.revision
    second = k8s_apply.ensure_container_flags(api, KUBE_PROXY, [CLEANUP])
    assert second == {"changed": False, "added": [], "found": True, "diff": []}
    assert k8s_double.store.revision == revision
    assert proxy_container(k8s_double)["command"].count(CLEANUP) == 1


def test_ensure_flags_keeps_the_users_value(k8s_double, api):
    k8s_double.seed([seeds.kube_proxy_daemonset(command=seeds.KUBEADM_PROXY_COMMAND + ["--cleanup-ipvs=false"])])
    result = k8s_apply.ensure_container_flags(api, KUBE_PROXY, [CLEANUP])
    assert not result["changed"]
    assert proxy_container(k8s_double)["command"][-1] == "--cleanup-ipvs=false"
    assert not [r for r in k8s_double.requests if r[0] == "PATCH"]


def test_ensure_flags_check_mode_is_a_dry_run_with_a_diff(k8s_double, api):
    k8s_double.seed([seeds.kube_proxy_daemonset(command=seeds.KUBEADM_PROXY_COMMAND)])
    before = copy.deepcopy(k8s_double.store.objects)
    result = k8s_apply.ensure_container_flags(api, KUBE_PROXY, [CLEANUP], check_mode=True)
    assert result["changed"] and result["added"] == [CLEANUP]
    assert CLEANUP in result["diff"][0]["after"]
    assert k8s_double.store.objects == before
    assert [r[1] for r in k8s_double.requests if r[0] == "PATCH"][0].count("dryRun=All") == 1


def test_ensure_flags_without_the_workload_leaves_it_alone(k8s_double, api):
    assert k8s_apply.ensure_container_flags(api, KUBE_PROXY, [CLEANUP]) == {
        "changed": False, "added": [], "found": False, "diff": []}


def test_ensure_flags_refused_when_the_container_changed_after_the_read(k8s_double, api):
    """The race: someone rewrites the command between our read and our patch; the test op refuses it."""
    k8s_double.seed([seeds.kube_proxy_daemonset(command=seeds.KUBEADM_PROXY_COMMAND)])
    real_get = api.get

    def get_then_someone_writes(*args):
        live = real_get(*args)
        k8s_double.seed([seeds.kube_proxy_daemonset(command=seeds.KUBEADM_PROXY_COMMAND + ["--cleanup-ipvs=false"])])
        return live

    api.get = get_then_someone_writes
    refused = ("adding --cleanup-ipvs=true to apps/v1 DaemonSet kube-system/kube-proxy: "
               ".*HTTP 422.*test failed; the container changed since it was read")
    with pytest.raises(k8s_client.K8sError, match=refused):
        k8s_apply.ensure_container_flags(api, KUBE_PROXY, [CLEANUP])
    assert proxy_container(k8s_double)["command"][-1] == "--cleanup-ipvs=false"

"""Objects built from hand-made plans (docs/plan.md shape): versions, modes, schemas, secrets."""
import copy

import pytest
import yaml

from ansible_collections.baremetal.vip.plugins.filter import manifests
from ansible_collections.baremetal.vip.plugins.plugin_utils import render, render_metallb, render_node

from testkit import render_plans, render_schemas

PW = render.password_map(render_plans.PASSWORDS)


def env_of(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def pod_env(plan, host="cp1", **kw):
    return env_of(render.kube_vip_static_pod(plan, host, "lab", passwords=PW, **kw)["spec"]["containers"][0])


def all_objects(plan):
    objs = []
    if plan["control_plane"]["deployment"] == "static_pod":
        objs += [render.kube_vip_static_pod(plan, h, "lab", True, PW) for h, n in plan["nodes"].items() if n["control_plane"]]
    else:
        objs += render.kube_vip_control_plane_daemonset(plan, "lab", {
            "daemonset": "kube-vip-cp-ds", "service_account": "kube-vip-cp", "cluster_role": "system:kube-vip-cp-role",
            "cluster_role_binding": "system:kube-vip-cp-binding", "bgp_secret": "kube-vip-cp-bgp"}, PW)
    if plan["services"]["provider"] == "kube_vip":
        objs += render.kube_vip_services(plan, "lab", passwords=PW) + render.kube_vip_cloud_provider(plan, "lab")
    if plan["services"]["provider"] == "metallb":
        objs += render_metallb.metallb_pools(plan, "lab") + render_metallb.metallb_bgp_peers(plan, "lab") + render_metallb.metallb_bgp_secrets(plan, "lab", PW)
    return objs


CASES = [
    dict(),
    dict(cp_mode="bgp", advertisement="bgp"),
    dict(cp_mode="routing_table", deployment="daemonset", distro="rke2", k8s="1.33.1", local_traffic=True, lb_class="kube-vip.io/kube-vip-class"),
    dict(provider="metallb", advertisement="bgp", cp_mode="bgp", distro="k3s", k8s="1.30.2", kube_vip="0.8.9"),
    dict(provider="metallb", k8s="1.20.15", kube_vip="0.8.9", lb_enabled=True, cleanup_ipvs=True),
    dict(provider="none", placement="control_plane", k8s="1.37.0"),
    dict(cp_mode="bgp", deployment="daemonset", placement="control_plane", advertisement="bgp"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join("%s=%s" % kv for kv in sorted(c.items())) or "default")
def test_every_object_validates(case):
    plan = render_plans.plan(**case)
    objs = all_objects(plan)
    assert objs
    for obj in objs:
        render_schemas.validate(obj, plan["cluster"]["kubernetes_version"])
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "baremetal.vip"
        assert obj["metadata"]["labels"]["baremetal.vip/cluster"] == "lab"


@pytest.mark.parametrize("case", CASES[:5])
def test_dump_is_stable_and_round_trips(case):
    plan = render_plans.plan(**case)
    objs = all_objects(plan)
    text = render.dump(objs)
    assert text == render.dump(copy.deepcopy(objs))
    assert list(yaml.safe_load_all(text)) == objs


def test_subnet_env_by_kube_vip_version():
    assert pod_env(render_plans.plan(kube_vip="0.8.9"))["vip_cidr"] == "32"
    assert "vip_subnet" not in pod_env(render_plans.plan(kube_vip="0.8.9"))
    assert pod_env(render_plans.plan(kube_vip="0.9.0"))["vip_subnet"] == "32"
    assert "vip_cidr" not in pod_env(render_plans.plan(kube_vip="1.0.3"))


def test_super_admin_only_on_plan_host_when_asked_kubeadm_129():
    plan = render_plans.plan(k8s="1.29.0")

    def kubeconfig(host, use):
        return render.kube_vip_static_pod(plan, host, "lab", use, PW)["spec"]["volumes"][0]["hostPath"]["path"]

    assert kubeconfig("cp1", True) == "/etc/kubernetes/super-admin.conf"
    assert kubeconfig("cp1", False) == "/etc/kubernetes/admin.conf"
    assert kubeconfig("cp2", True) == "/etc/kubernetes/admin.conf"
    old = render_plans.plan(k8s="1.28.9")
    assert render.kube_vip_static_pod(old, "cp1", "lab", True, PW)["spec"]["volumes"][0]["hostPath"]["path"] == "/etc/kubernetes/admin.conf"


@pytest.mark.parametrize("distro,path", [("k3s", "/etc/rancher/k3s/k3s.yaml"), ("rke2", "/etc/rancher/rke2/rke2.yaml")])
def test_kubeconfig_per_distro(distro, path):
    pod = render.kube_vip_static_pod(render_plans.plan(distro=distro), "cp1", "lab", True, PW)
    assert pod["spec"]["volumes"][0]["hostPath"]["path"] == path
    assert pod["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] == "/etc/kubernetes/admin.conf"
    assert pod["spec"]["hostAliases"] == [{"ip": "127.0.0.1", "hostnames": ["kubernetes"]}]


def test_cleanup_ipvs_only_when_plan_says():
    assert render_node.kube_proxy_daemonset_patch(render_plans.plan(k8s="1.31.0")) is None
    patch = render_node.kube_proxy_daemonset_patch(render_plans.plan(k8s="1.20.15", cleanup_ipvs=True))
    assert patch[0]["value"] == "--cleanup-ipvs=true"
    assert "cleanup-ipvs=true" in render_node.kube_proxy_args(render_plans.plan(k8s="1.20.15", cleanup_ipvs=True))["kube-proxy-arg+"]
    assert not any("cleanup" in a for a in render_node.kube_proxy_args(render_plans.plan())["kube-proxy-arg+"])


def test_kube_proxy_documents():
    plan = render_plans.plan(lb_enabled=True)
    doc = render_node.kube_proxy_configuration(plan)
    assert doc == {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration", "mode": "ipvs",
                   "ipvs": {"strictARP": True, "excludeCIDRs": ["192.0.2.10/32"]}}
    assert render_node.kube_proxy_configmap_patch(plan) == {"mode": "ipvs", "ipvs": {"strictARP": True, "excludeCIDRs": ["192.0.2.10/32"]}}
    assert render_node.kube_proxy_configmap_patch(render_plans.plan())["ipvs"]["excludeCIDRs"] is None
    assert render_node.kube_proxy_args(plan) == {"kube-proxy-arg+": ["proxy-mode=ipvs", "ipvs-strict-arp=true", "ipvs-exclude-cidrs=192.0.2.10/32"]}
    assert render_node.kube_proxy_args(render_plans.plan(proxy_mode="nftables")) == {"kube-proxy-arg+": ["proxy-mode=nftables"]}


def test_arp_pod_security_and_env():
    env = pod_env(render_plans.plan())
    assert env["vip_arp"] == "true" and env["cp_enable"] == "true" and env["svc_enable"] == "false"
    assert env["vip_nodename"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["vip_leasename"] == "plndr-cp-lock" and env["vip_leaseduration"] == "15"
    assert "lb_enable" not in env
    pod = render.kube_vip_static_pod(render_plans.plan(), "cp1", "lab", passwords=PW)
    assert pod["spec"]["containers"][0]["securityContext"] == {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}}


def test_per_host_interface():
    plan = render_plans.plan()
    assert pod_env(plan, "cp2")["vip_interface"] == "eth1"
    assert pod_env(plan, "cp1")["vip_interface"] == "eth0"


def test_masquerade_is_privileged():
    plan = render_plans.plan(lb_enabled=True)
    plan["control_plane"]["load_balancer"]["forward_method"] = "masquerade"
    plan["control_plane"]["privileged"] = True
    pod = render.kube_vip_static_pod(plan, "cp1", "lab", passwords=PW)
    assert pod["spec"]["containers"][0]["securityContext"]["privileged"] is True
    env = pod_env(plan)
    assert (env["lb_enable"], env["lb_port"], env["lb_fwdmethod"]) == ("true", "6443", "masquerade")


def test_bgp_per_host_peers_and_passwords():
    plan = render_plans.plan(cp_mode="bgp", advertisement="bgp")
    assert pod_env(plan, "cp1")["bgp_peers"] == "192.0.2.1:65001:s3cret:false,192.0.2.2:65002::true"
    assert pod_env(plan, "cp3")["bgp_peers"].endswith(",203.0.113.1:65003::false:1179")
    assert pod_env(plan, "cp3")["bgp_routerid"] == "192.0.2.13"
    with pytest.raises(render.RenderError, match="192.0.2.1 has a password"):
        render.kube_vip_static_pod(plan, "cp1", "lab", passwords={})


def test_bgp_ipv6_peer_in_brackets():
    peer = {"address": "2001:db8::1", "as": 65001, "port": 179, "multihop": False, "has_password": False}
    assert render.kube_vip_bgp_peers([peer], {}, "t") == "[2001:db8::1]:65001::false"


def test_routing_table_env():
    env = pod_env(render_plans.plan(cp_mode="routing_table"))
    assert (env["vip_routingtable"], env["vip_routingtableid"], env["vip_routingprotocol"], env["vip_cleanroutingtable"]) == \
        ("true", "198", "248", "false")
    assert env["vip_arp"] == "false"


def test_services_daemonset():
    plan = render_plans.plan(local_traffic=True, lb_class="kube-vip.io/kube-vip-class")
    objs = render.kube_vip_services(plan, "lab", passwords=PW)
    assert [o["kind"] for o in objs] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"]
    assert objs[1]["rules"] == render.KUBE_VIP_RULES
    ds = objs[-1]
    # all nodes that run workloads: the control-plane-only nodes are left out
    terms = ds["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["w1", "w2"]
    env = env_of(ds["spec"]["template"]["spec"]["containers"][0])
    assert env["cp_enable"] == "false" and env["svc_enable"] == "true" and env["svc_election"] == "true"
    assert env["svc_leasename"] == "plndr-svcs-lock"
    assert env["lb_class_only"] == "true" and env["lb_class_name"] == "kube-vip.io/kube-vip-class"
    assert env["prometheus_server"] == ":2113"  # what the plan says (render_plans fixes it)
    cp_only = render.kube_vip_services(render_plans.plan(placement="control_plane"), "lab")[-1]
    terms = cp_only["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["cp1", "cp2", "cp3"]


def test_services_bgp_password_goes_to_secret():
    plan = render_plans.plan(cp_mode="bgp", advertisement="bgp")
    objs = render.kube_vip_services(plan, "lab", passwords=PW)
    secret = [o for o in objs if o["kind"] == "Secret"][0]
    assert secret["stringData"]["bgp_peers"].startswith("192.0.2.1:65001:s3cret:")
    ds_text = render.dump(objs[-1])
    assert "s3cret" not in ds_text
    assert env_of(objs[-1]["spec"]["template"]["spec"]["containers"][0])["bgp_peers"] == \
        {"secretKeyRef": {"name": "kube-vip-services-bgp", "key": "bgp_peers"}}


def test_endpointslices_env_before_1_0():
    old = env_of(render.kube_vip_services(render_plans.plan(kube_vip="0.8.9"), "lab")[-1]["spec"]["template"]["spec"]["containers"][0])
    assert old["enable_endpointslices"] == "true"
    new = env_of(render.kube_vip_services(render_plans.plan(), "lab")[-1]["spec"]["template"]["spec"]["containers"][0])
    assert "enable_endpointslices" not in new


def test_cloud_provider():
    objs = render.kube_vip_cloud_provider(render_plans.plan(), "lab")
    assert objs[0]["kind"] == "ConfigMap" and objs[0]["metadata"]["name"] == "kubevip"
    assert list(objs[0]["data"]) == sorted(objs[0]["data"])
    assert [o["kind"] for o in objs[1:]] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"]
    assert [o["kind"] for o in render.kube_vip_cloud_provider(render_plans.plan(), "lab", deployment=False)] == ["ConfigMap"]


def test_metallb_objects():
    plan = render_plans.plan(provider="metallb", advertisement="bgp", cp_mode="bgp")
    pools = render_metallb.metallb_pools(plan, "lab")
    assert [(o["kind"], o["metadata"]["name"]) for o in pools] == [
        ("IPAddressPool", "public"), ("BGPAdvertisement", "public"), ("IPAddressPool", "v6"), ("BGPAdvertisement", "v6")]
    assert pools[1]["spec"]["nodeSelectors"] == [{"matchLabels": {"node.kubernetes.io/lb": "true"}}]
    peers = render_metallb.metallb_bgp_peers(plan, "lab")
    assert peers[0]["spec"]["passwordSecret"] == {"name": "vip-bgp-peer-192-0-2-1", "namespace": "metallb-system"}
    assert "password" not in peers[0]["spec"]
    assert peers[2]["spec"]["nodeSelectors"] == [{"matchLabels": {"kubernetes.io/hostname": "cp3"}}]
    secrets = render_metallb.metallb_bgp_secrets(plan, "lab", PW)
    assert [(s["metadata"]["name"], s["type"], s["stringData"]) for s in secrets] == [
        ("vip-bgp-peer-192-0-2-1", "kubernetes.io/basic-auth", {"password": "s3cret"})]
    l2 = render_metallb.metallb_pools(render_plans.plan(provider="metallb"), "lab")
    assert l2[1]["kind"] == "L2Advertisement" and l2[1]["spec"]["interfaces"] == ["eth0"]


def test_host_prep():
    plan = render_plans.plan()
    assert render_node.host_modules(plan, "w1") == render_node.IPVS_MODULES
    assert render_node.host_sysctls(plan, "w1") == [["net.ipv4.conf.all.arp_ignore", "1"], ["net.ipv4.conf.all.arp_announce", "2"]]
    nft = render_plans.plan(proxy_mode="nftables", lb_enabled=True)
    assert render_node.host_modules(nft, "w1") == []
    assert render_node.host_modules(nft, "cp1") == render_node.IPVS_MODULES
    assert render_node.host_sysctls(nft, "cp1") == []
    assert render_node.host_sysctls(nft, "cp1", nonlocal_bind=True) == [["net.ipv4.ip_nonlocal_bind", "1"]]


def test_filter_errors_name_the_artifact():
    with pytest.raises(Exception, match="unknown artifact 'nope'"):
        manifests.vip_objects(render_plans.plan(), "nope")
    with pytest.raises(Exception, match="control_plane_pod"):
        manifests.vip_objects(render_plans.plan(cp_mode="bgp"), "control_plane_pod", host="cp1", cluster="x")
    out = manifests.vip_objects(render_plans.plan(cp_mode="bgp"), "control_plane_pod", host="cp1", cluster="x",
                                bgp_peers=render_plans.PASSWORDS)
    assert out[0]["kind"] == "Pod"
    assert manifests.k8s_yaml({"a": 1}, "json") == '{\n  "a": 1\n}\n'


def test_password_map_first_list_wins_and_normalizes():
    m = render.password_map([[{"address": "2001:DB8:0::1", "password": "a"}], [{"address": "2001:db8::1", "password": "b"}]])
    assert m == {"2001:db8::1": "a"}


def test_validators_reject_bad_objects():
    pod = render.kube_vip_static_pod(render_plans.plan(), "cp1", "lab", passwords=PW)
    pod["spec"]["hostNetwrok"] = True
    with pytest.raises(Exception):
        render_schemas.validate(pod, "1.31.4")
    pool = render_metallb.metallb_pools(render_plans.plan(provider="metallb"), "lab")[0]
    pool["spec"]["autoAssing"] = True
    with pytest.raises(Exception):
        render_schemas.validate(pool, "1.31.4")
    pool["spec"] = {"autoAssign": True}
    with pytest.raises(Exception):
        render_schemas.validate(pool, "1.31.4")


def test_metallb_per_host_peer_takes_the_host_password():
    plan = render_plans.plan(provider="metallb", advertisement="bgp", cp_mode="bgp")
    rack = plan["services"]["metallb"]["bgp_peers"][2]
    rack.update(has_password=True, password_secret={"name": "vip-bgp-peer-cp3-203-0-113-1", "key": "password"})
    own = [{"address": "203.0.113.1", "password": "rack-only"}, {"address": "192.0.2.1", "password": "cp3-own"}]
    hosts = {"cp3": render.password_map([own])}
    secrets = render_metallb.metallb_bgp_secrets(plan, "lab", PW, hosts)
    assert [s["stringData"]["password"] for s in secrets] == ["s3cret", "rack-only"]
    with pytest.raises(render.RenderError, match="203.0.113.1"):
        render_metallb.metallb_bgp_secrets(plan, "lab", PW)

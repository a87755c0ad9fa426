"""Rendered objects read as upstream reads them (issue 17): each test cites the upstream file and release."""
import copy

import pytest

from ansible_collections.baremetal.vip.plugins.plugin_utils import plan as planmod
from ansible_collections.baremetal.vip.plugins.plugin_utils import render, render_metallb, render_node

from testkit import render_plans

PW = render.password_map(render_plans.PASSWORDS)
NAMES = {"daemonset": "kube-vip-cp-ds", "service_account": "kube-vip-cp", "cluster_role": "system:kube-vip-cp-role",
         "cluster_role_binding": "system:kube-vip-cp-binding", "bgp_secret": "kube-vip-cp-bgp"}
BASE = {
    "vip_cluster": {"distro": "kubeadm", "kubernetes_version": "1.31.4", "node_cidrs": ["192.0.2.0/24"]},
    "vip_kube_vip": {"version": "1.0.0"},
    "vip_control_plane": {"address": "192.0.2.10"},
}


def hosts(interfaces):
    hv = {name: {"ansible_host": "192.0.2.%d" % (11 + i), "vip_interface": ifname}
          for i, (name, ifname) in enumerate(interfaces.items())}
    return hv, {"kube_control_plane": [h for h in hv if h.startswith("cp")], "kube_node": [h for h in hv if h.startswith("w")]}


def build(cluster_vars, host_vars, groups):
    result = planmod.build_plan(cluster_vars, host_vars, groups)
    assert result["errors"] == [], result["errors"]
    return result["plan"]


def containers(objs):
    for obj in objs:
        spec = obj.get("spec", {})
        spec = spec.get("template", {}).get("spec", spec)
        yield from spec.get("containers", [])


def env_of(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def every_object(plan):
    objs = []
    if plan["control_plane"]:
        if plan["control_plane"]["deployment"] == "static_pod":
            objs += [render.kube_vip_static_pod(plan, h, "lab", True, PW) for h, n in plan["nodes"].items() if n["control_plane"]]
        else:
            objs += render.kube_vip_control_plane_daemonset(plan, "lab", NAMES, PW)
    if plan["services"]["provider"] == "kube_vip":
        objs += render.kube_vip_services(plan, "lab", passwords=PW) + render.kube_vip_cloud_provider(plan, "lab")
    return objs


# -- item 1: never the text of a Python None/True/False ----------------------------------------

def test_control_plane_daemonset_without_cluster_interface():
    """kube-vip takes vip_interface literally (pkg/kubevip/config_environment.go v1.0.0: c.Interface = env)
    and exits on an interface named "None"; with per-host vip_interface only, the DaemonSet gets the hosts'
    common interface."""
    cluster = copy.deepcopy(BASE)
    cluster["vip_control_plane"]["deployment"] = "daemonset"
    plan = build(cluster, *hosts({"cp1": "eth1", "cp2": "eth1", "cp3": "eth1"}))
    env = env_of(render.kube_vip_control_plane_daemonset(plan, "lab", NAMES)[-1]["spec"]["template"]["spec"]["containers"][0])
    assert env["vip_interface"] == "eth1"


def test_control_plane_daemonset_with_differing_interfaces_auto_detects():
    """Empty vip_interface: kube-vip auto-detects the default-route interface (cmd/kube-vip.go v1.0.0,
    "No interface is specified for VIP in config, auto-detecting default Interface")."""
    cluster = copy.deepcopy(BASE)
    cluster["vip_control_plane"]["deployment"] = "daemonset"
    plan = build(cluster, *hosts({"cp1": "eth0", "cp2": "eth1", "cp3": "eth0"}))
    env = env_of(render.kube_vip_control_plane_daemonset(plan, "lab", NAMES)[-1]["spec"]["template"]["spec"]["containers"][0])
    assert "vip_interface" not in env


def test_none_is_never_rendered_as_text():
    with pytest.raises(render.RenderError, match="vip_interface has no value"):
        render._env("vip_interface", None)  # pylint: disable=protected-access


TEXT_CASES = [
    dict(), dict(cp_mode="bgp", advertisement="bgp"), dict(deployment="daemonset"),
    dict(cp_mode="routing_table", deployment="daemonset", local_traffic=True, lb_class="example.org/lb"),
    dict(kube_vip="0.8.9"), dict(kube_vip="1.2.2")]


@pytest.mark.parametrize("case", TEXT_CASES)
def test_no_env_value_is_python_text(case):
    """Env values are strings kube-vip parses with strconv.ParseBool / as names (pkg/kubevip/config_environment.go
    v1.0.0): never "None", "True" or "False"."""
    for container in containers(every_object(render_plans.plan(**case))):
        for entry in container.get("env", []):
            if "value" in entry:
                assert entry["value"] not in ("None", "True", "False"), (entry, case)


# -- item 5: metrics off -----------------------------------------------------------------------

def test_metrics_off_is_the_argument_kube_vip_honours():
    """kube-vip skips an empty prometheus_server env (pkg/kubevip/config_environment.go v1.0.0: only a
    non-empty value is taken) and keeps the flag default :2112; only --prometheusHTTPServer "" turns the
    server off (cmd/kube-vip.go v1.0.0: `if initConfig.PrometheusHTTPServer != ""`)."""
    plan = render_plans.plan()
    plan["kube_vip"]["prometheus_server"] = ""
    plan["services"]["kube_vip"]["prometheus_server"] = ""
    for container in containers(every_object(plan)[:1] + render.kube_vip_services(plan, "lab")):
        assert container["args"] == ["manager", "--prometheusHTTPServer", ""]
        assert "prometheus_server" not in env_of(container)
    on = render.kube_vip_static_pod(render_plans.plan(), "cp1", "lab", passwords=PW)["spec"]["containers"][0]
    assert on["args"] == ["manager"] and env_of(on)["prometheus_server"] == ":2112"


# -- item 10: capabilities by release ----------------------------------------------------------

@pytest.mark.parametrize("version,caps", [
    ("0.8.9", {"add": ["NET_ADMIN", "NET_RAW"]}),
    ("0.8.10", {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]})])
def test_capabilities_as_the_release_generates_them(version, caps):
    """kube-vip's manifest generator adds drop: [ALL] from v0.8.10 (pkg/kubevip/config_generator.go v0.8.10);
    v0.8.9's generator renders add NET_ADMIN, NET_RAW only."""
    pod = render.kube_vip_static_pod(render_plans.plan(kube_vip=version), "cp1", "lab", passwords=PW)
    assert pod["spec"]["containers"][0]["securityContext"] == {"capabilities": caps}


# -- item 18: kubernetes_addr ------------------------------------------------------------------

def test_kubernetes_addr_only_in_1_2_2_static_pods():
    """kube-vip 1.2.2 elects through the VIP on a cold start (pkg/manager/manager.go v1.2.2, kube-vip #1654);
    kubernetes_addr (pkg/kubevip/config_envvar.go v1.2.2) points it at kubernetes:<port>, which hostAliases
    maps to 127.0.0.1."""
    pod = render.kube_vip_static_pod(render_plans.plan(kube_vip="1.2.2"), "cp1", "lab", passwords=PW)
    assert env_of(pod["spec"]["containers"][0])["kubernetes_addr"] == "kubernetes:6443"
    assert pod["spec"]["hostAliases"] == [{"ip": "127.0.0.1", "hostnames": ["kubernetes"]}]
    older = render.kube_vip_static_pod(render_plans.plan(kube_vip="1.2.1"), "cp1", "lab", passwords=PW)
    assert "kubernetes_addr" not in env_of(older["spec"]["containers"][0])


# -- item 2: the cloud provider's class ---------------------------------------------------------

@pytest.mark.parametrize("lb_class,env", [
    (None, None),
    ("kube-vip.io/kube-vip-class", {"KUBEVIP_ENABLE_LOADBALANCERCLASS": "true"}),
    ("example.org/lb", {"KUBEVIP_ENABLE_LOADBALANCERCLASS": "true", "KUBEVIP_CUSTOM_LOADBALANCERCLASS_NAME": "example.org/lb"})])
def test_cloud_provider_deployment_serves_the_class(lb_class, env):
    """kube-vip serves only Services of lb_class_name; kube-vip-cloud-provider must assign them addresses, which it
    does only with KUBEVIP_ENABLE_LOADBALANCERCLASS (and KUBEVIP_CUSTOM_LOADBALANCERCLASS_NAME for another class
    than its default kube-vip.io/kube-vip-class) (pkg/provider/provider.go v0.0.12)."""
    objs = render.kube_vip_cloud_provider(render_plans.plan(lb_class=lb_class), "lab")
    container = objs[-1]["spec"]["template"]["spec"]["containers"][0]
    assert (env_of(container) or None) == env


# -- item 3: MetalLB native BGP mode ------------------------------------------------------------

@pytest.mark.parametrize("mode,keepalive", [("native", None), ("frr", "10s"), ("frr-k8s", "10s")])
def test_metallb_bgp_peer_keepalive_by_mode(mode, keepalive):
    """DiscardFRROnly denies any BGPPeer with a keepaliveTime in native mode (internal/config/validation.go
    v0.16.1); frr and frr-k8s take it."""
    plan = render_plans.plan(provider="metallb", advertisement="bgp", cp_mode="bgp", metallb_bgp_mode=mode)
    for peer in render_metallb.metallb_bgp_peers(plan, "lab"):
        assert peer["spec"].get("keepaliveTime") == keepalive
        assert peer["spec"]["holdTime"] == "30s"


# -- found by the real lab: the services kube-vip on a node without a default route ------------

def test_services_daemonset_names_its_interface_as_vip_interface():
    """Without vip_interface, kube-vip looks for the default route's interface at start and, on a node
    without a default route, logs "detecting interface" and exits (kube-vip v1.0.0, cmd/kube-vip.go, the
    `initConfig.Interface == ""` branch before the manager starts); vip_servicesinterface is read only
    later. The real lab's nodes have no default route: the services DaemonSet must name the interface."""
    cluster = copy.deepcopy(BASE)
    cluster["vip_control_plane"]["interface"] = "eth0"
    cluster["vip_services"] = {"provider": "kube_vip", "pools": [{"name": "p", "addresses": ["198.51.100.0/28"]}]}
    hv, groups = hosts({"cp1": "eth0", "w1": "eth0"})
    plan = build(cluster, hv, groups)
    ds = [o for o in render.kube_vip_services(plan, "lab", passwords=PW) if o["kind"] == "DaemonSet"][0]
    env = env_of(ds["spec"]["template"]["spec"]["containers"][0])
    assert env["vip_interface"] == env["vip_servicesinterface"] == "eth0"
    assert env["cp_enable"] == "false"


# ---------------------------------------------------------------- issue 17, item 17: k3s ServiceLB off

def test_k3s_server_disable_appends_servicelb():
    """With the plan's services.disable_servicelb the k3s servers get ``disable+: [servicelb]``: k3s's config.yaml.d
    fragments append to a list of the user's own config.yaml where the key ends in ``+`` (what the tls-san and
    kube-proxy-arg fragments rely on already), so their own disabled components stay disabled; nothing otherwise."""
    k3s = render_plans.plan(distro="k3s")
    assert k3s["services"]["disable_servicelb"] is (k3s["services"]["provider"] in ("kube_vip", "metallb"))
    on = copy.deepcopy(k3s)
    on["services"]["disable_servicelb"] = True
    assert render_node.k3s_server_disable(on) == {"disable+": ["servicelb"]}
    off = copy.deepcopy(k3s)
    off["services"]["disable_servicelb"] = False
    assert render_node.k3s_server_disable(off) is None

"""cluster_info's logic: pure summaries, and gather() against the Kubernetes API test double."""
import datetime
from urllib.parse import unquote

import pytest

from ansible_collections.baremetal.vip.plugins.module_utils import k8s_client, k8s_state

from .seeds import KUBE_PROXY_CONF, cluster_seed


def test_parse_time_micro_and_plain():
    a = k8s_state.parse_time("2026-01-02T03:04:05.123456789Z")
    assert a == datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone.utc)
    assert k8s_state.parse_time("2026-01-02T03:04:05Z").second == 5
    assert k8s_state.parse_time(None) is None


def test_summarize_lease_age_and_expiry():
    now = datetime.datetime(2026, 1, 1, 0, 0, 20, tzinfo=datetime.timezone.utc)
    lease = {"spec": {"holderIdentity": "cp1", "renewTime": "2026-01-01T00:00:00.000000Z",
                      "leaseDurationSeconds": 15}}
    out = k8s_state.summarize_lease(lease, "plndr-cp-lock", "kube-system", now)
    assert out["holder"] == "cp1" and out["renew_age_seconds"] == 20.0 and out["expired"] is True
    missing = k8s_state.summarize_lease(None, "plndr-svcs-lock", "kube-system", now)
    assert missing["present"] is False and missing["holder"] is None


def test_summarize_service_addresses_and_lease_name():
    svc = {"metadata": {"name": "web", "namespace": "ns",
                        "annotations": {"kube-vip.io/loadbalancerIPs": "198.51.100.5, 198.51.100.6",
                                        "kube-vip.io/leaseName": "mine", "x": "y"}},
           "spec": {"type": "LoadBalancer", "loadBalancerIP": "198.51.100.5"},
           "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.5"}, {"hostname": "lb.example"}]}}}
    out = k8s_state.summarize_service(svc)
    assert out["requested_ips"] == ["198.51.100.5", "198.51.100.6"]
    assert out["ingress_ips"] == ["198.51.100.5", "lb.example"]
    assert out["lease_name"] == "mine" and out["external_traffic_policy"] == "Cluster"
    assert set(out["kube_vip_annotations"]) == {"kube-vip.io/loadbalancerIPs", "kube-vip.io/leaseName"}
    assert k8s_state.service_lease_name({"metadata": {"name": "a"}}) == "kubevip-a"


@pytest.mark.parametrize("text, expected", [
    (KUBE_PROXY_CONF, ("ipvs", True, ["192.0.2.10/32"], None)),
    ("mode: \"\"\nipvs:\n  strictARP: false\n  excludeCIDRs: null\n", ("", False, [], None)),
    (": : :", (None, None, [], "config.conf does not parse")),
])
def test_summarize_kube_proxy(text, expected):
    out = k8s_state.summarize_kube_proxy({"data": {"config.conf": text}})
    assert (out["mode"], out["strict_arp"], out["exclude_cidrs"]) == expected[:3]
    assert (out["parse_error"] or None) == expected[3] or out["parse_error"].startswith(expected[3])


def test_summarize_kube_proxy_absent():
    assert k8s_state.summarize_kube_proxy(None)["present"] is False


def test_gather_against_the_double(k8s_double):
    k8s_double.seed(cluster_seed())
    api = k8s_client.Api(k8s_double.kubeconfig)
    try:
        out = k8s_state.gather(api)
    finally:
        api.close()
    assert out["api"]["host"] == k8s_double.url
    cp, svcs = out["leases"]["control_plane"], out["leases"]["services"]
    assert (cp["holder"], cp["expired"]) == ("cp1", False) and 0.5 < cp["renew_age_seconds"] < 30
    assert (svcs["holder"], svcs["expired"]) == ("w1", True)
    assert [(s["namespace"], s["name"]) for s in out["services"]] == [("default", "web"), ("shop", "api")]
    web, api_svc = out["services"]
    assert web["ingress_ips"] == ["198.51.100.5"] and web["requested_ips"] == ["198.51.100.5", "2001:db8::5"]
    assert web["external_traffic_policy"] == "Local" and web["load_balancer_class"] == "kube-vip.io/kube-vip-class"
    assert web["lease"]["holder"] == "w1" and web["lease"]["name"] == "kubevip-web"
    assert api_svc["requested_ips"] == ["198.51.100.9"] and api_svc["ingress_ips"] == []
    assert api_svc["lease"]["name"] == "custom-lease" and api_svc["lease"]["holder"] == "cp1"
    assert out["kube_proxy"] == dict(name="kube-proxy", namespace="kube-system", present=True, mode="ipvs", strict_arp=True,
                                     exclude_cidrs=["192.0.2.10/32"], parse_error=None)
    nodes = {n["name"]: n for n in out["nodes"]}
    assert nodes["cp1"]["internal_ips"] == ["192.0.2.11"] and nodes["cp1"]["roles"] == ["control-plane"]
    assert nodes["w1"]["roles"] == [] and nodes["w1"]["ready"] is True
    pods = [(p["node"], p["name"], p["source"], p["ready"]) for p in out["kube_vip"]["pods"]]
    assert pods == [("cp1", "kube-vip-cp1", "static_pod", False),
                    ("cp1", "kube-vip-ds-cp1", "daemonset", False),
                    ("w1", "kube-vip-ds-w1", "daemonset", True)]
    assert out["kube_vip"]["daemonset"]["present"] and out["kube_vip"]["daemonset"]["desired"] == 2
    assert out["kube_vip"]["daemonset"]["node_selector"] == {} and out["kube_vip"]["daemonset"]["affinity"] is None


def test_services_lease_in_its_own_namespace(k8s_double):
    now = k8s_state.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    k8s_double.seed([{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                      "metadata": {"name": "plndr-svcs-lock", "namespace": ns},
                      "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": now}}
                     for ns, holder in (("kube-system", "cp1"), ("kube-vip", "w2"))])
    api = k8s_client.Api(k8s_double.kubeconfig)
    try:
        same = k8s_state.gather(api)["leases"]["services"]
        own = k8s_state.gather(api, {"services_lease_namespace": "kube-vip"})["leases"]["services"]
        unset = k8s_state.gather(api, {"services_lease_namespace": None, "lease_namespace": "kube-vip"})["leases"]["services"]
    finally:
        api.close()
    assert (same["namespace"], same["holder"]) == ("kube-system", "cp1")
    assert (own["namespace"], own["holder"]) == ("kube-vip", "w2")
    assert (unset["namespace"], unset["holder"]) == ("kube-vip", "w2")  # unset: lease_namespace


def test_summarize_daemonset_placement():
    pod = {"nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
           "containers": [{"image": "ghcr.io/kube-vip/kube-vip:v1.0.3"}]}
    pinned = {"spec": {"template": {"spec": pod}}}
    out = k8s_state.summarize_daemonset(pinned, "kube-vip-ds", "kube-system")
    assert out["node_selector"] == {"node-role.kubernetes.io/control-plane": ""} and out["affinity"] is None
    assert out["image"] == ["ghcr.io/kube-vip/kube-vip:v1.0.3"]
    assert k8s_state.summarize_daemonset(None, "kube-vip-ds", "kube-system")["present"] is False


def test_summarize_daemonset_mode_env_only():
    """The kube-vip container's mode env, never bgp_peers (it holds the peers' passwords) nor other variables."""
    env = [{"name": "vip_arp", "value": "false"}, {"name": "vip_routingtable", "value": "true"},
           {"name": "bgp_peers", "value": "192.0.2.1:65000:s3cret:false"},
           {"name": "svc_leasename", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "y"}}},
           {"name": "vip_nodename", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    pod = {"containers": [{"name": "sidecar", "env": [{"name": "vip_arp", "value": "true"}]},
                          {"name": "kube-vip", "env": env}]}
    out = k8s_state.summarize_daemonset({"spec": {"template": {"spec": pod}}}, "kube-vip-ds", "kube-system")
    assert out["env"] == {"vip_arp": "false", "vip_routingtable": "true", "svc_leasename": "(valueFrom)"}
    assert "s3cret" not in repr(out)
    assert k8s_state.summarize_daemonset(None, "kube-vip-ds", "kube-system")["env"] is None


def test_gather_on_an_empty_cluster(k8s_double):
    api = k8s_client.Api(k8s_double.kubeconfig)
    try:
        out = k8s_state.gather(api)
    finally:
        api.close()
    assert out["services"] == [] and out["nodes"] == [] and out["kube_vip"]["pods"] == []
    assert out["kube_proxy"]["present"] is False and out["leases"]["control_plane"]["present"] is False


def test_forbidden_is_explained_without_the_token(k8s_double, tmp_path):
    token = k8s_double.add_forbidden_token()
    kubeconfig = k8s_double.write_kubeconfig(str(tmp_path / "admin.conf"), token=token)
    api = k8s_client.Api(kubeconfig)
    with pytest.raises(k8s_client.K8sError) as err:
        k8s_state.gather(api)
    api.close()
    msg = str(err.value)
    assert "HTTP 403" in msg and "list coordination.k8s.io/v1 Lease" in msg
    assert "kubeadm:cluster-admins" in msg and "super-admin.conf" in msg
    assert token not in msg


def test_unreachable_names_the_address(tmp_path):
    from k8s_double import KubeDouble
    double = KubeDouble().start()
    kubeconfig = double.write_kubeconfig(str(tmp_path / "kc"))
    url = double.url
    double.stop()
    with pytest.raises(k8s_client.K8sError) as err:
        k8s_client.Api(kubeconfig)
    assert "cannot reach the Kubernetes API at %s while discovering the API" % url in str(err.value)
    assert double.token not in str(err.value)


def test_missing_kubeconfig_and_context(tmp_path, k8s_double):
    with pytest.raises(k8s_client.K8sError, match="does not exist"):
        k8s_client.Api(str(tmp_path / "nope"))
    with pytest.raises(k8s_client.K8sError, match="context other"):
        k8s_client.Api(k8s_double.kubeconfig, context="other")


def test_mask_and_kubeconfig_secrets(tmp_path):
    path = tmp_path / "kc"
    path.write_text("users:\n- name: u\n  user: {token: abcdef123, client-key-data: S0VZ}\n")
    secrets = k8s_client.kubeconfig_secrets(str(path))
    assert set(secrets) == {"abcdef123", "S0VZ"}
    assert k8s_client.mask("x abcdef123 y", secrets) == "x ******** y"


def test_metallb_pools_with_their_advertisements(k8s_double):
    ns = "metallb-system"
    k8s_double.seed([
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "public", "namespace": ns},
         "spec": {"addresses": ["198.51.100.0/28"]}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "bgp", "namespace": ns},
         "spec": {"addresses": ["203.0.113.0/28"], "autoAssign": False}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement", "metadata": {"name": "l2", "namespace": ns},
         "spec": {"ipAddressPools": ["public"]}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement", "metadata": {"name": "all", "namespace": ns},
         "spec": {}},
    ])
    api = k8s_client.Api(k8s_double.kubeconfig)
    try:
        out = k8s_state.gather(api)["metallb"]
        k8s_double.crds_missing = True
        missing = k8s_state.gather(api)["metallb"]
    finally:
        api.close()
    assert out["installed"] is True
    assert [(p["name"], p["auto_assign"], p["advertisements"]) for p in out["pools"]] == [
        ("bgp", False, [{"kind": "bgp", "name": "all"}]),
        ("public", True, [{"kind": "l2", "name": "l2"}, {"kind": "bgp", "name": "all"}])]
    assert missing == {"installed": False, "pools": []}


def endpoint_slice(name, service, namespace, endpoints):
    """An EndpointSlice of ``service`` with (node, conditions) endpoints, as the EndpointSlice controller writes it."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": name, "namespace": namespace, "labels": {"kubernetes.io/service-name": service}},
            "endpoints": [{"addresses": ["203.0.113.%d" % (140 + i)], "nodeName": node, "conditions": conditions}
                          for i, (node, conditions) in enumerate(endpoints)],
            "ports": [{"port": 80, "protocol": "TCP"}]}


def test_summarize_endpoints_conditions():
    out = k8s_state.summarize_endpoints([endpoint_slice("web-a", "web", "default", [
        ("w2", {"ready": False, "serving": True, "terminating": True}), ("w1", {}), ("cp1", {"ready": True})])])
    assert [(e["node"], e["ready"], e["serving"], e["terminating"]) for e in out] == [
        ("cp1", True, True, False), ("w1", True, True, False), ("w2", False, True, True)]  # unset ready: ready
    assert out[0]["addresses"] == ["203.0.113.142"]
    assert k8s_state.summarize_endpoints([{"endpoints": None}]) == []


def gather_services(double):
    api = k8s_client.Api(double.kubeconfig)
    try:
        return dict(((s["namespace"], s["name"]), s) for s in k8s_state.gather(api)["services"])
    finally:
        api.close()


def test_gather_reads_each_services_endpoint_slices_by_label(k8s_double):
    k8s_double.seed(cluster_seed() + [
        endpoint_slice("web-a", "web", "default", [("w1", {"ready": True})]),
        endpoint_slice("web-b", "web", "default", [("cp1", {"ready": False})]),
        endpoint_slice("web-c", "web", "shop", [("w9", {"ready": True})]),  # a Service web of another namespace
        endpoint_slice("api-a", "api", "default", [("w9", {"ready": True})])])  # another Service's
    services = gather_services(k8s_double)
    web, api_svc = services[("default", "web")], services[("shop", "api")]
    assert [(e["node"], e["ready"]) for e in web["endpoints"]] == [("cp1", False), ("w1", True)]
    assert web["endpoints_error"] is None
    assert api_svc["endpoints"] == [] and api_svc["endpoints_error"] is None
    lists = [unquote(path) for method, path in k8s_double.requests if method == "GET" and "endpointslices" in path]
    assert lists == ["/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io/service-name=web",
                     "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices?labelSelector=kubernetes.io/service-name=api"]


def test_endpoint_slices_forbidden_leave_the_rest_read(k8s_double):
    k8s_double.seed(cluster_seed())
    k8s_double.forbidden_resources.add("endpointslices")
    web = gather_services(k8s_double)[("default", "web")]
    assert web["endpoints"] is None and web["lease"]["holder"] == "w1"
    assert web["endpoints_error"].startswith("list discovery.k8s.io/v1 EndpointSlice in default with labels "
                                             "kubernetes.io/service-name=web: forbidden (HTTP 403)")
    assert k8s_double.token not in web["endpoints_error"]


def _svclb_pod(name, node, service, namespace="default", program="k3s"):
    """A ServiceLB pod as k3s's DaemonSet svclb-<service>-<uid> makes it (k3s-io/k3s pkg/cloudprovider/servicelb.go,
    klipper-lb v0.4.9: newDaemonSet labels the pod template app, svccontroller.<program>.cattle.io/svcname and
    svcnamespace)."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "kube-system",
                         "labels": {"app": name.rsplit("-", 1)[0],
                                    "svccontroller.%s.cattle.io/svcname" % program: service,
                                    "svccontroller.%s.cattle.io/svcnamespace" % program: namespace},
                         "ownerReferences": [{"kind": "DaemonSet", "name": name.rsplit("-", 1)[0], "apiVersion": "apps/v1",
                                              "uid": "u1"}]},
            "spec": {"nodeName": node, "containers": [{"name": "lb-tcp-80", "image": "rancher/klipper-lb:v0.4.9"}]}}


def test_gather_reads_service_lb_pods(k8s_double):
    """ServiceLB's pods in kube-system, grouped by the Service they answer; other pods and namespaces are not it."""
    elsewhere = _svclb_pod("svclb-x-11111111-aaaaa", "agent1", "x")
    elsewhere["metadata"]["namespace"] = "other"
    coredns = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "coredns-1", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
               "spec": {"nodeName": "server1", "containers": [{"name": "c", "image": "coredns"}]}}
    k8s_double.seed([_svclb_pod("svclb-web-7c71dc76-ljqlk", "server1", "web"),
                     _svclb_pod("svclb-web-7c71dc76-2bkr7", "agent1", "web"),
                     _svclb_pod("svclb-dns-98bdb6dc-4rf25", "server1", "dns", namespace="infra", program="rke2"),
                     coredns, elsewhere])
    api = k8s_client.Api(k8s_double.kubeconfig)
    try:
        out = k8s_state.gather(api)["service_lb"]
    finally:
        api.close()
    assert out == {"namespace": "kube-system", "services": [
        {"service": "default/web", "program": "k3s", "pods": ["svclb-web-7c71dc76-2bkr7", "svclb-web-7c71dc76-ljqlk"],
         "nodes": ["agent1", "server1"]},
        {"service": "infra/dns", "program": "rke2", "pods": ["svclb-dns-98bdb6dc-4rf25"], "nodes": ["server1"]}]}
    assert k8s_state.service_lb_pods([], "kube-system") == {"namespace": "kube-system", "services": []}

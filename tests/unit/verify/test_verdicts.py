"""The controller-side judgement of verify.yml / remediate.yml (plugin_utils/verdicts.py), on the lab's plan."""
import pytest

from ansible_collections.baremetal.vip.plugins.plugin_utils import verdicts

from testkit.verify_cases import cluster, lab_plan, lease, service


def check(vip=(), findings=(), notes=(), service_vips=()):
    """A vip_check result as the module returns it."""
    return {"changed": False, "vip_interfaces": list(vip), "findings": list(findings), "notes": list(notes),
            "service_vips": [{"address": a, "prefix": 32, "interface": "eth0"} for a in service_vips]}


def healthy(**changes):
    out = {"cp1": check(vip=["eth0"]), "cp2": check(), "cp3": check(), "w1": check(), "w2": check()}
    out.update(changes)
    return out


# --------------------------------------------------------------------------- options of vip_check

def test_check_options_from_the_plan(plan):
    cp1, w1 = verdicts.check_options(plan, "cp1"), verdicts.check_options(plan, "w1")
    assert cp1["control_plane"] == {"address": "192.0.2.10", "prefix": 32, "mode": "arp"}
    assert cp1["control_plane_only"] is True and w1["control_plane_only"] is False
    assert cp1["service_ranges"] == plan["owned"]["service_addresses"] and cp1["service_ranges"]
    assert cp1["protected_addresses"] == ["192.0.2.11"]
    assert cp1["ipvs_service"]["port"] == 6443
    assert [s["address"] for s in cp1["ipvs_service"]["real_servers"]] == ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
    assert cp1["sysctls"] == {"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2"}
    assert cp1["keep_routes"] == [] and cp1["watch_addresses"] == []


def test_check_options_keep_service_routes_and_live_services():
    plan = lab_plan()
    live = cluster([service("web", "198.51.100.1"), dict(service("dns", "lb.example"), requested_ips=["198.51.100.9"])])
    out = verdicts.check_options(plan, "w1", cluster=live, service_routes=["203.0.113.9"])
    assert out["keep_routes"] == [{"destination": d, "interface": "eth0"} for d in ("203.0.113.9", "198.51.100.1", "198.51.100.9")]
    assert out["watch_addresses"] == ["198.51.100.1", "198.51.100.9"]  # a hostname is no address


def test_check_options_of_a_list_of_hosts_are_each_hosts_options():
    """verify.yml lays out every node's options in one call (a list of hosts): the same options as one call per host."""
    plan = lab_plan()
    live = cluster([service("web", "198.51.100.1")])
    hosts = ["cp1", "cp2", "cp3", "w1", "w2"]
    out = verdicts.check_options(plan, hosts, cluster=live, service_routes=["203.0.113.9"])
    assert list(out) == hosts
    for host in hosts:
        assert out[host] == verdicts.check_options(plan, host, cluster=live, service_routes=["203.0.113.9"])
    assert out["cp1"]["control_plane_only"] is True and out["w1"]["keep_routes"][0]["destination"] == "203.0.113.9"
    with pytest.raises(KeyError):
        verdicts.check_options(plan, ["cp1", "nosuchhost"])


def test_control_plane_placement_means_no_stray_check():
    plan = lab_plan(vip_services={"local_traffic": False, "placement": "control_plane"})
    assert verdicts.check_options(plan, "cp1")["control_plane_only"] is False


# --------------------------------------------------------------------------- the control-plane VIP

def test_healthy_report_is_ok(plan):
    report = verdicts.verify_report(plan, healthy())
    assert report["ok"] is True and report["problems"] == [] and report["vip_holders"] == ["cp1"]
    assert report["vips"] == [{"address": "192.0.2.10", "holders": ["cp1"], "lease": None, "lease_holder": None,
                               "lease_expired": None}]
    assert report["live_service_ips"] is None and report["daemonset_checked"] is False
    assert report["nodes"]["cp1"]["vip_interface"] == "eth0" and report["nodes"]["w1"]["control_plane"] is False


def test_vip_on_two_nodes_on_a_worker_and_on_the_wrong_interface(plan):
    report = verdicts.verify_report(plan, healthy(cp2=check(vip=["eth1"]), w1=check(vip=["eth0"])))
    assert report["ok"] is False and report["vip_holders"] == ["cp1", "cp2", "w1"]
    assert report["cluster"] == ["control-plane VIP on cp2 eth1, the plan says eth0",
                                 "control-plane VIP on w1, which is not a control-plane node",
                                 "control-plane VIP 192.0.2.10 is on 3 nodes: cp1, cp2, w1 (exactly one wanted)"]


def test_vip_on_no_node(plan):
    report = verdicts.verify_report(plan, healthy(cp1=check()))
    assert report["problems"] == ["control-plane VIP 192.0.2.10 is on 0 nodes (exactly one wanted)"]


def test_lease_holder_differs_and_node_names_map_to_hosts(plan):
    report = verdicts.verify_report(plan, healthy(), cluster(cp_holder="cp2"))
    assert report["problems"] == ["control-plane VIP 192.0.2.10 is on cp1, but lease kube-system/plndr-cp-lock is held by cp2"]
    assert report["vips"][0]["lease_holder"] == "cp2" and report["live_service_ips"] == []
    moved = healthy(cp1=check(), w2=check(vip=["eth0"]))
    report = verdicts.verify_report(plan, moved, cluster(cp_holder="worker-2.example"))
    assert report["vips"][0]["lease_holder"] == "w2"  # the node name of w2, as the lease names it


def test_node_findings_are_prefixed_and_an_unchecked_node_is_a_problem(plan):
    checks = healthy(cp2=check(findings=["stale route 198.51.100.3/32 dev eth0 table 198 proto 248"]),
                     w2={"failed": True, "msg": "interface eth9 does not exist"})
    report = verdicts.verify_report(plan, checks)
    assert report["problems"] == ["w2: not checked (interface eth9 does not exist)",
                                  "cp2: stale route 198.51.100.3/32 dev eth0 table 198 proto 248"]
    assert "w2" not in report["nodes"]


def test_a_cluster_that_was_not_read_is_judged_as_none_and_said_first(plan):
    """cluster_info failed (its registered result, ignore_errors): the nodes are judged, the live Services are not kept,
    and the first problem says why the cluster was not read."""
    failed = {"failed": True, "msg": "reading the cluster's VIP state: connection refused"}
    live = cluster([service("web", "198.51.100.1", holder="w1")], cp_holder="cp2")
    report = verdicts.verify_report(plan, healthy(cp2=check(vip=["eth0"])), failed)
    assert report["cluster_error"] == failed["msg"] and report["ok"] is False
    assert report["problems"][0].startswith("the cluster was not read (%s): " % failed["msg"])
    assert report["kube_proxy"] is None and report["live_service_ips"] is None and report["service_vips"] == []
    assert any(p.startswith("control-plane VIP 192.0.2.10 is on 2 nodes: cp1, cp2") for p in report["problems"]), report["problems"]
    assert verdicts.verify_report(plan, healthy(), live)["cluster_error"] is None
    assert verdicts.check_options(plan, "w1", cluster=failed)["keep_routes"] == []
    assert verdicts.check_options(plan, "w1", cluster=live)["keep_routes"] != []


def test_pinned_daemonset(plan):
    pinned = {"kind": "DaemonSet", "metadata": {"name": "kube-vip-ds"},
              "spec": {"template": {"spec": {"nodeSelector": {"node-role.kubernetes.io/control-plane": ""}}}}}
    free = {"kind": "DaemonSet", "metadata": {"name": "other"}, "spec": {"template": {"spec": {}}}}
    report = verdicts.verify_report(plan, healthy(), daemonsets=[{"kind": "ServiceAccount"}, pinned, free], daemonset_file="/r/x.yaml")
    assert report["problems"] == ["services DaemonSet kube-vip-ds in /r/x.yaml is pinned to control-plane nodes; "
                                  "the plan runs it on all nodes"]
    assert report["daemonset_checked"] is True


# --------------------------------------------------------------------------- Service VIPs

def test_service_vip_on_the_lease_holder_is_ok(plan):
    web = service("web", "198.51.100.1", policy="Local", holder="w1", endpoints=[("w1", True), ("worker-2.example", False)])
    report = verdicts.verify_report(plan, healthy(w1=check(service_vips=["198.51.100.1"])), cluster([web], pods=["w1", "w2"]))
    assert report["ok"] is True, report["problems"]
    assert report["service_vips"] == [{"service": "default/web", "address": "198.51.100.1", "holders": ["w1"],
                                       "lease": "default/kubevip-web", "lease_holder": "w1", "lease_expired": False,
                                       "election": "per_service", "external_traffic_policy": "Local",
                                       "ready_endpoints_on": ["w1"], "problems": []}]


@pytest.mark.parametrize("holders,lease_holder,expected", [
    ([], "w1", "Service VIP 198.51.100.1 (default/web) is on no node"),
    (["w1", "w2"], "w1", "Service VIP 198.51.100.1 (default/web) is on 2 nodes: w1, w2 (exactly one wanted)"),
    (["w2"], "w1", "Service VIP 198.51.100.1 (default/web) is on w2, but lease default/kubevip-web is held by w1"),
])
def test_service_vip_problems(plan, holders, lease_holder, expected):
    checks = healthy(**dict((h, check(service_vips=["198.51.100.1"])) for h in holders))
    report = verdicts.verify_report(plan, checks, cluster([service("web", "198.51.100.1", holder=lease_holder)]))
    assert report["problems"] == [expected] and report["service_vips"][0]["problems"] == [expected]


LOCAL_ON_W2 = "Service VIP 198.51.100.1 (default/web) has externalTrafficPolicy Local and is on w2"


def test_local_traffic_needs_a_services_pod_on_the_holder(plan):
    checks = healthy(w2=check(service_vips=["198.51.100.1"]))
    web = service("web", "198.51.100.1", policy="Local", holder="worker-2.example", endpoints=[("worker-2.example", True)])
    report = verdicts.verify_report(plan, checks, cluster([web], pods=["w1"]))
    assert report["problems"] == [LOCAL_ON_W2 + ", where the services DaemonSet kube-system/kube-vip-ds runs no pod"]
    assert verdicts.verify_report(plan, checks, cluster([web], pods=["worker-2.example"]))["ok"] is True


@pytest.mark.parametrize("pods,unready,endpoints,expected", [
    # failure 5: kube-vip answers ARP on w2, but kube-proxy has no local endpoint there and drops the traffic
    (["worker-2.example"], [], [("w1", True), ("worker-2.example", False)],
     [LOCAL_ON_W2 + ", which has no ready endpoint of the Service (its ready endpoints are on w1): traffic to the VIP is "
      "dropped there"]),
    (["worker-2.example"], [], [],
     [LOCAL_ON_W2 + ", which has no ready endpoint of the Service (it has no ready endpoint at all): traffic to the VIP is "
      "dropped there"]),
    ([], ["worker-2.example"], [("worker-2.example", True)],
     [LOCAL_ON_W2 + ", where the services DaemonSet kube-system/kube-vip-ds's pod kube-vip-ds-worker-2.example is not "
      "Ready (phase Running)"]),
    (["w1"], ["worker-2.example"], [("w1", True)],
     [LOCAL_ON_W2 + ", where the services DaemonSet kube-system/kube-vip-ds's pod kube-vip-ds-worker-2.example is not "
      "Ready (phase Running)",
      LOCAL_ON_W2 + ", which has no ready endpoint of the Service (its ready endpoints are on w1): traffic to the VIP is "
      "dropped there"]),
])
def test_local_traffic_needs_a_ready_pod_and_a_ready_endpoint_on_the_holder(plan, pods, unready, endpoints, expected):
    web = service("web", "198.51.100.1", policy="Local", holder="worker-2.example", endpoints=endpoints)
    report = verdicts.verify_report(plan, healthy(w2=check(service_vips=["198.51.100.1"])), cluster([web], pods=pods, unready=unready))
    assert report["problems"] == expected and report["service_vips"][0]["problems"] == expected


def test_local_traffic_on_a_holder_whose_endpoint_is_terminating(plan):
    web = service("web", "198.51.100.1", policy="Local", holder="worker-2.example", endpoints=[("w1", True)])
    web["endpoints"].append({"node": "worker-2.example", "ready": False, "serving": True, "terminating": True,
                             "addresses": ["203.0.113.141"]})
    report = verdicts.verify_report(plan, healthy(w2=check(service_vips=["198.51.100.1"])), cluster([web], pods=["worker-2.example"]))
    assert report["problems"] == [LOCAL_ON_W2 + ", which has no ready endpoint of the Service (its ready endpoints are on "
                                  "w1): only terminating ones, which kube-proxy serves until they are gone"]


def test_local_traffic_with_endpoints_not_read_is_not_passed(plan):
    web = service("web", "198.51.100.1", policy="Local", holder="worker-2.example", endpoints=None,
                  error="list discovery.k8s.io/v1 EndpointSlice in default: forbidden (HTTP 403)")
    report = verdicts.verify_report(plan, healthy(w2=check(service_vips=["198.51.100.1"])), cluster([web], pods=["worker-2.example"]))
    assert report["problems"] == [LOCAL_ON_W2 + "; its endpoints there were not checked: list discovery.k8s.io/v1 "
                                  "EndpointSlice in default: forbidden (HTTP 403)"]
    assert report["service_vips"][0]["ready_endpoints_on"] is None


def test_cluster_traffic_needs_no_local_pod_or_endpoint(plan):
    web = service("web", "198.51.100.1", holder="worker-2.example", endpoints=[])
    report = verdicts.verify_report(plan, healthy(w2=check(service_vips=["198.51.100.1"])), cluster([web]))
    assert report["ok"] is True, report["problems"]
    assert report["service_vips"][0]["ready_endpoints_on"] == []


# --------------------------------------------------------------------------- a Service VIP nobody leads

def test_per_service_election_without_the_services_lease_fails(plan):
    checks = healthy(w1=check(service_vips=["198.51.100.1"]))
    pending = service("queued", None)  # no address yet: no lease expected, not judged
    orphan = service("web", "198.51.100.1")
    report = verdicts.verify_report(plan, checks, cluster([orphan, pending]))
    assert report["problems"] == ["Service VIP 198.51.100.1 (default/web) has an address but its own lease (per-service "
                                  "election) default/kubevip-web does not exist: no kube-vip instance leads it"]
    assert [(r["service"], r["lease_holder"]) for r in report["service_vips"]] == [("default/web", None)]
    holderless = dict(orphan, lease=lease("kubevip-web", None))
    assert verdicts.verify_report(plan, checks, cluster([holderless]))["problems"] == [
        "Service VIP 198.51.100.1 (default/web) has an address but its own lease (per-service election) default/kubevip-web "
        "has no holder: no kube-vip instance leads it"]
    assert verdicts.verify_report(plan, checks, cluster([pending]))["ok"] is True


def test_global_election_judges_the_common_lease_only():
    plan = lab_plan(vip_services={"local_traffic": False})
    checks = healthy(w1=check(service_vips=["198.51.100.1"]))
    web = service("web", "198.51.100.1")  # no kubevip-web lease: not used without per-service election
    assert verdicts.verify_report(plan, checks, cluster([web], svcs_holder="w1"))["ok"] is True
    report = verdicts.verify_report(plan, checks, cluster([web, service("queued", None)]))
    assert report["problems"] == ["Service VIP 198.51.100.1 (default/web) has an address but the services lease (no "
                                  "per-service election) kube-system/plndr-svcs-lock does not exist: no kube-vip instance "
                                  "leads it"]


def test_global_services_lease_without_per_service_election():
    plan = lab_plan(vip_services={"local_traffic": False})
    checks = healthy(w1=check(service_vips=["198.51.100.1"]), w2=check(service_vips=["198.51.100.2"]))
    live = cluster([service("web", "198.51.100.1", holder="w1"), service("api", "198.51.100.2", holder="w2")], svcs_holder="w1")
    report = verdicts.verify_report(plan, checks, live)
    assert report["problems"] == ["Service VIP 198.51.100.2 (default/api) is on w2, but lease kube-system/plndr-svcs-lock is held by w1"]
    assert [r["election"] for r in report["service_vips"]] == ["global", "global"]


def test_services_kube_vip_does_not_serve_are_not_judged():
    plan = lab_plan()
    other_class = service("web", "198.51.100.1", holder="w1", klass="example.com/other")
    assert verdicts.verify_report(plan, healthy(), cluster([other_class]))["service_vips"] == []
    metallb = lab_plan(vip_services={"provider": "metallb", "local_traffic": False,
                                     "pools": [{"name": "public", "addresses": ["198.51.100.0/28"]}]})
    assert verdicts.verify_report(metallb, healthy(), cluster([service("web", "198.51.100.1", holder="w1")]))["service_vips"] == []
    bgp_pools = [{"name": "public", "addresses": ["198.51.100.0/28"], "advertisement": "bgp"}]
    bgp = lab_plan(vip_services={"pools": bgp_pools, "local_traffic": False},
                   vip_bgp={"local_as": 65000, "peers": [{"address": "192.0.2.1", "as": 65001}]})
    assert bgp["services"]["kube_vip"]["mode"] == "bgp"
    assert verdicts.verify_report(bgp, healthy(), cluster([service("web", "198.51.100.1", holder="w1")]))["service_vips"] == []


# --------------------------------------------------------------------------- what remediate removes

def addresses(*items):
    return [{"address": a, "prefix": 32, "interface": "eth0"} for a in items]


def test_strays_are_the_non_holders_of_a_held_lease_inside_the_owned_ranges(plan):
    by_host = {"cp1": addresses("192.0.2.11", "192.0.2.10"), "w1": addresses("192.0.2.14", "198.51.100.1", "203.0.113.5"),
               "w2": addresses("192.0.2.15", "198.51.100.1", "203.0.113.5")}
    live = cluster([service("web", "198.51.100.1", holder="w1"),
                    service("outside", "203.0.113.5", holder="w1")])  # outside every pool: never removed
    assert verdicts.service_vip_strays(plan, by_host, live) == {"cp1": [], "w1": [], "w2": ["198.51.100.1"]}


@pytest.mark.parametrize("the_lease", [None, lease("kubevip-web", None, present=False), lease("kubevip-web", "w1", expired=True)])
def test_no_strays_without_a_live_lease_holder(plan, the_lease):
    svc = dict(service("web", "198.51.100.1"), lease=the_lease)
    by_host = {"w1": addresses("198.51.100.1"), "w2": addresses("198.51.100.1")}
    assert verdicts.service_vip_strays(plan, by_host, cluster([svc])) == {"w1": [], "w2": []}


# --------------------------------------------------------------------------- kube-proxy's live ConfigMap (failure 1)

def proxy(mode="ipvs", strict_arp=True, exclude=("192.0.2.10/32",), present=True, parse_error=None):
    return {"name": "kube-proxy", "namespace": "kube-system", "present": present, "mode": mode, "strict_arp": strict_arp,
            "exclude_cidrs": list(exclude), "parse_error": parse_error}


def with_proxy(live):
    return dict(cluster(), kube_proxy=live)


def test_kube_proxy_as_planned_passes(plan):
    assert verdicts.kube_proxy_verdict(plan, with_proxy(proxy())) == ([], [])
    assert verdicts.kube_proxy_verdict(plan, with_proxy(proxy(exclude=["10.0.0.0/8", "192.0.2.0/24"]))) == ([], [])  # inside a wider CIDR


def test_kube_proxy_without_the_vip_in_exclude_cidrs(plan):
    problems, dummy = verdicts.kube_proxy_verdict(plan, with_proxy(proxy(exclude=["198.51.100.0/24"])))
    assert problems == ['ConfigMap kube-system/kube-proxy config.conf ipvs.excludeCIDRs is ["198.51.100.0/24"], which misses '
                        'the control-plane VIP 192.0.2.10; the plan wants ["192.0.2.10/32"] (else kube-proxy in IPVS mode '
                        "deletes kube-vip's IPVS service)"]
    report = verdicts.verify_report(plan, healthy(), with_proxy(proxy(exclude=[])))
    assert report["ok"] is False and "ipvs.excludeCIDRs is []" in report["problems"][0]


def test_kube_proxy_strict_arp_and_mode(plan):
    problems, dummy = verdicts.kube_proxy_verdict(plan, with_proxy(proxy(strict_arp=False)))
    assert problems == ["ConfigMap kube-system/kube-proxy config.conf ipvs.strictARP is false, the plan wants true "
                        "(ARP VIPs with kube-proxy in IPVS mode)"]
    problems, dummy = verdicts.kube_proxy_verdict(plan, with_proxy(proxy(mode="", strict_arp=False, exclude=[])))
    # iptables (the default) deletes no IPVS service: excludeCIDRs is not judged there, the mode is
    assert problems == ['ConfigMap kube-system/kube-proxy config.conf mode is "" (the default, iptables), the plan wants "ipvs"',
                        "ConfigMap kube-system/kube-proxy config.conf ipvs.strictARP is false, the plan wants true "
                        "(ARP VIPs with kube-proxy in IPVS mode)"]


def test_kube_proxy_not_judged_without_configmap_or_plan():
    plan = lab_plan()
    problems, notes = verdicts.kube_proxy_verdict(plan, with_proxy(proxy(present=False)))
    assert problems == [] and notes == ["ConfigMap kube-system/kube-proxy: not found (k3s and RKE2 have none); "
                                        "kube-proxy's live settings not checked"]
    assert verdicts.kube_proxy_verdict(plan, None) == ([], [])
    unmanaged = lab_plan(vip_kube_proxy={"mode": "none"})
    assert verdicts.kube_proxy_verdict(unmanaged, with_proxy(proxy(mode="iptables", exclude=[]))) == ([], [])
    iptables = lab_plan(vip_kube_proxy={"mode": "iptables", "strict_arp": "auto", "exclude_cidrs": "auto"})
    assert verdicts.kube_proxy_verdict(iptables, with_proxy(proxy(mode="iptables", strict_arp=False, exclude=[])))[0] == []
    problems, dummy = verdicts.kube_proxy_verdict(plan, with_proxy(proxy(parse_error="config.conf does not parse: bad")))
    assert problems == ["ConfigMap kube-system/kube-proxy config.conf: config.conf does not parse: bad (the plan wants mode ipvs)"]


# --------------------------------------------------------------------------- the static pod (failure 2) and the live DaemonSet

def test_static_pod_expectation(plan):
    assert verdicts.check_options(plan, "cp1")["static_pod"] == {
        "path": "/etc/kubernetes/manifests/kube-vip.yaml", "svc_enable": False,
        "services_owner": "the services DaemonSet kube-system/kube-vip-ds"}
    assert verdicts.check_options(plan, "w1")["static_pod"] is None
    metallb = lab_plan(vip_services={"provider": "metallb", "local_traffic": False,
                                     "pools": [{"name": "public", "addresses": ["198.51.100.0/28"]}]})
    assert verdicts.check_options(metallb, "cp2")["static_pod"]["services_owner"] == "MetalLB (the plan's services provider)"
    none = lab_plan(vip_services={"provider": "none", "local_traffic": False, "pools": []})
    assert verdicts.check_options(none, "cp1")["static_pod"]["svc_enable"] is None  # nobody else serves Services: not judged
    daemonset = lab_plan(vip_control_plane={"deployment": "daemonset"})
    assert verdicts.check_options(daemonset, "cp1")["static_pod"] is None


def live_ds(node_selector=None, affinity=None, present=True):
    return {"name": "kube-vip-ds", "namespace": "kube-system", "present": present, "desired": 2, "ready": 2, "image": [],
            "node_selector": dict(node_selector or {}), "affinity": affinity}


def test_live_daemonset_wins_over_the_render_dir(plan):
    pinned = {"node-role.kubernetes.io/control-plane": ""}
    live = dict(cluster(), kube_vip={"pods": [], "daemonset": live_ds(pinned)})
    report = verdicts.verify_report(plan, healthy(), live, daemonsets=[], daemonset_file="/r/cluster/kube-vip-services.yaml")
    assert report["problems"] == ['services DaemonSet kube-system/kube-vip-ds in the cluster is pinned to control-plane nodes '
                                  '(nodeSelector {"node-role.kubernetes.io/control-plane": ""}); the plan runs it on all nodes']
    assert report["daemonset_source"] == "cluster" and report["daemonset_checked"] is True
    assert report["daemonset_pinned"] == report["problems"]  # what remediate.yml acts on
    rendered = [{"kind": "DaemonSet", "metadata": {"name": "kube-vip-ds"},
                 "spec": {"template": {"spec": {"nodeSelector": pinned}}}}]
    fine = dict(cluster(), kube_vip={"pods": [], "daemonset": live_ds()})
    report = verdicts.verify_report(plan, healthy(), fine, daemonsets=rendered, daemonset_file="/r/x.yaml")
    assert report["ok"] is True and report["daemonset_source"] == "cluster" and report["daemonset_pinned"] == []
    absent = dict(cluster(), kube_vip={"pods": [], "daemonset": live_ds(present=False)})
    report = verdicts.verify_report(plan, healthy(), absent, daemonsets=rendered, daemonset_file="/r/x.yaml")
    assert report["daemonset_source"] == "render_dir" and "in /r/x.yaml is pinned" in report["problems"][0]
    assert report["daemonset_pinned"] == report["problems"][:1]
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}]}]}}}
    report = verdicts.verify_report(plan, healthy(), dict(cluster(), kube_vip={"pods": [], "daemonset": live_ds(affinity=affinity)}))
    assert report["problems"][0].endswith("(nodeSelector {}, and a control-plane node affinity); the plan runs it on all nodes")


# --------------------------------------------------------------------------- k3s/RKE2 ServiceLB (issue 17, item 17)

def _service_lb(*services, program="k3s"):
    return {"namespace": "kube-system", "services": [
        {"service": "default/%s" % name, "program": program, "pods": ["svclb-%s-7c71dc76-%s" % (name, n) for n in nodes],
         "nodes": list(nodes)} for name, nodes in services]}


K3S = {"vip_cluster": {"distro": "k3s", "kubernetes_version": "v1.31.4+k3s1"}}


def test_live_service_lb_beside_kube_vip_is_a_problem():
    """k3s's ServiceLB answers every LoadBalancer Service without a class (k3s-io/k3s pkg/cloudprovider/servicelb.go,
    klipper-lb v0.4.9: a DaemonSet svclb-<service>-<uid> per Service) and races kube-vip for it (k3s-io/k3s #2323):
    verify names its pods, the Service, the nodes and the fix."""
    plan = lab_plan(**K3S)
    assert plan["services"]["provider"] == "kube_vip" and plan["services"]["disable_servicelb"] is True
    live = dict(cluster(pods=["w1", "w2"]), service_lb=_service_lb(("web", ("w1", "w2"))))
    problems = verdicts.service_lb_verdict(plan, live)
    assert problems == ["k3s ServiceLB (Klipper) is live beside kube-vip: pods svclb-web-7c71dc76-w1, svclb-web-7c71dc76-w2 "
                        "in kube-system answer Service default/web on w1, w2 (k3s-io/k3s #2323); turn it off on every "
                        "server (disable: [servicelb]; playbooks/bootstrap.yml writes "
                        "/etc/rancher/k3s/config.yaml.d/50-baremetal-vip-disable-servicelb.yaml) and restart k3s"]
    report = verdicts.verify_report(plan, healthy(), live)
    assert report["ok"] is False and problems[0] in report["cluster"] and problems[0] in report["problems"]
    assert report["service_lb"] == live["service_lb"]["services"]


def test_no_service_lb_no_problem():
    """ServiceLB off (no svclb pods), or no provider of the plan's to race (provider none): nothing reported."""
    plan = lab_plan(**K3S)
    assert verdicts.service_lb_verdict(plan, dict(cluster(), service_lb=_service_lb())) == []
    assert verdicts.service_lb_verdict(plan, cluster()) == []  # an older cluster_info without service_lb
    assert verdicts.service_lb_verdict(plan, None) == []
    none = lab_plan(vip_cluster={"distro": "k3s", "kubernetes_version": "v1.31.4+k3s1"}, vip_services={"provider": "none", "pools": []})
    assert none["services"]["disable_servicelb"] is False
    assert verdicts.service_lb_verdict(none, dict(cluster(), service_lb=_service_lb(("web", ("w1",))))) == []
    report = verdicts.verify_report(plan, healthy(), dict(cluster(), service_lb=_service_lb()))
    assert report["service_lb"] == [] and not [p for p in report["problems"] if "ServiceLB" in p]


def test_rke2_service_lb_beside_metallb_names_enable_servicelb():
    """RKE2 runs ServiceLB only with enable-servicelb (rancher/rke2 pkg/rke2/rke2.go: every k3s component in
    cmds.DisableItems is disabled unless enable-<item> is set; pkg/cli/cmds/server.go ServiceLBFlag): the fix named is
    that setting; its pods carry svccontroller.rke2.cattle.io labels."""
    plan = lab_plan(vip_cluster={"distro": "rke2", "kubernetes_version": "v1.30.6+rke2r1"},
                    vip_services={"provider": "metallb", "pools": [{"name": "public", "addresses": ["198.51.100.0/28"]}]})
    assert plan["services"]["disable_servicelb"] is False
    problems = verdicts.service_lb_verdict(plan, dict(cluster(), service_lb=_service_lb(("web", ("w1",)), program="rke2")))
    assert len(problems) == 1
    assert problems[0].startswith("rke2 ServiceLB (Klipper) is live beside MetalLB: pods svclb-web-7c71dc76-w1")
    assert "RKE2 runs it only with enable-servicelb" in problems[0]


def test_a_pending_service_is_judged_by_its_requested_address(plan):
    """Failure 5 as the real kube-vip v1.0.0 leaves it (tests/lab/test_real_failures.py): the cloud provider wrote
    the address (annotation kube-vip.io/loadbalancerIPs) but no kube-vip announced it, so the Service has no
    status.loadBalancer.ingress and no lease: an externalTrafficPolicy Local Service with a ready endpoint is reported
    on no node, with where its ready endpoints are."""
    web = dict(service("web", None, policy="Local", endpoints=[("w1", True)]), requested_ips=["198.51.100.1"])
    report = verdicts.verify_report(plan, healthy(), cluster([web], pods=["cp1"]))
    record = report["service_vips"][0]
    assert record["address"] == "198.51.100.1" and record["holders"] == [] and record["ready_endpoints_on"] == ["w1"]
    assert "Service VIP 198.51.100.1 (default/web) is on no node" in report["problems"]
    assert verdicts.verify_report(plan, healthy(), cluster([dict(web, requested_ips=[])]))["service_vips"] == []
    # queued, not judged: a Cluster Service, or a Local one without a ready endpoint anywhere
    for queued in (dict(web, external_traffic_policy="Cluster"), dict(web, endpoints=[{"node": "w1", "ready": False}])):
        assert verdicts.verify_report(plan, healthy(), cluster([queued]))["service_vips"] == []


# --------------------------------------------------------------------------- the live services DaemonSet's env (failure 3)

# kube-vip v1.0.0 routing-table mode (pkg/kubevip/config_envvar.go vip_routingtable, vip_routingtableid,
# vip_routingprotocol), ARP off: the edit tests/lab/real_failures.py ROUTING_TABLE_ENV makes in the real lab
ROUTING_TABLE = {"vip_arp": "false", "vip_routingtable": "true", "vip_routingtableid": "198", "vip_routingprotocol": "248"}


def with_env(plan, **changes):
    env = dict(verdicts.planned_services_env(plan))
    env.update(changes)
    return dict(live_ds(), env=dict((k, v) for k, v in env.items() if v is not None))


def test_planned_services_env_is_the_rendered_mode(plan):
    env = verdicts.planned_services_env(plan)
    assert env["vip_arp"] == "true" and env["svc_enable"] == "true" and env["cp_enable"] == "false"
    assert "vip_routingtable" not in env and "bgp_peers" not in env


def test_daemonset_env_as_planned_passes(plan):
    live = dict(cluster(), kube_vip={"pods": [], "daemonset": with_env(plan)})
    report = verdicts.verify_report(plan, healthy(), live)
    assert report["ok"] is True, report["problems"]
    assert report["daemonset_env"] == []


def test_daemonset_edited_to_routing_table_mode_is_named_as_the_cause(plan):
    web = service("web", "198.51.100.1", holder="w1")
    live = dict(cluster([web]), kube_vip={"pods": [], "daemonset": with_env(plan, **ROUTING_TABLE)})
    report = verdicts.verify_report(plan, healthy(), live)
    drift = ('services DaemonSet kube-system/kube-vip-ds in the cluster has env vip_arp "false" (the plan: "true"), '
             'vip_routingtable "true" (the plan: unset), vip_routingtableid "198" (the plan: unset), '
             'vip_routingprotocol "248" (the plan: unset): its kube-vip announces Services in routing_table mode, '
             'the plan\'s is arp mode')
    assert report["daemonset_env"] == [drift]
    assert report["problems"] == [drift, "Service VIP 198.51.100.1 (default/web) is on no node (cause: the services "
                                         "DaemonSet's env differs from the plan)"]


@pytest.mark.parametrize("changes,expected", [
    ({"svc_election": "False"}, 'svc_election "False" (the plan: "true")'),  # kube-vip reads any case: the plan's is on
    ({"vip_arp": "TRUE"}, None),  # the same flag as the plan's "true"
    ({"vip_cleanroutingtable": "false"}, None),  # an explicit false is the default
    ({"svc_leasename": None}, 'svc_leasename unset (the plan: "plndr-svcs-lock")'),
])
def test_daemonset_env_flags_read_as_kube_vip_reads_them(plan, changes, expected):
    live = dict(cluster(), kube_vip={"pods": [], "daemonset": with_env(plan, **changes)})
    drift = verdicts.daemonset_env_verdict(plan, live)
    if expected is None:
        assert drift == []
    else:
        assert len(drift) == 1 and expected in drift[0] and "announces" not in drift[0], drift


def test_daemonset_env_not_judged_without_it_or_for_metallb(plan):
    assert verdicts.daemonset_env_verdict(plan, dict(cluster(), kube_vip={"pods": [], "daemonset": live_ds()})) == []
    metallb = lab_plan(vip_services={"provider": "metallb", "local_traffic": False,
                                     "pools": [{"name": "public", "addresses": ["198.51.100.0/28"]}]})
    live = dict(cluster(), kube_vip={"pods": [], "daemonset": with_env(plan, **ROUTING_TABLE)})
    assert verdicts.daemonset_env_verdict(metallb, live) == []


# --------------------------------------------------------------------------- MetalLB L2 addresses for the outside check

METALLB_L2 = {"provider": "metallb", "local_traffic": False,
              "pools": [{"name": "public", "addresses": ["198.51.100.0/28"], "advertisement": "l2"},
                        {"name": "routed", "addresses": ["203.0.113.0/28"], "advertisement": "bgp"}]}


def test_metallb_l2_vips_are_the_live_assigned_addresses_in_l2_pools():
    plan = lab_plan(vip_services=METALLB_L2, vip_bgp={"local_as": 65000, "peers": [{"address": "192.0.2.1", "as": 65001}]})
    live = cluster([service("mlb-web", "198.51.100.14", policy="Local"), service("routed", "203.0.113.3"),
                    service("other", "198.51.100.5", klass="example.com/other"),
                    dict(service("pending", None), requested_ips=["198.51.100.6"])])
    assert verdicts.metallb_l2_vips(plan, live) == [
        {"service": "default/mlb-web", "address": "198.51.100.14", "pool": "public"}]
    report = verdicts.verify_report(plan, healthy(), live)
    assert report["metallb_l2_vips"] == verdicts.metallb_l2_vips(plan, live)
    assert verdicts.metallb_l2_vips(lab_plan(), live) == []  # kube-vip's pools: its own holders are asked
    assert verdicts.metallb_l2_vips(plan, None) == []

"""The controller-side judgement of verify.yml / remediate.yml (plugin_utils/day2.py), on the lab's plan."""
import pytest

from ansible_collections.baremetal.vip.plugins.plugin_utils import day2

from .conftest import lab_plan


def check(vip=(), findings=(), notes=(), service_vips=()):
    """A vip_check result as the module returns it."""
    return {"changed": False, "vip_interfaces": list(vip), "findings": list(findings), "notes": list(notes),
            "service_vips": [{"address": a, "prefix": 32, "interface": "eth0"} for a in service_vips]}


def healthy(**changes):
    out = {"cp1": check(vip=["eth0"]), "cp2": check(), "cp3": check(), "w1": check(), "w2": check()}
    out.update(changes)
    return out


def lease(name, holder, namespace="default", expired=False, present=True):
    return {"name": name, "namespace": namespace, "present": present, "holder": holder, "expired": expired}


def service(name, ip, policy="Cluster", holder=None, klass=None, namespace="default"):
    return {"namespace": namespace, "name": name, "load_balancer_class": klass, "external_traffic_policy": policy,
            "ingress_ips": [ip], "requested_ips": [], "lease_name": "kubevip-" + name,
            "lease": lease("kubevip-" + name, holder, namespace, present=holder is not None)}


def cluster(services=(), cp_holder="cp1", svcs_holder=None, pods=()):
    return {"leases": {"control_plane": lease("plndr-cp-lock", cp_holder, "kube-system"),
                       "services": lease("plndr-svcs-lock", svcs_holder, "kube-system", present=svcs_holder is not None)},
            "services": list(services),
            "kube_vip": {"pods": [{"name": "kube-vip-ds-%s" % n, "node": n, "source": "daemonset"} for n in pods]}}


# --------------------------------------------------------------------------- options of vip_check

def test_check_options_from_the_plan(plan):
    cp1, w1 = day2.check_options(plan, "cp1"), day2.check_options(plan, "w1")
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
    out = day2.check_options(plan, "w1", cluster=live, service_routes=["203.0.113.9"])
    assert out["keep_routes"] == [{"destination": d, "interface": "eth0"} for d in ("203.0.113.9", "198.51.100.1", "198.51.100.9")]
    assert out["watch_addresses"] == ["198.51.100.1", "198.51.100.9"]  # a hostname is no address


def test_control_plane_placement_means_no_stray_check():
    plan = lab_plan(vip_services={"local_traffic": False, "placement": "control_plane"})
    assert day2.check_options(plan, "cp1")["control_plane_only"] is False


# --------------------------------------------------------------------------- the control-plane VIP

def test_healthy_report_is_ok(plan):
    report = day2.verify_report(plan, healthy())
    assert report["ok"] is True and report["problems"] == [] and report["vip_holders"] == ["cp1"]
    assert report["vips"] == [{"address": "192.0.2.10", "holders": ["cp1"], "lease": None, "lease_holder": None,
                               "lease_expired": None}]
    assert report["live_service_ips"] is None and report["daemonset_checked"] is False
    assert report["nodes"]["cp1"]["vip_interface"] == "eth0" and report["nodes"]["w1"]["control_plane"] is False


def test_vip_on_two_nodes_on_a_worker_and_on_the_wrong_interface(plan):
    report = day2.verify_report(plan, healthy(cp2=check(vip=["eth1"]), w1=check(vip=["eth0"])))
    assert report["ok"] is False and report["vip_holders"] == ["cp1", "cp2", "w1"]
    assert report["cluster"] == ["control-plane VIP on cp2 eth1, the plan says eth0",
                                 "control-plane VIP on w1, which is not a control-plane node",
                                 "control-plane VIP 192.0.2.10 is on 3 nodes: cp1, cp2, w1 (exactly one wanted)"]


def test_vip_on_no_node(plan):
    report = day2.verify_report(plan, healthy(cp1=check()))
    assert report["problems"] == ["control-plane VIP 192.0.2.10 is on 0 nodes (exactly one wanted)"]


def test_lease_holder_differs_and_node_names_map_to_hosts(plan):
    report = day2.verify_report(plan, healthy(), cluster(cp_holder="cp2"))
    assert report["problems"] == ["control-plane VIP 192.0.2.10 is on cp1, but lease kube-system/plndr-cp-lock is held by cp2"]
    assert report["vips"][0]["lease_holder"] == "cp2" and report["live_service_ips"] == []
    moved = healthy(cp1=check(), w2=check(vip=["eth0"]))
    report = day2.verify_report(plan, moved, cluster(cp_holder="worker-2.example"))
    assert report["vips"][0]["lease_holder"] == "w2"  # the node name of w2, as the lease names it


def test_node_findings_are_prefixed_and_an_unchecked_node_is_a_problem(plan):
    checks = healthy(cp2=check(findings=["stale route 198.51.100.3/32 dev eth0 table 198 proto 248"]),
                     w2={"failed": True, "msg": "interface eth9 does not exist"})
    report = day2.verify_report(plan, checks)
    assert report["problems"] == ["w2: not checked (interface eth9 does not exist)",
                                  "cp2: stale route 198.51.100.3/32 dev eth0 table 198 proto 248"]
    assert "w2" not in report["nodes"]


def test_pinned_daemonset(plan):
    pinned = {"kind": "DaemonSet", "metadata": {"name": "kube-vip-ds"},
              "spec": {"template": {"spec": {"nodeSelector": {"node-role.kubernetes.io/control-plane": ""}}}}}
    free = {"kind": "DaemonSet", "metadata": {"name": "other"}, "spec": {"template": {"spec": {}}}}
    report = day2.verify_report(plan, healthy(), daemonsets=[{"kind": "ServiceAccount"}, pinned, free], daemonset_file="/r/x.yaml")
    assert report["problems"] == ["services DaemonSet kube-vip-ds in /r/x.yaml is pinned to control-plane nodes; "
                                  "the plan runs it on all nodes"]
    assert report["daemonset_checked"] is True


# --------------------------------------------------------------------------- Service VIPs

def test_service_vip_on_the_lease_holder_is_ok(plan):
    report = day2.verify_report(plan, healthy(w1=check(service_vips=["198.51.100.1"])),
                                cluster([service("web", "198.51.100.1", policy="Local", holder="w1")], pods=["w1", "w2"]))
    assert report["ok"] is True, report["problems"]
    assert report["service_vips"] == [{"service": "default/web", "address": "198.51.100.1", "holders": ["w1"],
                                       "lease": "default/kubevip-web", "lease_holder": "w1", "lease_expired": False,
                                       "election": "per_service", "external_traffic_policy": "Local", "problems": []}]


@pytest.mark.parametrize("holders,lease_holder,expected", [
    ([], "w1", "Service VIP 198.51.100.1 (default/web) is on no node"),
    (["w1", "w2"], "w1", "Service VIP 198.51.100.1 (default/web) is on 2 nodes: w1, w2 (exactly one wanted)"),
    (["w2"], "w1", "Service VIP 198.51.100.1 (default/web) is on w2, but lease default/kubevip-web is held by w1"),
])
def test_service_vip_problems(plan, holders, lease_holder, expected):
    checks = healthy(**dict((h, check(service_vips=["198.51.100.1"])) for h in holders))
    report = day2.verify_report(plan, checks, cluster([service("web", "198.51.100.1", holder=lease_holder)]))
    assert report["problems"] == [expected] and report["service_vips"][0]["problems"] == [expected]


def test_local_traffic_needs_a_services_pod_on_the_holder(plan):
    checks = healthy(w2=check(service_vips=["198.51.100.1"]))
    live = cluster([service("web", "198.51.100.1", policy="Local", holder="worker-2.example")], pods=["w1"])
    report = day2.verify_report(plan, checks, live)
    assert report["problems"] == ["Service VIP 198.51.100.1 (default/web) has externalTrafficPolicy Local and is on w2, "
                                  "where the services DaemonSet kube-system/kube-vip-ds runs no pod"]
    live = cluster([service("web", "198.51.100.1", policy="Local", holder="worker-2.example")], pods=["worker-2.example"])
    assert day2.verify_report(plan, checks, live)["ok"] is True


def test_global_services_lease_without_per_service_election():
    plan = lab_plan(vip_services={"local_traffic": False})
    checks = healthy(w1=check(service_vips=["198.51.100.1"]), w2=check(service_vips=["198.51.100.2"]))
    live = cluster([service("web", "198.51.100.1", holder="w1"), service("api", "198.51.100.2", holder="w2")], svcs_holder="w1")
    report = day2.verify_report(plan, checks, live)
    assert report["problems"] == ["Service VIP 198.51.100.2 (default/api) is on w2, but lease kube-system/plndr-svcs-lock is held by w1"]
    assert [r["election"] for r in report["service_vips"]] == ["global", "global"]


def test_services_kube_vip_does_not_serve_are_not_judged():
    plan = lab_plan()
    other_class = service("web", "198.51.100.1", holder="w1", klass="example.com/other")
    assert day2.verify_report(plan, healthy(), cluster([other_class]))["service_vips"] == []
    metallb = lab_plan(vip_services={"provider": "metallb", "local_traffic": False,
                                     "pools": [{"name": "public", "addresses": ["198.51.100.0/28"]}]})
    assert day2.verify_report(metallb, healthy(), cluster([service("web", "198.51.100.1", holder="w1")]))["service_vips"] == []
    bgp_pools = [{"name": "public", "addresses": ["198.51.100.0/28"], "advertisement": "bgp"}]
    bgp = lab_plan(vip_services={"pools": bgp_pools, "local_traffic": False},
                   vip_bgp={"local_as": 65000, "peers": [{"address": "192.0.2.1", "as": 65001}]})
    assert bgp["services"]["kube_vip"]["mode"] == "bgp"
    assert day2.verify_report(bgp, healthy(), cluster([service("web", "198.51.100.1", holder="w1")]))["service_vips"] == []


# --------------------------------------------------------------------------- what remediate removes

def addresses(*items):
    return [{"address": a, "prefix": 32, "interface": "eth0"} for a in items]


def test_strays_are_the_non_holders_of_a_held_lease_inside_the_owned_ranges(plan):
    by_host = {"cp1": addresses("192.0.2.11", "192.0.2.10"), "w1": addresses("192.0.2.14", "198.51.100.1", "203.0.113.5"),
               "w2": addresses("192.0.2.15", "198.51.100.1", "203.0.113.5")}
    live = cluster([service("web", "198.51.100.1", holder="w1"),
                    service("outside", "203.0.113.5", holder="w1")])  # outside every pool: never removed
    assert day2.service_vip_strays(plan, by_host, live) == {"cp1": [], "w1": [], "w2": ["198.51.100.1"]}


@pytest.mark.parametrize("the_lease", [None, lease("kubevip-web", None, present=False), lease("kubevip-web", "w1", expired=True)])
def test_no_strays_without_a_live_lease_holder(plan, the_lease):
    svc = dict(service("web", "198.51.100.1"), lease=the_lease)
    by_host = {"w1": addresses("198.51.100.1"), "w2": addresses("198.51.100.1")}
    assert day2.service_vip_strays(plan, by_host, cluster([svc])) == {"w1": [], "w2": []}

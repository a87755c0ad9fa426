"""What remediate.yml changes on each node (plugin_utils/remediation.py), decided from verify's report on the lab's plan.

The report is built the way the playbooks build it: verdicts.verify_report on vip_check results and cluster_info's."""
import copy

import pytest

from ansible_collections.baremetal.vip.plugins.plugin_utils import remediation
from ansible_collections.baremetal.vip.plugins.plugin_utils import verdicts

from testkit.verify_cases import cluster, lab_plan, service

SYSCTLS = {"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2"}


def check(vip=(), service_vips=(), routes=(), sysctls=None, ipvs=True):
    """A vip_check result as the module returns it (routes: destinations on eth0 in kube-vip's table)."""
    return {"changed": False, "vip_interfaces": list(vip), "findings": [], "notes": [],
            "service_vips": [{"address": a, "prefix": 32, "interface": "eth0"} for a in service_vips],
            "routes": [{"destination": d, "interface": "eth0"} for d in routes],
            "sysctls": dict(SYSCTLS if sysctls is None else sysctls), "ipvs_available": ipvs, "static_pod": None}


def report(plan, live=None, **checks):
    nodes = {"cp1": check(vip=["eth0"]), "cp2": check(), "cp3": check(), "w1": check(), "w2": check()}
    nodes.update(checks)
    return verdicts.verify_report(plan, nodes, live)


def decide(plan, the_report, **kwargs):
    return remediation.remediation(plan, the_report, **kwargs)


# --------------------------------------------------------------------------- the control-plane VIP's holder

def test_holder_is_the_lease_holder_then_the_current_holder_then_the_plans_first(plan):
    assert decide(plan, report(plan, cluster(cp_holder="cp2")))["control_plane_holder"] == "cp2"
    out = decide(plan, report(plan, cp2=check(vip=["eth0"]), cp3=check(vip=["eth0"]), cp1=check()))
    assert (out["control_plane_holder"], out["control_plane_holder_source"]) == ("cp2", "current")  # the plan's order
    out = decide(plan, report(plan, cp1=check()))
    assert (out["control_plane_holder"], out["control_plane_holder_source"]) == ("cp1", "plan")
    assert out["said"] == "control-plane VIP 192.0.2.10 belongs on cp1 only"


def test_a_lease_that_expired_or_a_worker_holds_is_not_followed(plan):
    expired = cluster(cp_holder="cp2")
    expired["leases"]["control_plane"]["expired"] = True
    out = decide(plan, report(plan, expired))
    assert out["control_plane_holder"] == "cp1"
    assert out["said"] == "control-plane VIP 192.0.2.10 belongs on cp1 only (lease kube-system/plndr-cp-lock held by cp2, expired)"
    assert decide(plan, report(plan, cluster(cp_holder="worker-2.example")))["control_plane_holder"] == "cp1"


def test_the_lease_holder_is_followed_only_when_it_was_checked(plan):
    the_report = report(plan, cluster(cp_holder="cp3"))
    del the_report["nodes"]["cp3"]  # its vip_check failed: it is out of the play
    assert decide(plan, the_report)["control_plane_holder"] == "cp1"


def test_the_holder_asked_for_wins_and_must_be_a_control_plane_node(plan):
    out = decide(plan, report(plan, cluster(cp_holder="cp2")), holder="cp3")
    assert (out["control_plane_holder"], out["control_plane_holder_source"]) == ("cp3", "vip_remediate_holder")
    assert decide(plan, report(plan), holder="")["control_plane_holder"] == "cp1"  # empty: not asked
    with pytest.raises(ValueError, match=r"vip_remediate_holder is w1, which is not a control-plane node of the plan \(cp1, cp2, cp3\)"):
        decide(plan, report(plan), holder="w1")


# --------------------------------------------------------------------------- per node

def test_the_vip_kept_on_the_holder_announced_and_removed_elsewhere(plan):
    nodes = decide(plan, report(plan, cp2=check(vip=["eth0"])), holder="cp2")["nodes"]
    assert nodes["cp2"]["control_plane_vip"] == {
        "state": "present", "address": "192.0.2.10", "prefix": 32, "interface": "eth0", "announce": True,
        "prune": True, "owned_ranges": ["192.0.2.10/32"], "protected_addresses": ["192.0.2.12"]}
    for host in ("cp1", "cp3", "w1", "w2"):
        assert nodes[host]["control_plane_vip"]["state"] == "absent"
        assert nodes[host]["control_plane_vip"]["protected_addresses"] == [plan["nodes"][host]["node_ip"]]


def test_a_loopback_copy_left_by_a_move_is_judged_and_taken_off_the_vips_exact_address_only(plan):
    """A run of upgrade.yml / remove_node.yml that died mid-move leaves the VIP's copy on the old holder's lo
    (playbooks/tasks/vip_holder_move.yml). verify names it (two holders, lo where the plan says eth0); remediate
    keeps the node holding it on eth0 (not the one with only the copy, even without a lease) and removes the copy:
    absent on every interface of another node, pruned from the holder's other interfaces, within VIP/32 only."""
    left = report(plan, cp1=check(vip=["lo"]), cp2=check(vip=["eth0"]))
    problems = " ".join(left["problems"])
    assert "control-plane VIP on cp1 lo, the plan says eth0" in problems
    assert "is on 2 nodes: cp1, cp2" in problems
    out = decide(plan, left)
    assert (out["control_plane_holder"], out["control_plane_holder_source"]) == ("cp2", "current")
    gone = out["nodes"]["cp1"]["control_plane_vip"]
    assert (gone["state"], gone["interface"], gone["owned_ranges"]) == ("absent", None, ["192.0.2.10/32"])
    # the copy left on the holder itself (its kube-vip never stopped): named, pruned there, the address on eth0 kept
    both = report(plan, cp1=check(vip=["eth0", "lo"]))
    assert both["vip_holders"] == ["cp1"] and "control-plane VIP on cp1 lo, the plan says eth0" in both["problems"]
    kept = decide(plan, both)["nodes"]["cp1"]["control_plane_vip"]
    assert (kept["state"], kept["interface"], kept["prune"], kept["owned_ranges"]) == (
        "present", "eth0", True, ["192.0.2.10/32"])


def test_bgp_mode_binds_the_vip_to_lo_without_announcing(plan):
    plan = copy.deepcopy(plan)
    plan["control_plane"]["mode"] = "bgp"
    vip = decide(plan, report(plan, cp1=check(vip=["lo"])))["nodes"]["cp1"]["control_plane_vip"]
    assert (vip["state"], vip["interface"], vip["announce"]) == ("present", "lo", False)


def test_routing_table_mode_keeps_the_vips_route_on_the_holder_only():
    plan = lab_plan(vip_control_plane={"mode": "routing_table"})
    nodes = decide(plan, report(plan, cp1=check(vip=["eth0"], routes=["192.0.2.10/32", "198.51.100.3/32"])))["nodes"]
    assert nodes["cp1"]["control_plane_vip"] is None  # the route is the VIP; no address to place
    assert nodes["cp1"]["routes"]["routes"] == [{"destination": "192.0.2.10/32", "interface": "eth0"}]
    assert nodes["cp2"]["routes"]["routes"] == [] and nodes["cp2"]["control_plane_vip"]["state"] == "absent"


def test_service_vips_pruned_from_control_plane_only_nodes_as_verify_judges_them(plan):
    nodes = decide(plan, report(plan))["nodes"]
    assert nodes["cp1"]["service_vip_prune"] == {"owned_ranges": plan["owned"]["service_addresses"],
                                                 "protected_addresses": ["192.0.2.11"]}
    assert nodes["w1"]["service_vip_prune"] is None
    placed = lab_plan(vip_services={"local_traffic": False, "placement": "control_plane"})
    assert decide(placed, report(placed))["nodes"]["cp1"]["service_vip_prune"] is None


def test_service_vips_settled_only_where_the_static_pod_serves_services(plan):
    """Failure 2: cp2's control-plane kube-vip runs with svc_enable "true" (an edit on the node); it binds Service
    addresses again until the kubelet restarts it from the plan's manifest, so remediate_causes.yml prunes them
    again until none comes back. A static pod with svc_enable "false", absent or unread needs no second pass."""
    def pod(svc_enable, present=True):
        return {"path": "/etc/kubernetes/manifests/kube-vip.yaml", "present": present, "error": None,
                "svc_enable": svc_enable}
    checks = {"cp1": dict(check(vip=["eth0"]), static_pod=pod("false")), "cp2": dict(check(), static_pod=pod("True")),
              "cp3": dict(check(), static_pod=pod(None, present=False))}
    nodes = decide(plan, report(plan, **checks))["nodes"]
    assert nodes["cp2"]["service_vip_settle"] is not None
    assert nodes["cp2"]["service_vip_settle"] == nodes["cp2"]["service_vip_prune"]
    assert nodes["cp2"]["service_vip_settle"]["protected_addresses"] == [plan["nodes"]["cp2"]["node_ip"]]
    for host in ("cp1", "cp3", "w1", "w2"):
        assert nodes[host]["service_vip_settle"] is None, host
    nodes = decide(plan, report(plan, cp2=dict(check(), static_pod=pod("yes"))))["nodes"]  # kube-vip reads only "true"
    assert nodes["cp2"]["service_vip_settle"] is None


def test_a_cluster_of_control_plane_nodes_only_keeps_its_service_vips():
    """No kube_node host: the plan runs the services DaemonSet on the control-plane nodes (plan.py, kube_vip_services:
    "unless there is no worker"), so their Service VIPs are where they belong. verify never flagged them; remediate.yml's
    own Jinja rule pruned them from every node (fixed: one rule, vip_check's control_plane_only)."""
    plan = lab_plan()
    for host in ("w1", "w2"):
        del plan["nodes"][host]
    plan["services"]["kube_vip"]["hosts"] = ["cp1", "cp2", "cp3"]
    the_report = verdicts.verify_report(plan, {"cp1": check(vip=["eth0"], service_vips=["198.51.100.1"]), "cp2": check(),
                                               "cp3": check()})
    assert the_report["ok"] is True
    assert all(n["service_vip_prune"] is None for n in decide(plan, the_report)["nodes"].values())


def test_service_vips_taken_from_nodes_that_do_not_hold_their_lease(plan):
    live = cluster([service("web", "198.51.100.1", holder="w1"), service("api", "198.51.100.5", holder=None),
                    service("far", "203.0.113.9", holder="w1")])
    the_report = report(plan, live, w1=check(service_vips=["198.51.100.1"]),
                        w2=check(service_vips=["198.51.100.1", "198.51.100.5", "203.0.113.9"]))
    out = decide(plan, the_report)
    # api's lease has no holder: nobody to leave it to; 203.0.113.9 is outside the owned service ranges
    assert out["service_vip_strays"] == {"cp1": [], "cp2": [], "cp3": [], "w1": [], "w2": ["198.51.100.1"]}
    assert out["nodes"]["w2"]["service_vip_strays"]["protected_addresses"] == ["192.0.2.15"]
    expired = copy.deepcopy(live)
    expired["services"][0]["lease"]["expired"] = True
    assert decide(plan, report(plan, expired, w2=check(service_vips=["198.51.100.1"])))["service_vip_strays"]["w2"] == []


def test_routes_kept_live_services_where_they_are_and_service_routes_everywhere(plan):
    live = cluster([service("web", "198.51.100.1", holder="w1"), dict(service("dns", None), requested_ips=["198.51.100.9"])])
    the_report = report(plan, live, w1=check(routes=["198.51.100.1/32", "198.51.100.3/32", "198.51.100.9/32"]))
    nodes = decide(plan, the_report, service_routes=["203.0.113.7"])["nodes"]
    assert [r["destination"] for r in nodes["w1"]["routes"]["routes"]] == ["203.0.113.7", "198.51.100.1/32", "198.51.100.9/32"]
    assert [r["destination"] for r in nodes["w2"]["routes"]["routes"]] == ["203.0.113.7"]  # a live route is never added
    assert nodes["w1"]["routes"]["table"] == plan["owned"]["route_table"]
    assert nodes["w1"]["routes"]["protocol"] == plan["owned"]["route_protocol"]
    # without the cluster, no route is a live Service's
    assert decide(plan, report(plan, w1=check(routes=["198.51.100.1/32"])))["nodes"]["w1"]["routes"]["routes"] == []


def test_ipvs_service_on_the_holder_only_where_the_node_has_ipvs(plan):
    nodes = decide(plan, report(plan, cp2=check(ipvs=False)))["nodes"]
    service_ = nodes["cp1"]["ipvs"]["services"][0]
    assert (service_["address"], service_["port"]) == ("192.0.2.10", 6443)
    assert [s["address"] for s in service_["real_servers"]] == ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
    assert nodes["cp3"]["ipvs"] == {"services": [], "owned_addresses": ["192.0.2.10/32"]}
    assert nodes["cp2"]["ipvs"] is None
    no_lb = lab_plan(vip_control_plane={"load_balancer": {"enabled": False}})
    assert decide(no_lb, report(no_lb))["nodes"]["cp1"]["ipvs"] is None


def test_real_servers_are_the_control_plane_nodes_with_an_address(plan):
    """One rule with verify (vip_check's ipvs_service): remediate.yml's Jinja listed a control-plane node without an
    address as a real server too."""
    no_address = copy.deepcopy(plan)
    no_address["nodes"]["cp3"]["node_ip"] = None
    servers = decide(no_address, report(no_address))["nodes"]["cp1"]["ipvs"]["services"][0]["real_servers"]
    assert [s["address"] for s in servers] == ["192.0.2.11", "192.0.2.12"]


def test_sysctls_set_where_they_differ_or_are_unreadable(plan):
    nodes = decide(plan, report(plan, w1=check(sysctls={"net.ipv4.conf.all.arp_ignore": "0"})))["nodes"]
    assert nodes["w1"]["sysctls"] == {"net.ipv4.conf.all.arp_announce": "2", "net.ipv4.conf.all.arp_ignore": "1"}
    assert nodes["w2"]["sysctls"] == {}


def test_the_live_daemonsets_pin_only(plan):
    pinned = {"present": True, "name": "kube-vip-ds", "namespace": "kube-system",
              "node_selector": {"node-role.kubernetes.io/control-plane": ""}, "affinity": None}
    live = dict(cluster(), kube_vip={"pods": [], "daemonset": pinned})
    out = decide(plan, report(plan, live))
    assert len(out["daemonset_pinned"]) == 1 and "in the cluster is pinned" in out["daemonset_pinned"][0]
    rendered = [{"kind": "DaemonSet", "metadata": {"name": "kube-vip-ds"},
                 "spec": {"template": {"spec": {"nodeSelector": {"node-role.kubernetes.io/control-plane": ""}}}}}]
    nodes = {h: check(vip=["eth0"] if h == "cp1" else ()) for h in plan["nodes"]}
    from_files = verdicts.verify_report(plan, nodes, None, daemonsets=rendered, daemonset_file="/r/x.yaml")
    assert from_files["daemonset_pinned"] and decide(plan, from_files)["daemonset_pinned"] == []  # rendered again, not applied


def test_no_control_plane_vip_means_no_holder(plan):
    plan = dict(plan, control_plane=None)
    out = decide(plan, report(plan, cp1=check()))
    assert out["control_plane_holder"] is None and out["nodes"]["cp1"]["control_plane_vip"] is None
    assert out["nodes"]["cp1"]["ipvs"] is None


def test_ipvs_service_settled_on_the_holder_only_while_the_live_kube_proxy_deletes_it(plan):
    """Failure 1 on the real kube-proxy v1.31.0 (docs/lab.md): the kube-proxy that read the ConfigMap without the VIP in
    ipvs.excludeCIDRs deletes kube-vip's service again after remediate.yml put it back, until the restarted one runs;
    remediate_causes.yml puts it back on the holder until it stays (pkg/proxy/ipvs/proxier.go cleanLegacyService)."""
    def live(**kwargs):
        values = {"name": "kube-proxy", "namespace": "kube-system", "present": True, "mode": "ipvs", "strict_arp": True,
                  "exclude_cidrs": [], "parse_error": None}
        values.update(kwargs)
        return dict(cluster(), kube_proxy=values)
    nodes = decide(plan, report(plan, live()))["nodes"]
    assert nodes["cp1"]["ipvs_settle"] == nodes["cp1"]["ipvs"] and nodes["cp1"]["ipvs_settle"]["services"]
    for host in ("cp2", "cp3", "w1", "w2"):
        assert nodes[host]["ipvs_settle"] is None, host
    for healthy_proxy in (live(exclude_cidrs=["192.0.2.0/24"]), live(mode="iptables"), live(present=False),
                          live(parse_error="config.conf does not parse"), None):
        assert decide(plan, report(plan, healthy_proxy))["nodes"]["cp1"]["ipvs_settle"] is None
    no_ipvs = decide(plan, report(plan, live(), cp1=check(vip=["eth0"], ipvs=False)))["nodes"]
    assert no_ipvs["cp1"]["ipvs_settle"] is None
    # only where remediate_causes.yml merges the ConfigMap: the plan's kube_proxy.merge_configmap (managed, on kubeadm)
    unmanaged = lab_plan(vip_kube_proxy={"mode": "none"})
    assert decide(unmanaged, report(unmanaged, live()))["nodes"]["cp1"]["ipvs_settle"] is None
    for distro in ("k3s", "rke2"):
        other = lab_plan(vip_cluster={"distro": distro})
        assert other["kube_proxy"]["manage"] and not other["kube_proxy"]["merge_configmap"]
        settle = decide(other, report(other, live()))["nodes"]
        assert settle["cp1"]["ipvs"] and settle["cp1"]["ipvs_settle"] is None, distro

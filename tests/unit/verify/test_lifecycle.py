"""What reset.yml and remove_node.yml take away (plugin_utils/lifecycle.py), decided on the lab's plan."""
import pytest
import yaml

from ansible_collections.baremetal.vip.plugins.plugin_utils import lifecycle
from ansible_collections.baremetal.vip.plugins.plugin_utils import render

from testkit.verify_cases import lab_plan

HEADER_FILE = "#\n# Managed by baremetal.vip (Ansible). Do not edit: changes are overwritten.\n#\nnet.ipv4.conf.all.arp_ignore = 1\n"


def pod_text(plan, cluster="default"):
    return render.dump(render.kube_vip_static_pod(plan, "cp1", cluster))


def test_our_static_pod_is_known_by_its_labels_not_its_name(plan):
    found = [{"path": "/etc/kubernetes/manifests/anything.yaml", "rule": "pod", "content": pod_text(plan)},
             {"path": "/etc/kubernetes/manifests/kube-vip.yaml", "rule": "pod",
              "content": yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kube-vip"}})},
             {"path": "/etc/kubernetes/manifests/other.yaml", "rule": "pod", "content": pod_text(plan, "other")},
             {"path": "/etc/kubernetes/manifests/etcd.yaml", "rule": "pod", "content": "{not yaml: ["},
             # the header alone does not make a static pod ours
             {"path": "/etc/kubernetes/manifests/header.yaml", "rule": "pod", "content": HEADER_FILE}]
    out = lifecycle.reset_files(plan, "cp1", found)
    assert out["remove"] == ["/etc/kubernetes/manifests/anything.yaml"]
    assert [k["path"] for k in out["kept"]] == [f["path"] for f in found[1:]]
    assert "baremetal.vip/cluster=default" in out["kept"][0]["why"]


def test_host_files_are_ours_only_with_the_header(plan):
    found = [{"path": "/etc/sysctl.d/90-baremetal-vip.conf", "rule": "header", "content": HEADER_FILE},
             {"path": "/etc/modules-load.d/baremetal-vip.conf", "rule": "header", "content": "ip_vs\n"}]
    out = lifecycle.reset_files(plan, "w1", found)
    assert out["remove"] == ["/etc/sysctl.d/90-baremetal-vip.conf"]
    assert out["kept"][0]["path"] == "/etc/modules-load.d/baremetal-vip.conf"


def test_scan_looks_at_manifests_on_control_plane_nodes_only(plan):
    files = ["/etc/sysctl.d/90-baremetal-vip.conf"]
    cp1 = lifecycle.reset_scan(plan, "cp1", files)
    assert {"path": "/etc/kubernetes/manifests", "patterns": ["*.yaml", "*.yml", "*.json", "*.manifest"],
            "rule": "pod"} in cp1
    assert {"path": "/etc/sysctl.d", "patterns": ["90-baremetal-vip.conf"], "rule": "header"} in cp1
    assert [s["rule"] for s in lifecycle.reset_scan(plan, "w1", files)] == ["header"]


def test_network_options_stay_inside_the_plans_addresses_table_and_protocol(plan):
    out = lifecycle.reset_network(plan, "cp1")
    assert out["addresses"]["owned_ranges"] == plan["owned"]["addresses"]
    assert out["addresses"]["protected_addresses"] == [plan["nodes"]["cp1"]["node_ip"]]
    assert out["routes"] == {"table": 198, "protocol": 248}
    assert out["ipvs"] == {"owned_addresses": plan["owned"]["addresses"]}


def test_kube_proxy_is_put_back_as_recorded_else_only_our_keys_go():
    before = "mode: ipvs\nipvs:\n  strictARP: true\n  scheduler: rr\n"
    patch = {"mode": "ipvs", "ipvs": {"strictARP": True, "excludeCIDRs": ["192.0.2.10/32"]}}
    merged = "mode: ipvs\nipvs:\n  strictARP: true\n  scheduler: rr\n  excludeCIDRs: [192.0.2.10/32]\n"
    assert lifecycle.kube_proxy_restore(merged, patch, before)[0] == before
    assert lifecycle.kube_proxy_restore(before, patch, before)[0] is None
    text, how = lifecycle.kube_proxy_restore(merged, patch)
    assert yaml.safe_load(text) == {"ipvs": {"scheduler": "rr"}} and "no record" in how
    # not every setting of ours there (changed since, or put back already: kubeadm's own strictARP and mode stay)
    changed = "mode: iptables\nipvs:\n  excludeCIDRs: [198.51.100.0/24]\n"
    assert lifecycle.kube_proxy_restore(changed, patch)[0] is None
    assert lifecycle.kube_proxy_restore(before, patch) == (None, "baremetal.vip's settings are not all there: left alone")


ADDRESSES = {"cp1": [{"address": "192.0.2.11"}, {"address": "192.0.2.10"}], "cp2": [{"address": "192.0.2.12"}]}


def test_removal_moves_the_vip_of_its_holder_and_drops_it_from_the_daemonsets(plan):
    out = lifecycle.removal(plan, "cp1", ADDRESSES)
    assert out["holds_vip"] and out["control_plane"] and "cp1" not in out["remaining_control_plane"]
    assert lifecycle.removal(plan, "cp2", ADDRESSES)["holds_vip"] is False
    after = lifecycle.plan_without(plan, "w1")
    services = render.kube_vip_services(after, "default")
    daemonset = [o for o in services if o["kind"] == "DaemonSet"][0]
    terms = daemonset["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    names = terms["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"]
    assert plan["nodes"]["w1"]["node_name"] not in names and names


def test_removal_refuses_unknown_last_control_plane_and_last_services_nodes():
    with pytest.raises(ValueError, match=r"vip_remove_node is 'cp9', which is not a node of the plan \(cp1, cp2"):
        lifecycle.removal(lab_plan(), "cp9")
    lone = lab_plan()
    for host in ("cp2", "cp3"):
        lone["nodes"][host]["control_plane"] = False
    lone["services"]["kube_vip"]["hosts"] = ["w1"]
    with pytest.raises(ValueError) as info:
        lifecycle.removal(lone, "cp1")
    assert "vip_remove_node is cp1, the last control-plane node of the plan (kube_control_plane: cp1)" in str(info.value)
    with pytest.raises(ValueError) as info:
        lifecycle.removal(lone, "w1")
    assert "vip_remove_node is w1, the last node of the services kube-vip (vip_services.placement" in str(info.value)

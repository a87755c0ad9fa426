"""verify.yml's "who holds each VIP" lines (verdicts.holder_lines, filter vip_holder_summary), from real reports."""
from ansible_collections.baremetal.vip.plugins.filter.verdicts import FilterModule
from ansible_collections.baremetal.vip.plugins.plugin_utils import verdicts


def _check(vip=(), service_vips=()):
    return {"changed": False, "vip_interfaces": list(vip), "findings": [], "notes": [],
            "service_vips": [{"address": a, "prefix": 32, "interface": "eth0"} for a in service_vips]}


def _lease(name, holder, namespace, expired=False):
    return {"name": name, "namespace": namespace, "present": holder is not None, "holder": holder, "expired": expired}


def _cluster(cp_holder, web_holder, web_expired=False):
    web = {"namespace": "default", "name": "web", "load_balancer_class": None, "external_traffic_policy": "Cluster",
           "ingress_ips": ["198.51.100.1"], "requested_ips": [], "lease_name": "kubevip-web",
           "lease": _lease("kubevip-web", web_holder, "default", web_expired), "endpoints": [], "endpoints_error": None}
    return {"leases": {"control_plane": _lease("plndr-cp-lock", cp_holder, "kube-system"),
                       "services": _lease("plndr-svcs-lock", None, "kube-system")},
            "services": [web], "kube_vip": {"pods": []}}


def test_one_line_per_vip_control_plane_first(plan):
    checks = {"cp1": _check(vip=["eth0"]), "cp2": _check(), "cp3": _check(),
              "w1": _check(service_vips=["198.51.100.1"]), "w2": _check(service_vips=["198.51.100.1"])}
    report = verdicts.verify_report(plan, checks, _cluster("cp2", "w1", web_expired=True))
    assert verdicts.holder_lines(report) == [
        "VIP 192.0.2.10 on cp1; lease kube-system/plndr-cp-lock held by cp2",
        "Service VIP 198.51.100.1 (default/web) on w1, w2; lease default/kubevip-web held by w1 (expired)"]


def test_nobody_and_no_node(plan):
    checks = {"cp1": _check(), "cp2": _check(), "cp3": _check(), "w1": _check(), "w2": _check()}
    report = verdicts.verify_report(plan, checks, _cluster(None, None))
    assert FilterModule().filters()["vip_holder_summary"](report) == [
        "VIP 192.0.2.10 on no node; lease kube-system/plndr-cp-lock held by nobody",
        "Service VIP 198.51.100.1 (default/web) on no node; lease default/kubevip-web held by nobody"]


def test_no_cluster_read_no_lines():
    assert verdicts.holder_lines({"vips": [], "service_vips": []}) == []

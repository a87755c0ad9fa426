"""vip_check's judgement of one node (module_utils/vipcheck.py), without a kernel: state dicts in, findings out."""
import pytest

from ansible_collections.baremetal.vip.plugins.module_utils import vipcheck
from ansible_collections.baremetal.vip.plugins.module_utils.reconcile import VipError

CP = {"address": "192.0.2.10", "prefix": None, "mode": "arp"}
IPVS = {"address": "192.0.2.10", "port": 6443, "protocol": "tcp", "scheduler": "rr",
        "real_servers": [{"address": a, "port": 6443, "weight": 1, "forward_method": None} for a in ("192.0.2.11", "192.0.2.12")]}


def addr(address, dev="eth0", prefix=32):
    return {"address": address, "prefix": prefix, "interface": dev, "family": "ipv4", "scope": "global"}


def route(dst, dev="eth0", table=198, proto=248):
    return {"destination": dst, "interface": dev, "table": table, "protocol": proto, "type": "unicast", "scope": 253,
            "family": "ipv4", "gateway": None}


def kernel_service(dests=("192.0.2.11", "192.0.2.12"), scheduler="rr"):
    return {"address": "192.0.2.10", "port": 6443, "protocol": "tcp", "scheduler": scheduler, "family": "ipv4", "fwmark": None,
            "real_servers": [{"address": d, "port": 6443, "weight": 1, "forward_method": "masquerade"} for d in dests]}


def state(addresses=(), routes=(), legacy=(), ipvs=None, sysctls=None):
    return {"addresses": [addr("192.0.2.11")] + list(addresses), "routes": list(routes), "legacy_routes": list(legacy),
            "ipvs_available": ipvs is not None, "ipvs_services": list(ipvs or []), "sysctls": dict(sysctls or {})}


def params(**kw):
    out = {"table": 198, "protocol": 248, "control_plane": CP, "service_ranges": ["198.51.100.0/28"],
           "control_plane_only": False, "protected_addresses": ["192.0.2.11"], "watch_addresses": [], "keep_routes": [],
           "ipvs_service": None, "sysctls": {}}
    out.update(kw)
    return out


def test_healthy_holder():
    out = vipcheck.judge_node(params(ipvs_service=IPVS, sysctls={"net.ipv4.conf.all.arp_ignore": "1"}),
                              state([addr("192.0.2.10")], ipvs=[kernel_service()], sysctls={"net.ipv4.conf.all.arp_ignore": "1"}))
    assert out == {"changed": False, "vip_interfaces": ["eth0"], "service_vips": [], "findings": [], "notes": [],
                   "interface_macs": {}, "ipvs_available": True, "static_pod": None, "routes": [],
                   "sysctls": {"net.ipv4.conf.all.arp_ignore": "1"}}


def test_macs_of_the_interfaces_holding_vips_are_returned():
    current = dict(state([addr("192.0.2.10"), addr("198.51.100.3", dev="eth1")]),
                   macs={"lo": "00:00:00:00:00:00", "eth0": "02:00:00:00:00:01", "eth1": "02:00:00:00:00:02", "eth9": "x"})
    assert vipcheck.judge_node(params(), current)["interface_macs"] == {"eth0": "02:00:00:00:00:01", "eth1": "02:00:00:00:00:02"}


def test_vip_with_another_prefix_is_not_the_vip():
    assert vipcheck.judge_node(params(), state([addr("192.0.2.10", prefix=24)]))["vip_interfaces"] == []


def test_routing_table_mode_vip_is_its_route_and_never_stale():
    out = vipcheck.judge_node(params(control_plane=dict(CP, mode="routing_table")),
                              state(routes=[route("192.0.2.10/32"), route("198.51.100.3/32")]))
    assert out["vip_interfaces"] == ["eth0"]
    assert out["findings"] == ["stale route 198.51.100.3/32 dev eth0 table 198 proto 248"]
    # what remediation reads: kube-vip's routes as they are, judged or not
    assert out["routes"] == [{"destination": d, "interface": "eth0"} for d in ("192.0.2.10/32", "198.51.100.3/32")]


def test_service_vips_on_a_control_plane_only_node():
    current = state([addr("198.51.100.2"), addr("198.51.100.40"), addr("203.0.113.9")])
    out = vipcheck.judge_node(params(control_plane_only=True, watch_addresses=["203.0.113.9"]), current)
    assert out["findings"] == ["Service VIP 198.51.100.2/32 on eth0 of a control-plane-only node"]
    assert [a["address"] for a in out["service_vips"]] == ["198.51.100.2", "203.0.113.9"]
    assert vipcheck.judge_node(params(), current)["findings"] == []  # a worker may hold it


def test_stale_routes_kept_routes_and_foreign_routes():
    routes = [route("198.51.100.1/32"), route("198.51.100.3/32"), route("198.51.100.4/32", dev="eth1")]
    legacy = [route("198.51.100.13/32", proto=4)]
    out = vipcheck.judge_node(params(keep_routes=[{"destination": "198.51.100.1", "interface": "eth0"},
                                                  {"destination": "198.51.100.4", "interface": None}]),
                              state(routes=routes, legacy=legacy))
    assert out["findings"] == ["stale route 198.51.100.3/32 dev eth0 table 198 proto 248"]
    assert out["notes"] == ["route 198.51.100.13/32 table 198 proto 4 (not kube-vip protocol; left alone)"]
    moved = vipcheck.judge_node(params(keep_routes=[{"destination": "198.51.100.1", "interface": "eth1"}]),
                                state(routes=[route("198.51.100.1/32")]))
    assert moved["findings"] == ["stale route 198.51.100.1/32 dev eth0 table 198 proto 248"]  # kept on eth1 only


def test_a_route_kept_but_missing_is_not_added_even_beside_a_legacy_route():
    out = vipcheck.judge_node(params(keep_routes=[{"destination": "198.51.100.13", "interface": "eth0"}]),
                              state(legacy=[route("198.51.100.13/32", proto=4)]))
    assert out["findings"] == []


def test_ipvs_missing_on_the_holder_and_present_elsewhere():
    holder = vipcheck.judge_node(params(ipvs_service=IPVS), state([addr("192.0.2.10")], ipvs=[]))
    assert holder["findings"] == ["IPVS service 192.0.2.10:6443 missing on the VIP holder"]
    other = vipcheck.judge_node(params(ipvs_service=IPVS), state(ipvs=[kernel_service()]))
    assert other["findings"] == ["IPVS service 192.0.2.10:6443 on a node that does not hold the VIP"]


def test_ipvs_real_servers_and_scheduler_differ():
    out = vipcheck.judge_node(params(ipvs_service=IPVS), state([addr("192.0.2.10")], ipvs=[kernel_service(("192.0.2.11",), "wrr")]))
    assert [f.split(":")[0] for f in out["findings"]] == ["IPVS schedulers", "IPVS real_servers_added"]
    assert "192.0.2.12" in out["findings"][1]


def test_ipvs_foreign_services_are_not_judged_and_no_ipvs_is_a_note():
    foreign = dict(kernel_service(), address="203.0.113.70")
    assert vipcheck.judge_node(params(ipvs_service=IPVS), state(ipvs=[foreign]))["findings"] == []
    out = vipcheck.judge_node(params(ipvs_service=IPVS), state([addr("192.0.2.10")]))
    assert out["findings"] == [] and out["notes"] == ["IPVS not checked: this kernel has no IPVS"]


def test_sysctls_differ_or_unreadable():
    want = {"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": 2}
    out = vipcheck.judge_node(params(sysctls=want), state(sysctls={"net.ipv4.conf.all.arp_ignore": "0",
                                                                   "net.ipv4.conf.all.arp_announce": None}))
    assert out["findings"] == ["sysctl net.ipv4.conf.all.arp_announce is unreadable, the plan wants 2",
                               "sysctl net.ipv4.conf.all.arp_ignore is 0, the plan wants 1"]


def test_read_sysctls_from_a_tree(tmp_path):
    conf = tmp_path / "net" / "ipv4" / "conf" / "all"
    conf.mkdir(parents=True)
    (conf / "arp_ignore").write_text("1\n")
    assert vipcheck.read_sysctls(["net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.missing"], root=str(tmp_path)) == {
        "net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.missing": None}


@pytest.mark.parametrize("bad,message", [
    ({"table": 254}, "refusing to remove routes from table 254"),
    ({"protocol": 4}, "refusing to remove routes of protocol 4"),
    ({"watch_addresses": ["nope"]}, "watch_addresses[0]"),
    ({"keep_routes": [{"destination": "198.51.100.0/24", "interface": "eth0"}]}, "is not a host route"),
])
def test_bad_options_say_which(bad, message):
    with pytest.raises(VipError, match=message.replace("[", r"\[").replace("]", r"\]")):
        if "table" in bad or "protocol" in bad:
            vipcheck.check_node(params(**bad))
        vipcheck.judge_node(params(**bad), state(routes=[route("198.51.100.1/32")]))


# --------------------------------------------------------------------------- the control-plane static pod (failure 2)

STATIC = {"path": "/etc/kubernetes/manifests/kube-vip.yaml", "svc_enable": False,
          "services_owner": "the services DaemonSet kube-system/kube-vip-ds"}


def write_pod(tmp_path, env, name="kube-vip"):
    path = tmp_path / "kube-vip.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: kube-vip, namespace: kube-system}\nspec:\n  containers:\n"
                    "  - name: %s\n    env:\n%s" % (name, "".join("    - {name: %s, value: %s}\n" % (k, v) for k, v in env)))
    return str(path)


def test_static_pod_with_svc_enable_true_is_a_finding(tmp_path):
    path = write_pod(tmp_path, [("cp_enable", '"true"'), ("svc_enable", '"true"'), ("bgp_peerpass", "s3cret")])
    pod = vipcheck.read_static_pod(path)
    out = vipcheck.judge_node(params(static_pod=dict(STATIC, path=path)), dict(state(), static_pod=pod))
    assert out["findings"] == ['control-plane kube-vip static pod %s has env svc_enable "true", the plan wants "false" '
                               "(Services are handled by the services DaemonSet kube-system/kube-vip-ds)" % path]
    assert out["static_pod"] == {"path": path, "present": True, "error": None, "svc_enable": "true"}
    assert "s3cret" not in repr(out)


def test_static_pod_with_svc_enable_off_or_absent_passes(tmp_path):
    for env in ([("svc_enable", '"false"')], [("cp_enable", '"true"')], [("svc_enable", '"False"')]):
        path = write_pod(tmp_path, env)
        out = vipcheck.judge_node(params(static_pod=dict(STATIC, path=path)), dict(state(), static_pod=vipcheck.read_static_pod(path)))
        assert out["findings"] == [], env
    path = write_pod(tmp_path, [("svc_enable", '"true"')])
    unjudged = dict(STATIC, path=path, svc_enable=None)  # the plan has no other Service provider
    assert vipcheck.judge_node(params(static_pod=unjudged), dict(state(), static_pod=vipcheck.read_static_pod(path)))["findings"] == []


def test_static_pod_missing_or_broken(tmp_path):
    path = str(tmp_path / "absent.yaml")
    out = vipcheck.judge_node(params(static_pod=dict(STATIC, path=path)), dict(state(), static_pod=vipcheck.read_static_pod(path)))
    assert out["findings"] == ["control-plane kube-vip static pod %s is missing (the plan runs kube-vip as a static pod on "
                               "this control-plane node)" % path]
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [unclosed\n")
    pod = vipcheck.read_static_pod(str(broken))
    assert pod["present"] is True and pod["error"].startswith("%s does not parse as a Pod" % broken)
    assert vipcheck.judge_node(params(static_pod=dict(STATIC, path=str(broken))), dict(state(), static_pod=pod))["findings"] == [
        "control-plane kube-vip static pod: " + pod["error"]]
    unreadable = vipcheck.read_static_pod(str(tmp_path))  # a directory: not ENOENT, said
    assert unreadable["present"] is False and unreadable["error"].startswith("reading %s" % tmp_path)

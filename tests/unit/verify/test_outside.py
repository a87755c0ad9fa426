"""verify.yml's checks from outside the nodes, on the controller (plugin_utils/outside.py), on the lab's plan."""
from ansible_collections.baremetal.vip.plugins.filter.outside import vip_outside_summary
from ansible_collections.baremetal.vip.plugins.plugin_utils import outside

from testkit.verify_cases import lab_plan

CP1, W1 = "02:00:00:00:00:01", "02:00:00:00:00:21"


def check(vip=(), service_vips=(), macs=None):
    return {"findings": [], "notes": [], "vip_interfaces": list(vip),
            "service_vips": [{"address": a, "prefix": 32, "interface": "eth0"} for a in service_vips],
            "interface_macs": macs or {}}


CHECKS = {"cp1": check(vip=["eth0"], macs={"eth0": CP1}), "cp2": check(), "cp3": check(),
          "w1": check(service_vips=["198.51.100.1"], macs={"eth0": W1}), "w2": None}
REPORT = {"ok": True, "problems": [], "service_vips": [{"service": "default/web", "address": "198.51.100.1",
                                                        "holders": ["w1"]}]}


def kubeconfig(tmp_path, server):
    path = tmp_path / "admin.conf"
    path.write_text("clusters:\n- name: k\n  cluster: {server: '%s', certificate-authority-data: QUFB}\n"
                    "contexts:\n- name: c\n  context: {cluster: k}\ncurrent-context: c\n" % server)
    return str(path)


def test_vips_carry_their_holders_macs_and_the_api_uses_the_kubeconfig_that_talks_to_the_vip(tmp_path):
    config = kubeconfig(tmp_path, "https://192.0.2.10:6443")
    options = outside.probe_options(lab_plan(), REPORT, CHECKS, config)
    assert options["enabled"] is True and options["vantage"] == "localhost" and options["timeout_ms"] == 1000
    assert options["vips"] == [
        {"address": "192.0.2.10", "label": "control-plane VIP", "expected": [{"mac": CP1, "host": "cp1"}]},
        {"address": "198.51.100.1", "label": "Service VIP (default/web)", "expected": [{"mac": W1, "host": "w1"}]}]
    assert options["api"] == {"address": "192.0.2.10", "port": 6443, "kubeconfig": config}


def test_the_api_ca_is_not_guessed(tmp_path):
    other = kubeconfig(tmp_path, "https://203.0.113.7:443")
    api = outside.probe_options(lab_plan(), REPORT, CHECKS, other)["api"]
    assert "kubeconfig" not in api and "talks to https://203.0.113.7:443, not to the control-plane VIP" in api["ca_missing"]
    assert "no kubeconfig" in outside.probe_options(lab_plan(), REPORT, CHECKS, None)["api"]["ca_missing"]
    elsewhere = lab_plan(vip_verify_outside={"vantage": "w2"})
    assert "not on the vantage point w2" in outside.probe_options(elsewhere, REPORT, CHECKS, other)["api"]["ca_missing"]
    given = lab_plan(vip_verify_outside={"vantage": "w2", "ca_file": "/etc/kubernetes/pki/ca.crt"})
    assert outside.probe_options(given, REPORT, CHECKS, other)["api"] == {
        "address": "192.0.2.10", "port": 6443, "ca_file": "/etc/kubernetes/pki/ca.crt"}


def test_no_holder_expects_no_answer_and_bgp_vips_are_not_asked():
    nobody = dict(CHECKS, cp1=check())
    assert outside.probe_options(lab_plan(), REPORT, nobody)["vips"][0]["expected"] == []
    bgp = outside.probe_options(lab_plan(vip_control_plane={"mode": "bgp"}, vip_bgp={"local_as": 65000, "peers": [
        {"address": "192.0.2.1", "as": 65001}]}), {"service_vips": []}, CHECKS)
    assert bgp["vips"] == [] and bgp["api"]["address"] == "192.0.2.10"


def test_metallb_l2_addresses_are_asked_for_the_number_of_macs_only():
    report = dict(REPORT, service_vips=[], metallb_l2_vips=[
        {"service": "default/mlb-web", "address": "198.51.100.14", "pool": "public"}])
    options = outside.probe_options(lab_plan(), report, CHECKS)
    assert options["vips"][1:] == [{"address": "198.51.100.14",
                                    "label": "MetalLB L2 Service address (default/mlb-web, pool public)"}]


def test_findings_become_problems_prefixed_with_the_vantage_point():
    probe = {"changed": False, "vips": [{"address": "192.0.2.10", "count": 2}], "api": {"ok": True},
             "findings": ["control-plane VIP 192.0.2.10: 2 MAC addresses answer ARP on br0"], "notes": ["n"]}
    report = outside.outside_report(REPORT, probe, {"enabled": True, "vantage": "localhost"})
    assert report["ok"] is False
    assert report["problems"] == ["outside (from localhost): control-plane VIP 192.0.2.10: 2 MAC addresses answer ARP on br0"]
    assert report["outside"]["vips"] == probe["vips"] and report["outside"]["notes"] == ["n"] and report["outside"]["checked"]
    clean = outside.outside_report(REPORT, dict(probe, findings=[]), {"enabled": True, "vantage": "localhost"})
    assert clean["ok"] is True and clean["problems"] == []


def test_a_probe_that_could_not_ask_fails_the_report_and_a_disabled_one_is_a_note():
    failed = outside.outside_report(REPORT, {"failed": True, "msg": "asking who answers: Operation not permitted"},
                                    {"enabled": True, "vantage": "router1"})
    assert failed["ok"] is False and failed["problems"] == [
        "outside (from router1): vip_probe could not ask: asking who answers: Operation not permitted"]
    off = outside.outside_report(REPORT, {"skipped": True}, {"enabled": False, "vantage": "localhost"})
    assert off["ok"] is True and off["outside"]["checked"] is False and "enabled: false" in off["outside"]["notes"][0]


def test_the_summary_says_who_answers_each_vip_and_how_the_api_answered():
    """verify.yml's lines of the outside checks (plugin_utils/outside.outside_lines, filter vip_outside_summary)."""
    report = {"outside": {"checked": True, "vips": [
        {"label": "control-plane VIP", "address": "192.0.2.10", "count": 1, "macs": [CP1], "holder": "cp1"},
        {"label": "Service VIP (default/web)", "address": "198.51.100.1", "count": 0, "macs": [], "holder": None},
        {"label": "Service VIP (default/db)", "address": "198.51.100.2",
         "note": "Service VIP (default/db) 198.51.100.2: ARP not checked: the vantage point holds the address itself"}],
        "api": {"address": "192.0.2.10", "port": 6443, "tls": True, "readyz_status": 200}}}
    assert vip_outside_summary(report) == [
        "control-plane VIP 192.0.2.10: 1 MAC(s) answer (02:00:00:00:00:01); holder cp1",
        "Service VIP (default/web) 198.51.100.1: 0 MAC(s) answer",
        "Service VIP (default/db) 198.51.100.2: ARP not checked: the vantage point holds the address itself",
        "API 192.0.2.10:6443: TLS verified, /readyz 200"]
    report["outside"]["api"] = {"address": "192.0.2.10", "port": 6443, "tls": False, "readyz_status": None}
    assert vip_outside_summary(report)[-1] == "API 192.0.2.10:6443: TLS failed, /readyz None"
    note = "API 192.0.2.10:6443: TLS not checked: no kubeconfig and no vip_verify_outside.ca_file give the cluster CA"
    report["outside"]["api"] = {"address": "192.0.2.10", "port": 6443, "note": note}  # as vipprobe.judge_api words it
    assert vip_outside_summary(report)[-1] == note  # said once, not "API 192.0.2.10:6443: API 192.0.2.10:6443: ..."
    assert vip_outside_summary({"outside": {"vips": [], "api": None}}) == []

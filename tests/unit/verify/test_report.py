"""verify.yml's last step on the controller (plugin_utils/report.py, action baremetal.vip.vip_report)."""
import json
import os

import pytest
from ansible.plugins.filter.core import to_nice_json

from ansible_collections.baremetal.vip.plugins.plugin_utils import report as report_utils

PROBE = {"changed": False, "vips": [{"address": "192.0.2.10", "label": "control-plane VIP", "count": 2,
                                     "macs": ["02:00:00:00:00:01", "02:00:00:00:00:02"]}], "api": None,
         "findings": ["control-plane VIP 192.0.2.10: 2 MAC addresses answer ARP on br0"], "notes": []}
OPTIONS = {"enabled": True, "vantage": "router1"}
REPORT = {"ok": True, "problems": [], "kubeconfig": {"path": None, "source": "none"},
          "vips": [{"address": "192.0.2.10", "holders": ["cp1"], "lease": "plndr-cp-lock", "lease_holder": "cp1"}],
          "service_vips": []}


def test_without_probe_options_the_report_is_kept_and_only_the_outside_lines_need_a_probe():
    assert report_utils.finish(REPORT) == REPORT
    assert report_utils.summary_lines(REPORT) == []  # no kubeconfig, no outside checks: nothing to show


def test_the_probe_fails_the_report_and_its_vip_is_shown():
    done = report_utils.finish(REPORT, PROBE, OPTIONS)
    assert done["ok"] is False and done["problems"] == ["outside (from router1): " + PROBE["findings"][0]]
    assert report_utils.summary_lines(done) == [
        "control-plane VIP 192.0.2.10: 2 MAC(s) answer (02:00:00:00:00:01, 02:00:00:00:00:02)"]


def test_holders_and_leases_are_shown_only_when_the_cluster_was_read_through_a_kubeconfig():
    read = dict(REPORT, kubeconfig={"path": "/root/.kube/config", "source": "vip_kubeconfig"})
    assert report_utils.summary_lines(read) == ["VIP 192.0.2.10 on cp1; lease plndr-cp-lock held by cp1"]
    both = report_utils.finish(read, dict(PROBE, findings=[]), OPTIONS)
    assert both["ok"] is True and len(report_utils.summary_lines(both)) == 2


def test_the_file_holds_what_to_nice_json_gave_the_copy_task_before():
    assert report_utils.report_text(REPORT) == to_nice_json(REPORT) + "\n"


def test_write_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path):
    path = str(tmp_path / "report.json")
    assert report_utils.read_text(path) is None
    report_utils.write_text(path, "old\n")
    report_utils.write_text(path, report_utils.report_text(REPORT))
    assert json.loads(report_utils.read_text(path)) == REPORT
    assert oct(os.stat(path).st_mode & 0o777) == "0o644" and os.listdir(str(tmp_path)) == ["report.json"]
    with pytest.raises(OSError):
        report_utils.write_text(str(tmp_path / "missing" / "report.json"), "x")
    assert os.listdir(str(tmp_path)) == ["report.json"]

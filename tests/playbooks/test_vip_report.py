# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action baremetal.vip.vip_report through real ansible-playbook runs on the controller (localhost, no host):
the file written once and left alone when it holds the same report, check mode and diff, the outside figures, and
the errors naming what was being done with which values."""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from testkit.ansible import JSON_CALLBACK, ansible_env

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(TOP, ".venv", "bin")
REPORT = {"ok": True, "problems": [], "kubeconfig": {"path": "/root/.kube/config", "source": "vip_kubeconfig"},
          "vips": [{"address": "192.0.2.10", "holders": ["cp1"], "lease": "plndr-cp-lock", "lease_holder": "cp1"}],
          "service_vips": []}
PROBE = {"changed": False, "findings": ["control-plane VIP 192.0.2.10: 2 MAC addresses answer ARP on br0"], "notes": [],
         "vips": [{"address": "192.0.2.10", "label": "control-plane VIP", "count": 2,
                   "macs": ["02:00:00:00:00:01", "02:00:00:00:00:02"]}], "api": None}


def run(tmp_path, args, *extra):
    """The task's result (ansible.posix.json callback) of one vip_report task on localhost with ``args``."""
    book = tmp_path / "report.yml"
    book.write_text(yaml.safe_dump([{"name": "vip_report", "hosts": "localhost", "gather_facts": False,
                                     "tasks": [{"name": "Finish the report", "baremetal.vip.vip_report": args}]}]))
    env = ansible_env(ANSIBLE_FORCE_COLOR="0", **JSON_CALLBACK)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(book)] + list(extra),
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120, check=False)
    try:
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError("no task result (rc %d): %s %s" % (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])) from exc


def test_the_file_is_written_once_then_left_alone_and_check_mode_writes_nothing(tmp_path):
    dest = tmp_path / "out" / "report.json"
    dest.parent.mkdir()
    checked = run(tmp_path, {"report": REPORT, "dest": "out/report.json"}, "--check", "--diff")
    assert checked["changed"] is True and not dest.exists()  # relative to where ansible-playbook started
    assert checked["dest"] == str(dest) and json.loads(checked["diff"]["after"]) == REPORT and checked["diff"]["before"] == ""
    first = run(tmp_path, {"report": REPORT, "dest": str(dest)})
    assert first["changed"] is True and json.loads(dest.read_text()) == REPORT == first["report"]
    assert oct(dest.stat().st_mode & 0o777) == "0o644"
    assert first["summary"] == ["VIP 192.0.2.10 on cp1; lease plndr-cp-lock held by cp1"]
    again = run(tmp_path, {"report": REPORT, "dest": str(dest)}, "--diff")
    assert again["changed"] is False and "diff" not in again
    assert sorted(os.listdir(str(dest.parent))) == ["report.json"]


def test_the_probe_adds_the_outside_figures_and_fails_the_report(tmp_path):
    done = run(tmp_path, {"report": REPORT, "probe": PROBE, "probe_options": {"enabled": True, "vantage": "router1"}})
    assert done["changed"] is False and done["dest"] is None
    assert done["report"]["ok"] is False and done["report"]["outside"]["vantage"] == "router1"
    assert done["report"]["problems"] == ["outside (from router1): " + PROBE["findings"][0]]
    assert done["summary"][-1] == "control-plane VIP 192.0.2.10: 2 MAC(s) answer (02:00:00:00:00:01, 02:00:00:00:00:02)"


def test_errors_say_what_was_being_done_and_with_which_values(tmp_path):
    missing = run(tmp_path, {"report": REPORT, "dest": str(tmp_path / "nowhere" / "report.json")})
    assert missing["failed"] is True
    assert missing["msg"].startswith("vip_report: writing the report to %s: " % (tmp_path / "nowhere" / "report.json"))
    unknown = run(tmp_path, {"report": REPORT, "destination": "x"})
    assert unknown["failed"] is True and "destination" in unknown["msg"] and "Unsupported parameters" in unknown["msg"]
    bad = run(tmp_path, {"report": REPORT, "probe": {"findings": 5}, "probe_options": {"enabled": True}})
    assert bad["failed"] is True and bad["msg"].startswith("vip_report: adding the outside checks' figures to the report")

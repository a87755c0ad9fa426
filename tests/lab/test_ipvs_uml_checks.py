# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The checks of the real UML IPVS scenario (ipvs_real_uml.Outcome) refuse each way the real run can go wrong, and the
kube-proxy runner runs kubeadm's DaemonSet command (kubeadm v1.31.0
cmd/kubeadm/app/phases/addons/proxy/manifests.go KubeProxyDaemonSet19). No root, no guest: fed with files as
the guest writes them."""

from __future__ import annotations

import json

import pytest


import ipvs_real_uml as ipvs_uml  # noqa: E402  pylint: disable=wrong-import-position,import-error
import kube_proxy_runner  # noqa: E402  pylint: disable=wrong-import-position,import-error

SERVICE = "IP Virtual Server version 1.2.1\nProt LocalAddress:Port Scheduler Flags\nTCP  192.0.2.10:6443 rr\n" \
          "  -> 192.0.2.11:6443              Local   1      0          0\n"
EMPTY = "IP Virtual Server version 1.2.1\nProt LocalAddress:Port Scheduler Flags\n"


class FakeResult:  # pylint: disable=too-few-public-methods
    """What uml.run returns, with the files a good guest run leaves."""

    def __init__(self, files, rc=0):
        self.files, self.rc, self.seconds, self.console = files, rc, 1.0, ""


def good_files():
    problems = [ipvs_uml.MISSING, "ConfigMap kube-system/kube-proxy config.conf " + ipvs_uml.CAUSE + "; the plan wants x"]
    files = {
        "steps": "up 0\nedit 0\nverify 2\nremediate 0\nverify-after 0\ndown 0\n",
        "times": "up-start 1\nup-end 2\nkube-proxy-start 3\ndeleted 4\nrestarted 9\nwitness-after-sync1 10\n",
        "ipvs-kube-vip.txt": SERVICE, "ipvs-deleted.txt": EMPTY, "ipvs-remediated.txt": SERVICE,
        "ipvs-after-sync1.txt": SERVICE, "ipvs-after-sync2.txt": SERVICE,
        "last-sync-after-sync1.txt": "1.79658588e+09\n", "last-sync-after-sync2.txt": "1.79658589e+09\n",
        "kube-proxy-status.json": json.dumps({"starts": [
            {"exclude_cidrs": None, "restarted_at": None},
            {"exclude_cidrs": ["192.0.2.10/32"], "restarted_at": "2026-12-06T15:00:00Z"}]}),
        "report.json": json.dumps({"ok": False, "problems": problems}),
        "report-after.json": json.dumps({"ok": True, "problems": []}),
    }
    return files


def test_a_good_run_has_no_problems_and_reports_its_times():
    outcome = ipvs_uml.Outcome(FakeResult(good_files()))
    assert outcome.problems == []
    assert outcome.seconds("kube-proxy-start", "deleted") == 1.0
    assert "kube-proxy start to deletion 1.0" in outcome.text()


@pytest.mark.parametrize("change, expected", [
    ({"ipvs-deleted.txt": SERVICE}, "did not delete"),
    ({"ipvs-kube-vip.txt": EMPTY}, "did not put its IPVS service"),
    ({"ipvs-after-sync2.txt": EMPTY}, "at witness after-sync2"),
    ({"steps": "up 0\nedit 0\nverify 0\nremediate 0\nverify-after 0\ndown 0\n"}, "verify did not fail"),
    ({"report.json": json.dumps({"ok": False, "problems": [ipvs_uml.MISSING]})}, "lacks the cause"),
    ({"report-after.json": json.dumps({"ok": False, "problems": ["x"]})}, "verify after remediate did not pass"),
    ({"kube-proxy-status.json": json.dumps({"starts": [{"exclude_cidrs": None}]})}, "was not restarted"),
    ({"kube-proxy-status.json": json.dumps({"starts": [{}, {"exclude_cidrs": None, "restarted_at": "t"}]})},
     "did not read excludeCIDRs with the VIP"),
    ({"last-sync-after-sync2.txt": "1.79658588e+09\n"}, "did not sync between"),
    ({"last-sync-after-sync2.txt": ""}, "did not sync between"),
])
def test_each_way_the_run_can_go_wrong_is_a_problem(change, expected):
    files = good_files()
    files.update(change)
    problems = ipvs_uml.Outcome(FakeResult(files)).problems
    assert any(expected in p for p in problems), problems


def test_the_runner_runs_the_daemonsets_command_with_the_node_name_and_the_built_binary():
    template = {"spec": {"containers": [{"name": "kube-proxy", "command": [
        "/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"]}]}}
    assert kube_proxy_runner.command(template, "cp1", "/cache/kube-proxy") == [
        "/cache/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=cp1"]


@pytest.mark.parametrize("log, last_sync, expected", [
    ('E1206 proxier.go:963] "Failed to create dummy interface" err="operation not supported" interface="kube-ipvs0"',
     "", "dummy module"),
    ('E1206 proxier.go:1445] "Failed to execute iptables-restore" err="exit status 2"', "", "iptables-restore failed"),
    ('E1206 server.go:127] "Error running ProxyServer" err="can\'t use the IPVS proxier: x"', "", "refused IPVS"),
    ("I1206 server.go:677] \"Version info\"", "", "no sync of kube-proxy finished"),
    ("", "1.79658588e+09", "explain nothing"),
])
def test_a_run_where_kube_proxy_left_the_service_says_why(log, last_sync, expected):
    """kube-proxy v1.31.0 returns from syncProxyRules before cleanLegacyService after these errors
    (pkg/proxy/ipvs/proxier.go); the check names the one its log shows."""
    files = good_files()
    files.update({"ipvs-deleted.txt": SERVICE, "kube-proxy-deleted.log": log,
                  "last-sync-deleted.txt": last_sync})
    problems = ipvs_uml.Outcome(FakeResult(files)).problems
    found = [p for p in problems if "did not delete" in p]
    assert found and expected in found[0], problems

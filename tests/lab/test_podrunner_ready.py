# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""podrunner.py --ready: kubelet's Ready of a static pod, from the runner's status file (upgrade.yml's wait hook)."""

from __future__ import annotations

import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

import podrunner  # noqa: E402  pylint: disable=wrong-import-position


def lab_state(tmp_path, manifest=b"kind: Pod\n", digest=None, phase="Running", restarts=0, started=1000.0):
    node_dir = tmp_path / "nodes" / "cp1"
    node_dir.mkdir(parents=True)
    pod_file = node_dir / "kube-vip.yaml"
    pod_file.write_bytes(manifest)
    (tmp_path / "lab.json").write_text(json.dumps({"nodes": [{"name": "cp1", "dir": str(node_dir)}]}))
    status = {"pods": {"kube-vip": {
        "file": str(pod_file), "phase": phase, "error": None,
        "digest": digest or hashlib.sha256(manifest).hexdigest(),
        "containers": {"kube-vip": {"state": "running", "restarts": restarts, "last_exit": None, "reason": None,
                                    "started_epoch": started}}}}}
    (node_dir / "pods.json").write_text(json.dumps(status))
    return str(tmp_path)


def test_ready_when_the_current_manifest_runs_long_enough(tmp_path):
    assert podrunner.pod_ready(lab_state(tmp_path), "cp1", "kube-vip", 3, now=1004.0)[0] is True


def test_not_ready_too_soon_after_the_start(tmp_path):
    ready, why = podrunner.pod_ready(lab_state(tmp_path), "cp1", "kube-vip", 3, now=1001.0)
    assert not ready and "less than 3" in why


def test_not_ready_while_an_earlier_manifest_runs(tmp_path):
    ready, why = podrunner.pod_ready(lab_state(tmp_path, digest="0" * 64), "cp1", "kube-vip", 3, now=1100.0)
    assert not ready and "earlier version" in why


def test_not_ready_after_a_restart(tmp_path):
    ready, why = podrunner.pod_ready(lab_state(tmp_path, restarts=2), "cp1", "kube-vip", 3, now=1100.0)
    assert not ready and "restarted 2 times" in why


def test_not_ready_when_the_pod_is_not_run(tmp_path):
    ready, why = podrunner.pod_ready(lab_state(tmp_path), "cp1", "etcd", 3, now=1100.0)
    assert not ready and "not run" in why

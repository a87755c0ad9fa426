# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Smoke test of the benchmarks: `run.py --quick --only plan,routes` runs and reports figures.

No timing assertions: speed goals belong in the benchmark's table, not in a timed test. The
routes section needs root (it creates a network namespace).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
PYTHON = os.path.join(TOP, ".venv", "bin", "python")


def test_quick_bench_reports_plan_and_routes(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the routes benchmark needs root (network namespaces); a skip fails under CI=true")
    out = tmp_path / "bench.json"
    python = PYTHON if os.access(PYTHON, os.X_OK) else sys.executable
    proc = subprocess.run([python, os.path.join(HERE, "run.py"), "--quick", "--only", "plan,routes"],
                          env=dict(os.environ, BENCH_OUT=str(out)), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    data = json.loads(out.read_text())
    assert data["quick"] is True and data["sections"] == ["plan", "routes"] and data["failures"] == []
    assert {"date", "nproc", "kernel"} <= set(data["machine"])
    rows = data["rows"]
    assert {row["section"] for row in rows} == {"plan", "routes"}
    for row in rows:
        assert set(row) >= {"section", "case", "value", "unit", "reference", "ratio", "goal", "status"}, row
        assert row["value"] > 0, row
        if row["reference"] is not None:
            assert row["reference"] > 0 and row["ratio"] > 0, row
        assert row["status"] in ("", "MET", "MISSED"), row
    cases = " | ".join(row["case"] for row in rows)
    assert "vip_routes logic" in cases and "vip_routes process" in cases and "build_plan" in cases, cases
    routes = data["details"]["routes"]
    assert routes and all(entry["per_route_logic_seconds"] > 0 for entry in routes.values())
    assert {"read", "decide", "apply", "read_again"} <= set(next(iter(routes.values()))["phases_one_run"])
    assert "build_plan" in proc.stdout and "vip_routes logic" in proc.stdout

#!/usr/bin/env python
# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmarks of the collection's cost as its work grows (`make bench`).

Every figure is a ratio to a reference measured in the same run (median of a few runs), printed
in one table with its goal and MET / MISSED; with BENCH_OUT=path the table is also written as
JSON. Sections (--only a,b; --quick for small sizes, about a minute):

  routes  vip_routes' logic vs `ip -n NS -batch FILE` deleting the same orphans (root)
  ipvs    ipvs_service's logic vs `ipvsadm -R` in User-Mode Linux (root, user-mode-linux)
  facts   vip_facts with 50,000 routes in other tables vs none (root)
  fleet   playbooks/verify.yml vs `ansible -m ping` on lab nodes (root)
  task    one vip_routes task (50,000 routes) through ansible-playbook vs ip -batch via the command module (root)
  remediate  playbooks/remediate.yml vs verify.yml on a drifted lab, 5 / 20 / 100 nodes (root)
  naive   a loop of `ip route del` command tasks, per orphan (root)
  plan    build_plan at 1,000 / 10,000 / 100,000 pools
  lab     the real lab (3 control-plane nodes) per leader-election profile: SIGKILL failover and a partition
          of the VIP holder (failure 4): seconds until another node holds the VIP, and how long it is on
          two nodes and on none (root, the real binaries)

Numbers are noisy on a shared machine: see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "kernel"))
sys.path.insert(0, os.path.dirname(HERE))  # testkit

import benchlib  # noqa: E402  pylint: disable=wrong-import-position,import-error
from benchlib import BenchError, TOP, median  # noqa: E402  pylint: disable=wrong-import-position,import-error
from bench_host import bench_facts, bench_ipvs, bench_routes  # noqa: E402  pylint: disable=wrong-import-position,import-error
from bench_playbooks import bench_fleet, bench_naive, bench_remediate, bench_task  # noqa: E402  pylint: disable=wrong-import-position,import-error

SECTIONS = ("routes", "task", "ipvs", "facts", "fleet", "remediate", "naive", "plan", "lab", "upgrade")
ROOT_SECTIONS = ("routes", "task", "ipvs", "facts", "fleet", "remediate", "naive", "lab", "upgrade")
SIZES = {
    "routes": ([1000, 10000, 50000], [1000, 4000]),
    "facts": ((50000, 1000), (5000, 200)),
    "ipvs": (2000, 150),
    "fleet": ([20, 100], [3]),
    "remediate": ([5, 20, 100], [3]),
    "task": (50000, 4000),
    "naive": (50, 10),
    "plan": ([1000, 10000, 100000], [1000, 10000]),
    "lab": (("default", "partition_tolerant"), ("default",)),
}


class Report:
    """The rows of the table and the details behind them."""

    def __init__(self, quick):
        self.rows = []
        self.details = {}
        self.notes = []
        self.quick = quick

    def row(self, section, case, value, reference=None, ref_label="", goal=None, unit="s", note=""):
        """One figure. ``goal`` is a maximum for the ratio (or for the value when there is no reference)."""
        ratio = value / reference if reference else None
        measured = ratio if ratio is not None else value
        status = "" if goal is None else ("MET" if measured <= goal else "MISSED")
        self.rows.append({"section": section, "case": case, "value": value, "unit": unit, "reference": reference,
                          "reference_label": ref_label, "ratio": ratio, "goal": goal, "status": status, "note": note})
        print("  %-8s %-44s %s" % (section, case, _fmt_row(self.rows[-1])), flush=True)

    def table(self):
        """The final table as text."""
        header = ("section", "case", "measured", "reference", "ratio", "goal", "status", "reference is")
        lines = ["%-8s %-44s %12s %12s %9s %8s %-7s %s" % header]
        for row in self.rows:
            lines.append("%-8s %-44s %12s %12s %9s %8s %-7s %s" % (
                row["section"], row["case"], _num(row["value"], row["unit"]),
                _num(row["reference"], row["unit"]) if row["reference"] else "-",
                ("%.2fx" % row["ratio"]) if row["ratio"] is not None else "-",
                _goal(row), row["status"] or "-", row["reference_label"] + ((" (" + row["note"] + ")") if row["note"] else "")))
        return "\n".join(lines)


def _num(value, unit):
    if unit == "s":
        return "%.3f s" % value if value >= 0.1 else "%.2f ms" % (value * 1000) if value >= 0.001 else "%.1f us" % (value * 1e6)
    if unit == "x":
        return "%.2fx" % value
    return "%.3g %s" % (value, unit)


def _goal(row):
    if row["goal"] is None:
        return "-"
    if row["reference"] is None:
        return "<=%s" % _num(row["goal"], row["unit"])
    return "<=%.2fx" % row["goal"]


def _fmt_row(row):
    text = _num(row["value"], row["unit"])
    if row["ratio"] is not None:
        text += " vs %s = %.2fx" % (_num(row["reference"], row["unit"]), row["ratio"])
    if row["goal"] is not None:
        text += "  goal %s %s" % (_goal(row), row["status"])
    return text


# --------------------------------------------------------------------------- real lab windows

# lease duration, retry period of the plan's leader-election profiles; the bound is client-go's (see
# tests/lab/test_real_lab_profiles.py failover_bound): lease duration + 2 x 2.2 x retry period + 2 s
LAB_PROFILES = {"default": (15, 2), "partition_tolerant": (30, 5)}


def bench_lab(report, profiles, tmp):
    """Per profile, one three-node real lab: RealLab.partition (failure 4), then RealLab.failover (SIGKILL,
    runner paused): the same code as `lab.py partition` / `lab.py failover` and the tests. One run each: a
    bring-up costs minutes; the figures are seconds of a protocol, not of the collection's work."""
    lab = [benchlib.PYTHON, os.path.join(TOP, "tests", "lab", "lab.py")]
    sys.path.insert(0, os.path.join(TOP, "tests", "lab"))
    import reallab  # pylint: disable=import-outside-toplevel,import-error
    for profile in profiles:
        lease, retry = LAB_PROFILES[profile]
        bound = lease + 2 * 2.2 * retry + 2
        state = os.path.join(tmp, "lab-" + profile)
        inventory = reallab.profile_inventory(os.path.join(tmp, "inventory-%s.yml" % profile), profile)
        try:
            up = benchlib.run(lab + ["up", "--real", "--nodes", "cp1,cp2,cp3", "--example", inventory, "--state-dir", state],
                              check=False)
            if up.returncode != 0:
                raise BenchError("lab up --real (%s) failed: %s" % (profile, (up.stdout + up.stderr)[-2000:]))
            cut = json.loads(benchlib.run(lab + ["partition", "--state-dir", state]).stdout)
            killed = json.loads(benchlib.run(lab + ["failover", "--pause", "--state-dir", state]).stdout)
        finally:
            benchlib.run(lab + ["down", "--state-dir", state], check=False)
        report.details["lab-" + profile] = {"partition": cut, "failover": killed}
        report.row("lab", "%s: SIGKILL failover" % profile, killed["vip_moved_s"], goal=bound,
                   note="bound: lease + 2 x 2.2 x retry + 2 s")
        report.row("lab", "%s: partition, new holder" % profile, cut["new_holder_s"], goal=bound,
                   note="bound as above")
        report.row("lab", "%s: partition, VIP on 2 nodes" % profile, cut["two_holders_s"],
                   note="poll every %.2f s at most" % cut["poll_gap_max_s"])
        spans = ", ".join("%.1f-%.1f s" % (w["from_s"], w["to_s"]) for w in cut["no_holder_windows"])
        report.row("lab", "%s: partition, VIP on none" % profile, cut["no_holder_s"], note="windows %s" % (spans or "none"))


# --------------------------------------------------------------------------- plan

def bench_plan(report, sizes, repeat):
    """Section 5: build_plan on growing pool counts; growth vs n log n."""
    import plan_bench  # pylint: disable=import-outside-toplevel,import-error
    times = {}
    for size in sizes:
        args = plan_bench.inventory(size, 5)
        runs = []
        for _attempt in range(repeat if size < 100000 else max(1, repeat - 1)):
            seconds, result = benchlib.timed(plan_bench.build_plan, *args)
            if result["errors"]:
                raise BenchError("plan with %d pools: %s" % (size, result["errors"][0]))
            runs.append(seconds)
        times[size] = median(runs)
        report.row("plan", "build_plan, %d pools" % size, times[size], goal=1.0 if size == 10000 else None,
                   note="%d run(s)" % len(runs))
    report.details["plan"] = {"seconds": {str(k): v for k, v in times.items()}}
    first = sizes[0]
    for size in sizes[1:]:
        nlogn = (size * math.log(size)) / (first * math.log(first))
        report.row("plan", "growth %d -> %d pools, vs n log n" % (first, size), times[size] / times[first], nlogn,
                   "n log n growth (%.1fx)" % nlogn, 1.25, unit="x")


# --------------------------------------------------------------------------- main

def bench_upgrade(report):
    """playbooks/upgrade.yml on a real lab (tests/lab/upgrade_scenario.py, as tests/lab/test_real_upgrade.py runs it):
    kube-vip v1.0.0 -> v0.9.2 (setting up, not measured), then v0.9.2 -> v1.0.0 with the readyz client on the switch."""
    lab_dir = os.path.join(TOP, "tests", "lab")
    if lab_dir not in sys.path:
        sys.path.insert(0, lab_dir)
    import lab  # noqa: E402  pylint: disable=import-outside-toplevel,import-error
    import upgrade_scenario  # noqa: E402  pylint: disable=import-outside-toplevel,import-error
    state = tempfile.mkdtemp(prefix="vip-bench-upgrade-")
    lab_py = os.path.join(lab_dir, "lab.py")
    try:
        up = subprocess.run([sys.executable, lab_py, "up", "--real", "--nodes", "cp1,cp2,cp3,w1", "--state-dir", state],
                            capture_output=True, text=True, check=False)
        if up.returncode != 0:
            raise BenchError("lab.py up --real failed: %s" % (up.stdout + up.stderr)[-2000:])
        the_lab = lab.Lab(state)
        proc = upgrade_scenario.playbook(the_lab, "upgrade.yml", *upgrade_scenario.kube_vip_vars(the_lab, "0.9.2"))
        if proc.returncode != 0:
            raise BenchError("upgrade.yml to kube-vip 0.9.2 failed: %s" % proc.stdout[-2000:])
        proc, figures = upgrade_scenario.measured_upgrade(the_lab, "1.0.0")
        if proc.returncode != 0:
            raise BenchError("upgrade.yml to kube-vip 1.0.0 failed: %s" % proc.stdout[-2000:])
        report.details["upgrade"] = figures
        case = "kube-vip 0.9.2 -> 1.0.0, 3 control-plane nodes"
        report.row("upgrade", case + ": requests sent to https://VIP:6443/readyz", figures["sent"], unit="requests")
        report.row("upgrade", case + ": requests failed", figures["failed"], unit="requests", goal=0,
                   note="the holder is moved gracefully")
        report.row("upgrade", case + ": longest gap between answers", figures["longest_gap_s"])
        report.row("upgrade", case + ": upgrade.yml wall time", figures["playbook_s"])
    finally:
        subprocess.run([sys.executable, lab_py, "down", "--state-dir", state], capture_output=True, check=False)
        shutil.rmtree(state, ignore_errors=True)


def machine():
    """Where the numbers come from."""
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "nproc": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "load_average_at_start": load}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma list of sections (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute; used by the smoke test)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="runs per measurement (median; default 3, routes and facts 5, quick 2)")
    parser.add_argument("--ipvs-n", type=int, default=None, help="virtual services in the IPVS section")
    parser.add_argument("--sizes", action="append", default=[], metavar="SECTION=N[,N...]",
                        help="sizes of a section instead of its defaults (routes, remediate, fleet; task: one N)")
    args = parser.parse_args(argv)
    for item in args.sizes:
        section, _sep, values = item.partition("=")
        if section not in ("routes", "remediate", "fleet", "task") or not values:
            parser.error("--sizes %s: give routes|remediate|fleet|task=N[,N...]" % item)
        sizes = [int(value) for value in values.split(",")]
        SIZES[section] = (sizes[0], sizes[0]) if section == "task" else (sizes, sizes)
    only = [s for s in args.only.split(",") if s]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        parser.error("unknown section(s) %s; choose from %s" % (", ".join(unknown), ", ".join(SECTIONS)))
    if os.geteuid() != 0 and any(s in ROOT_SECTIONS for s in only):
        parser.error("sections %s need root (network namespaces)" % ", ".join(s for s in only if s in ROOT_SECTIONS))
    pick = 1 if args.quick else 0
    repeat = args.repeat or (2 if args.quick else 3)
    report = Report(args.quick)
    info = machine()
    print("baremetal.vip benchmarks %s: %s, %s cores, kernel %s, load %s" % (
        "(quick)" if args.quick else "", info["date"], info["nproc"], info["kernel"], info["load_average_at_start"]), flush=True)
    tmp = tempfile.mkdtemp(prefix="vip-bench-")
    failures = []
    try:
        for section in only:
            print("[%s]" % section, flush=True)
            started = time.monotonic()
            try:
                if section == "routes":
                    # the median of 5: a route run is tens of milliseconds, and one or two runs slowed by
                    # the machine (a run of 36 ms next to two of 50 ms was seen) should not decide it
                    bench_routes(report, SIZES["routes"][pick], args.repeat or (2 if args.quick else 5), tmp)
                elif section == "facts":
                    bench_facts(report, *SIZES["facts"][pick], repeat=max(repeat, 5), tmp=tmp)
                elif section == "ipvs":
                    bench_ipvs(report, args.ipvs_n or SIZES["ipvs"][pick], repeat)
                elif section == "fleet":
                    for nodes in SIZES["fleet"][pick]:
                        bench_fleet(report, nodes, args.repeat or (2 if args.quick else 5 if nodes <= 20 else 3), tmp)
                elif section == "task":
                    bench_task(report, SIZES["task"][pick], max(repeat, 5) if not args.quick else repeat, tmp)
                elif section == "remediate":
                    bench_remediate(report, SIZES["remediate"][pick], args.repeat or (2 if args.quick else 5), tmp)
                elif section == "naive":
                    bench_naive(report, SIZES["naive"][pick], repeat, tmp)
                elif section == "plan":
                    bench_plan(report, SIZES["plan"][pick], repeat)
                elif section == "lab":
                    bench_lab(report, SIZES["lab"][pick], tmp)
                elif section == "upgrade":
                    bench_upgrade(report)
            except BenchError as exc:
                failures.append("%s: %s" % (section, exc))
                print("  %s FAILED: %s" % (section, exc), flush=True)
            report.details.setdefault("section_seconds", {})[section] = time.monotonic() - started
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(report.table())
    for failure in failures:
        print("FAILED %s" % failure)
    out = os.environ.get("BENCH_OUT")
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            json.dump({"machine": info, "quick": args.quick, "repeat": repeat, "sections": only, "rows": report.rows,
                       "details": report.details, "failures": failures}, handle, indent=2)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

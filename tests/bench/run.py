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
import re
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
    if row["reference"] is None and row["unit"] == "s":
        return "<=%s" % _num(row["goal"], "s")
    return "<=%.2fx" % row["goal"]


def _fmt_row(row):
    text = _num(row["value"], row["unit"])
    if row["ratio"] is not None:
        text += " vs %s = %.2fx" % (_num(row["reference"], row["unit"]), row["ratio"])
    if row["goal"] is not None:
        text += "  goal %s %s" % (_goal(row), row["status"])
    return text


# --------------------------------------------------------------------------- routes

def _reset_routes(ns, destinations, path):
    for family in ("-4", "-6"):
        benchlib.run(["ip", "-n", ns.name, family, "route", "flush", "table", str(benchlib.TABLE)], check=False)
    ns.batch(benchlib.route_commands("add", destinations), path=path)
    if ns.count_routes(benchlib.TABLE) != len(destinations):
        raise BenchError("setup: table %d does not hold the %d routes" % (benchlib.TABLE, len(destinations)))


def _module_process(ns, module, args, tmp):
    """Seconds and parsed result of the module file run as a process inside ``ns`` (with Python start-up)."""
    path = os.path.join(tmp, "%s-args.json" % module)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    env = dict(os.environ, PYTHONPATH=benchlib.COLLECTIONS)
    module_file = os.path.join(benchlib.COLLECTIONS, "ansible_collections", "baremetal", "vip", "plugins", "modules", module + ".py")
    seconds, cpu, proc = benchlib.timed_cpu_run(["ip", "netns", "exec", ns.name, benchlib.PYTHON, module_file, path], env=env)
    return seconds, cpu, json.loads(proc.stdout)


ROUTE_PHASES = ("read", "decide", "apply", "after")

# vip_routes as a process, three forms of the same task: (module arguments of the kept destinations, list checked in the result)
PROCESS_FORMS = {
    "compact": (lambda keep: {"destinations": keep, "interface": "v0"}, "removed_destinations"),
    "compact_none": (lambda keep: {"destinations": keep, "interface": "v0", "return_routes": "none"}, None),
    "changed": (lambda keep: {"routes": [{"destination": d, "interface": "v0"} for d in keep]}, "removed"),
    "all": (lambda keep: {"routes": [{"destination": d, "interface": "v0"} for d in keep], "return_routes": "all"}, "routes"),
}


def _ip_show_seconds(ns):
    """(seconds, CPU seconds) of `ip route show table 198 proto 248`, both families (two processes): the table read as
    iproute2 reads it."""
    seconds = cpu = 0.0
    for family in ("-4", "-6"):
        spent, used, _proc = benchlib.timed_cpu_run(["ip", "-n", ns.name, family, "route", "show", "table", str(benchlib.TABLE),
                                                     "proto", str(benchlib.PROTOCOL)])
        seconds, cpu = seconds + spent, cpu + used
    return seconds, cpu


def _route_phases(ns, params):
    """Seconds of each step of reconcile_routes (one run): read, decide, apply, the after-state.

    Plus one extra dump of the pruned table (not part of the module, which derives the
    after-state from the acknowledged changes) read by ``read_routes`` and by the bench's own
    struct reader, whose results must be equal: an independent check of ``read_routes``.
    """
    from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks, netstate, reconcile  # pylint: disable=import-outside-toplevel
    phases = {}
    with ns.enter(), netstate.open_iproute() as ipr:
        links = netstate.read_links(ipr)
        phases["read"], current = benchlib.timed(netstate.read_routes, ipr, benchlib.TABLE, links)
        start = time.perf_counter()
        desired = hosttasks.desired_routes(params["routes"])
        changes = reconcile.plan_routes(desired, current, benchlib.TABLE, benchlib.PROTOCOL, True)
        phases["decide"] = time.perf_counter() - start
        phases["apply"], _dummy = benchlib.timed(netstate.apply_routes, ipr, changes, links)
        phases["after"], after = benchlib.timed(netstate.routes_after, current, changes)
        phases["read_again"], again = benchlib.timed(netstate.read_routes, ipr, benchlib.TABLE, links)
        seconds, raw = benchlib.timed(benchlib.struct_route_dump, benchlib.TABLE, links)
        if raw != again:
            raise BenchError("the struct reader (bench prototype) disagrees with netstate.read_routes")
        if sorted(map(repr, after)) != sorted(map(repr, again)):
            raise BenchError("netstate.routes_after disagrees with a dump of the pruned table")
    phases["struct_reader_same_dump"] = seconds
    return phases


def bench_routes(report, sizes, repeat, tmp):
    """Section 1: prune half of N routes of table 198 / proto 248."""
    from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks  # pylint: disable=import-outside-toplevel
    details = report.details.setdefault("routes", {})
    per_route = {}
    for size in sizes:
        destinations = benchlib.host_destinations(size)
        keep, orphans = destinations[0::2], destinations[1::2]
        params = {"table": benchlib.TABLE, "protocol": benchlib.PROTOCOL, "routes": [{"destination": d, "interface": "v0"} for d in keep],
                  "prune": True, "remove_legacy": []}
        add_path, del_path = os.path.join(tmp, "routes-add"), os.path.join(tmp, "routes-del")
        with open(del_path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(benchlib.route_commands("del", orphans)) + "\n")
        times = {"logic": [], "ip_batch": [], "logic_cpu": [], "ip_batch_cpu": [], "ip_show": [], "ip_show_cpu": []}
        times.update((prefix + form, []) for form in PROCESS_FORMS for prefix in ("process_", "process_cpu_"))
        with benchlib.Netns("routes") as ns:
            for attempt in range(repeat):
                _reset_routes(ns, destinations, add_path)
                with ns.enter():
                    seconds, cpu, result = benchlib.timed_cpu(hosttasks.reconcile_routes, params, False)
                if len(result["removed"]) != len(orphans) or ns.count_routes(benchlib.TABLE) != len(keep):
                    raise BenchError("vip_routes logic removed %d of %d orphans" % (len(result["removed"]), len(orphans)))
                times["logic"].append(seconds)
                times["logic_cpu"].append(cpu)
                _reset_routes(ns, destinations, add_path)
                seconds, cpu = _ip_show_seconds(ns)  # the table as the module finds it, then the same deletions
                times["ip_show"].append(seconds)
                times["ip_show_cpu"].append(cpu)
                seconds, cpu, _proc = benchlib.timed_cpu_run(["ip", "-n", ns.name, "-batch", del_path])
                if ns.count_routes(benchlib.TABLE) != len(keep):
                    raise BenchError("ip -batch left the wrong number of routes")
                times["ip_batch"].append(seconds)
                times["ip_batch_cpu"].append(cpu)
                for form, (args, returned) in PROCESS_FORMS.items():
                    _reset_routes(ns, destinations, add_path)
                    module_args = dict(args(keep), table=benchlib.TABLE, protocol=benchlib.PROTOCOL, prune=True, _ansible_check_mode=False)
                    seconds, cpu, result = _module_process(ns, "vip_routes", module_args, tmp)
                    if result.get("failed") or result["counts"]["removed"] != len(orphans) or ns.count_routes(benchlib.TABLE) != len(keep) \
                            or len(result.get(returned, ())) != {"removed": len(orphans), "removed_destinations": len(orphans),
                                                                 "routes": len(keep)}.get(returned, 0):
                        raise BenchError("vip_routes process (%s): %s" % (form, result.get("msg", "wrong removals")))
                    times["process_" + form].append(seconds)
                    times["process_cpu_" + form].append(cpu)
            _reset_routes(ns, destinations, add_path)
            phases = _route_phases(ns, params)
        logic, ip_batch, ip_show = median(times["logic"]), median(times["ip_batch"]), median(times["ip_show"])
        per_route[size] = logic / size
        details[str(size)] = {"routes": size, "orphans": len(orphans), "runs": times, "phases_one_run": phases,
                              "per_route_logic_seconds": logic / size}
        goal = 1.5 if size >= 10000 else None
        report.row("routes", "N=%d: vip_routes logic (in-process)" % size, logic, ip_batch, "ip -n NS -batch (deletes)", goal)
        report.row("routes", "N=%d: logic CPU time (user+system)" % size, median(times["logic_cpu"]), median(times["ip_batch_cpu"]),
                   "CPU time of ip -batch (child rusage)", note="steadier than wall clock on a loaded machine")
        for form, label in (("compact", "destinations+interface, return_routes=changed (default)"),
                            ("compact_none", "destinations+interface, return_routes=none"),
                            ("changed", "routes list, return_routes=changed (default)"),
                            ("all", "routes list, return_routes=all")):
            goal = 3.0 if size == 50000 and form == "compact" else None
            report.row("routes", "N=%d: vip_routes process, %s" % (size, label), median(times["process_" + form]), ip_show + ip_batch,
                       "ip route show table 198 proto 248 (-4, -6) + ip -batch", goal,
                       note="%d runs; whole process: Python start-up, AnsibleModule, logic, JSON" % len(times["process_" + form]))
            report.row("routes", "N=%d: CPU time of that process" % size, median(times["process_cpu_" + form]),
                       median(times["ip_show_cpu"]) + median(times["ip_batch_cpu"]), "CPU time of the two ip show + ip -batch", goal,
                       note="user+system of the child processes")
        report.row("routes", "N=%d: logic per route" % size, logic / size,
                   note="read %.0f%% decide %.0f%% apply %.0f%% after-state %.0f%%" % tuple(
                       100 * phases[k] / sum(phases[p] for p in ROUTE_PHASES) for k in ROUTE_PHASES))
        report.row("routes", "N=%d: table dump after prune, read_routes" % size, phases["read_again"], phases["struct_reader_same_dump"],
                   "struct-parsed dump (bench prototype)", note="same %d routes, same dicts" % len(keep))
    if len(sizes) > 1:
        base = [s for s in sizes if s >= 10000] or sizes
        first, last = base[0], sizes[-1]
        report.row("routes", "linearity: per-route N=%d / N=%d" % (last, first), per_route[last], per_route[first],
                   "per-route time at N=%d" % first, 1.5)


# --------------------------------------------------------------------------- facts

def bench_facts(report, others, owned, repeat, tmp):
    """Section 3: vip_facts with ``others`` routes in other tables vs none, same ``owned`` in table 198."""
    from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks  # pylint: disable=import-outside-toplevel
    params = {"table": benchlib.TABLE, "protocol": benchlib.PROTOCOL, "gather": ["addresses", "routes", "ipvs"]}
    kube_vip = benchlib.host_destinations(owned)
    other = benchlib.other_destinations(others)
    times = {}
    for label, extra in (("crowded", other), ("empty", [])):
        with benchlib.Netns("facts") as ns:
            commands = benchlib.route_commands("add", kube_vip)
            half = len(extra) // 2
            commands += benchlib.route_commands("add", extra[:half], table=254)      # main table
            commands += benchlib.route_commands("add", extra[half:], table=199)      # kube-vip's protocol, another table
            ns.batch(commands, path=os.path.join(tmp, "facts-add"))
            runs = []
            with ns.enter():
                for _attempt in range(repeat):
                    seconds, result = benchlib.timed(hosttasks.gather_facts, params)
                    if len(result["routes"]) != owned:
                        raise BenchError("vip_facts found %d routes of table 198, expected %d" % (len(result["routes"]), owned))
                    runs.append(seconds)
            times[label] = runs
    report.details["facts"] = {"other_routes": others, "kube_vip_routes": owned, "runs": times}
    report.row("facts", "vip_facts, %d kube-vip + %d other routes" % (owned, others), median(times["crowded"]), median(times["empty"]),
               "same with 0 other routes", 1.25)


# --------------------------------------------------------------------------- ipvs

def bench_ipvs(report, size, repeat):
    """Section 2: one User-Mode Linux boot runs guest_ipvs_bench.py."""
    import uml  # pylint: disable=import-outside-toplevel,import-error
    problem = uml.problem()
    if problem:
        raise BenchError("ipvs: %s" % problem)
    script = '"%s" tests/bench/guest_ipvs_bench.py --n %d --repeat %d --out "$VIP_UML_DIR/ipvs.json"\n' % (benchlib.PYTHON, size, repeat)
    result = uml.run(script, timeout=1500)
    if result.rc != 0 or "ipvs.json" not in result.files:
        raise BenchError("ipvs guest failed (exit status %s after %.0f s): %s" % (result.rc, result.seconds, result.log[-3000:]))
    data = json.loads(result.files["ipvs.json"])
    data["uml_seconds"] = result.seconds
    report.details["ipvs"] = data
    note = "UML guest, %d services x 3 real servers; boot+run %.0f s" % (data["n"], result.seconds)
    if data["n"] < 2000:
        note += "; N scaled down from 2,000"
    report.row("ipvs", "N=%d: ipvs_service logic (in-process)" % data["n"], median(data["module"]), median(data["ipvsadm"]),
               "ipvsadm -R (same changes)", 1.5, note=note)


# --------------------------------------------------------------------------- fleet

# what bootstrap places on the control-plane nodes (verify reads the static pod there)
FLEET_PLACE_PLAYBOOK = """---
- name: Place the control-plane kube-vip, as bootstrap.yml does
  hosts: kube_control_plane
  gather_facts: false
  tasks:
    - name: Build the plan
      baremetal.vip.lb_plan:
      run_once: true
    - name: Place the control-plane kube-vip
      ansible.builtin.include_role:
        name: baremetal.vip.kube_vip_control_plane
"""


def bench_fleet(report, nodes, repeat, tmp):
    """Section 4: verify.yml vs ansible -m ping on ``nodes`` lab nodes."""
    lab, state, inventory, env = _fleet_lab(nodes, tmp, "lab-%d" % nodes)
    try:
        pings, verifies, ok, problems = [], [], [], []
        for _attempt in range(repeat):
            seconds, _proc = benchlib.timed_run(
                [os.path.join(benchlib.BIN, "ansible"), "kube_control_plane:kube_node", "-i", inventory, "-m", "ansible.builtin.ping"],
                env=env, cwd=TOP)
            pings.append(seconds)
            report_path = os.path.join(tmp, "verify-report.json")
            seconds, proc = benchlib.timed_run([os.path.join(benchlib.BIN, "ansible-playbook"), "-i", inventory,
                                                os.path.join(TOP, "playbooks", "verify.yml"), "-e", "vip_verify_report=%s" % report_path],
                                               env=env, cwd=TOP, check=False)
            if not os.path.exists(report_path):
                raise BenchError("verify.yml wrote no report (rc %d): %s" % (proc.returncode, proc.stdout[-2000:]))
            with open(report_path, encoding="utf-8") as handle:
                verdict = json.load(handle)
            ok.append(verdict["ok"])
            problems = verdict["problems"]
            os.unlink(report_path)
            verifies.append(seconds)
        tasks = _task_profile(inventory, env)
    finally:
        benchlib.run(lab + ["down", "--state-dir", state], check=False)
    report.details.setdefault("fleet", {})[str(nodes)] = {
        "nodes": nodes, "task_seconds_one_run": tasks, "ping": pings, "verify": verifies, "verify_ok": ok,
        "verify_problems": problems}
    if not all(ok):
        raise BenchError("verify.yml found problems on the healthy lab (the timing would not be verify's normal path): %s"
                         % "; ".join(problems[:5]))
    for name, label in (("Build and check the plan", "controller plan (lb_plan)"),
                        ("Check this node's addresses, kube-vip routes, IPVS service and sysctls", "vip_check on every node"),
                        ("Collect every node's check", "node checks collected (hostvars, once)"),
                        ("Judge the cluster", "report filter (vip_verify_report)"),
                        ("Add the outside figures per VIP to the report", "outside figures (vip_outside_report)")):
        if name in tasks:
            report.row("fleet", "%d nodes, one profiled run: %s" % (nodes, label), tasks[name],
                       note="ansible.posix.profile_tasks; the whole run %.1f s" % sum(tasks.values()))
    report.row("fleet", "verify.yml on %d lab nodes" % nodes, median(verifies), median(pings),
               "ansible -m ping, same nodes", 1.5 if nodes == 20 else None, note="verify ok=%s, %d runs, forks %s, load %s" % (
                   all(ok), len(verifies), env.get("ANSIBLE_FORKS", "ansible.cfg"), _load()))


def _task_profile(inventory, env):
    """{task name: seconds} of one verify.yml run with the ansible.posix.profile_tasks callback (where the time goes)."""
    env = dict(env, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="all")
    _seconds, proc = _playbook("verify.yml", inventory, env)
    tasks = {}
    for line in proc.stdout.splitlines():
        # 'role : name ------ 1.08s'; a name longer than the line leaves only the dashes of the time's column
        match = PROFILE_LINE.match(line.rstrip())
        if match:
            name = match.group("name").strip().split(" : ")[-1]
            tasks[name] = tasks.get(name, 0.0) + float(match.group("seconds"))
    return tasks


PROFILE_LINE = re.compile(r"^(?P<name>\S.*?) -+ +(?P<seconds>[0-9]+\.[0-9]+)s$")


# --------------------------------------------------------------------------- remediate

def _fleet_lab(nodes, tmp, label):
    """A healthy lab of ``nodes`` nodes as bench_fleet builds it: (lab.py argv, state dir, inventory, env)."""
    state = os.path.join(tmp, label)
    control = 3 if nodes >= 5 else 1
    names = ["cp%d" % i for i in range(1, control + 1)] + ["w%d" % i for i in range(1, nodes - control + 1)]
    lab = [benchlib.PYTHON, os.path.join(TOP, "tests", "lab", "lab.py")]
    env = benchlib.ansible_env(tmp)
    inventory = os.path.join(state, "inventory.yml")
    try:
        benchlib.run(lab + ["up", "--nodes", ",".join(names), "--state-dir", state])
        place = os.path.join(tmp, "fleet-place.yml")
        with open(place, "w", encoding="utf-8") as handle:
            handle.write(FLEET_PLACE_PLAYBOOK)
        benchlib.run([os.path.join(benchlib.BIN, "ansible-playbook"), "-i", inventory, place], env=env, cwd=TOP)
        benchlib.run([benchlib.PYTHON, os.path.join(TOP, "tests", "lab", "fake_kube_vip.py"), "--state-dir", state, "apply"])
        with open(os.path.join(state, "lab.json"), encoding="utf-8") as handle:
            for node in json.load(handle)["nodes"]:  # what host_prep sets (strictARP): verify checks it
                benchlib.run(["ip", "netns", "exec", node["netns"], "sysctl", "-q", "-w", "net.ipv4.conf.all.arp_ignore=1",
                              "net.ipv4.conf.all.arp_announce=2"])
    except BaseException:
        benchlib.run(lab + ["down", "--state-dir", state], check=False)
        raise
    return lab, state, inventory, env


def _playbook(name, inventory, env, *args):
    """(seconds, CompletedProcess) of ansible-playbook playbooks/NAME on ``inventory`` (exit status not checked)."""
    return benchlib.timed_run([os.path.join(benchlib.BIN, "ansible-playbook"), "-i", inventory, os.path.join(TOP, "playbooks", name)]
                              + list(args), env=env, cwd=TOP, check=False)


def bench_remediate(report, sizes, repeat, tmp):
    """remediate.yml vs verify.yml on the same drifted lab (fake kube-vip state, every failure of fake_kube_vip injected)."""
    details = report.details.setdefault("remediate", {})
    for nodes in sizes:
        runs = repeat if nodes <= 5 else 1  # 20 and 100 nodes: one run each (minutes on this machine)
        lab, state, inventory, env = _fleet_lab(nodes, tmp, "remediate-%d" % nodes)
        times = {"verify": [], "remediate": [], "remediate_check": []}
        try:
            fake = [benchlib.PYTHON, os.path.join(TOP, "tests", "lab", "fake_kube_vip.py"), "--state-dir", state]
            for _attempt in range(runs):
                benchlib.run(fake + ["inject", "all"])
                seconds, proc = _playbook("verify.yml", inventory, env)
                if proc.returncode == 0:
                    raise BenchError("verify.yml passed on the drifted %d-node lab" % nodes)
                times["verify"].append(seconds)
                seconds, proc = _playbook("remediate.yml", inventory, env, "--check")
                if proc.returncode != 0:
                    raise BenchError("remediate.yml --check failed (%d nodes): %s" % (nodes, proc.stdout[-2000:]))
                times["remediate_check"].append(seconds)
                seconds, proc = _playbook("remediate.yml", inventory, env)
                if proc.returncode != 0:
                    raise BenchError("remediate.yml failed (%d nodes): %s" % (nodes, proc.stdout[-2000:]))
                times["remediate"].append(seconds)
                if _playbook("verify.yml", inventory, env)[1].returncode != 0:
                    raise BenchError("verify.yml failed after remediate.yml (%d nodes)" % nodes)
        finally:
            benchlib.run(lab + ["down", "--state-dir", state], check=False)
        details[str(nodes)] = times
        verify = median(times["verify"])
        report.row("remediate", "%d lab nodes: remediate.yml" % nodes, median(times["remediate"]), verify,
                   "verify.yml, same drifted lab", 4.0 if nodes == 5 else None, note="%d run(s), load %s" % (runs, _load()))
        report.row("remediate", "%d lab nodes: remediate.yml --check" % nodes, median(times["remediate_check"]), verify,
                   "verify.yml, same drifted lab", note="%d run(s), load %s" % (runs, _load()))


def _load():
    """The 1-minute load average now (the machine is shared: every timed row says it)."""
    return "%.1f" % os.getloadavg()[0]


# --------------------------------------------------------------------------- one task through ansible-playbook

TASK_PLAYBOOK = """---
- name: Reconcile kube-vip's table in one task
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The module (compact form, counts only)
      baremetal.vip.vip_routes:
        destinations: "{{ keep }}"
        interface: v0
        prune: true
        return_routes: none
      when: use_module | bool
    - name: The same deletions with ip -batch through the command module
      ansible.builtin.command: ip -batch {{ batch_file }}
      changed_when: true
      when: not use_module | bool
"""


def bench_task(report, size, repeat, tmp):
    """One task reconciling ``size`` routes (half of them orphans) through ansible-playbook, vs ip -batch through
    ansible.builtin.command: both whole ansible-playbook runs inside the namespace (connection local)."""
    destinations = benchlib.host_destinations(size)
    keep, orphans = destinations[0::2], destinations[1::2]
    playbook = os.path.join(tmp, "task.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write(TASK_PLAYBOOK)
    add_path, del_path = os.path.join(tmp, "task-add"), os.path.join(tmp, "task-del")
    with open(del_path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(benchlib.route_commands("del", orphans)) + "\n")
    env = benchlib.ansible_env(tmp)
    times = {"module": [], "command": []}
    with benchlib.Netns("task") as ns:
        for _attempt in range(repeat):
            for kind in ("module", "command"):
                _reset_routes(ns, destinations, add_path)
                vars_path = os.path.join(tmp, "task-vars.json")
                with open(vars_path, "w", encoding="utf-8") as handle:
                    json.dump({"keep": keep, "use_module": kind == "module", "batch_file": del_path,
                               "ansible_python_interpreter": benchlib.PYTHON}, handle)
                seconds, _proc = benchlib.timed_run(["ip", "netns", "exec", ns.name, os.path.join(benchlib.BIN, "ansible-playbook"),
                                                     "-i", "localhost,", "-e", "@" + vars_path, playbook], env=env, cwd=TOP)
                if ns.count_routes(benchlib.TABLE) != len(keep):
                    raise BenchError("task (%s) left the wrong number of routes" % kind)
                times[kind].append(seconds)
    report.details["task"] = {"routes": size, "orphans": len(orphans), "runs": times}
    report.row("task", "N=%d: one vip_routes task, ansible-playbook" % size, median(times["module"]), median(times["command"]),
               "ip -batch via ansible.builtin.command", 1.0, note="%d runs each; whole ansible-playbook runs" % repeat)


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


# --------------------------------------------------------------------------- naive loop

NAIVE_PLAYBOOK = """---
- name: Naive removal, one command task item per orphan
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Remove one orphan route
      ansible.builtin.command: ip route del {{ item }} table 198 proto 248
      loop: "{{ orphans }}"
      changed_when: true
- name: The module, one task
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Prune kube-vip's orphans
      baremetal.vip.vip_routes:
        routes: []
        prune: true
      when: use_module | bool
"""


def bench_naive(report, count, repeat, tmp):
    """A loop of command tasks (one per orphan) vs one vip_routes task, same orphans, per orphan."""
    orphans = benchlib.host_destinations(count)
    playbook = os.path.join(tmp, "naive.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write(NAIVE_PLAYBOOK)
    env = benchlib.ansible_env(tmp)
    times = {"loop": [], "module": []}
    with benchlib.Netns("naive") as ns:
        for _attempt in range(repeat):
            for kind in ("loop", "module"):
                ns.batch(benchlib.route_commands("add", orphans), path=os.path.join(tmp, "naive-add"))
                extra = {"orphans": orphans if kind == "loop" else [], "use_module": kind == "module",
                         "ansible_python_interpreter": benchlib.PYTHON}
                vars_path = os.path.join(tmp, "naive-vars.json")
                with open(vars_path, "w", encoding="utf-8") as handle:
                    json.dump(extra, handle)
                seconds, _proc = benchlib.timed_run(["ip", "netns", "exec", ns.name, os.path.join(benchlib.BIN, "ansible-playbook"),
                                                     "-i", "localhost,", "-e", "@" + vars_path, playbook], env=env, cwd=TOP)
                if ns.count_routes(benchlib.TABLE) != 0:
                    raise BenchError("naive %s left routes in table 198" % kind)
                times[kind].append(seconds)
    report.details["naive"] = {"orphans": count, "runs": times}
    report.row("naive", "command-task loop, %d orphans: per orphan" % count, median(times["loop"]) / count,
               median(times["module"]) / count, "one vip_routes task, per orphan",
               note="ansible-playbook in a namespace; both include the playbook's start-up")


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
        report.row("upgrade", case + ": requests failed", figures["failed"], unit="requests",
                   note="goal 0: the holder is moved gracefully")
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

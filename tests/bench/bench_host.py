# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sections of `make bench` (tests/bench/run.py) on one host's kernel: routes, facts and ipvs, the modules' logic
against iproute2 and ipvsadm doing the same work."""

from __future__ import annotations

import json
import os
import time

import benchlib
from benchlib import BenchError, median


# --------------------------------------------------------------------------- routes

def reset_routes(ns, destinations, path):
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
                reset_routes(ns, destinations, add_path)
                with ns.enter():
                    seconds, cpu, result = benchlib.timed_cpu(hosttasks.reconcile_routes, params, False)
                if len(result["removed"]) != len(orphans) or ns.count_routes(benchlib.TABLE) != len(keep):
                    raise BenchError("vip_routes logic removed %d of %d orphans" % (len(result["removed"]), len(orphans)))
                times["logic"].append(seconds)
                times["logic_cpu"].append(cpu)
                reset_routes(ns, destinations, add_path)
                seconds, cpu = _ip_show_seconds(ns)  # the table as the module finds it, then the same deletions
                times["ip_show"].append(seconds)
                times["ip_show_cpu"].append(cpu)
                seconds, cpu, _proc = benchlib.timed_cpu_run(["ip", "-n", ns.name, "-batch", del_path])
                if ns.count_routes(benchlib.TABLE) != len(keep):
                    raise BenchError("ip -batch left the wrong number of routes")
                times["ip_batch"].append(seconds)
                times["ip_batch_cpu"].append(cpu)
                for form, (args, returned) in PROCESS_FORMS.items():
                    reset_routes(ns, destinations, add_path)
                    module_args = dict(args(keep), table=benchlib.TABLE, protocol=benchlib.PROTOCOL, prune=True, _ansible_check_mode=False)
                    seconds, cpu, result = _module_process(ns, "vip_routes", module_args, tmp)
                    if result.get("failed") or result["counts"]["removed"] != len(orphans) or ns.count_routes(benchlib.TABLE) != len(keep) \
                            or len(result.get(returned, ())) != {"removed": len(orphans), "removed_destinations": len(orphans),
                                                                 "routes": len(keep)}.get(returned, 0):
                        raise BenchError("vip_routes process (%s): %s" % (form, result.get("msg", "wrong removals")))
                    times["process_" + form].append(seconds)
                    times["process_cpu_" + form].append(cpu)
            reset_routes(ns, destinations, add_path)
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

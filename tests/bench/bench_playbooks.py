# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sections of `make bench` (tests/bench/run.py) through ansible-playbook on lab nodes: fleet, remediate, task and
naive (verify.yml, remediate.yml and vip_routes tasks against ping, command tasks and ip -batch)."""

from __future__ import annotations

import json
import os
import re

import benchlib
from bench_host import reset_routes
from benchlib import BenchError, TOP, median


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
        tasks = _task_profile(inventory, env, "-e", "vip_verify_report=%s" % os.path.join(tmp, "verify-report-profiled.json"))
    finally:
        benchlib.run(lab + ["down", "--state-dir", state], check=False)
    report.details.setdefault("fleet", {})[str(nodes)] = {
        "nodes": nodes, "task_seconds_one_run": tasks, "ping": pings, "verify": verifies, "verify_ok": ok,
        "verify_problems": problems}
    if not all(ok):
        raise BenchError("verify.yml found problems on the healthy lab (the timing would not be verify's normal path): %s"
                         % "; ".join(problems[:5]))
    for name, label in (("Build and check the plan", "controller plan (lb_plan)"),
                        ("Lay out what every node's check compares it with", "vip_check options of every node (once)"),
                        ("Check this node's addresses, kube-vip routes, IPVS service and sysctls", "vip_check on every node"),
                        ("Collect every node's check", "node checks collected (hostvars, once)"),
                        ("Judge the cluster", "report filter (vip_verify_report)"),
                        ("Finish the report (the outside figures per VIP) and write it when vip_verify_report names a file",
                         "report finished and its file written (vip_report, on the controller)"),
                        ("Look at the VIPs from outside the nodes (vip_verify_outside.vantage; who answers ARP/NDP, TLS and /readyz)",
                         "outside probe (vip_probe, its answer window included)")):
        if name in tasks:
            report.row("fleet", "%d nodes, one profiled run: %s" % (nodes, label), tasks[name],
                       note="ansible.posix.profile_tasks; the whole run %.1f s" % sum(tasks.values()))
    report.row("fleet", "verify.yml on %d lab nodes" % nodes, median(verifies), median(pings),
               "ansible -m ping, same nodes", 1.5 if nodes == 20 else None, note="verify ok=%s, %d runs, forks %s, load %s" % (
                   all(ok), len(verifies), env.get("ANSIBLE_FORKS", "ansible.cfg"), _load()))


def _load():
    """The 1-minute load average now (the machine is shared: every timed row says it)."""
    return "%.1f" % os.getloadavg()[0]


def _task_profile(inventory, env, *args):
    """{task name: seconds} of one verify.yml run (``args``: as the timed runs) with the ansible.posix.profile_tasks
    callback (where the time goes)."""
    env = dict(env, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="all")
    _seconds, proc = _playbook("verify.yml", inventory, env, *args)
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
                reset_routes(ns, destinations, add_path)
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

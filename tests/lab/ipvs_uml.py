# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Failure 1 (kube-proxy deleted kube-vip's IPVS service) on the lab inside User-Mode Linux.

By hand (``run``): a stand-in scenario that make test and make demo no longer run (they run the real kube-proxy,
tests/lab/ipvs_real_uml.py, which uses this module's boot, result and command line). The machine's kernel has no
IPVS; one UML boot (tests/kernel/uml.py) builds
a two-node lab inside the guest, fake_kube_vip puts kube-vip's IPVS service on the VIP and deletes
it, verify must fail, remediate must restore it, verify must pass. ``ipvsadm -Ln`` inside each
node, before and after, is the witness.

    python tests/lab/ipvs_uml.py run [--timeout S]   # report; exit 0 ok, 1 failed, 3 UML cannot run
    python tests/lab/ipvs_uml.py cleanup MARKER      # kill UML runs started with VIP_UML_RUN=MARKER

``run`` exports ``VIP_UML_RUN`` (or keeps the caller's) into the UML process environment, so a
caller's trap can find and kill a guest that outlived it (Ctrl-C, SIGTERM) with ``cleanup``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "kernel"))

import uml  # noqa: E402  pylint: disable=wrong-import-position,import-error

MODULES = uml.IPVS_MODULES + ("llc", "stp", "bridge", "overlay")
NODES = ("cp1", "w1")
VIP = "192.0.2.10:6443"
MISSING = "cp1: IPVS service 192.0.2.10:6443 missing on the VIP holder"
MARKER_ENV = "VIP_UML_RUN"
SKIP_RC = 3
GUEST_SCRIPT = r"""
py="$VIP_UML_CWD/.venv/bin/python"
play="$VIP_UML_CWD/.venv/bin/ansible-playbook"
out="$VIP_UML_DIR"
state=/tmp/vip-lab-ipvs
export ANSIBLE_CONFIG="$VIP_UML_CWD/ansible.cfg" ANSIBLE_DEPRECATION_WARNINGS=0
step() { name=$1; shift; "$@" > "$out/$name.log" 2>&1; echo "$name $?" >> "$out/steps"; }
witness() {  # witness before|after: ipvsadm -Ln inside every node
  "$py" -c 'import json, sys; [print(n["name"], n["netns"]) for n in json.load(open(sys.argv[1]))["nodes"]]' \
    "$state/lab.json" | while read -r node ns; do
    ip netns exec "$ns" ipvsadm -Ln > "$out/ipvs-$1-$node.txt" 2>&1
  done
}
step up "$py" tests/lab/lab.py up --nodes NODES --state-dir "$state"
step apply "$py" tests/lab/fake_kube_vip.py --state-dir "$state" apply
step inject "$py" tests/lab/fake_kube_vip.py --state-dir "$state" inject ipvs-deleted
witness before
step verify "$play" -i "$state/inventory.yml" playbooks/verify.yml -e "vip_verify_report=$out/report.json"
step remediate "$play" -i "$state/inventory.yml" playbooks/remediate.yml
witness after
step verify-after "$play" -i "$state/inventory.yml" playbooks/verify.yml -e "vip_verify_report=$out/report-after.json"
step down "$py" tests/lab/lab.py down --state-dir "$state"
""".replace("NODES", ",".join(NODES))


def verify_lines(steps, report, report_after):
    """The two lines of an outcome's text on verify.yml before and after remediate.yml (exit status, ok, problems)."""
    before = report or {}
    return ["verify before remediate: exit status %s, ok=%s, problems: %s" % (
        steps.get("verify"), before.get("ok"), "; ".join(before.get("problems") or []) or "-"),
        "verify after remediate:  exit status %s, ok=%s" % (steps.get("verify-after"), (report_after or {}).get("ok"))]


class Outcome:
    """A guest run and what it showed: ``problems`` is empty when failure 1 was found and fixed."""

    def __init__(self, result):
        self.result = result
        self.steps = dict(line.split() for line in result.files.get("steps", "").splitlines() if len(line.split()) == 2)
        self.before = {n: result.files.get("ipvs-before-%s.txt" % n, "") for n in NODES}
        self.after = {n: result.files.get("ipvs-after-%s.txt" % n, "") for n in NODES}
        self.report = self._json("report.json")
        self.report_after = self._json("report-after.json")
        self.problems = self._check()

    def _json(self, name):
        try:
            return json.loads(self.result.files.get(name, ""))
        except ValueError:
            return None

    def _check(self):
        problems = []
        if self.result.rc != 0:
            problems.append("the guest script did not finish (exit status %s)" % self.result.rc)
        for name in ("up", "apply", "inject", "remediate", "down"):
            if self.steps.get(name) != "0":
                problems.append("step %s: exit status %s" % (name, self.steps.get(name)))
        if VIP in self.before["cp1"]:
            problems.append("cp1 still had the IPVS service %s after inject ipvs-deleted" % VIP)
        if self.steps.get("verify") in (None, "0"):
            problems.append("verify did not fail with the IPVS service deleted (exit status %s)" % self.steps.get("verify"))
        if MISSING not in ((self.report or {}).get("problems") or []):
            problems.append("verify's report lacks %r" % MISSING)
        after = self.after["cp1"]
        if "TCP  %s" % VIP not in after or "192.0.2.11:6443" not in after:
            problems.append("cp1 has no IPVS service %s -> 192.0.2.11:6443 after remediate" % VIP)
        if any(VIP in self.after[n] for n in NODES if n != "cp1"):
            problems.append("the IPVS service %s is on a node that does not hold the VIP" % VIP)
        if self.steps.get("verify-after") != "0" or (self.report_after or {}).get("ok") is not True:
            problems.append("verify after remediate did not pass (exit status %s)" % self.steps.get("verify-after"))
        return problems

    def text(self):
        """The per-node IPVS report."""
        lines = []
        for node in NODES:
            lines.append("%s  ipvsadm -Ln before remediate:" % node)
            lines.extend("      " + line for line in (self.before[node].strip() or "(nothing)").splitlines())
            lines.append("%s  ipvsadm -Ln after remediate:" % node)
            lines.extend("      " + line for line in (self.after[node].strip() or "(nothing)").splitlines())
        lines.extend(verify_lines(self.steps, self.report, self.report_after))
        lines.append("guest run: %.1f s (one UML boot)" % self.result.seconds)
        return "\n".join(lines)


def _interrupt(_signum, _frame):
    # KeyboardInterrupt, not SystemExit: on any other exception subprocess.Popen's context
    # manager (in uml.run) waits for the guest to finish before letting go
    raise KeyboardInterrupt


def run(timeout=540, script=GUEST_SCRIPT, modules=MODULES, mem="1G", outcome=None, **boot):
    """Boot UML once, run ``script`` (GUEST_SCRIPT), return ``outcome(result)`` (an Outcome). The caller checks
    uml.problem() first. tests/lab/ipvs_real_uml.py passes its own script, modules and Outcome, and ``boot``
    (uml.run's netns, tap and directory: its guest's link to the controller on the machine).

    SIGTERM becomes KeyboardInterrupt here, and any UML process of this run still alive afterwards (the
    caller interrupted, or a timeout) is killed, its result directory removed.
    """
    os.environ.setdefault(MARKER_ENV, "pid-%d" % os.getpid())
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return (outcome or Outcome)(uml.run(script, modules=modules, timeout=timeout, mem=mem, **boot))
    finally:
        cleanup(os.environ[MARKER_ENV])
        signal.signal(signal.SIGTERM, previous)


def _marked():
    """{pid: (session id, uml_dir)} of the processes whose environment carries our marker."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/environ" % pid, "rb") as handle:
                env = handle.read().split(b"\0")
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().decode("utf-8", "replace").split("\0")
            found[int(pid)] = (os.getsid(int(pid)), env, argv)
        except (OSError, ProcessLookupError):
            continue
    return found


def cleanup(marker):
    """Kill every UML process started with VIP_UML_RUN=marker (its whole session) and remove its
    result directory. Returns the number of process groups killed."""
    needle = ("%s=%s" % (MARKER_ENV, marker)).encode()
    killed = set()
    for _pid, (sid, env, argv) in _marked().items():
        if needle not in env or not argv or not argv[0].endswith("linux.uml") or sid == os.getsid(0):
            continue
        try:
            os.killpg(sid, signal.SIGKILL)
            killed.add(sid)
        except ProcessLookupError:
            pass
        for arg in argv:
            if arg.startswith("uml_dir=/var/tmp/vip-uml-"):
                shutil.rmtree(arg[len("uml_dir="):], ignore_errors=True)
    return len(killed)


def main(argv, scenario=None):
    """Command line: see the module docstring (or ``scenario``'s: a module with problem(), run(timeout),
    TIMEOUT and an Outcome with text(), problems and explain())."""
    name = scenario.__name__ if scenario else "ipvs_uml"
    if len(argv) == 2 and argv[0] == "cleanup":
        print("%s: killed %d UML process group(s)" % (name, cleanup(argv[1])))
        return 0
    if argv[:1] != ["run"]:
        print((scenario or sys.modules[__name__]).__doc__, file=sys.stderr)
        return 2
    default = scenario.TIMEOUT if scenario else 540
    timeout = int(argv[argv.index("--timeout") + 1]) if "--timeout" in argv else default
    reason = scenario.problem() if scenario else uml.problem()
    if reason:
        print("%s: User-Mode Linux cannot run here: %s" % (name, reason))
        return SKIP_RC
    try:
        outcome = scenario.run(timeout) if scenario else run(timeout)
    except KeyboardInterrupt:
        print("%s: interrupted; the guest was killed" % name)
        return 130
    print(outcome.text())
    keep = os.environ.get("VIP_UML_KEEP")
    if keep:  # every file the guest left (its step logs, the controller's playbook logs), for a diagnosis
        os.makedirs(keep, exist_ok=True)
        for filename, text in outcome.result.files.items():
            with open(os.path.join(keep, filename), "w", encoding="utf-8") as handle:
                handle.write(text)
    if outcome.problems:
        print("%s: FAILED:\n  " % name + "\n  ".join(outcome.problems))
        print(outcome.explain() if scenario else outcome.result.explain())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

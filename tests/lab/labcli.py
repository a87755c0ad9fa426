# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The command line of tests/lab/lab.py (`lab.py up|down|status|api|failover|stale-route ...`; lab.py's
docstring lists the commands): argument parsing and one function per command over a lab.Lab."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import bgprouter
import real_failures
import reallab
from lab import DEFAULT_EXAMPLE, Lab, LabError


def _stale_route(lab, undo):
    """lab.py stale-route: make failure 3, keeping the services DaemonSet as it was in STATE/stale-route.json as
    soon as it is edited; with undo, delete the scenario's Services (kube-vip removes the live one's route),
    then put the services DaemonSet back and forget the record."""
    real = reallab.RealLab(lab)
    path = os.path.join(lab.state_dir, "stale-route.json")
    if not undo:
        def edited(before):
            with open(path, "w") as handle:
                json.dump(before, handle)
        print(json.dumps(real_failures.stale_route(real, edited=edited), indent=2, sort_keys=True))
        return 0
    if not os.path.exists(path):
        raise LabError("no failure-3 scenario to undo in %s (run lab.py stale-route first)" % lab.state_dir)
    with open(path) as handle:
        before = json.load(handle)
    for name in ("rt-keep", "rt-gone"):
        real_failures.delete_service(real, name)
    try:  # kube-vip removes a live Service's route when it sees the Service deleted; a stale one stays
        real_failures.wait_until("the scenario's routes gone with their Services", lambda: not any(
            real_failures.kube_vip_routes(lab, n["name"]) for n in lab.nodes), 40)
    except real_failures.ScenarioError as exc:
        print("lab.py stale-route --undo: %s (left for remediate.yml)" % exc, file=sys.stderr)
    real_failures.restore_daemonset(real, before)
    os.unlink(path)
    print("failure 3 undone: Services rt-keep and rt-gone deleted, the services DaemonSet as before")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description="A lab of network-namespace nodes for baremetal.vip (root only).")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="create the lab (a running lab in the same state dir is removed first)")
    p_up.add_argument("--nodes", default="cp1,cp2,cp3,w1,w2", help="comma list of node names (default %(default)s)")
    p_up.add_argument("--control-plane", default=None,
                      help="comma list of control-plane nodes (default: names starting with cp/master/server/control)")
    p_up.add_argument("--example", default=DEFAULT_EXAMPLE, help="inventory whose vars the lab uses (default %(default)s)")
    p_up.add_argument("--python", default=sys.executable, help="Python the nodes run modules with (default %(default)s)")
    p_up.add_argument("--real", action="store_true",
                      help="run the real control plane (etcd, kube-apiserver, kubeadm, kube-vip) on the nodes")
    p_up.add_argument("--no-init", action="store_true",
                      help="with --real: binaries and runners only, every node as before kubeadm init")
    p_kill = sub.add_parser("kill", help="signal a container of a pod (real lab)")
    p_kill.add_argument("node")
    p_kill.add_argument("pod")
    p_kill.add_argument("--signal", default="KILL", help="signal name (default %(default)s)")
    p_pause = sub.add_parser("pause", help="the node's runner stops restarting containers (real lab)")
    p_resume = sub.add_parser("resume", help="the node's runner restarts containers again (real lab)")
    for sp in (p_pause, p_resume):
        sp.add_argument("node")
    p_api = sub.add_parser("api", help="one API request through the lab's admin.conf from the switch (real lab)")
    p_api.add_argument("method", choices=["GET", "POST", "PUT", "PATCH", "DELETE"])
    p_api.add_argument("path", help="e.g. /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/plndr-cp-lock")
    p_api.add_argument("--body", default=None, help="JSON body")
    p_failover = sub.add_parser("failover", help="SIGKILL the VIP holder's kube-vip and measure (real lab)")
    p_failover.add_argument("--pause", action="store_true",
                            help="keep the killed kube-vip dead (the node's runner stays paused; `resume` ends it)")
    p_partition = sub.add_parser("partition", help="cut the VIP holder's link on the switch, heal it, measure (real lab)")
    p_partition.add_argument("--hold", type=float, default=5.0, help="seconds the cut stays after another node took the VIP")
    p_exec = sub.add_parser("exec", help="run a command in the switch namespace (the lab's client)")
    p_exec.add_argument("argv", nargs=argparse.REMAINDER)
    p_drift = sub.add_parser("drift-static-pod", help="failure 2: NODE's kube-vip static pod edited to svc_enable "
                                                      "while a LoadBalancer Service exists (real lab)")
    p_drift.add_argument("node")
    p_drift.add_argument("--service", default="drift-web", help="the Service created first (default %(default)s)")
    p_stale = sub.add_parser("stale-route", help="failure 3: the services DaemonSet in routing-table mode, its "
                                                 "kube-vip killed while a Service is deleted (real lab)")
    p_stale.add_argument("--undo", action="store_true",
                         help="delete the scenario's Services and put the services DaemonSet back as it was")
    parsers = [p_up, p_api, p_kill, p_pause, p_resume, p_exec, p_partition, p_drift, p_stale,
               sub.add_parser("down", help="remove the lab; safe to run twice"),
               sub.add_parser("status", help="print the lab's state as JSON"),
               sub.add_parser("pods", help="print every node's pods as JSON (real lab)"),
               sub.add_parser("bgp", help="the lab router's BGP neighbours, routes and kernel routes as JSON (BGP lab)"),
               sub.add_parser("place", help="place the collection's (and MetalLB's) DaemonSets and Deployments again (real lab)"),
               sub.add_parser("pin-daemonset", help="failure 5: our services DaemonSet applied pinned to the control plane"),
               p_failover,
               sub.add_parser("_bring-up", help=argparse.SUPPRESS)]
    for sp in parsers:
        sp.add_argument("--state-dir", required=True, help="directory of the lab's state, inventory and node files")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("lab.py: needs root (it creates network and mount namespaces)", file=sys.stderr)
        return 2
    lab = Lab(args.state_dir)
    try:
        return _command(lab, args)
    except (LabError, reallab.RealLabError, bgprouter.RouterError, real_failures.ScenarioError) as exc:
        print("lab.py: %s" % exc, file=sys.stderr)
        return 1


def _command(lab, args):
    if args.command == "up":
        started = time.monotonic()
        names = [n for n in args.nodes.split(",") if n]
        cps = [n for n in args.control_plane.split(",") if n] if args.control_plane else None
        if args.no_init and not args.real:
            raise LabError("--no-init goes with --real")
        lab.up(names, example=args.example, python=args.python, control_plane=cps, real=args.real,
               bring_up=not args.no_init)
        print("lab %s up%s: %d nodes in %.2fs; inventory %s" % (
            lab.state["id"], (" (real programs, not initialised)" if args.no_init else " (real control plane)") if args.real else "", len(names),
            time.monotonic() - started, lab.inventory_path))
    elif args.command == "down":
        started = time.monotonic()
        lab.down()
        print("lab down in %.2fs (%s)" % (time.monotonic() - started, lab.state_dir))
    elif args.command == "status":  # also without a lab: {"up": false}, exit 1
        report = lab.status()
        print(json.dumps(report, indent=2))
        return 0 if report["up"] else 1
    elif not lab.state:
        raise LabError("no lab in %s" % lab.state_dir)
    elif args.command == "pods":
        print(json.dumps(lab.pods(), indent=2, sort_keys=True))
    elif args.command == "bgp":
        if not lab.state.get("router"):
            raise LabError("the lab in %s has no BGP router (its inventory has no peer at the switch's address)"
                           % lab.state_dir)
        table = bgprouter.rib(lab.state["id"])
        kernel = {prefix: bgprouter.kernel_next_hops(lab.state["switch"], prefix.split("/")[0]) for prefix in table}
        print(json.dumps({"neighbors": bgprouter.neighbors(lab.state["id"]), "rib": table, "kernel": kernel},
                         indent=2, sort_keys=True))
    elif args.command == "kill":
        pid = lab.kill(args.node, args.pod, getattr(signal, "SIG" + args.signal.upper().replace("SIG", "")))
        print("sent SIG%s to %s/%s (pid %d)" % (args.signal.upper().replace("SIG", ""), args.node, args.pod, pid))
    elif args.command in ("pause", "resume"):
        lab.pause(args.node, args.command == "pause")
        print("runner of %s %sd" % (args.node, args.command))
    elif args.command == "exec":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        return subprocess.run(["ip", "netns", "exec", lab.state["switch"]] + argv, check=False).returncode
    elif args.command == "api":
        reallab.enter_netns(lab.state["switch"])
        status, data = reallab.RealLab(lab).request(args.method, args.path,
                                                    json.loads(args.body) if args.body else None)
        print(json.dumps({"status": status, "body": data}, indent=2, sort_keys=True, default=str))
        return 0 if status is not None and status < 400 else 1
    elif args.command == "place":
        reallab.enter_netns(lab.state["switch"])
        placed = reallab.RealLab(lab).place_workloads()
        print(json.dumps(placed, indent=2, sort_keys=True))
    elif args.command == "pin-daemonset":
        reallab.enter_netns(lab.state["switch"])
        placed = reallab.RealLab(lab).pin_services_daemonset()
        print(json.dumps(placed, indent=2, sort_keys=True))
    elif args.command == "failover":
        reallab.enter_netns(lab.state["switch"])
        print(json.dumps(reallab.RealLab(lab).failover(pause=args.pause), indent=2, sort_keys=True))
    elif args.command == "partition":
        reallab.enter_netns(lab.state["switch"])
        print(json.dumps(reallab.RealLab(lab).partition(hold=args.hold), indent=2, sort_keys=True))
    elif args.command == "drift-static-pod":
        reallab.enter_netns(lab.state["switch"])
        print(json.dumps(real_failures.drift_static_pod(reallab.RealLab(lab), args.node, args.service), indent=2,
                         sort_keys=True))
    elif args.command == "stale-route":
        reallab.enter_netns(lab.state["switch"])
        return _stale_route(lab, args.undo)
    elif args.command == "_bring-up":
        reallab.enter_netns(lab.state["switch"])
        real = reallab.RealLab(lab, log=lambda msg: print(msg, flush=True))
        timings = real.bring_up()
        with open(os.path.join(lab.state_dir, "bring-up.json"), "w") as handle:
            json.dump(timings, handle)
    return 0

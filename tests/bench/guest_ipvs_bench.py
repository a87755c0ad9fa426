# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IPVS reconcile benchmark, run INSIDE the User-Mode Linux guest by tests/bench/run.py.

In a network namespace of the guest's kernel: N virtual services x 3 real servers, of which a
third of the services are stale (not desired, pruned) and, in every other service, one real
server of three is stale. Timed: ipvs_service's logic in this process after its imports
(hosttasks.reconcile_ipvs: one service dump, real servers of the owned services only, decide,
apply in acknowledged batches; the after-state is derived from the acknowledged changes) against one ``ipvsadm -R`` process
making the same changes. Writes JSON to --out.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402  pylint: disable=wrong-import-position,import-error

OWNED = "192.0.2.0/24"
REALS = ("198.51.100.1", "198.51.100.2", "198.51.100.3")


def service(index):
    """(address, port) of virtual service ``index``: 200 VIPs x ports from 10000."""
    return "192.0.2.%d" % (10 + index % 200), 10000 + index // 200


def state_lines(count):
    """ipvsadm -R input for the full state (every service with its 3 real servers)."""
    lines = []
    for index in range(count):
        address, port = service(index)
        lines.append("-A -t %s:%d -s rr" % (address, port))
        for real in REALS:
            lines.append("-a -t %s:%d -r %s:8080 -m -w 1" % (address, port, real))
    return lines


def change_lines(count):
    """ipvsadm -R input making the same changes as the module: stale services, stale reals."""
    lines = []
    for index in range(count):
        address, port = service(index)
        if index % 3 == 2:
            lines.append("-D -t %s:%d" % (address, port))
        else:
            lines.append("-d -t %s:%d -r %s:8080" % (address, port, REALS[2]))
    return lines


def params(count):
    """ipvs_service's options (as AnsibleModule hands them over) for the desired state."""
    services = []
    for index in range(count):
        if index % 3 == 2:
            continue
        address, port = service(index)
        services.append({"address": address, "port": port, "protocol": "tcp", "scheduler": "rr",
                         "real_servers": [{"address": real, "port": 8080, "weight": 1, "forward_method": None}
                                          for real in REALS[:2]]})
    return {"services": services, "owned_addresses": [OWNED], "prune": True}


def ipvsadm_restore(lines):
    """Seconds of one `ipvsadm -R` process fed ``lines`` (this thread's namespace)."""
    return benchlib.timed_run(["ipvsadm", "-R"], stdin="\n".join(lines) + "\n")[0]


def counts():
    """(services, real servers) that ipvsadm -Ln lists."""
    out = benchlib.run(["ipvsadm", "-Ln"]).stdout.splitlines()[3:]
    return (sum(1 for line in out if line.startswith(("TCP", "UDP"))), sum(1 for line in out if line.startswith("  ->")))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile-n", type=int, default=300)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks  # pylint: disable=import-outside-toplevel
    import_seconds = time.perf_counter() - started
    stale = sum(1 for index in range(args.n) if index % 3 == 2)
    kept = args.n - stale
    expect = (kept, 2 * kept)
    result = {"n": args.n, "real_servers": 3, "stale_services": stale, "stale_real_servers": kept,
              "import_seconds": import_seconds, "module": [], "ipvsadm": [], "setup": []}
    options = params(args.n)
    with benchlib.Netns("ipvs") as ns, ns.enter():
        for _attempt in range(args.repeat):
            for kind in ("module", "ipvsadm"):
                seconds = time.perf_counter()
                benchlib.run(["ipvsadm", "-C"])
                ipvsadm_restore(state_lines(args.n))
                result["setup"].append(time.perf_counter() - seconds)
                if counts() != (args.n, 3 * args.n):
                    raise benchlib.BenchError("setup: ipvsadm lists %s, expected %s" % (counts(), (args.n, 3 * args.n)))
                if kind == "module":
                    seconds, changes = benchlib.timed(hosttasks.reconcile_ipvs, options, False)
                    if len(changes["removed"]) != stale or len(changes["updated"]["real_servers_removed"]) != kept:
                        raise benchlib.BenchError("module removed %d services / %d real servers, expected %d / %d" % (
                            len(changes["removed"]), len(changes["updated"]["real_servers_removed"]), stale, kept))
                else:
                    seconds = ipvsadm_restore(change_lines(args.n))
                if counts() != expect:
                    raise benchlib.BenchError("%s: ipvsadm lists %s afterwards, expected %s" % (kind, counts(), expect))
                result[kind].append(seconds)
                with open(args.out, "w", encoding="utf-8") as handle:
                    json.dump(result, handle)
        # one more module run under cProfile (at most --profile-n services: cProfile is slow in UML)
        benchlib.run(["ipvsadm", "-C"])
        ipvsadm_restore(state_lines(min(args.n, args.profile_n)))
        profile = cProfile.Profile()
        profile.runcall(hosttasks.reconcile_ipvs, params(min(args.n, args.profile_n)), False)
        result["profile_n"] = min(args.n, args.profile_n)
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(12)
        result["profile_tottime"] = text.getvalue()[-6000:]
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(result, handle)
        benchlib.run(["ipvsadm", "-C"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One line (or a few) for `make demo` from a JSON file the lab wrote: demo_show.py KIND FILE [--short].

KIND is what wrote FILE: partition / failover (lab.py partition / failover), failure2 / failure3 (lab.py
drift-static-pod / stale-route), bgp (lab.py bgp), findings (verify.yml's report), paused (failover's paused
node). --short prints the few words the demo's closing summary keeps.
"""

from __future__ import annotations

import json
import sys


def partition(f, short):
    if short:
        return "two holders %s s, none %s s" % (f["two_holders_s"], f["no_holder_s"])
    return ("    %s -> %s after %s s; on two nodes %s s, on none %s s; after healing on %s (lease holder %s)"
            % (f["old_holder"], f["new_holder"], f["new_holder_s"], f["two_holders_s"], f["no_holder_s"],
               ", ".join(f["holders_after"]), f["lease_holder_after"]))


def failover(f, short):
    bgp = f.get("bgp")
    if short:
        moved = "%s -> %s in %.1f s" % (f["old_holder"], f["new_holder"], f["vip_moved_s"])
        return moved + ("; route withdrawn %s s, announced %s s" % (bgp.get("withdrawn_s"), bgp.get("announced_s"))
                        if bgp else "")
    line = "    VIP moved from %s to %s in %.1f s; https://VIP/readyz answered again after %s s (leader election " \
        "profile %s); holders now: %s" % (f["old_holder"], f["new_holder"], f["vip_moved_s"], f["api_answered_s"],
                                          f["profile"], ", ".join(f["holders_after"]))
    if bgp:
        hops = (bgp.get("withdrawn_s"), bgp.get("new_next_hop"), bgp.get("new_next_hop_node"), bgp.get("announced_s"),
                bgp.get("kernel_s"))
        line += "\n    the router: the old holder's route withdrawn after %s s, next hop %s (%s) announced after %s s," \
            " in the switch's kernel after %s s" % hops
    return line


def paused(f, short):  # pylint: disable=unused-argument
    return f["paused"]


def failure2(f, short):  # pylint: disable=unused-argument
    return ("    %s (Service %s) bound on %s %s s after the edit; now on %s (the services DaemonSet's holder: %s)"
            % (f["address"], f["service"], f["drifted_node"], f["bound_after_s"], ", ".join(f["holders"]),
               f["daemonset_holder"]))


def failure3(f, short):  # pylint: disable=unused-argument
    return ("    %s/32 (its Service rt-gone deleted) still in table 198 proto 248 on %s after its kube-vip's restart"
            " (%s s after the runner resumed) and the 15 s after it; kube-vip routes per node: %s"
            % (f["removed"], f["holder"], f["restarted_after_s"],
               "; ".join("%s %s" % (n, ", ".join(r) or "-") for n, r in sorted(f["routes"].items()))))


def bgp(f, short):  # pylint: disable=unused-argument
    lines = ["    neighbour %s (%s): %s" % (a, n.get("description"), n.get("state")) for a, n in sorted(f["neighbors"].items())]
    lines += ["    %s via %s (switch kernel: %s)" % (prefix, ", ".join(sorted(p["next_hop"] for p in paths)),
                                                     ", ".join(f["kernel"].get(prefix) or []) or "-")
              for prefix, paths in sorted(f["rib"].items())]
    return "\n".join(lines)


def findings(f, short):  # pylint: disable=unused-argument
    """verify.yml's report: every problem it names (cluster-wide ones and each node's findings), one per line."""
    return "\n".join("  - %s" % problem for problem in f["problems"])


KINDS = {"partition": partition, "failover": failover, "paused": paused, "failure2": failure2,
         "failure3": failure3, "bgp": bgp, "findings": findings}


def main(argv):
    if len(argv) < 2 or argv[0] not in KINDS:
        sys.stderr.write("usage: demo_show.py {%s} FILE [--short]\n" % ",".join(sorted(KINDS)))
        return 2
    with open(argv[1]) as handle:
        print(KINDS[argv[0]](json.load(handle), "--short" in argv[2:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

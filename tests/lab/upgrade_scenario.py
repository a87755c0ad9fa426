# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/upgrade.yml on a real lab with a client on the lab's switch asking https://VIP:6443/readyz in a loop.

Shared by tests/lab/test_real_upgrade.py and `make bench` (tests/bench/run.py --upgrade). The client is a process
in the switch namespace (the lab's own client side, like the controller); it sends one request at a time (timeout
1 s, then 50 ms pause), counts sent and failed requests, and the longest time between two answered requests.

    python tests/lab/upgrade_scenario.py client URL CAFILE     # the client (until SIGTERM; prints JSON)
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
PY = sys.executable
BIN = os.path.dirname(sys.executable)
INTERVAL = 0.05
TIMEOUT = 1.0


def client(url, ca_file):
    """Ask URL until SIGTERM; print {"sent", "failed", "longest_gap_s", "errors" (a few distinct ones), "failed_at",
    "longest_gap_at"}."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *dummy: stop.append(True))
    context = ssl.create_default_context(cafile=ca_file)
    sent = failed = 0
    errors = {}
    failed_at = []  # wall-clock times (s since the epoch) of the first failures, to set beside the playbook's report
    last_ok = started = time.monotonic()
    longest, longest_at = 0.0, None  # longest_at: wall-clock end of the longest gap
    while not stop:
        sent += 1
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT, context=context) as answer:
                ok = answer.status == 200 and answer.read().strip() == b"ok"
                why = "HTTP %d" % answer.status
        except Exception as exc:  # pylint: disable=broad-except
            ok, why = False, type(exc).__name__ + ": " + str(exc)[:80]
        now = time.monotonic()
        if ok:
            if now - last_ok > longest:
                longest, longest_at = now - last_ok, round(time.time(), 1)
            last_ok = now
        else:
            failed += 1
            errors[why] = errors.get(why, 0) + 1
            if len(failed_at) < 20:
                failed_at.append(round(time.time(), 1))
        time.sleep(INTERVAL)
    longest = max(longest, time.monotonic() - last_ok)
    print(json.dumps({"sent": sent, "failed": failed, "longest_gap_s": round(longest, 3),
                      "seconds": round(time.monotonic() - started, 1), "errors": dict(list(errors.items())[:5]),
                      "failed_at": failed_at, "longest_gap_at": longest_at}))


class Client:
    """The readyz loop as a process in the lab's switch namespace."""

    def __init__(self, the_lab):
        cp = the_lab.inventory()["all"]["vars"]["vip_control_plane"]
        url = "https://%s:%d/readyz" % (cp["address"], int(cp.get("port", 6443)))
        ca = os.path.join(the_lab.node("cp1")["dir"], "root", "etc", "kubernetes", "pki", "ca.crt")
        self.proc = subprocess.Popen(["ip", "netns", "exec", the_lab.state["switch"], PY, os.path.abspath(__file__),
                                      "client", url, ca], stdout=subprocess.PIPE, text=True)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, dummy = self.proc.communicate(timeout=30)
        return json.loads(out)


def playbook(the_lab, name, *extra):
    """testkit.labrun.lab_playbook (imported here: this file also runs alone, as the readyz client)."""
    from testkit.labrun import lab_playbook  # pylint: disable=import-outside-toplevel
    return lab_playbook(the_lab, name, *extra)


def kube_vip_vars(the_lab, version, image=None):
    """-e arguments giving vip_kube_vip of the lab's inventory another release (and image repository)."""
    kv = dict(the_lab.inventory()["all"]["vars"]["vip_kube_vip"], version=version)
    if image:
        kv["image"] = image
    return ["-e", json.dumps({"vip_kube_vip": kv})]


def measured_upgrade(the_lab, version, *extra):
    """upgrade.yml to kube-vip VERSION with the readyz client running for the whole run: (proc, client figures)."""
    return measured(the_lab, "upgrade.yml", *(kube_vip_vars(the_lab, version) + list(extra)))


def measured(the_lab, name, *extra):
    """Playbook NAME with the readyz client running for the whole run: (proc, client figures)."""
    the_client = Client(the_lab)
    time.sleep(1.0)  # the client's first answers before the playbook starts
    started = time.monotonic()
    proc = playbook(the_lab, name, *extra)
    seconds = time.monotonic() - started
    time.sleep(1.0)
    figures = the_client.stop()
    figures["playbook_s"] = round(seconds, 1)
    return proc, figures


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.stderr.write(__doc__)
    sys.exit(2)

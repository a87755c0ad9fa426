# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Failure 1 (kube-proxy deletes kube-vip's IPVS service, kube-vip #454) by the real programs, inside one
User-Mode Linux boot: the real counterpart of ipvs_uml.py (fake_kube_vip's IPVS service, run by hand only).

Run by tests/lab/test_ipvs_real_uml.py (make test) and make demo (see docs/lab.md, "Failure 1 by the real
kube-proxy", for what was measured and where the time goes); tests/lab/test_ipvs_uml_checks.py checks its
verdicts. The machine's kernel has no IPVS; one UML boot (tests/kernel/uml.py, Debian's UML 6.1 with ip_vs,
netfilter, ip_set and iptables' legacy tables loaded) runs the lab and the real programs; every ansible-playbook
runs on the machine (tests/lab/uml_controller.py: a namespace of its own linked to the guest by a TAP device, ssh
into the node), so only the modules' Python runs in the guest. The steps:

1. ``lab.py up --real --nodes cp1``: etcd v3.5.15 and kube-apiserver v1.31.0 through the real kubeadm
   phases, and the collection's kube-vip v1.0.0 static pod with the rendered settings, ``lb_enable``
   included (the lab keeps them where the kernel has IPVS); kube-vip puts its IPVS service VIP:6443 ->
   192.0.2.11:6443 on the node (witness ``ipvsadm -Ln``);
2. the live ConfigMap ``kube-system/kube-proxy`` edited as a user (or kubeadm's defaults written again)
   leaves it: ``ipvs.excludeCIDRs`` empty; the lab's own settings go in with it: ``conntrack.maxPerCore: 0``
   (nf_conntrack_max cannot be written from a network namespace; with ``--config`` kube-proxy v1.31.0 ignores
   the flag ``--conntrack-max-per-core``: cmd/kube-proxy/app/options.go Complete) and ``ipvs.syncPeriod: 10s``;
3. the real kube-proxy v1.31.0 in IPVS mode as kubeadm's DaemonSet runs it (tests/lab/kube_proxy_runner.py
   stands in for the DaemonSet controller and kubelet): its sync deletes kube-vip's service, because
   ``cleanLegacyService`` (k8s.io/kubernetes v1.31.0 pkg/proxy/ipvs/proxier.go) deletes every virtual service
   of its IP family that is not one of its own Services unless ``isIPInExcludeCIDRs``, at every sync (it runs
   after a successful iptables-restore);
4. ``verify.yml`` with the lab's admin.conf must fail, naming the missing IPVS service and the cause (the live
   ConfigMap's excludeCIDRs without the VIP);
5. ``remediate.yml`` restores the service, merges the plan's excludeCIDRs into the live ConfigMap and restarts
   kube-proxy (DaemonSet annotation); the runner starts a new kube-proxy on the new ConfigMap. Until then the old
   kube-proxy deletes the service again at each sync; remediate puts it back after each kube-proxy sync period
   (``vip_remediate_ipvs_settle_delay``, passed as the lab's ``ipvs.syncPeriod``, SYNC_PERIOD: what a user whose
   kube-proxy syncs every 10 s sets; the default 30 s is kube-proxy's default period, and the wait is then three
   times as long for nothing) until one passes without a deletion;
6. after the new kube-proxy's first sync and again a sync period later (its metric
   ``kubeproxy_sync_proxy_rules_last_timestamp_seconds`` moved on each time; not /healthz, whose ``lastUpdated``
   is the current time whenever kube-proxy is healthy: k8s.io/kubernetes v1.31.0
   pkg/proxy/healthcheck/proxier_health.go healthzHandler) the service is still there, and ``verify.yml`` passes.

Command line as ipvs_uml.py's (``run [--timeout S]``, ``cleanup MARKER``; VIP_UML_KEEP=DIR keeps the guest's
files), whose run() and main() this uses.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ipvs_uml  # noqa: E402  pylint: disable=wrong-import-position,import-error
import uml_controller  # noqa: E402  pylint: disable=wrong-import-position,import-error

sys.path.insert(0, os.path.join(os.path.dirname(ipvs_uml.HERE), "realbin"))
import realbin  # noqa: E402  pylint: disable=wrong-import-position,import-error

uml = ipvs_uml.uml

# kube-proxy in IPVS mode: netfilter, iptables' legacy tables (no nft_chain_nat in Debian's UML 6.1), ip_set
NETFILTER = ("nf_conntrack", "nf_nat", "ip_tables", "iptable_nat", "iptable_filter", "iptable_mangle", "ip6_tables",
             "ip6table_nat", "ip6table_filter", "ip6table_mangle", "xt_comment", "xt_mark", "xt_MASQUERADE",
             "xt_addrtype", "xt_conntrack", "xt_set", "xt_ipvs", "xt_nat", "xt_tcpudp", "xt_multiport", "ipt_REJECT",
             "ip6t_REJECT", "ip_set", "ip_set_hash_ip", "ip_set_hash_ipport", "ip_set_hash_ipportip",
             "ip_set_hash_ipportnet", "ip_set_hash_net", "ip_set_bitmap_port", "nf_conntrack_netlink")
# kube-proxy's kube-ipvs0 is a dummy link: without the module every sync of kube-proxy v1.31.0 stops at
# EnsureDummyDevice ("Failed to create dummy interface", pkg/proxy/ipvs/proxier.go syncProxyRules), before its
# iptables-restore and cleanLegacyService. The guest cannot load it on demand: the kernel's request_module runs
# /sbin/modprobe, which looks in /lib/modules/6.1.x, absent from the machine's root filesystem.
MODULES = uml.IPVS_MODULES + ("dummy", "llc", "stp", "bridge", "overlay") + NETFILTER
NODES = ("cp1",)
VIP = "192.0.2.10:6443"
REAL_SERVER = "192.0.2.11:6443"
SYNC_PERIOD = 10
MISSING = "cp1: IPVS service 192.0.2.10:6443 missing on the VIP holder"
CAUSE = "ipvs.excludeCIDRs is [], which misses the control-plane VIP 192.0.2.10"
MEM = "3G"
TIMEOUT = 2400  # controller on the machine: 392-539 s quiet, 1157-1219 s at load 7-17 before remediate's fix (docs/lab.md)
GUEST_SCRIPT = r"""
export PATH="$PATH:@GO_DIR@" BAREMETAL_VIP_BIN_CACHE="@BIN_CACHE@"
py="$VIP_UML_CWD/.venv/bin/python"
out="$VIP_UML_DIR"
# The controller is the machine (tests/lab/uml_controller.py): the lab's state directory has the same path on both
# sides. In the guest it is a tmpfs, except what the controller reads or writes (the bootstrap render directory,
# cluster/, admin.conf), bound to the run directory underneath, which the machine sees.
state="$out/lab/state"  # lab.py down removes it at the end: a directory in the tmpfs, not the mount point
mkdir -p "$state/bootstrap" "$state/cluster" /run/ctl-lab && : > "$state/admin.conf" && chmod 600 "$state/admin.conf"
mount --bind "$out/lab" /run/ctl-lab && mount -t tmpfs -o mode=0700 tmpfs "$out/lab" || exit 1
for entry in bootstrap cluster; do
  mkdir -p "$state/$entry" && mount --bind "/run/ctl-lab/state/$entry" "$state/$entry" || exit 1
done
: > "$state/admin.conf" && mount --bind /run/ctl-lab/state/admin.conf "$state/admin.conf" || exit 1
export VIP_UML_CONTROLLER="$out/ctl"
controller() { "$py" tests/lab/uml_controller.py playbook --state-dir "$state" "$@"; }
export ANSIBLE_CONFIG="$VIP_UML_CWD/ansible.cfg" ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_NOCOLOR=1
now() { date +%s.%N; }
mark() { echo "$1 $(now)" >> "$out/times"; }
step() { name=$1; shift; mark "$name-start"; "$@" > "$out/$name.log" 2>&1; rc=$?; mark "$name-end"; echo "$name $rc" >> "$out/steps"; return $rc; }
has_vip() { ip netns exec "$ns" ipvsadm -Ln | grep -q "^TCP  @VIP@ "; }
last_sync() {  # the end of kube-proxy's last successful sync (epoch seconds; its metrics inside cp1)
  ip netns exec "$ns" curl -s --max-time 5 http://127.0.0.1:10249/metrics |
    awk '/^kubeproxy_sync_proxy_rules_last_timestamp_seconds /{print $2}'
}
witness() {  # witness NAME: ipvsadm -Ln, kube-proxy's /healthz and its last sync inside cp1
  ip netns exec "$ns" ipvsadm -Ln > "$out/ipvs-$1.txt" 2>&1
  ip netns exec "$ns" curl -s --max-time 5 http://127.0.0.1:10256/healthz > "$out/healthz-$1.json" 2>&1
  last_sync > "$out/last-sync-$1.txt" 2>&1
  mark "witness-$1"
}
wait_until() {  # wait_until SECONDS COMMAND...: poll every second
  limit=$1; shift; i=0
  while [ "$i" -lt "$limit" ]; do "$@" && return 0; sleep 1; i=$((i + 1)); done; return 1
}
kube_proxy_starts() { "$py" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["starts"]))' \
  "$state/nodes/cp1/kube-proxy/status.json" 2>/dev/null || echo 0; }
restarted() { [ "$(kube_proxy_starts)" -ge 2 ]; }
synced_after() {  # synced_after EPOCH: kube-proxy's last successful sync ended after EPOCH
  v=$(last_sync); [ -n "$v" ] && awk -v v="$v" -v t="$1" 'BEGIN { exit !(v + 0 > t + 0) }'
}
lacks_vip() { ! has_vip; }
step up "$py" tests/lab/lab.py up --real --nodes @NODES@ --state-dir "$state" || exit 1
ns=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["nodes"][0]["netns"])' "$state/lab.json")
cp "$state/bring-up.json" "$out/bring-up.json"
for f in "$state"/ansible-*.log; do cp "$f" "$out/up-$(basename "$f")"; done
wait_until 60 has_vip; witness kube-vip
step edit "$py" tests/lab/kube_proxy_runner.py edit --state-dir "$state" --drop-exclude-cidrs \
  --sync-period @SYNC@s --conntrack-max-per-core 0
mark kube-proxy-start
setsid "$py" tests/lab/kube_proxy_runner.py run --state-dir "$state" --node cp1 > "$out/runner.log" 2>&1 < /dev/null &
( while :; do  # live copies for the host while the guest runs (diagnosis of a run that does not finish)
    cp "$state/nodes/cp1/kube-proxy/kube-proxy.log" "$out/kube-proxy-live.log" 2>/dev/null
    ip netns exec "$ns" ipvsadm -Ln > "$out/ipvs-live.txt" 2>&1
    if grep -q "^TCP  @VIP@ " "$out/ipvs-live.txt"; then now_has=yes; else now_has=no; fi
    [ "$now_has" = "${had:-}" ] || echo "$(now) $now_has" >> "$out/ipvs-history.txt"; had=$now_has
    sleep 10
  done ) &
if wait_until 240 lacks_vip; then mark deleted; fi
witness deleted
cp "$state/nodes/cp1/kube-proxy/kube-proxy.log" "$out/kube-proxy-deleted.log"
step verify controller verify.yml \
  -e "vip_kubeconfig=$state/admin.conf" -e "vip_verify_report=$out/report.json"
step remediate controller remediate.yml \
  -e "vip_kubeconfig=$state/admin.conf" -e vip_remediate_ipvs_settle_delay=@SYNC@
witness remediated
if wait_until 120 restarted; then mark restarted; fi
restart=$(now)
wait_until 120 synced_after "$restart"; witness after-sync1
second=$(now)
sleep @SYNC@; wait_until 60 synced_after "$second"; witness after-sync2
step verify-after controller verify.yml \
  -e "vip_kubeconfig=$state/admin.conf" -e "vip_verify_report=$out/report-after.json"
cp "$state/nodes/cp1/kube-proxy/status.json" "$out/kube-proxy-status.json"
cp "$state/nodes/cp1/kube-proxy/kube-proxy.log" "$out/kube-proxy.log"
tail -n 60 "$state"/nodes/cp1/logs/*kube-vip*.log > "$out/kube-vip.log" 2>&1
cp "$out"/ctl/log-*.txt "$out/" 2>/dev/null
umount "$state/bootstrap" "$state/cluster" "$state/admin.conf"
step down "$py" tests/lab/lab.py down --state-dir "$state"
""".replace("@NODES@", ",".join(NODES)).replace("@VIP@", VIP).replace("@SYNC@", str(SYNC_PERIOD))


def problem():
    """Why this scenario cannot run here (None when it can): UML, the Debian tools kube-proxy needs, and the
    real binaries (built beforehand by `make real-bin`; never built inside the guest)."""
    reason = uml.problem()
    if reason:
        return reason
    for tool in ("ipset", "xtables-legacy-multi", "curl", "sshd", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None and not os.access("/usr/sbin/" + tool, os.X_OK):
            return "%s missing (Debian packages ipset, iptables, curl, openssh-server, openssh-client: " \
                   "`make system`)" % tool
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun missing (the guest's link to the controller on the machine is a TAP device)"
    try:
        gover = realbin.go_version()
    except realbin.BuildError as exc:
        return str(exc)
    missing = [b.name for b in realbin.binaries() if not os.access(b.path(gover), os.X_OK)]
    if missing:
        return "not built: %s (run `make real-bin`)" % ", ".join(missing)
    return None


def guest_script():
    """GUEST_SCRIPT with the Go toolchain's directory and the binary cache of this machine (never built in the
    guest: the caller runs realbin first)."""
    go = shutil.which("go")
    return GUEST_SCRIPT.replace("@GO_DIR@", os.path.dirname(go) if go else "/usr/local/go/bin").replace(
        "@BIN_CACHE@", os.environ.get(realbin.CACHE_ENV, realbin.DEFAULT_CACHE))


# What keeps kube-proxy v1.31.0 from reaching cleanLegacyService, by the line it logs at its default verbosity
# (k8s.io/kubernetes v1.31.0: pkg/proxy/ipvs/proxier.go syncProxyRules returns after "Failed to create dummy
# interface" and after "Failed to execute iptables-restore", both before cleanLegacyService;
# cmd/kube-proxy/app/server_linux.go newProxyServer "can't use the IPVS proxier"; cmd/kube-proxy/app/server.go
# "Error running ProxyServer" when it exits)
KUBE_PROXY_STOPS = (
    ("Failed to create dummy interface", "every sync stops at EnsureDummyDevice (kube-ipvs0 is a dummy link: the "
                                         "guest needs the dummy module), before iptables-restore and cleanLegacyService"),
    ("Failed to execute iptables-restore", "its iptables-restore failed, and syncProxyRules returns before "
                                           "cleanLegacyService (a missing netfilter module or iptables backend)"),
    ("can't use the IPVS proxier", "it refused IPVS mode (CanUseIPVSProxier: ipset or the ip_vs module)"),
    ("Error running ProxyServer", "it exited"),
)


def why_not_deleted(log, last_sync):
    """Why the real kube-proxy left kube-vip's service alone, from its log and the end of its last successful
    sync (kubeproxy_sync_proxy_rules_last_timestamp_seconds, None when absent): a list of reasons, one saying so
    when neither explains it."""
    reasons = [reason for line, reason in KUBE_PROXY_STOPS if line in (log or "")]
    if not reasons and not last_sync:
        reasons.append("no sync of kube-proxy finished (kubeproxy_sync_proxy_rules_last_timestamp_seconds %s)" % (
            last_sync,))
    return reasons or ["kube-proxy synced, yet the service stayed (its log and metrics explain nothing)"]


def seconds_value(text):
    """A metric's value as a witness file holds it (``1.7965859e+09``), None when empty or not a number."""
    try:
        return float((text or "").split()[0])
    except (IndexError, ValueError):
        return None


class Outcome:
    """A guest run and what it showed: ``problems`` is empty when failure 1 was made, found and fixed."""

    def __init__(self, result):
        self.result = result
        self.steps = dict(line.split() for line in result.files.get("steps", "").splitlines() if len(line.split()) == 2)
        self.times = {}
        for line in result.files.get("times", "").splitlines():
            name, dummy, value = line.partition(" ")
            self.times.setdefault(name, float(value))
        self.ipvs = {name: result.files.get("ipvs-%s.txt" % name, "") for name in WITNESSES}
        self.healthz = {name: self._json("healthz-%s.json" % name) for name in WITNESSES}
        self.last_sync = {name: seconds_value(result.files.get("last-sync-%s.txt" % name)) for name in WITNESSES}
        self.kube_proxy = self._json("kube-proxy-status.json") or {}
        self.report, self.report_after = self._json("report.json"), self._json("report-after.json")
        self.controller_runs = []  # (playbook, exit status, seconds) as the machine's controller ran them
        self.problems = self._check()

    _json = ipvs_uml.Outcome._json  # a JSON file of the guest, None when absent or unreadable

    def seconds(self, start, end):
        """Seconds between two marks of the guest (None when one is missing)."""
        if start in self.times and end in self.times:
            return round(self.times[end] - self.times[start], 1)
        return None

    def has_service(self, witness):
        text = self.ipvs[witness]
        return "TCP  %s" % VIP in text and REAL_SERVER in text

    def _check(self):
        problems = []
        if self.result.rc != 0:
            problems.append("the guest script did not finish (exit status %s)" % self.result.rc)
        for name in ("up", "edit", "remediate", "down"):
            if self.steps.get(name) != "0":
                problems.append("step %s: exit status %s" % (name, self.steps.get(name)))
        if not self.has_service("kube-vip"):
            problems.append("the real kube-vip did not put its IPVS service %s -> %s on cp1" % (VIP, REAL_SERVER))
        if "deleted" not in self.times or VIP in self.ipvs["deleted"]:
            problems.append("the real kube-proxy did not delete the IPVS service %s: %s" % (VIP, "; ".join(
                why_not_deleted(self.result.files.get("kube-proxy-deleted.log", ""), self.last_sync.get("deleted")))))
        problems.extend(self._check_reports())
        starts = self.kube_proxy.get("starts") or []
        if len(starts) < 2:
            problems.append("kube-proxy was not restarted after remediate (%d start(s))" % len(starts))
        elif "192.0.2.10/32" not in (starts[-1].get("exclude_cidrs") or []) or not starts[-1].get("restarted_at"):
            problems.append("the restarted kube-proxy did not read excludeCIDRs with the VIP from a restarted "
                            "DaemonSet: %s" % json.dumps(starts[-1]))
        for name in ("remediated", "after-sync1", "after-sync2"):
            if not self.has_service(name):
                problems.append("no IPVS service %s -> %s on cp1 at witness %s" % (VIP, REAL_SERVER, name))
        last = [self.last_sync.get(n) for n in ("after-sync1", "after-sync2")]
        if None in last or last[0] >= last[1]:
            problems.append("kube-proxy did not sync between the two witnesses after its restart "
                            "(kubeproxy_sync_proxy_rules_last_timestamp_seconds %s)" % last)
        return problems

    def _check_reports(self):
        problems = []
        if self.steps.get("verify") in (None, "0"):
            problems.append("verify did not fail with the IPVS service deleted (exit status %s)" % self.steps.get("verify"))
        found = (self.report or {}).get("problems") or []
        if MISSING not in found:
            problems.append("verify's report lacks %r" % MISSING)
        if not any(CAUSE in p and "kube-system/kube-proxy" in p for p in found):
            problems.append("verify's report lacks the cause (the live ConfigMap's excludeCIDRs): %r" % found)
        if self.steps.get("verify-after") != "0" or (self.report_after or {}).get("ok") is not True:
            problems.append("verify after remediate did not pass (exit status %s, problems %s)" % (
                self.steps.get("verify-after"), (self.report_after or {}).get("problems")))
        return problems

    def explain(self):
        """The guest's output and console, and the tail of each step's log (for a failed run)."""
        parts = [self.result.explain()]
        for name in ("up.log", "edit.log", "down.log", "ipvs-history.txt", "runner.log", "kube-proxy.log",
                     "kube-vip.log", "verify.log", "remediate.log",
                     "verify-after.log"):
            if self.result.files.get(name):
                parts.append("--- %s (tail) ---\n%s" % (name, self.result.files[name][-3000:]))
        return "\n".join(parts)

    def text(self):
        """The per-witness IPVS report and the measured times."""
        lines = []
        for name in WITNESSES:
            lines.append("cp1  ipvsadm -Ln %s (kube-proxy's last sync ended %s):" % (
                WITNESSES[name], self.last_sync.get(name) or "-"))
            lines.extend("      " + line for line in (self.ipvs[name].strip() or "(nothing)").splitlines())
        lines.extend(ipvs_uml.verify_lines(self.steps, self.report, self.report_after))
        lines.append("kube-proxy starts: %s" % json.dumps([{k: s.get(k) for k in ("exclude_cidrs", "restarted_at")}
                                                          for s in self.kube_proxy.get("starts") or []]))
        lines.append("measured (s): " + ", ".join("%s %s" % (label, self.seconds(a, b)) for label, a, b in TIMINGS))
        lines.append("controller on the machine: %s" % ", ".join(
            "%s %s s (exit %s)" % (name, seconds, rc) for name, rc, seconds in self.controller_runs))
        lines.append("guest run: %.1f s (one UML boot)" % self.result.seconds)
        return "\n".join(lines)


WITNESSES = {"kube-vip": "after up --real (kube-vip's service)", "deleted": "after the real kube-proxy synced",
             "remediated": "right after remediate.yml", "after-sync1": "after the restarted kube-proxy's first sync",
             "after-sync2": "a sync period later"}
TIMINGS = (("up --real", "up-start", "up-end"), ("kube-proxy start to deletion", "kube-proxy-start", "deleted"),
           ("verify.yml", "verify-start", "verify-end"), ("remediate.yml", "remediate-start", "remediate-end"),
           ("remediate end to kube-proxy restarted", "remediate-end", "restarted"),
           ("restarted to first sync witnessed", "restarted", "witness-after-sync1"),
           ("verify.yml after", "verify-after-start", "verify-after-end"), ("down", "down-start", "down-end"))


def run(timeout=TIMEOUT):
    """Boot UML once, run the guest steps, return an Outcome (ipvs_uml.run: SIGTERM and leftover guests handled
    there). The Ansible controller runs on the machine, in a namespace made for the run, linked to the guest by a
    TAP device (uml_controller.Controller). The caller checks problem() first."""
    directory = tempfile.mkdtemp(prefix="vip-uml-", dir="/var/tmp")
    controller = uml_controller.Controller(directory, "vipuml-%d" % os.getpid())
    try:
        controller.start()
        outcome = ipvs_uml.run(timeout, script=guest_script(), modules=MODULES, mem=MEM, outcome=Outcome,
                               netns=controller.netns, tap=controller.tap, directory=directory)
        outcome.controller_runs = list(controller.runs)
        return outcome
    finally:
        controller.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(ipvs_uml.main(sys.argv[1:], scenario=sys.modules[__name__]))

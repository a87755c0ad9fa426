#!/usr/bin/env bash
# `make demo`: the collection's main job on the built-in lab (tests/lab/lab.py, examples/lab/).
#
#   lab up --real (5 network-namespace nodes; etcd, kube-apiserver, kubeadm, kube-vip and
#   kube-vip-cloud-provider built from their Go modules; bootstrap.yml places kube-vip and applies
#   the cluster objects) -> validate -> render into build/render -> the API through the VIP from the
#   lab's switch -> SIGKILL the holder's kube-vip, measured failover -> verify (must pass)
#   -> failure (5) through the real API, (2)-(4) injected by fake_kube_vip.py (a stand-in, NOT
#   kube-vip; it says so) -> verify (must fail) -> remediate --check --diff
#   -> remediate -> verify (must pass)
#   -> per-node report
#   -> failure (1), kube-vip's IPVS service deleted, which needs IPVS (this kernel has none): the lab
#      inside one User-Mode Linux boot (tests/lab/ipvs_uml.py, the same steps as
#      tests/lab/test_ipvs_uml.py): verify must fail, remediate, verify must pass; ipvsadm -Ln as witness
#   -> lab down and any UML guest killed (always, also on failure or Ctrl-C)
#
# Where UML cannot run (not installed, ...) the IPVS step is listed as skipped; under CI=true it fails.
# Root only: the lab creates network and mount namespaces.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: needs root (the lab creates network and mount namespaces); run it as root, e.g. 'sudo make demo'" >&2
  exit 2
fi

top=$(cd "$(dirname "$0")/../.." && pwd)
bin="$top/.venv/bin"
py="$bin/python"
export ANSIBLE_CONFIG="$top/ansible.cfg"
export PATH="$bin:$PATH"
export ANSIBLE_DEPRECATION_WARNINGS=0
cd "$top"

build="$top/build"
out="$build/demo"
mkdir -p "$out"
work=$(mktemp -d /tmp/baremetal-vip-demo.XXXXXX)
state="$work/lab"
inv="$state/inventory.yml"
# marks the UML guest's processes so that cleanup can kill them if the demo is interrupted
export VIP_UML_RUN="demo-$$-${work##*.}"

cleanup() {
  rc=$?
  "$py" tests/lab/lab.py down --state-dir "$state" || rc=1
  if [ -n "${uml_pid:-}" ]; then  # the UML step was interrupted: stop it (it kills its guest)
    kill "$uml_pid" 2> /dev/null || true
    wait "$uml_pid" 2> /dev/null || true
  fi
  "$py" tests/lab/ipvs_uml.py cleanup "$VIP_UML_RUN" > /dev/null || rc=1
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

demo_t0=$(date +%s%N)
skipped=()
done_steps=()
step() { printf '\n=== demo: %s\n' "$*"; }
timed() {  # timed NAME CMD...: run, remember the duration
  local t0 ms
  t0=$(date +%s%N)
  "${@:2}"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  done_steps+=("$1 ($((ms / 1000)).$(printf '%03d' $((ms % 1000)))s)")
}

step "lab up with the real control plane: cp1 cp2 cp3 w1 w2 (state in $state)"
# etcd, kube-apiserver (laid out by the real kubeadm), the collection's kube-vip static pod, our services
# DaemonSet and kube-vip-cloud-provider, all built from their Go modules (make real-bin ran first) and
# started by tests/lab/podrunner.py, the one stand-in (for kubelet + container runtime)
timed "lab up --real" "$py" tests/lab/lab.py up --real --nodes cp1,cp2,cp3,w1,w2 --state-dir "$state"
labcli() { "$py" tests/lab/lab.py "$1" --state-dir "$state" "${@:2}"; }
# the lab's controller is its switch namespace: the only place from which the VIPs can be reached
play() { labcli exec -- ansible-playbook -i "$inv" -e "vip_kubeconfig=$state/admin.conf" "$@"; }

step "validate the plan (playbooks/validate.yml)"
timed validate play playbooks/validate.yml

step "render every manifest into build/render"
timed render play playbooks/render.yml -e "vip_render_dir=$build/render"

vip=$("$py" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["all"]["vars"]["vip_control_plane"]["address"])' "$inv")
ca="$state/nodes/cp1/root/etc/kubernetes/pki/ca.crt"
step "a client on the lab's switch reaches the real API server through the VIP https://$vip:6443"
labcli exec -- curl -sS --max-time 5 --cacert "$ca" "https://$vip:6443/version"
holder=$(labcli api GET /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/plndr-cp-lock \
  | "$py" -c 'import json, sys; print(json.load(sys.stdin)["body"]["spec"]["holderIdentity"])')
echo "lease kube-system/plndr-cp-lock is held by $holder (written by the real kube-vip)"
labcli pods | "$py" -c '
import json, sys
for node, status in sorted(json.load(sys.stdin).items()):
    print("  %-4s %s" % (node, ", ".join("%s (%s)" % (p, s["phase"]) for p, s in sorted(status["pods"].items()))))'

step "verify on the healthy lab (playbooks/verify.yml): must PASS"
timed "verify (healthy)" play playbooks/verify.yml -e "vip_verify_report=$out/verify-healthy.json"

step "the failures"
echo "(4) SIGKILL the VIP holder's kube-vip, its node's runner paused as after a crash: another node takes the"
echo "    VIP, the API answers again, and the killed kube-vip never removed its address: two holders, by the real kube-vip"
labcli failover --pause > "$out/failover.json"
"$py" -c '
import json, sys
f = json.load(open(sys.argv[1]))
print("    VIP moved from %s to %s in %.1f s; https://VIP/readyz answered again after %s s (leader election profile %s);"
      " holders now: %s" % (f["old_holder"], f["new_holder"], f["vip_moved_s"], f["api_answered_s"], f["profile"],
                           ", ".join(f["holders_after"])))' "$out/failover.json"
paused=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["paused"])' "$out/failover.json")
done_steps+=("failover on the real kube-vip: $("$py" -c 'import json, sys; f = json.load(open(sys.argv[1])); print("%s -> %s in %.1f s" % (f["old_holder"], f["new_holder"], f["vip_moved_s"]))' "$out/failover.json")")
echo "(5) the services DaemonSet pinned to control-plane nodes, applied through the real API by the collection's"
echo "    own field manager, as an older inventory would leave it; the lab's placement follows it"
labcli pin-daemonset > /dev/null
echo "(2), (3): leftovers INJECTED by tests/lab/fake_kube_vip.py (a stand-in, not kube-vip): a Service address"
echo "    on a control-plane interface, stale routes in table 198 proto 248"
for failure in service-vip-on-cp stale-routes; do
  "$py" tests/lab/fake_kube_vip.py --state-dir "$state" inject "$failure"
done
echo "(1) needs IPVS, which this kernel lacks: it runs in User-Mode Linux at the end"

step "verify: must FAIL now"
if play playbooks/verify.yml -e "vip_verify_report=$out/verify-before.json"; then
  echo "demo: verify passed although the failures were injected" >&2
  exit 1
fi
if ! "$py" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["ok"] is not False)' "$out/verify-before.json"; then
  echo "demo: verify failed without writing its report (build/demo/verify-before.json): a crash, not a finding" >&2
  exit 1
fi
done_steps+=("verify found the failures (build/demo/verify-before.json)")

step "remediate, check mode first (playbooks/remediate.yml --check --diff)"
timed "remediate --check" play playbooks/remediate.yml --check --diff

step "remediate"
timed remediate play playbooks/remediate.yml
# the killed kube-vip's node runs again (it comes back as a follower); the scheduler's stand-in places the
# DaemonSet remediate applied again
labcli resume "$paused"
labcli place > /dev/null

step "verify: must PASS now"
timed "verify after remediation" play playbooks/verify.yml -e "vip_verify_report=$out/verify-after.json"

step "per-node report (read from outside the nodes with iproute2; also in build/demo/nodes.json)"
"$py" tests/lab/fake_kube_vip.py --state-dir "$state" show > "$out/nodes.json"
"$py" - "$out/nodes.json" "$state" <<'PY'
import json, os, sys
nodes = json.load(open(sys.argv[1]))
for name, node in nodes.items():
    manifests = os.path.join(sys.argv[2], "nodes", name, "root", "etc", "kubernetes", "manifests")
    files = sorted(os.listdir(manifests)) if os.path.isdir(manifests) else []
    print("%-4s addresses: %s" % (name, ", ".join(node["addresses"])))
    print("     routes (non-main tables): %s" % (", ".join("%s table %s proto %s" % (r["dst"], r["table"], r["protocol"]) for r in node["routes"]) or "-"))
    print("     ipvs: %s" % ("not in this kernel" if node["ipvs"] is None else ", ".join(node["ipvs"]) or "-"))
    print("     /etc/kubernetes/manifests: %s" % (", ".join(files) or "-"))
PY

# the real control plane is not needed any more: its CPU goes to the User-Mode Linux guest
"$py" tests/lab/lab.py down --state-dir "$state" > /dev/null

step "failure (1) with IPVS: the lab inside User-Mode Linux (tests/lab/ipvs_uml.py; one boot, about 2-3 minutes, silent until done)"
t0=$(date +%s%N)
uml_rc=0
# in the background so that a signal reaches the traps at once, not after the guest run
"$py" tests/lab/ipvs_uml.py run > "$out/ipvs-uml.txt" 2>&1 &
uml_pid=$!
wait "$uml_pid" || uml_rc=$?
uml_pid=
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cat "$out/ipvs-uml.txt"
uml_time="$((ms / 1000)).$(printf '%03d' $((ms % 1000)))s"
case $uml_rc in
  0) done_steps+=("failure (1) in User-Mode Linux: verify failed, remediate restored the IPVS service, verify passed ($uml_time; build/demo/ipvs-uml.txt)") ;;
  3)
    reason=$(grep -m1 'cannot run here' "$out/ipvs-uml.txt" || true)
    if [ "${CI:-}" = true ]; then
      echo "demo: CI=true and failure (1) could not be shown: $reason" >&2
      exit 1
    fi
    echo "demo: failure (1) NOT shown: $reason (continuing: not under CI=true)"
    skipped+=("failure (1), IPVS in User-Mode Linux: $reason")
    ;;
  *)
    echo "demo: the IPVS run in User-Mode Linux failed (exit status $uml_rc after $uml_time; build/demo/ipvs-uml.txt)" >&2
    exit 1
    ;;
esac

printf '\n=== demo: done\n'
for s in "${done_steps[@]}"; do echo "  ran:     $s"; done
for s in "${skipped[@]+"${skipped[@]}"}"; do echo "  skipped: $s"; done
ms=$(( ($(date +%s%N) - demo_t0) / 1000000 ))
echo "  total:   $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s"


# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/upgrade.yml on the real lab (one bring-up): kube-vip v1.0.0 (the lab's) -> v0.9.2 -> v1.0.0, with a node
that does not come back and the API going away mid-way; then playbooks/remove_node.yml on the VIP holder.

Both releases are built from their Go modules (tests/realbin: kube-vip and kube-vip-previous); the runner maps each
image tag to its binary, and the image example.invalid/kube-vip-exits to /bin/false (a node that does not come
back). Upstream: a stopped kube-vip releases its lease: pkg/cluster/clusterLeaderElection.go (kube-vip v1.0.0 and
v0.9.2) cancels the election's context on SIGTERM and runs leaderelection with ReleaseOnCancel: true, so the holder's
manifest removed (kubelet's SIGTERM) hands the VIP over at once instead of after the lease runs out. Across that
handover the holder keeps answering through a copy of the VIP on its loopback: kube-vip deletes only VIP/32 on its own
interface (pkg/vip/address.go DeleteIP: netlink AddrDel on configurator.link, v1.0.0 and v0.9.2), and the kernel's
inet_rtm_deladdr (net/ipv4/devinet.c) looks only at the device the request names, so the copy stays local until
upgrade.yml removes it (the new leader then holds the lease and the VIP and has announced it). The env rename
vip_cidr -> vip_subnet (pkg/kubevip/config_environment.go v0.9.0) and enable_endpointslices (needed before v1.0.0)
come from the plan's release table (plugins/plugin_utils/plan_spec.py KUBE_VIP_RELEASES).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time

import pytest
import yaml

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_spec import LEADER_ELECTION_PROFILES

HERE = os.path.dirname(os.path.abspath(__file__))

import lab  # noqa: E402  pylint: disable=wrong-import-position
import upgrade_scenario as scenario  # noqa: E402  pylint: disable=wrong-import-position
from testkit.labrun import api, lab_cli, pod_logs, real_lab_up  # noqa: E402  pylint: disable=wrong-import-position
from testkit.netns import vip_holders  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network and mount namespaces)")

CP = ["cp1", "cp2", "cp3"]
PREVIOUS, CURRENT = "0.9.2", "1.0.0"


@pytest.fixture(scope="module")
def up_lab(tmp_path_factory):
    yield from real_lab_up(tmp_path_factory, "upgrade", CP + ["w1"])


def manifest(the_lab, node):
    path = os.path.join(the_lab.node(node)["dir"], "root", "etc", "kubernetes", "manifests", "kube-vip.yaml")
    with open(path, "rb") as handle:
        data = handle.read()
    return hashlib.sha256(data).hexdigest(), yaml.safe_load(data)


def image(the_lab, node):
    return manifest(the_lab, node)[1]["spec"]["containers"][0]["image"]


def running_binary(the_lab, node):
    """The program the runner's kube-vip process of NODE executes (/proc/PID/exe), or None."""
    pod = the_lab.pods()[node]["pods"].get("kube-vip") or {}
    pid = ((pod.get("containers") or {}).get("kube-vip") or {}).get("pid")
    return os.path.realpath("/proc/%d/exe" % pid) if pid else None


def readyz(the_lab):
    """/readyz through the VIP from the lab's switch (the VIP is not reachable from the host's namespace)."""
    cp = the_lab.inventory()["all"]["vars"]["vip_control_plane"]
    ca = os.path.join(the_lab.node("cp1")["dir"], "root", "etc", "kubernetes", "pki", "ca.crt")
    return lab_cli(the_lab.state_dir, "exec", "--", "curl", "-sS", "--max-time", "5", "--cacert", ca,
                   "https://%s:%d/readyz" % (cp["address"], cp["port"]), check=False).stdout.strip()


def vip(the_lab):
    return the_lab.inventory()["all"]["vars"]["vip_control_plane"]["address"]


RETRY_PERIOD_S = LEADER_ELECTION_PROFILES["default"]["retry_period"]


def test_check_diff_shows_the_change_and_changes_nothing(up_lab):
    before = {n: manifest(up_lab, n)[0] for n in CP}
    pods = {n: up_lab.pods()[n]["pods"]["kube-vip"]["digest"] for n in CP}
    proc = scenario.playbook(up_lab, "upgrade.yml", "--check", "--diff", *scenario.kube_vip_vars(up_lab, PREVIOUS))
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert "kube-vip:v%s" % PREVIOUS in proc.stdout and "enable_endpointslices" in proc.stdout, proc.stdout[-5000:]
    assert "1.0.0 -> 0.9.2: env enable_endpointslices turns EndpointSlices on" in proc.stdout
    # the holder's move is shown too: the copy of the VIP its loopback would hold across the handover
    assert "+%s/32 dev lo" % vip(up_lab) in proc.stdout, proc.stdout[-5000:]
    assert {n: manifest(up_lab, n)[0] for n in CP} == before
    assert {n: up_lab.pods()[n]["pods"]["kube-vip"]["digest"] for n in CP} == pods


def test_a_node_that_does_not_come_back_stops_the_upgrade_and_the_rest_serves(up_lab):
    holder = vip_holders(up_lab, vip(up_lab))
    assert len(holder) == 1
    before = {n: manifest(up_lab, n)[0] for n in CP}
    proc = scenario.playbook(up_lab, "upgrade.yml", "-e", "vip_upgrade_timeout=8", *scenario.kube_vip_vars(
        up_lab, CURRENT, image=lab.BROKEN_KUBE_VIP_IMAGE))
    assert proc.returncode != 0, proc.stdout[-5000:]
    first = [n for n in CP if n != holder[0]][0]  # the holder comes last, the others in inventory order
    assert "The upgrade stopped at %s" % first in proc.stdout, proc.stdout[-5000:]
    assert "run the same command again" in proc.stdout
    assert image(up_lab, first).startswith(lab.BROKEN_KUBE_VIP_IMAGE + ":")
    untouched = [n for n in CP if n != first]
    assert {n: manifest(up_lab, n)[0] for n in untouched} == {n: before[n] for n in untouched}
    assert vip_holders(up_lab, vip(up_lab)) == holder
    assert up_lab.pods()[first]["pods"]["kube-vip"]["containers"]["kube-vip"]["restarts"] > 0
    assert readyz(up_lab) == "ok"  # the API still answers through the VIP


STOP_API_AFTER = """
import os, signal, subprocess, sys
marker, trigger, node, pids = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
argv = sys.argv[5:]
code = subprocess.call(argv)
if code == 0 and node == trigger and not os.path.exists(marker):
    for pid in pids.split(","):
        os.kill(int(pid), signal.SIGSTOP)
    open(marker, "w").close()
sys.exit(code)
"""


def api_server_pids(the_lab):
    return [the_lab.pod_pid(node, "kube-apiserver") for node in CP]


def wait_readyz(the_lab, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if readyz(the_lab) == "ok":
            return time.monotonic() - (deadline - timeout)
        time.sleep(1.0)
    raise AssertionError("the API did not answer through the VIP within %ds\n%s" % (timeout, pod_logs(the_lab)))


def test_the_api_unreachable_after_the_first_node_stops_the_upgrade_there(up_lab, tmp_path):
    """Every kube-apiserver frozen (SIGSTOP) once the first node runs its new kube-vip: the run stops there.

    The wait hook (the lab's runner status) is wrapped so that it freezes the three API servers right after it
    answers for the first node. kube-vip v1.0.0 then cannot renew its lease: after the renew deadline the holder
    deletes the VIP and exits (pkg/cluster/clusterLeaderElection.go v1.0.0, onStoppedLeading: DeleteIP, then
    "lost leadership, restarting kube-vip"), so the API answers neither on a node nor through the VIP. The upgrade
    must stop at the first node with a message naming the API and how to resume, the other nodes untouched; a
    second run while the API is still down must stop before touching any node."""
    holder = vip_holders(up_lab, vip(up_lab))
    assert len(holder) == 1
    first = [n for n in CP if n != holder[0]][0]
    before = {n: manifest(up_lab, n)[0] for n in CP}
    pids = api_server_pids(up_lab)
    marker = str(tmp_path / "api-stopped")
    wrapper = str(tmp_path / "stop_api_after.py")
    with open(wrapper, "w") as handle:
        handle.write(STOP_API_AFTER)
    wait = up_lab.inventory()["all"]["vars"]["vip_upgrade_wait_command"]
    hook = [wait[0], wrapper, marker, first, "{{ inventory_hostname }}", ",".join(map(str, pids))] + wait
    try:
        proc = scenario.playbook(up_lab, "upgrade.yml", "-e", json.dumps({"vip_upgrade_wait_command": hook}),
                                 "-e", "vip_upgrade_api_retries=3", *scenario.kube_vip_vars(up_lab, PREVIOUS))
        assert os.path.exists(marker), proc.stdout[-5000:]
        assert proc.returncode != 0, proc.stdout[-5000:]
        assert "The upgrade stopped at %s: its new kube-vip runs, but the API did not answer" % first in proc.stdout, \
            proc.stdout[-5000:]
        assert "run the same command again: %s is on the target and is skipped" % first in proc.stdout
        assert image(up_lab, first) == "ghcr.io/kube-vip/kube-vip:v%s" % PREVIOUS
        untouched = [n for n in CP if n != first]
        assert {n: manifest(up_lab, n)[0] for n in untouched} == {n: before[n] for n in untouched}
        placed = {n: manifest(up_lab, n)[0] for n in CP}
        again = scenario.playbook(up_lab, "upgrade.yml", *scenario.kube_vip_vars(up_lab, PREVIOUS))
        assert again.returncode != 0, again.stdout[-5000:]
        assert "The upgrade did not start: the API does not answer through the control-plane VIP" in again.stdout, \
            again.stdout[-5000:]
        assert {n: manifest(up_lab, n)[0] for n in CP} == placed
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    print("API through the VIP again %.1fs after SIGCONT" % wait_readyz(up_lab))


def test_a_rerun_resumes_and_a_second_one_skips_every_node(up_lab):
    binaries = up_lab.state["binaries"]
    proc, figures = scenario.measured_upgrade(up_lab, PREVIOUS)
    assert proc.returncode == 0, proc.stdout[-6000:]
    # the node the previous test upgraded before the API went away is not upgraded again
    done = [n for n in CP if "%s: already on the target" % n in proc.stdout]
    assert len(done) == 1, proc.stdout[-6000:]
    for node in CP:
        assert image(up_lab, node) == "ghcr.io/kube-vip/kube-vip:v%s" % PREVIOUS
        assert running_binary(up_lab, node) == os.path.realpath(binaries["kube-vip-v%s" % PREVIOUS])
    # planned, not discovered: the release table's difference between the two releases, named before any change
    # (enable_endpointslices is rendered in the services DaemonSet only, so the static pod's env has no such change)
    assert re.search(r"v?1\.0\.0 -> v?0\.9\.2: env enable_endpointslices turns EndpointSlices on", proc.stdout), \
        proc.stdout[-6000:]
    print("upgrade %s -> %s: %s" % (CURRENT, PREVIOUS, json.dumps(figures)))
    again = scenario.playbook(up_lab, "upgrade.yml", *scenario.kube_vip_vars(up_lab, PREVIOUS))
    assert again.returncode == 0, again.stdout[-5000:]
    assert all("%s: already on the target" % n in again.stdout for n in CP), again.stdout[-5000:]
    assert "Place the new kube-vip manifest" not in again.stdout


def test_upgrade_keeps_the_api_answering_through_the_vip(up_lab):
    """v0.9.2 -> v1.0.0 with the readyz client on the switch: the holder is moved gracefully, last."""
    holder = vip_holders(up_lab, vip(up_lab))
    proc, figures = scenario.measured_upgrade(up_lab, CURRENT)
    assert proc.returncode == 0, proc.stdout[-6000:]
    print("upgrade %s -> %s: %s" % (PREVIOUS, CURRENT, json.dumps(figures)))
    with open(os.path.join(up_lab.state_dir, "upgrade-figures.json"), "w") as handle:
        json.dump(figures, handle)
    assert "VIP %s moved off %s: kept answering there (a copy on lo)" % (vip(up_lab), holder[0]) in proc.stdout, \
        proc.stdout[-5000:]
    for node in CP:
        assert running_binary(up_lab, node) == os.path.realpath(up_lab.state["binaries"]["kube-vip"])
    env = {e["name"] for e in manifest(up_lab, "cp1")[1]["spec"]["containers"][0]["env"]}
    assert "enable_endpointslices" not in env
    assert len(vip_holders(up_lab, vip(up_lab))) == 1  # the old holder's loopback copy is gone (one holder)
    assert figures["sent"] > 50
    # The goal is zero failed requests (docs/benchmarks.md). With the old holder answering through its loopback copy
    # until the new leader announced, the longest gap measured 0.19-0.42 s (before: 2.2-5.3 s) and 0-1 requests
    # failed (5 runs): the one failure was likely a connection open at the moment the new leader's announcement moved
    # the client's ARP entry (the new holder resets a connection it does not know), which nothing on the servers' side
    # prevents, so zero is not asserted. What this test holds to: the VIP never went unanswered for a whole
    # retry period of the leader election (client-go's RetryPeriod, 2 s in the default profile; a released lease
    # without the copy left gaps of 2.2-5.3 s), and at most one request per move failed.
    assert figures["longest_gap_s"] < RETRY_PERIOD_S and figures["failed"] <= 1, figures
    verify = scenario.playbook(up_lab, "verify.yml")
    assert verify.returncode == 0, verify.stdout[-4000:]


def lo_addresses(the_lab, node):
    """The addresses on NODE's lo (ip -j, as ADDRESS/PREFIX)."""
    out = subprocess.run(["ip", "-n", the_lab.node(node)["netns"], "-j", "address", "show", "dev", "lo"],
                         capture_output=True, text=True, check=True).stdout
    return {"%s/%s" % (a["local"], a["prefixlen"]) for link in json.loads(out or "[]") for a in link.get("addr_info", [])}


def services_daemonset_nodes(the_lab):
    """The hostnames in the services DaemonSet's node affinity, as the API has it."""
    got = api(the_lab.state_dir, "GET", "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-vip-ds")
    assert got["status"] == 200, got
    affinity = got["body"]["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    return sorted(affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
                  ["matchExpressions"][0]["values"])


def test_removing_the_vip_holder_moves_the_vip_first_and_the_api_keeps_answering(up_lab):
    """remove_node.yml on the node holding the control-plane VIP, with the readyz client on the switch.

    Moved as upgrade.yml moves the holder (the shared playbooks/tasks/vip_holder_move.yml, a copy of the VIP on its
    loopback until the new leader holds the lease and the VIP and has announced it). The holder's kube-vip static pod
    is removed first: the runner (kubelet) sends SIGTERM and kube-vip v1.0.0
    releases its lease (pkg/cluster/clusterLeaderElection.go: ReleaseOnCancel: true, the context cancelled on
    SIGTERM), so another node takes the VIP after about one retry period instead of the lease's duration. Then the
    node's files with the collection's header go, and the services DaemonSet is applied again from the plan without
    the node (in this lab it runs on w1 only, so its placement stays w1).
    Runs last: it takes a node out of the lab's VIP layer."""
    holder = vip_holders(up_lab, vip(up_lab))
    assert len(holder) == 1
    gone = holder[0]
    root = os.path.join(up_lab.node(gone)["dir"], "root")
    ours = [os.path.join(root, path) for path in ("etc/kubernetes/manifests/kube-vip.yaml",
                                                  "etc/sysctl.d/90-baremetal-vip.conf",
                                                  "etc/modules-load.d/baremetal-vip.conf")]
    assert all(os.path.exists(path) for path in ours), ours
    placement = services_daemonset_nodes(up_lab)
    proc, figures = scenario.measured(up_lab, "remove_node.yml", "-e", "vip_remove_node=%s" % gone)
    print("remove_node %s (the VIP holder): %s" % (gone, json.dumps(figures)))
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "holds the control-plane VIP now: it moves first" in proc.stdout
    after = vip_holders(up_lab, vip(up_lab))
    assert len(after) == 1 and after[0] != gone, after
    assert [path for path in ours if os.path.exists(path)] == []
    pods = up_lab.pods()[gone]["pods"]
    assert "kube-vip" not in pods and "kube-apiserver" in pods  # the API server is not the collection's
    # applied again from the plan without the node: its hostname is in no DaemonSet's node affinity
    assert services_daemonset_nodes(up_lab) == [n for n in placement if n != gone]
    assert readyz(up_lab) == "ok"
    assert figures["sent"] > 20
    # moved as upgrade.yml moves the holder (playbooks/tasks/vip_holder_move.yml): the copy on lo kept it answering
    assert "VIP %s moved off %s to %s: kept answering there (a copy on lo)" % (vip(up_lab), gone, after[0]) \
        in proc.stdout, proc.stdout[-6000:]
    assert "%s/32" % vip(up_lab) not in lo_addresses(up_lab, gone)  # the copy is gone with the node's kube-vip
    # as the upgrade test: never unanswered for a whole retry period (without the copy: 1.1-4.4 s), at most one failure
    assert figures["longest_gap_s"] < RETRY_PERIOD_S and figures["failed"] <= 1, figures

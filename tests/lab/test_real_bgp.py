# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real kube-vip in BGP mode against a real upstream router (FRR in the lab's switch namespace).

One real lab (cp1, cp2, w1) from examples/lab-bgp/inventory.yml: the collection's kube-vip static pod in
BGP mode (control-plane VIP 203.0.113.10 on lo, leader election on plndr-cp-lock, one peer: the switch's
192.0.2.1 with an MD5 password) and the services DaemonSet on w1; tests/lab/bgprouter.py runs FRR's bgpd
and zebra in the switch namespace with one passive neighbour per node. Witnesses: the router's own
tables (`vtysh ... json`), the switch namespace's kernel route (zebra installs what bgpd learned) and the
real API server's Lease.

Upstream: kube-vip v1.0.0 speaks BGP through the GoBGP library and only dials out (pkg/bgp/server.go:
ListenPort -1), passes the peer's password as GoBGP's AuthPassword (pkg/bgp/peers.go AddPeer), and with
vip_leaderelection only the leader adds the VIP to lo and announces it (pkg/manager/manager_bgp.go).
Under CI=true a missing FRR fails the module instead of skipping it (`make system` installs it, bindep.txt).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import time

import netaddr
import pytest
import yaml

import bgprouter
from testkit import labrun
from testkit.labrun import PY, failover_bound, real_lab_up

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network and mount namespaces)")

EXAMPLE = os.path.join(TOP, "examples", "lab-bgp", "inventory.yml")
NODES = ["cp1", "cp2", "w1"]
SWITCH = "192.0.2.1"
OUTPUTS = []  # everything the lab and this module printed: the password must be in none of it


def lab_cli(state, command, *args, check=True):
    return labrun.lab_cli(state, command, *args, check=check, outputs=OUTPUTS)


def api(state, method, path, body=None):
    return labrun.api(state, method, path, body, outputs=OUTPUTS)


def password():
    with open(EXAMPLE) as handle:
        peers = yaml.safe_load(handle)["all"]["vars"]["vip_bgp"]["peers"]
    return next(p["password"] for p in peers if p["address"] == SWITCH)


def lease_holder(state, namespace="kube-system", name="plndr-cp-lock"):
    got = api(state, "GET", "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s" % (namespace, name))
    return (got["body"].get("spec") or {}).get("holderIdentity") if got["status"] == 200 else None


def wait(what, probe, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("%s not within %ds" % (what, timeout))


def kube_vip_logs(the_lab):
    out = []
    for path in sorted(glob.glob(os.path.join(the_lab.state_dir, "nodes", "*", "logs", "*kube-vip*"))):
        with open(path, errors="replace") as handle:
            out.append("--- %s\n%s" % (path, "\n".join(handle.read().splitlines()[-20:])))
    return "\n".join(out).replace(password(), "<password>")


@pytest.fixture(scope="module")
def bgp_lab(tmp_path_factory):
    if not (os.access(os.path.join(bgprouter.FRR_DIR, "bgpd"), os.X_OK) and shutil.which(bgprouter.VTYSH)):
        message = "FRR (Debian's frr: bgpd, zebra, vtysh) is not installed: `make system` installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield from real_lab_up(tmp_path_factory, "bgplab", NODES, ["--example", EXAMPLE], OUTPUTS)


def established(the_lab):
    got = bgprouter.neighbors(the_lab.state["id"])
    return got if all(got.get(n["ipv4"], {}).get("state") == "Established" for n in the_lab.nodes) else None


def md5_counters(netns):
    """TcpExt TCPMD5* counters of a namespace (nstat -azs: absolute values, zero ones too, no history written)."""
    out = subprocess.run(["ip", "netns", "exec", netns, "nstat", "-azs", "TcpExtTCPMD5*"], capture_output=True,
                         text=True, check=True).stdout
    return {f[0]: int(f[1]) for f in (line.split() for line in out.splitlines()) if f and f[0].startswith("TcpExt")}


def test_every_node_peers_with_the_router_using_the_rendered_md5_password(bgp_lab):
    """Every node's kube-vip (control plane on cp1, cp2; services on w1) has an Established session; the router
    requires MD5 from each (a connection without the password is not even answered), so the rendered
    static pod's bgp_peers carries the inventory's password and kube-vip signs with it."""
    got = wait("every session Established", lambda: established(bgp_lab), 90)
    print("router neighbours: %s" % json.dumps({a: (n["description"], n["state"]) for a, n in got.items()}))
    manifest = os.path.join(bgp_lab.state_dir, "nodes", "cp1", "root", "etc", "kubernetes", "manifests",
                            "kube-vip.yaml")
    with open(manifest) as handle:
        env = {e["name"]: e.get("value") for e in yaml.safe_load(handle)["spec"]["containers"][0]["env"]}
    assert env["bgp_enable"] == "true" and env["vip_interface"] == "lo"
    assert password() in env["bgp_peers"], "the rendered bgp_peers lacks the inventory's password"
    with open(os.path.join(bgprouter.router_dir(bgp_lab.state["id"]), "bgpd.conf")) as handle:
        conf = handle.read()
    for node in bgp_lab.nodes:
        assert " neighbor %s password %s\n" % (node["ipv4"], password()) in conf, node["name"]
    # without the password, w1's address gets no answer at all: the router's kernel drops the unsigned SYN
    sw = bgp_lab.state["switch"]
    before = md5_counters(sw)
    probe = ("import socket,sys\ns=socket.socket()\ns.settimeout(3)\ns.bind(('%s',0))\n"
             "try:\n s.connect(('%s',179)); print('connected')\nexcept OSError as e: print('no answer:', e)\n"
             % (bgp_lab.node("w1")["ipv4"], SWITCH))
    out = subprocess.run(["ip", "netns", "exec", bgp_lab.node("w1")["netns"], PY, "-c", probe], capture_output=True,
                         text=True, check=True).stdout
    after = md5_counters(sw)
    print("unsigned connect from w1's address: %s; switch TCPMD5NotFound %s -> %s"
          % (out.strip(), before.get("TcpExtTCPMD5NotFound"), after.get("TcpExtTCPMD5NotFound")))
    assert not out.startswith("connected"), out
    assert after["TcpExtTCPMD5NotFound"] > before["TcpExtTCPMD5NotFound"], (before, after)
    assert after.get("TcpExtTCPMD5Failure", 0) == before.get("TcpExtTCPMD5Failure", 0), (before, after)


def test_router_routes_the_vip_to_the_lease_holder(bgp_lab):
    """The router's table has the VIP /32 with the lease holder's address as its only next hop, zebra installed
    it in the switch namespace's kernel, and the API answers through that route (the VIP is on lo: no ARP)."""
    vip = bgp_lab.inventory()["all"]["vars"]["vip_control_plane"]["address"]
    holder = wait("a holder of plndr-cp-lock", lambda: lease_holder(bgp_lab.state_dir), 30)
    address = bgp_lab.node(holder)["ipv4"]
    hops = wait("the VIP's route via %s" % holder,
                lambda: bgprouter.next_hops(bgp_lab.state["id"], vip) == [address] and
                bgprouter.next_hops(bgp_lab.state["id"], vip), 30)
    assert hops == [address], (hops, kube_vip_logs(bgp_lab))
    assert bgprouter.kernel_next_hops(bgp_lab.state["switch"], vip) == [address]
    route = subprocess.run(["ip", "-n", bgp_lab.state["switch"], "-j", "route", "get", vip], capture_output=True,
                           text=True, check=True).stdout
    assert json.loads(route)[0]["gateway"] == address, route
    ca = os.path.join(bgp_lab.state_dir, "nodes", "cp1", "root", "etc", "kubernetes", "pki", "ca.crt")
    proc = lab_cli(bgp_lab.state_dir, "exec", "--", "curl", "-s", "--max-time", "5", "--cacert", ca,
                   "https://%s:6443/version" % vip)
    assert json.loads(proc.stdout)["gitVersion"] == "v1.31.0", proc.stdout
    print("VIP %s/32 via %s (%s, lease holder); /version through the route: %s"
          % (vip, address, holder, json.loads(proc.stdout)["gitVersion"]))


def test_service_address_announced_by_the_services_daemonset(bgp_lab):
    """A LoadBalancer Service gets a pool address from the real cloud provider, and the services kube-vip on w1
    announces it (kube-vip v1.0.0 in BGP mode without leader election starts the Service at once:
    pkg/services/processor.go): the router's table has it with w1's address as next hop. The services kube-vip
    reaches the API at the VIP through the router (the nodes' default route)."""
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    assert api(bgp_lab.state_dir, "POST", "/api/v1/namespaces/default/services", body)["status"] == 201

    def assigned():
        svc = api(bgp_lab.state_dir, "GET", "/api/v1/namespaces/default/services/web")["body"]
        return (svc.get("metadata", {}).get("annotations") or {}).get("kube-vip.io/loadbalancerIPs")
    address = wait("an address for default/web", assigned, 30)
    assert netaddr.IPAddress(address) in netaddr.IPNetwork("203.0.113.32/28"), address
    started = time.monotonic()
    hops = wait("the router's route to %s" % address,
                lambda: bgprouter.next_hops(bgp_lab.state["id"], address), 40)
    print("Service default/web %s/32 via %s, %.1f s after its address was assigned"
          % (address, hops, time.monotonic() - started))
    assert hops == [bgp_lab.node("w1")["ipv4"]], (hops, kube_vip_logs(bgp_lab))
    assert bgprouter.kernel_next_hops(bgp_lab.state["switch"], address) == hops


def test_sigkill_of_the_leader_withdraws_its_route_and_the_new_leader_announces(bgp_lab):
    """SIGKILL the leader's kube-vip (its runner paused): its session drops, the router withdraws its route at
    once, and the new leader's route appears within lease duration + 2 x 2.2 x retry period + 2 s."""
    result = json.loads(lab_cli(bgp_lab.state_dir, "failover", "--pause").stdout)
    try:
        route = result["bgp"]
        bound = failover_bound(15, 2)
        print("BGP failover (default profile): route via %s withdrawn after %s s, via %s (%s) announced after %s s,"
              " in the switch's kernel after %s s; VIP on %s's lo after %s s; API answered after %s s (bound %.1f s)"
              % (result["old_holder"], route.get("withdrawn_s"), route.get("new_next_hop"),
                 route.get("new_next_hop_node"), route.get("announced_s"), route.get("kernel_s"),
                 result["new_holder"], result["vip_moved_s"], result["api_answered_s"], bound))
        assert route["before"]["rib"] == [bgp_lab.node(result["old_holder"])["ipv4"]], route
        assert route.get("withdrawn_s") is not None and route["withdrawn_s"] <= bound, route
        assert route.get("announced_s") is not None and route["announced_s"] <= bound, route
        new = lease_holder(bgp_lab.state_dir)
        assert new == route["new_next_hop_node"] == result["new_holder"] != result["old_holder"], (new, result)
        assert route["after"] == {"rib": [bgp_lab.node(new)["ipv4"]], "kernel": [bgp_lab.node(new)["ipv4"]]}, route
        assert result["api_answered_s"] is not None
    finally:
        lab_cli(bgp_lab.state_dir, "resume", result["old_holder"])


def test_two_speakers_on_one_node_towards_the_router(bgp_lab):
    """The plan warns when one node would run two BGP speakers towards one peer address (plan.py
    bgp_speaker_conflicts). Run the services DaemonSet's kube-vip also on the control-plane leader (as
    `vip_services.placement: control_plane` would place it) and see what the router does with the second
    session from the same address. Seen here: FRR keeps its one session per neighbour address and refuses
    every OPEN of the second speaker ("BGP OPEN receipt failed" in bgpd's log), which never reaches
    Established and so announces nothing: the warning is true."""
    vip = bgp_lab.inventory()["all"]["vars"]["vip_control_plane"]["address"]
    leader = wait("a holder of plndr-cp-lock", lambda: lease_holder(bgp_lab.state_dir), 30)
    address = bgp_lab.node(leader)["ipv4"]
    wait("every session Established", lambda: established(bgp_lab), 60)
    before = bgprouter.neighbors(bgp_lab.state["id"])[address]
    router_log = os.path.join(bgprouter.router_dir(bgp_lab.state["id"]), "bgpd.log")
    refusal = "BGP OPEN receipt failed for peer: %s" % address

    def refusals():
        with open(router_log, errors="replace") as handle:
            return handle.read().count(refusal)
    refused_before = refusals()
    source = os.path.join(bgp_lab.node("w1")["dir"], "pods.d")
    pod = next(n for n in os.listdir(source) if n.startswith("kube-vip-ds") and n.endswith(".yaml"))
    target = os.path.join(bgp_lab.node(leader)["dir"], "pods.d")
    name = pod[:-5] + "-second-speaker"
    for side in (".serviceaccount", ".secrets"):
        shutil.copytree(os.path.join(source, pod + side), os.path.join(target, name + ".yaml" + side))
    with open(os.path.join(source, pod)) as handle:
        spec = yaml.safe_load(handle)
    spec["metadata"]["name"] = name
    spec["spec"]["nodeName"] = leader
    with open(os.path.join(target, name + ".yaml.tmp"), "w") as handle:
        yaml.safe_dump(spec, handle)
    os.replace(os.path.join(target, name + ".yaml.tmp"), os.path.join(target, name + ".yaml"))
    samples = []
    try:
        wait("the second speaker running on %s" % leader,
             lambda: (bgp_lab.pods()[leader]["pods"].get(name) or {}).get("phase") == "Running", 30)
        started = time.monotonic()
        while time.monotonic() - started < 30:
            state = bgprouter.neighbors(bgp_lab.state["id"])[address]
            samples.append((round(time.monotonic() - started, 1), state["state"],
                            bgprouter.next_hops(bgp_lab.state["id"], vip) == [address]))
            time.sleep(2)
    finally:
        os.unlink(os.path.join(target, name + ".yaml"))
    after = bgprouter.neighbors(bgp_lab.state["id"])[address]
    with open(os.path.join(bgp_lab.node(leader)["dir"], "logs", "%s_kube-vip.log" % name), errors="replace") as handle:
        second = handle.read()
    opens = second.count("session_state:OPENSENT")
    refused = refusals() - refused_before
    print("two speakers on %s towards %s for 30 s: the second sent %d OPENs, the router refused %d, the second "
          "reached Established %d times; the first session: %d new establishments, %d drops, Established with the "
          "VIP's route in %d of %d samples"
          % (leader, SWITCH, opens, refused, second.count("session_state:ESTABLISHED"),
             after["established_transitions"] - before["established_transitions"], after["dropped"] - before["dropped"],
             len([s for s in samples if s[1] == "Established" and s[2]]), len(samples)))
    assert opens > 0, second[-2000:]
    assert refused > 0, "the router refused no OPEN from %s" % address
    assert "session_state:ESTABLISHED" not in second, "the second speaker got a session: the warning would be false"


def test_the_password_is_in_no_output_or_log(bgp_lab):
    """The BGP password appears in nothing the lab, the playbooks, the pods, the router or this module printed."""
    secret = password()
    lab_cli(bgp_lab.state_dir, "bgp")
    lab_cli(bgp_lab.state_dir, "status")
    found = [i for i, text in enumerate(OUTPUTS) if secret in text]
    assert not found, "the password appears in %d command outputs" % len(found)
    logs = (glob.glob(os.path.join(bgp_lab.state_dir, "*.log")) +
            glob.glob(os.path.join(bgp_lab.state_dir, "nodes", "*", "*.log")) +
            glob.glob(os.path.join(bgp_lab.state_dir, "nodes", "*", "logs", "*")) +
            glob.glob(os.path.join(bgprouter.router_dir(bgp_lab.state["id"]), "*.log")) +
            glob.glob(os.path.join(bgprouter.router_dir(bgp_lab.state["id"]), "*.out")))
    assert len(logs) > 5, logs
    leaked = []
    for path in logs:
        with open(path, errors="replace") as handle:
            if secret in handle.read():
                leaked.append(path)
    assert not leaked, "the password appears in %s" % leaked

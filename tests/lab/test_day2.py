# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/verify.yml and playbooks/remediate.yml on the lab, with iproute2 as the witness."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import yaml

import fake_kube_vip
import lab
from testkit.ansible import ansible
from testkit.netns import addresses, holders, kube_vip_routes, witness


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network and mount namespaces)")

VIP = "192.0.2.10/32"
TIMINGS = {}


@pytest.fixture(scope="module")
def broken_lab(tmp_path_factory):
    """A three-node lab with kube-vip's healthy state and then all five failures injected."""
    the_lab = lab.Lab(str(tmp_path_factory.mktemp("day2") / "state"))
    the_lab.up(["cp1", "cp2", "w1"])
    fake = fake_kube_vip.FakeKubeVip(the_lab.state_dir)
    fake.apply()
    for failure in fake_kube_vip.ALL_FAILURES:
        fake.inject(failure)
    yield the_lab, fake
    the_lab.down()
    print("\nday-2 timings (s): %s" % json.dumps({k: round(v, 1) for k, v in TIMINGS.items() if k.endswith(("yml", "diff"))}))


def playbook(the_lab, name, *args):
    started = time.monotonic()
    rc, out = ansible("-i", the_lab.inventory_path, os.path.join("playbooks", name), *args, program="ansible-playbook")
    TIMINGS[" ".join((name,) + args).split(" -e", maxsplit=1)[0]] = time.monotonic() - started
    return rc, out


STATIC_POD = "/etc/kubernetes/manifests/kube-vip.yaml"


def changed(out):
    """Changed tasks per lab node (the controller's play, remediate's kube-proxy ConfigMap merge, apart)."""
    return {h: s["changed"] for h, s in out["stats"].items() if h != "localhost"}


def place_static_pod(the_lab, name, env):
    """A control-plane kube-vip static pod in the node's private /etc/kubernetes, as a broken deployment left it."""
    path = os.path.join(the_lab.node(name)["dir"], "root", STATIC_POD.lstrip("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kube-vip", "namespace": "kube-system"},
           "spec": {"hostNetwork": True, "containers": [{"name": "kube-vip", "image": "ghcr.io/kube-vip/kube-vip:v1.0.3",
                                                         "args": ["manager"],
                                                         "env": [{"name": k, "value": v} for k, v in env.items()]}]}}
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(pod, handle)
    return path


def loopback(netns):
    """The addresses on the namespace's lo, as ADDRESS/PREFIX."""
    return {"%s/%s" % (a["local"], a["prefixlen"]) for link in witness(netns, "addr", "show", "dev", "lo")
            for a in link.get("addr_info", [])}


# A run of upgrade.yml / remove_node.yml that died mid-move leaves the VIP's copy on the old holder's lo
# (playbooks/tasks/vip_holder_move.yml): here on both nodes, beside foreign loopback addresses that must stay.
LOOPBACK_LEFT = [VIP, "192.0.2.99/32", "203.0.113.50/32"]


def test_verify_finds_every_injected_failure(broken_lab, tmp_path):
    the_lab, dummy = broken_lab
    for name in ("cp1", "cp2"):
        for address in LOOPBACK_LEFT:
            subprocess.run(["ip", "-n", the_lab.node(name)["netns"], "address", "add", address, "dev", "lo"], check=True)
    # failure 2's cause: the control-plane kube-vip on cp2 also serving Services; cp1 has no static pod at all
    place_static_pod(the_lab, "cp2", {"cp_enable": "true", "svc_enable": "true", "vip_arp": "true"})
    report = tmp_path / "report.json"
    rc, dummy = playbook(the_lab, "verify.yml", "-e", "vip_verify_report=%s" % report)
    assert rc != 0
    data = json.loads(report.read_text())
    problems = "\n".join(data["problems"])
    assert data["ok"] is False and data["vip_holders"] == ["cp1", "cp2"]
    assert "192.0.2.10 is on 2 nodes" in problems
    # the loopback copies: named, where the plan says eth0 (a node with it on two interfaces is one holder)
    assert "control-plane VIP on cp1 lo, the plan says eth0" in problems
    assert "control-plane VIP on cp2 lo, the plan says eth0" in problems
    assert "cp2: Service VIP 198.51.100.2/32" in problems
    assert "cp1: stale route 198.51.100.3/32" in problems and "cp1: stale route 198.51.100.4/32" in problems
    assert "198.51.100.13" not in problems and "203.0.113.7" not in problems  # foreign routes are not judged
    assert "pinned to control-plane nodes" in problems
    assert "w1: Service VIP" not in problems  # a Service VIP on a worker is where it belongs
    assert ('cp2: control-plane kube-vip static pod %s has env svc_enable "true", the plan wants "false" (Services are '
            "handled by the services DaemonSet kube-system/kube-vip-ds)" % STATIC_POD) in problems
    assert "cp1: control-plane kube-vip static pod %s is missing" % STATIC_POD in problems
    assert "w1: control-plane kube-vip static pod" not in problems  # workers have none
    if not fake_kube_vip.FakeKubeVip.has_ipvs(the_lab.node("cp1")):
        assert "IPVS not checked: this kernel has no IPVS" in data["nodes"]["cp1"]["notes"]


def test_remediate_check_mode_changes_nothing(broken_lab):
    the_lab, dummy = broken_lab
    cp1, cp2 = the_lab.node("cp1")["netns"], the_lab.node("cp2")["netns"]
    before = (holders(the_lab), addresses(cp2), kube_vip_routes(cp1))
    rc, out = playbook(the_lab, "remediate.yml", "--check", "--diff")
    assert rc == 0, json.dumps(out)[:3000]
    assert sum(s["changed"] for s in out["stats"].values()) > 0
    assert (holders(the_lab), addresses(cp2), kube_vip_routes(cp1)) == before


def test_remediate_fixes_then_verify_passes_then_nothing_to_do(broken_lab, tmp_path):
    the_lab, dummy = broken_lab
    cp1, cp2, w1 = (the_lab.node(n)["netns"] for n in ("cp1", "cp2", "w1"))
    rc, out = playbook(the_lab, "remediate.yml")
    assert rc == 0, json.dumps(out)[:3000]
    assert holders(the_lab) == ["cp1"]
    # the VIP's copies on lo are gone from the holder and the other node; the other loopback addresses stay
    assert loopback(cp1) >= set(LOOPBACK_LEFT[1:]) and VIP not in loopback(cp1), loopback(cp1)
    assert loopback(cp2) >= set(LOOPBACK_LEFT[1:]) and VIP not in loopback(cp2), loopback(cp2)
    assert "198.51.100.2/32" not in addresses(cp2)
    assert "198.51.100.1/32" in addresses(w1)
    assert kube_vip_routes(cp1) == []
    survivors = {(r["dst"], r["protocol"]) for r in witness(cp1, "route", "show", "table", "all")}
    assert {("198.51.100.13", "static"), ("203.0.113.7", "248")} <= survivors
    # the causes, fixed on the control-plane nodes only: kube-vip's control-plane instance with
    # svc_enable off (failure 2), kube-proxy's settings with the VIP in excludeCIDRs (failure 1)
    for name in ("cp1", "cp2", "w1"):
        root = os.path.join(the_lab.node(name)["dir"], "root", "etc", "kubernetes")
        pod, proxy = os.path.join(root, "manifests", "kube-vip.yaml"), os.path.join(root, "baremetal-vip", "kube-proxy-configuration.yaml")
        if name == "w1":
            assert not os.path.exists(pod) and not os.path.exists(proxy)
            continue
        with open(pod, encoding="utf-8") as handle:
            env = {e["name"]: e.get("value") for e in yaml.safe_load(handle)["spec"]["containers"][0]["env"]}
        assert env["cp_enable"] == "true" and env.get("svc_enable") == "false", env
        with open(proxy, encoding="utf-8") as handle:
            ipvs = [d for d in yaml.safe_load_all(handle) if d and d.get("kind") == "KubeProxyConfiguration"][0]["ipvs"]
        assert "192.0.2.10/32" in ipvs["excludeCIDRs"] and ipvs["strictARP"] is True, ipvs
    report = tmp_path / "after.json"
    rc, dummy = playbook(the_lab, "verify.yml", "-e", "vip_verify_report=%s" % report)
    assert rc == 0 and json.loads(report.read_text())["ok"] is True
    rc, out = playbook(the_lab, "remediate.yml")
    assert rc == 0
    assert changed(out) == {"cp1": 0, "cp2": 0, "w1": 0}


def test_remediate_puts_a_lost_vip_back_on_one_node(broken_lab):
    the_lab, fake = broken_lab
    fake.inject("cp-vip-zero")
    assert holders(the_lab) == []
    rc, out = playbook(the_lab, "remediate.yml", "-e", "vip_remediate_holder=cp2")
    assert rc == 0, json.dumps(out)[:3000]
    assert holders(the_lab) == ["cp2"]

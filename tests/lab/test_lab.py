# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab: namespaces, a real Ansible connection into each node, private files, clean down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

import fake_kube_vip
import lab
import labhost
from testkit.ansible import ansible
from testkit.netns import addresses, witness

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network and mount namespaces)")

NODES = ["cp1", "cp2", "cp3", "w1", "w2"]
BIN = os.path.dirname(sys.executable)
TIMINGS = {}


def host_results(output):
    """{host: result} of the last task of a json-callback run."""
    return output["plays"][-1]["tasks"][-1]["hosts"]


@pytest.fixture(scope="module")
def up_lab(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp("lab") / "state")
    the_lab = lab.Lab(state_dir)
    started = time.monotonic()
    the_lab.up(NODES)
    TIMINGS["up"] = time.monotonic() - started
    yield the_lab
    started = time.monotonic()
    the_lab.down()
    TIMINGS["down"] = time.monotonic() - started
    print("\nlab timings (s): %s" % json.dumps({k: round(v, 2) for k, v in TIMINGS.items()}))


def test_up_builds_one_namespace_per_node_and_a_switch(up_lab):
    listed = set(os.listdir(lab.NETNS_DIR))
    assert up_lab.state["switch"] in listed
    for node in up_lab.nodes:
        assert node["netns"] in listed
    # the machine's own network namespace gains nothing: every port lives in the switch
    root_links = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True).stdout
    assert not any(n["port"] in [link["ifname"] for link in json.loads(root_links)] for n in up_lab.nodes)
    assert up_lab.status()["up"] is True


def test_inventory_has_nodes_groups_and_example_vars(up_lab):
    with open(up_lab.inventory_path) as handle:
        inv = yaml.safe_load(handle)
    groups = inv["all"]["children"]
    assert list(groups["kube_control_plane"]["hosts"]) == ["cp1", "cp2", "cp3"]
    assert list(groups["kube_node"]["hosts"]) == ["w1", "w2"]
    assert inv["all"]["vars"]["ansible_connection"] == "baremetal.vip.netns"
    assert inv["all"]["vars"]["vip_control_plane"]["address"] == "192.0.2.10"
    assert groups["kube_control_plane"]["hosts"]["cp1"]["ansible_host"] == "192.0.2.11"
    # verify.yml's outside checks run in the switch namespace (a host of its own, never the controller's namespace)
    assert groups["lab_vantage"]["hosts"] == {"lab-switch": {"ansible_netns_name": up_lab.state["switch"]}}
    assert inv["all"]["vars"]["vip_verify_outside"]["vantage"] == "lab-switch"


def test_every_node_answers_ping_through_the_netns_connection(up_lab):
    started = time.monotonic()
    rc, out = ansible("kube_control_plane:kube_node", "-i", up_lab.inventory_path, "-m", "ansible.builtin.ping")
    TIMINGS["ansible_ping_all"] = time.monotonic() - started
    assert rc == 0, out
    results = host_results(out)
    assert sorted(results) == sorted(NODES)
    assert all(r["ping"] == "pong" for r in results.values())


def test_commands_see_the_nodes_own_network_and_files(up_lab, tmp_path, monkeypatch):
    # the controller's environment reaches the node's commands, except PYTHONUNBUFFERED (as over SSH, no
    # controller Python setting reaches a node; with it a pipelined module is read one byte per read call)
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    monkeypatch.setenv("VIP_LAB_PASSED", "yes")
    playbook = tmp_path / "isolation.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Node isolation",
        "hosts": "kube_control_plane:kube_node",
        "gather_facts": False,
        "tasks": [
            {"name": "Addresses", "ansible.builtin.command": "ip -j addr", "register": "addrs", "changed_when": False},
            {"name": "Environment", "ansible.builtin.command": "env", "register": "envs", "changed_when": False},
            {"name": "Write on cp1", "when": "inventory_hostname == 'cp1'",
             "ansible.builtin.copy": {"content": "cp1 only\n", "dest": "/etc/kubernetes/lab-test.conf", "mode": "0600"}},
            {"name": "Fetch from cp1", "when": "inventory_hostname == 'cp1'",
             "ansible.builtin.fetch": {"src": "/etc/kubernetes/lab-test.conf", "dest": str(tmp_path / "fetched.conf"),
                                       "flat": True}},
            {"name": "Look for it", "ansible.builtin.stat": {"path": "/etc/kubernetes/lab-test.conf"}, "register": "st"},
            {"name": "Report", "ansible.builtin.debug": {"msg": {"addrs": "{{ addrs.stdout | from_json }}",
                                                                 "exists": "{{ st.stat.exists }}",
                                                                 "env": "{{ envs.stdout_lines }}"}}},
        ],
    }]))
    started = time.monotonic()
    rc, out = ansible("-i", up_lab.inventory_path, str(playbook), program="ansible-playbook")
    TIMINGS["isolation_playbook"] = time.monotonic() - started
    assert rc == 0, json.dumps(out)[:3000]
    results = host_results(out)
    for node in up_lab.nodes:
        msg = results[node["name"]]["msg"]
        local = [a["local"] for link in msg["addrs"] for a in link.get("addr_info", [])]
        assert node["ipv4"] in local and node["ipv6"] in local
        assert all(other["ipv4"] not in local for other in up_lab.nodes if other is not node)
        assert msg["exists"] == (node["name"] == "cp1"), node["name"]
        assert "VIP_LAB_PASSED=yes" in msg["env"] and not any(v.startswith("PYTHONUNBUFFERED=") for v in msg["env"])
    assert (tmp_path / "fetched.conf").read_text() == "cp1 only\n"
    cp1 = up_lab.node("cp1")
    assert os.path.exists(os.path.join(cp1["dir"], "root", "etc", "kubernetes", "lab-test.conf"))
    assert not os.path.exists("/etc/kubernetes/lab-test.conf")


def test_connection_refuses_a_pid_outside_the_namespace(up_lab, tmp_path):
    pid_file = tmp_path / "wrong.pid"
    pid_file.write_text("%d\n" % os.getpid())  # this process: the machine's own namespaces
    rc, out = ansible("cp1", "-i", up_lab.inventory_path, "-m", "ansible.builtin.ping",
                      "-e", "ansible_netns_pid_file=%s" % pid_file)
    assert rc != 0
    result = host_results(out)["cp1"]
    assert result.get("unreachable") and "not in network namespace" in result["msg"]


def test_fake_kube_vip_healthy_state_and_the_five_failures(up_lab):
    fake = fake_kube_vip.FakeKubeVip(up_lab.state_dir)
    fake.apply()
    ns = {n["name"]: n["netns"] for n in up_lab.nodes}
    holders = [name for name in ns if "192.0.2.10/32" in addresses(ns[name])]
    assert holders == ["cp1"]
    assert "198.51.100.1/32" in addresses(ns["w1"])
    for failure in fake_kube_vip.ALL_FAILURES:
        fake.inject(failure)
    # (4) the CP VIP on two nodes
    assert [name for name in ns if "192.0.2.10/32" in addresses(ns[name])] == ["cp1", "cp2"]
    # (2) a Service VIP from a pool on a control-plane node
    assert "198.51.100.2/32" in addresses(ns["cp2"])
    # (3) stale kube-vip routes, and foreign routes beside them
    table198 = {(r["dst"], r.get("protocol")) for r in witness(ns["cp1"], "route", "show", "table", "198")}
    assert {("198.51.100.3", "248"), ("198.51.100.4", "248"), ("198.51.100.13", "static")} <= table198
    table200 = witness(ns["cp1"], "route", "show", "table", "200")
    assert [(r["dst"], r["protocol"]) for r in table200] == [("203.0.113.7", "248")]
    # (5) the pinned DaemonSet manifest
    with open(os.path.join(up_lab.state_dir, "cluster", "kube-vip-services.yaml")) as handle:
        ds = [d for d in yaml.safe_load_all(handle) if d["kind"] == "DaemonSet"][0]
    assert ds["spec"]["template"]["spec"]["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    # (1) IPVS: only where the kernel has it, otherwise recorded as skipped
    with open(os.path.join(up_lab.state_dir, "injected.json")) as handle:
        records = json.load(handle)
    ipvs = [r for r in records if r.get("failure") == "ipvs-deleted"]
    assert len(ipvs) == 1 and ("skipped" in ipvs[0]) == (not fake.has_ipvs(up_lab.node("cp1")))
    # (4') zero holders
    fake.inject("cp-vip-zero")
    assert not [name for name in ns if "192.0.2.10/32" in addresses(ns[name])]


def test_down_leaves_nothing_and_is_safe_twice(tmp_path):
    state_dir = str(tmp_path / "second")
    second = lab.Lab(state_dir)
    second.up(["cp1", "w1"])
    ident = second.state["id"]
    pids = [n["pid"] for n in second.nodes]
    assert all(labhost.alive(pid) for pid in pids)
    second.down()
    lab.Lab(state_dir).down()
    assert not [n for n in os.listdir(labhost.NETNS_DIR) if n.startswith(ident + "-")]
    assert not labhost.lab_processes(ident)
    assert not any(labhost.alive(pid) for pid in pids)
    with open("/proc/mounts") as handle:
        assert state_dir not in handle.read()
    assert not os.path.exists(state_dir)


def test_cli_requires_a_state_dir_and_reports_status(tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(HERE, "lab.py"), "status", "--state-dir", str(tmp_path / "none")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and json.loads(proc.stdout)["up"] is False

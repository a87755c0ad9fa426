# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/validate.yml end to end: real ansible-playbook runs on the example inventories.

Every host address is a documentation address nobody answers on: the runs also prove that the
plan never contacts a host.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan import build_plan

from testkit.ansible import ansible_env
from testkit.inventory import load_example  # the one example loader (it templates as Ansible would)

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(TOP, ".venv", "bin")
VALID = ("arp-metallb", "bgp-kube-vip", "routing-table", "k3s", "rke2", "dual-stack")
SECRET = "pw-must-never-show-7f3a9c"


def playbook(inventory, *extra, env_extra=None):
    settings = {"ANSIBLE_FORCE_COLOR": "0", "VIP_BGP_PASSWORD": None}  # no password from the caller's environment
    settings.update(env_extra or {})
    env = ansible_env(**settings)
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", os.path.join(TOP, "examples", inventory, "inventory.yml"),
           os.path.join(TOP, "playbooks", "validate.yml")] + list(extra)
    return subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True, timeout=300, check=False)


def summary_of(name):
    """The summary lines build_plan gives for an example, to find them in the playbook output."""
    return build_plan(*load_example(name))["plan"]["summary"]


@pytest.mark.parametrize("name", VALID)
def test_valid_example_passes_and_prints_summary(name):
    proc = playbook(name)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "vip_plan.summary" in out
    for line in summary_of(name):
        assert line in out
    assert "unreachable=0" in out and "failed=0" in out


def test_invalid_overlaps_fails_with_every_message():
    proc = playbook("invalid/overlaps")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "the vip_* inventory has 7 error(s)" in out
    for part in ("unknown key 'advertisment'; did you mean 'advertisement'?",
                 "hostvars[cp3].ansible_host (192.0.2.11) is also the address of hostvars[cp1].ansible_host (192.0.2.11)",
                 "vip_kube_proxy.strict_arp is false",
                 "vip_kube_proxy.exclude_cidrs (198.51.100.0/24) misses the control-plane VIP 192.0.2.70",
                 "kubernetes PR #97336",
                 "vip_control_plane.address (192.0.2.70) overlaps vip_services.pools[0] (public, 192.0.2.64/28)",
                 "vip_services.pools[1] (web, 192.0.2.72/29) overlaps vip_services.pools[0] (public, 192.0.2.64/28)"):
        assert part in out, part
    for number in range(1, 8):
        assert "%d. " % number in out
    assert "Show the plan summary" not in out


def test_invalid_bgp_fails_without_showing_the_password():
    proc = playbook("invalid/bgp", "-vvv", env_extra={"VIP_BGP_PASSWORD": SECRET})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "vip_bgp.peers[0].address (192.0.2.300) is not an IP address" in out
    assert "vip_bgp.local_as is 0" in out
    assert SECRET not in out


def test_bgp_password_never_printed_even_at_vvv():
    proc = playbook("bgp-kube-vip", "-vvv", env_extra={"VIP_BGP_PASSWORD": SECRET})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert '"has_password": true' in out  # the plan is printed at -v, without the password
    assert SECRET not in out
    assert "example-only" not in out


def test_task_args_override_inventory_variables(tmp_path):
    play = tmp_path / "override.yml"
    play.write_text(
        "- hosts: kube_control_plane:kube_node\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - baremetal.vip.lb_plan:\n"
        "        vip_kube_proxy: {mode: nftables}\n"
        "      run_once: true\n"
        "    - ansible.builtin.assert:\n"
        "        that: vip_plan.kube_proxy.mode == 'nftables' and vip_plan.kube_proxy.strict_arp is false\n"
        "      run_once: true\n", encoding="utf-8")
    env = ansible_env()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", os.path.join(TOP, "examples", "arp-metallb", "inventory.yml"),
                           str(play)], cwd=TOP, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_templated_variables_and_template_errors(tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n"
        "  vars:\n"
        "    vip_cluster: {distro: kubeadm, kubernetes_version: '1.31', node_cidrs: ['{{ node_net }}']}\n"
        "    vip_kube_vip: {version: '1.0.3'}\n"
        "    vip_control_plane: {address: 192.0.2.10, interface: eth0, mode: bgp}\n"
        "    vip_bgp: {peers: [{address: 192.0.2.1, as: 64513, password: '{{ peer_pw }}'}]}\n"
        "  children:\n"
        "    kube_control_plane:\n"
        "      hosts:\n"
        "        cp1: {ansible_host: 192.0.2.11, vip_node_name: '{{ inventory_hostname }}-node'}\n", encoding="utf-8")
    play = tmp_path / "check.yml"
    play.write_text(
        "- hosts: kube_control_plane\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - baremetal.vip.lb_plan:\n"
        "      run_once: true\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - vip_plan.nodes.cp1.node_name == 'cp1-node'\n"
        "          - vip_plan.cluster.node_cidrs == ['192.0.2.0/24']\n"
        "          - vip_plan.bgp.peers[0].has_password\n", encoding="utf-8")
    env = ansible_env()
    base = [os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), str(play), "-e", "node_net=192.0.2.0/24"]
    proc = subprocess.run(base + ["-e", "peer_pw=" + SECRET], cwd=TOP, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run(base, cwd=TOP, env=env, capture_output=True, text=True, timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "vip_bgp cannot be templated: 'peer_pw' is undefined" in out

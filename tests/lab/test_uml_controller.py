# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller on the machine for the lab inside User-Mode Linux (tests/lab/uml_controller.py): the inventory it
runs the playbooks with and the sshd configuration of the guest's nodes. No root, no guest."""

from __future__ import annotations

import copy

import uml_controller  # pylint: disable=import-error

LAB_INVENTORY = {"all": {
    "vars": {"ansible_connection": "baremetal.vip.netns", "ansible_python_interpreter": "/venv/bin/python",
             "ansible_pipelining": True, "vip_lab_state_dir": "/run/x/lab/state"},
    "children": {
        "kube_control_plane": {"hosts": {"cp1": {
            "ansible_host": "192.0.2.11", "vip_node_ip": "192.0.2.11", "ansible_netns_name": "vl1-cp1",
            "ansible_netns_node_root": "/run/x/lab/state/nodes/cp1"}}},
        "kube_node": {"hosts": {}},
        "lab_vantage": {"hosts": {"lab-switch": {"ansible_netns_name": "vl1-sw"}}},
    }}}


def test_every_node_and_the_vantage_host_are_reached_over_ssh_with_the_runs_key_only():
    original = copy.deepcopy(LAB_INVENTORY)
    inventory = uml_controller.controller_inventory(LAB_INVENTORY, "/run/x/ctl")
    assert LAB_INVENTORY == original
    assert "ansible_connection" not in inventory["all"]["vars"]  # the implicit localhost stays local
    assert inventory["all"]["vars"]["vip_lab_state_dir"] == "/run/x/lab/state"
    cp1 = inventory["all"]["children"]["kube_control_plane"]["hosts"]["cp1"]
    switch = inventory["all"]["children"]["lab_vantage"]["hosts"]["lab-switch"]
    for host, address in ((cp1, "192.0.2.11"), (switch, uml_controller.SWITCH_ADDRESS)):
        assert host["ansible_connection"] == "ansible.builtin.ssh"
        assert host["ansible_host"] == address
        assert host["ansible_ssh_private_key_file"] == "/run/x/ctl/id"
        assert host["ansible_ssh_pipelining"] is True
        assert "ControlPersist" in host["ansible_ssh_common_args"]
        assert not [k for k in host if k.startswith("ansible_netns_")]


def test_the_guests_sshd_takes_the_runs_key_only_and_passes_the_guests_environment():
    environment = {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F", "HOME": "/tmp/home", "PATH": "/usr/bin",
                   "TMPDIR": "with space"}
    config = uml_controller.sshd_config("/run/x/ctl", environment)
    lines = config.splitlines()
    assert "AuthorizedKeysFile /run/x/ctl/authorized_keys" in lines
    assert "HostKey /run/x/ctl/host_key" in lines
    assert "PasswordAuthentication no" in lines and "KbdInteractiveAuthentication no" in lines
    assert "SetEnv GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F HOME=/tmp/home" in lines  # not PATH, nothing with a space

"""The private role common's preflight, as each role that renders runs it (a real ansible-playbook run).

Every role refuses, once and on the controller, a relative ``<role>_render_dir`` and a ``<role>_plan`` that is not a
``baremetal.vip.lb_plan`` result of schema 1 (a mapping: a string is refused by the role's argument spec first),
with a message naming the role and its variable, before any task of its own runs
(the hosts are unreachable: ssh to documentation addresses, so a task on a host would fail differently).
"""
import os
import re
import subprocess
import sys

from testkit.ansible import ansible_env
from testkit.inventory import unreachable_inventory

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)
ROLES = ["host_prep", "kube_proxy", "kube_vip_control_plane", "kube_vip_services", "kubeadm_config", "metallb"]


def test_each_role_refuses_bad_inputs_before_touching_a_host(tmp_path):
    path = unreachable_inventory("arp-metallb", tmp_path / "inventory.yml")
    env = ansible_env()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(path),
                           os.path.join(TOP, "tests", "playbooks", "role_preflight.yml"),
                           "-e", "{\"test_roles\": %s}" % str(ROLES).replace("'", '"')],
                          cwd=TOP, env=env, capture_output=True, text=True, timeout=900, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    refused = dict(re.findall(r'"msg": "REFUSED (\S+ \S+): (.*)"', output))
    for role in ROLES:
        needs = "schema 1, with cluster.kubeadm_api_version" if role == "kubeadm_config" else "schema 1"
        assert refused[role + " relative"] == (
            f"{role} needs vip_plan from baremetal.vip.lb_plan ({needs}) and an absolute {role}_render_dir or none "
            f"(got relative/dir).")
        assert refused[role + " not_a_plan"] == refused[role + " relative"].replace("relative/dir", ""), refused
    assert "UNREACHABLE" not in output

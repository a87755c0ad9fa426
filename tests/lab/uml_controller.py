# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Ansible controller on the machine for a lab inside User-Mode Linux (tests/lab/ipvs_real_uml.py).

Inside UML every system call is slow: ansible-playbook itself (its workers, templating, the kubernetes.core
tasks) took most of a guest run's 70 minutes. Here only the modules' Python runs in the guest; the controller
runs natively on the machine and reaches the lab's nodes with Ansible's standard ssh connection:

* the machine side (``Controller``): a network namespace made for the run (never the machine's own) with a TAP
  device, 203.0.113.1/24; UML runs in that namespace with the TAP as its eth0 (tests/kernel/uml.py); the lab's
  segments 192.0.2.0/24 (nodes, the VIP) and 198.51.100.0/24 are routed through the guest. A key pair, a host
  key and an sshd configuration are generated into the run's directory (shared with the guest: its root is the
  machine's own, hostfs). A thread serves the guest's playbook requests: each is one ``ansible-playbook`` run
  in that namespace, against the inventory the guest wrote (``ctl/inventory.yml``: the lab's, with ssh
  connections);
* the guest side (``guest_setup``, ``playbook``): eth0 moves into the lab's switch namespace (203.0.113.2/24,
  forwarding on; the nodes route 203.0.113.0/24 through the switch), one OpenSSH sshd (Debian's, with the
  run's own configuration) in each node's namespaces (network and the holder's mount namespace: what the
  connection plugin baremetal.vip.netns enters) and one in the switch namespace (the vantage host of verify's
  outside checks); ``playbook`` writes a request into ``ctl/`` and waits for its answer.

The paths the controller reads or writes (the bootstrap render directory, ``cluster/``, ``admin.conf``, the
verify reports) are the same on both sides: the lab's state directory is ``RUN_DIR/lab``, a tmpfs in the
guest with those entries bound to the run directory underneath (see ipvs_real_uml.GUEST_SCRIPT).

    uml_controller.py playbook --state-dir DIR PLAYBOOK [ARGS...]   # in the guest: run PLAYBOOK on the machine
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))  # testkit

CONTROLLER_ENV = "VIP_UML_CONTROLLER"  # in the guest: the run's ctl/ directory (playbooks go to the machine)
MACHINE, GUEST, LINK = "203.0.113.1", "203.0.113.2", "203.0.113.0/24"
PREFIX = 24
ROUTED = ("192.0.2.0/24", "198.51.100.0/24")  # the lab's segments, through the guest's switch namespace
SWITCH_ADDRESS = "192.0.2.1"  # the switch's address on the lab's bridge (lab.py)
SSHD = "/usr/sbin/sshd"
GUEST_ENV = ("GLIBC_TUNABLES", "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "VIP_UML_GUEST")
POLL = 0.5


class ControllerError(Exception):
    pass


def ctl_dir(run_dir):
    return os.path.join(run_dir, "ctl")


def sshd_config(ctl, env):
    """The sshd configuration of every node (Debian's OpenSSH; only the run's key; the guest's environment for
    the modules: GLIBC_TUNABLES keeps glibc off AVX-512 in UML, tests/kernel/uml.py)."""
    lines = ["ListenAddress 0.0.0.0:22", "HostKey %s/host_key" % ctl, "AuthorizedKeysFile %s/authorized_keys" % ctl,
             "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
             "UsePAM no", "StrictModes no", "UseDNS no", "MaxSessions 50", "MaxStartups 50",
             "Subsystem sftp internal-sftp"]
    pairs = ["%s=%s" % (k, env[k]) for k in GUEST_ENV if env.get(k) and " " not in env[k]]
    if pairs:
        lines.append("SetEnv " + " ".join(pairs))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ machine side
class Controller:
    """The machine's side of one run: namespace, TAP, keys, and the thread serving playbook requests."""

    def __init__(self, run_dir, name):
        self.run_dir = run_dir
        self.ctl = ctl_dir(run_dir)
        self.control_dir = os.path.join(self.ctl, "cp")
        self.netns = name
        self.tap = name[-15:]
        self.runs = []  # (playbook, exit status, seconds)
        self._stop = threading.Event()
        self._thread = None

    def _ip(self, *args):
        subprocess.run(["ip", "-n", self.netns] + list(args), check=True, capture_output=True, text=True)

    def start(self):
        os.makedirs(self.control_dir)
        for key in ("host_key", "id"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vip-uml-%s" % key, "-f",
                            os.path.join(self.ctl, key)], check=True)
        shutil.copy(os.path.join(self.ctl, "id.pub"), os.path.join(self.ctl, "authorized_keys"))
        subprocess.run(["ip", "netns", "add", self.netns], check=True, capture_output=True, text=True)
        self._ip("link", "set", "lo", "up")
        self._ip("tuntap", "add", "dev", self.tap, "mode", "tap")
        self._ip("addr", "add", "%s/%d" % (MACHINE, PREFIX), "dev", self.tap)
        self._ip("link", "set", self.tap, "up")
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def routes(self):
        """Route the lab's segments through the guest (called once the TAP is up, i.e. UML attached to it)."""
        for net in ROUTED:
            self._ip("route", "replace", net, "via", GUEST)

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
        for name in os.listdir(self.control_dir) if os.path.isdir(self.control_dir) else []:
            # the ControlPersist masters of this run's ssh connections
            subprocess.run(["ssh", "-O", "exit", "-o", "ControlPath=%s" % os.path.join(self.control_dir, name), "x"],
                           capture_output=True, check=False, timeout=10)
        subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True, check=False)

    def _serve(self):
        routed = False
        while not self._stop.is_set():
            try:
                names = sorted(os.listdir(self.ctl))
            except OSError:
                names = []
            if not routed and "guest-ready" in names:
                self.routes()
                routed = True
            for name in names:
                if name.startswith("req-") and name.endswith(".json") and "resp-" + name[4:] not in names:
                    self._answer(name)
            self._stop.wait(POLL)

    def _answer(self, name):
        from testkit.ansible import ansible_env  # pylint: disable=import-outside-toplevel
        with open(os.path.join(self.ctl, name)) as handle:
            request = json.load(handle)
        ident = name[4:-5]
        env = ansible_env(ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
                          PROFILE_TASKS_TASK_OUTPUT_LIMIT="all", ANSIBLE_SSH_CONTROL_PATH_DIR=self.control_dir)
        argv = ["ip", "netns", "exec", self.netns, os.path.join(TOP, ".venv", "bin", "ansible-playbook"),
                "-i", os.path.join(self.ctl, "inventory.yml"),
                os.path.join(TOP, "playbooks", request["playbook"])] + request["args"]
        started = time.monotonic()
        with open(os.path.join(self.ctl, "log-%s.txt" % ident), "w") as log:
            rc = subprocess.run(argv, cwd=TOP, env=env, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
        seconds = round(time.monotonic() - started, 1)
        self.runs.append((request["playbook"], rc, seconds))
        tmp = os.path.join(self.ctl, "resp-%s.json.tmp" % ident)
        with open(tmp, "w") as handle:
            json.dump({"rc": rc, "seconds": seconds}, handle)
        os.rename(tmp, os.path.join(self.ctl, "resp-%s.json" % ident))


# ------------------------------------------------------------------ guest side
def _run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ControllerError("%s: %s" % (" ".join(argv), (proc.stderr or proc.stdout).strip()))
    return proc


def controller_inventory(inventory, ctl):
    """The lab's inventory for the machine's controller: each node and the vantage host over ssh."""
    inventory = json.loads(json.dumps(inventory))
    all_vars = inventory["all"]["vars"]
    for key in ("ansible_connection",):
        all_vars.pop(key, None)
    ssh = {
        "ansible_connection": "ansible.builtin.ssh", "ansible_user": "root",
        "ansible_ssh_private_key_file": os.path.join(ctl, "id"),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
                                   "-o ControlMaster=auto -o ControlPersist=600s -o ServerAliveInterval=15",
        "ansible_ssh_pipelining": True, "ansible_remote_tmp": "/tmp/.ansible-remote",
    }
    for group in inventory["all"]["children"].values():
        for host, hvars in (group.get("hosts") or {}).items():
            address = hvars.get("vip_node_ip") or SWITCH_ADDRESS
            for key in [k for k in hvars if k.startswith("ansible_netns_")]:
                hvars.pop(key)
            hvars.update(ssh, ansible_host=address)
            group["hosts"][host] = hvars
    return inventory


def guest_setup(lab):
    """In the guest, once per lab: the link into the switch namespace, routes, one sshd per node and in the
    switch; the controller inventory. Returns the ctl directory."""
    ctl = os.environ[CONTROLLER_ENV]
    if os.path.exists(os.path.join(ctl, "guest-ready")):
        return ctl
    switch = lab.state["switch"]
    # this process may be in the switch namespace already (lab.py _bring-up): name each namespace explicitly
    _run(["nsenter", "--net=/proc/1/ns/net", "ip", "link", "set", "eth0", "netns", switch])
    _run(["ip", "-n", switch, "addr", "add", "%s/%d" % (GUEST, PREFIX), "dev", "eth0"])
    _run(["ip", "-n", switch, "link", "set", "eth0", "up"])
    _run(["ip", "netns", "exec", switch, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
    config = os.path.join(ctl, "sshd_config")
    with open(config, "w") as handle:
        handle.write(sshd_config(ctl, os.environ))
    os.makedirs("/run/sshd", exist_ok=True)
    env = dict(os.environ)
    for node in lab.nodes:
        _run(["ip", "-n", node["netns"], "route", "replace", LINK, "via", SWITCH_ADDRESS])
        env["BAREMETAL_VIP_LAB"] = "%s:sshd-%s" % (lab.state["id"], node["name"])
        subprocess.run(["nsenter", "--target", str(node["pid"]), "--mount", "--net", "--", SSHD, "-f", config,
                        "-o", "PidFile=/run/sshd-%s.pid" % node["netns"],
                        "-E", os.path.join(ctl, "sshd-%s.log" % node["name"])],
                       env=env, check=True)
    env["BAREMETAL_VIP_LAB"] = "%s:sshd-switch" % lab.state["id"]
    subprocess.run(["nsenter", "--net=/run/netns/%s" % switch, "--", SSHD, "-f", config, "-o",
                    "PidFile=/run/sshd-%s.pid" % switch, "-E", os.path.join(ctl, "sshd-switch.log")], env=env, check=True)
    with open(lab.inventory_path) as handle:
        inventory = yaml.safe_load(handle)
    with open(os.path.join(ctl, "inventory.yml"), "w") as handle:
        yaml.safe_dump(controller_inventory(inventory, ctl), handle, sort_keys=False)
    with open(os.path.join(ctl, "guest-ready"), "w") as handle:
        handle.write("%s\n" % time.time())
    return ctl


def playbook(lab, name, args, out=None):
    """Run playbooks/NAME with ARGS on the machine's controller; wait; (exit status, its output)."""
    ctl = guest_setup(lab)
    ident = "%03d-%s" % (len([n for n in os.listdir(ctl) if n.startswith("req-")]), name.replace(".yml", ""))
    tmp = os.path.join(ctl, "req-%s.tmp" % ident)
    with open(tmp, "w") as handle:
        json.dump({"playbook": name, "args": list(args)}, handle)
    os.rename(tmp, os.path.join(ctl, "req-%s.json" % ident))
    answer = "resp-%s.json" % ident
    while answer not in os.listdir(ctl):
        time.sleep(POLL)
    with open(os.path.join(ctl, answer)) as handle:
        rc = json.load(handle)["rc"]
    with open(os.path.join(ctl, "log-%s.txt" % ident), errors="replace") as handle:
        text = handle.read()
    if out:
        out.write(text)
    return rc, text


def main(argv):
    if len(argv) < 4 or argv[0] != "playbook" or argv[1] != "--state-dir":
        sys.stderr.write(__doc__)
        return 2
    sys.path.insert(0, HERE)
    import lab as labmod  # pylint: disable=import-outside-toplevel,import-error
    the_lab = labmod.Lab(argv[2])
    rc, dummy = playbook(the_lab, argv[3], argv[4:], out=sys.stdout)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

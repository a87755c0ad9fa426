# -*- coding: utf-8 -*-
# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: netns
short_description: Run tasks inside a lab node's network (and mount) namespace
description:
  - Runs commands, and copies files, for a host that is a Linux network namespace on the
    Ansible controller, such as the nodes of this collection's test lab (C(tests/lab/lab.py)).
  - When a holder process is given (O(netns_pid_file) or O(netns_node_root)), every command
    enters that process's network B(and) mount namespaces with C(nsenter --target PID --mount --net).
    The lab's holder bind-mounts a per-node directory over C(/etc/kubernetes), C(/etc/rancher),
    C(/var/lib/rancher), C(/etc/modules-load.d) and C(/etc/sysctl.d), so nodes do not share those files.
  - Without a holder, commands only enter the network namespace C(/run/netns/NAME) and share
    the controller's files.
  - Before the first command the plugin checks that the holder really is in the named network
    namespace and in a mount namespace of its own, so a stale PID file never runs a task on the
    controller itself.
  - File transfers stream through C(cat) inside the same namespaces, so they land where the
    node's commands see them.
  - Needs root on the controller (C(nsenter) calls C(setns)). The remote user is ignored.
  - Commands get the controller's environment without C(PYTHONUNBUFFERED). A node reached over SSH never gets the
    controller's environment, and with that variable set Python reads a pipelined module from its standard input
    one byte per C(read) call (about 0.1 s of every module run for a module of 250 KB).
author: baremetal.vip developers (@baremetal)
version_added: 0.1.0
options:
  netns_name:
    description:
      - Name of the network namespace, as listed by C(ip netns list) (a file under C(/run/netns)).
      - Defaults to the inventory hostname.
    type: string
    vars:
      - name: inventory_hostname
      - name: ansible_netns_name
  netns_node_root:
    description:
      - The node's directory on the controller (the lab's C(STATE_DIR/nodes/NODE)).
      - When O(netns_pid_file) is not set, the holder PID is read from C(holder.pid) in this directory.
    type: path
    vars:
      - name: ansible_netns_node_root
  netns_pid_file:
    description:
      - File holding the PID of the node's holder process, whose network and mount namespaces
        commands enter.
      - When neither this nor O(netns_node_root) is set, commands only enter the network namespace.
    type: path
    vars:
      - name: ansible_netns_pid_file
  nsenter_exe:
    description:
      - The C(nsenter) program (util-linux).
    type: string
    default: nsenter
    env:
      - name: ANSIBLE_NETNS_NSENTER_EXE
    vars:
      - name: ansible_netns_nsenter_exe
  executable:
    description:
      - Shell that runs each command inside the node.
    type: string
    default: /bin/sh
    env:
      - name: ANSIBLE_EXECUTABLE
    ini:
      - section: defaults
        key: executable
    vars:
      - name: ansible_executable
  pipelining:
    description:
      - Send modules on the command's standard input instead of copying them to the node first.
      - On by default here, because commands run as root without C(become), where pipelining has no drawback.
    type: boolean
    default: true
    env:
      - name: ANSIBLE_PIPELINING
    ini:
      - section: defaults
        key: pipelining
      - section: connection
        key: pipelining
    vars:
      - name: ansible_pipelining
notes:
  - Made for test labs of network namespaces; it is not a way to reach real hosts.
"""

EXAMPLES = r"""
# An inventory written by tests/lab/lab.py (shortened)
# all:
#   vars:
#     ansible_connection: baremetal.vip.netns
#   hosts:
#     cp1:
#       ansible_netns_name: vlab-1a2b-cp1
#       ansible_netns_node_root: /tmp/lab/nodes/cp1

- name: Show the addresses of every lab node
  hosts: all
  gather_facts: false
  tasks:
    - name: List addresses inside the node's network namespace
      ansible.builtin.command: ip -j addr
      changed_when: false
"""

import os
import shlex
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.connection import BUFSIZE, ConnectionBase
from ansible.utils.display import Display

display = Display()

NETNS_RUN_DIR = "/run/netns"

# The controller's environment variables a node's commands do not get (see DOCUMENTATION).
NOT_PASSED = ("PYTHONUNBUFFERED",)


def _same_file(path_a, path_b):
    """True when two paths name the same inode (namespace files compare this way)."""
    first = os.stat(path_a)
    second = os.stat(path_b)
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


class Connection(ConnectionBase):
    """Commands and files inside a network namespace, optionally with a private mount namespace."""

    transport = "baremetal.vip.netns"
    has_pipelining = True
    has_tty = False
    default_user = "root"

    def __init__(self, *args, **kwargs):
        super(Connection, self).__init__(*args, **kwargs)
        self._prefix = None

    def _holder_pid(self):
        pid_file = self.get_option("netns_pid_file")
        node_root = self.get_option("netns_node_root")
        if not pid_file and node_root:
            pid_file = os.path.join(node_root, "holder.pid")
        if not pid_file:
            return None
        try:
            with open(pid_file) as handle:
                text = handle.read().strip()
        except OSError as exc:
            raise AnsibleConnectionFailure("netns: cannot read holder PID file %s: %s (is the lab up?)" % (pid_file, exc))
        if not text.isdigit():
            raise AnsibleConnectionFailure("netns: holder PID file %s does not hold a PID: %r" % (pid_file, text))
        return int(text)

    def _build_prefix(self):
        name = self.get_option("netns_name")
        if not name or "/" in name or name in (".", ".."):
            raise AnsibleConnectionFailure("netns: invalid network namespace name %r" % (name,))
        ns_file = os.path.join(NETNS_RUN_DIR, name)
        if not os.path.exists(ns_file):
            raise AnsibleConnectionFailure("netns: network namespace %s does not exist (%s missing; is the lab up?)" % (name, ns_file))
        nsenter = self.get_option("nsenter_exe")
        pid = self._holder_pid()
        if pid is None:
            return [nsenter, "--net=%s" % ns_file, "--"]
        proc = "/proc/%d" % pid
        try:
            in_netns = _same_file(os.path.join(proc, "ns", "net"), ns_file)
            own_mount_ns = not _same_file(os.path.join(proc, "ns", "mnt"), "/proc/self/ns/mnt")
        except OSError as exc:
            raise AnsibleConnectionFailure("netns: holder process %d of %s is gone (%s); is the lab up?" % (pid, name, exc))
        if not in_netns:
            raise AnsibleConnectionFailure("netns: process %d is not in network namespace %s (stale PID file?)" % (pid, name))
        if not own_mount_ns:
            raise AnsibleConnectionFailure("netns: process %d shares the controller's mount namespace; refusing to run %s's tasks there" % (pid, name))
        return [nsenter, "--target", str(pid), "--mount", "--net", "--"]

    def _connect(self):
        if os.geteuid() != 0:
            raise AnsibleConnectionFailure("netns: entering namespaces needs root on the controller")
        if not self._connected:
            self._prefix = self._build_prefix()
            display.vvv("NETNS ENTER %s" % " ".join(self._prefix), host=self._play_context.remote_addr)
            self._connected = True
        return self

    def _popen(self, cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE):
        """Start `cmd` (a shell string) inside the node."""
        argv = self._prefix + [self.get_option("executable"), "-c", cmd]
        display.vvvv("NETNS EXEC %s" % argv, host=self._play_context.remote_addr)
        try:
            return subprocess.Popen([to_bytes(arg, errors="surrogate_or_strict") for arg in argv],
                                    stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                                    env=dict((k, v) for k, v in os.environ.items() if k not in NOT_PASSED))
        except OSError as exc:
            raise AnsibleConnectionFailure("netns: cannot run %s: %s" % (argv[0], to_native(exc)))

    def exec_command(self, cmd, in_data=None, sudoable=True):
        """Run a command inside the node; in_data (pipelining) goes to its standard input."""
        super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        proc = self._popen(cmd)
        stdout, stderr = proc.communicate(in_data)
        return proc.returncode, stdout, stderr

    def put_file(self, in_path, out_path):
        """Stream a controller file to a path inside the node's mount namespace."""
        super(Connection, self).put_file(in_path, out_path)
        display.vvv("PUT %s TO %s" % (in_path, out_path), host=self._play_context.remote_addr)
        if not os.path.exists(to_bytes(in_path, errors="surrogate_or_strict")):
            raise AnsibleFileNotFound("file or module does not exist: %s" % in_path)
        with open(to_bytes(in_path, errors="surrogate_or_strict"), "rb") as in_file:
            proc = self._popen("cat > %s" % shlex.quote(out_path), stdin=in_file)
            dummy, stderr = proc.communicate()
        if proc.returncode != 0:
            raise AnsibleError("netns: failed to transfer %s to %s: %s" % (in_path, out_path, to_native(stderr)))

    def fetch_file(self, in_path, out_path):
        """Stream a file from inside the node's mount namespace to the controller."""
        super(Connection, self).fetch_file(in_path, out_path)
        display.vvv("FETCH %s TO %s" % (in_path, out_path), host=self._play_context.remote_addr)
        proc = self._popen("cat %s" % shlex.quote(in_path), stdin=subprocess.DEVNULL)
        with open(to_bytes(out_path, errors="surrogate_or_strict"), "wb") as out_file:
            chunk = proc.stdout.read(BUFSIZE)
            while chunk:
                out_file.write(chunk)
                chunk = proc.stdout.read(BUFSIZE)
            dummy, stderr = proc.communicate()
        if proc.returncode != 0:
            raise AnsibleError("netns: failed to fetch %s to %s: %s" % (in_path, out_path, to_native(stderr)))

    def close(self):
        """Nothing stays open between commands."""
        super(Connection, self).close()
        self._connected = False

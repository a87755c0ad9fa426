# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's host side (tests/lab/lab.py): commands, namespaces and processes on this machine, and the
holder's private mounts (PRIVATE_DIRS)."""

from __future__ import annotations

import hashlib
import os
import subprocess

PRIVATE_DIRS = ("/etc/kubernetes", "/etc/rancher", "/var/lib/rancher", "/etc/modules-load.d", "/etc/sysctl.d",
                "/var/lib/etcd", "/var/lib/kubelet")
MARKER_ENV = "BAREMETAL_VIP_LAB"
NETNS_DIR = "/run/netns"
CONTROL_PLANE_PREFIXES = ("cp", "master", "server", "control")


class LabError(Exception):
    """A lab operation failed; the message says which and why."""


def run(argv, stdin=None, check=True):
    """Run a command, return its CompletedProcess; raise LabError with its stderr on failure."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise LabError("%s failed (%d): %s" % (" ".join(argv), proc.returncode, proc.stderr.strip()))
    return proc


def ip_batch(commands, netns=None):
    """Run iproute2 commands in one process (`ip [-n NS] -batch -`)."""
    if not commands:
        return
    argv = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    run(argv, stdin="\n".join(commands) + "\n")


def lab_id(state_dir):
    """Short, stable id of a lab from its state directory (names its namespaces)."""
    return "vl" + hashlib.sha1(os.path.realpath(state_dir).encode()).hexdigest()[:6]


def kernel_has_ipvs():
    """True where the running kernel has IPVS loaded (/proc/net/ip_vs), e.g. the User-Mode Linux guest."""
    return os.path.exists("/proc/net/ip_vs")


def is_control_plane(name):
    return name.startswith(CONTROL_PLANE_PREFIXES)


def ns_exists(name):
    return os.path.exists(os.path.join(NETNS_DIR, name))


def environ(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def lab_processes(ident):
    """PIDs of every process carrying this lab's marker (holders and anything started in them)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            env = environ(int(entry))
            if env and env.get(MARKER_ENV, "").split(":")[0] == ident:
                pids.append(int(entry))
    return pids


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _mountpoint_plan(paths):
    """(overlay targets, missing paths): the nearest existing ancestor of each missing path."""
    overlays, missing = [], []
    for path in paths:
        if os.path.isdir(path):
            continue
        missing.append(path)
        parent = os.path.dirname(path)
        while not os.path.isdir(parent):
            parent = os.path.dirname(parent)
        if parent == "/":
            raise LabError("refusing to put an overlay over / for %s" % path)
        if parent not in overlays:
            overlays.append(parent)
    # an overlay on /a makes one on /a/b needless (mkdir -p lands in the upper layer)
    overlays = [o for o in overlays if not any(o.startswith(other + "/") for other in overlays)]
    return overlays, missing


def holder_script(node_dir):
    """Shell run by the holder inside the node's namespaces: mounts, then `sleep infinity`."""
    overlays, missing = _mountpoint_plan(PRIVATE_DIRS)
    lines = ["set -e"]
    # copies of other namespaces' /run/netns entries would keep them alive: drop them here
    lines.append("for f in %s/*; do umount \"$f\" 2>/dev/null || true; done" % NETNS_DIR)
    for index, target in enumerate(overlays):
        layer = os.path.join(node_dir, "overlay", str(index))
        os.makedirs(os.path.join(layer, "upper"))
        os.makedirs(os.path.join(layer, "work"))
        lines.append("mount -t overlay lab-overlay -o lowerdir=%s,upperdir=%s/upper,workdir=%s/work %s"
                     % (target, layer, layer, target))
    for path in missing:
        lines.append("mkdir -p %s" % path)
    for path in PRIVATE_DIRS:
        source = os.path.join(node_dir, "root", path.lstrip("/"))
        os.makedirs(source, exist_ok=True)
        lines.append("mount --bind %s %s" % (source, path))
    lines.append("echo ready")
    lines.append("exec sleep infinity </dev/null >/dev/null 2>&1")
    return "\n".join(lines)

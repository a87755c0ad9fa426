# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real lab's plumbing (tests/lab/reallab.py): its error, entering a node's namespaces, HTTPS to the
API servers, waiting."""

from __future__ import annotations

import ctypes
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request

CLONE_NEWNET = 0x40000000


class RealLabError(Exception):
    """A step of the real lab failed; the message names the step, the node and what the program said."""


def enter_netns(name):
    """Move this (single-threaded) process into network namespace NAME for good."""
    fd = os.open(os.path.join("/run/netns", name), os.O_RDONLY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise RealLabError("setns into %s failed: %s" % (name, os.strerror(ctypes.get_errno())))
    finally:
        os.close(fd)


def in_node(node, argv, check=True, timeout=120):
    """Run argv in a node's network and mount namespaces (through its holder)."""
    full = ["nsenter", "--target", str(node["pid"]), "--mount", "--net", "--"] + list(argv)
    proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RealLabError("on %s: %s failed (%d): %s" % (node["name"], " ".join(argv[:6]), proc.returncode,
                                                          (proc.stderr or proc.stdout).strip()[-1500:]))
    return proc


def node_path(node, path):
    """The host-side path of PATH inside a node's private directories."""
    return os.path.join(node["dir"], "root", path.lstrip("/"))


def https_get(url, ca_file, timeout=3.0):
    """(status, body) of a GET verified against the cluster CA; (None, error text) when unreachable."""
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # nosec: lab addresses only
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        return None, str(exc)


def wait_for(what, probe, timeout, interval=0.5, describe_failure=None):
    """Call probe() until it returns a true value; RealLabError naming WHAT after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last and last[0]:
            return last
        time.sleep(interval)
    detail = describe_failure() if describe_failure else ""
    raise RealLabError("%s did not happen within %ds (last: %s)%s" % (what, timeout, last, detail))

"""Network namespaces for kernel tests, witnessed with iproute2 / ipvsadm, and Ansible runs inside them.

Only documentation addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are
used, and only inside namespaces created here. A namespace holds one veth pair (v0, v1): this
kernel has no dummy links.
"""
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
VENV_BIN = os.path.join(TOP, ".venv", "bin")
PYTHON = os.path.join(VENV_BIN, "python")


def need(problem):
    """Skip locally, fail in CI (CI=true) or inside the UML guest, when ``problem`` is set."""
    if not problem:
        return
    if os.environ.get("CI") == "true" or os.environ.get("VIP_UML_GUEST") == "1":
        pytest.fail("required for this test: %s" % problem)
    pytest.skip(problem)


def root_problem():
    """Why namespace tests cannot run here (None when they can)."""
    if os.geteuid() != 0:
        return "kernel tests need root (they create network namespaces)"
    for tool in ("ip",):
        if shutil.which(tool) is None:
            return "%s missing (package iproute2)" % tool
    if not os.access(os.path.join(VENV_BIN, "ansible"), os.X_OK):
        return "%s/ansible missing: run make setup" % VENV_BIN
    return None


def run(*argv, check=True):
    """Run a command; return stdout (raise with its stderr on failure when ``check``)."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode:
        raise AssertionError("%s failed (%s): %s" % (" ".join(argv), proc.returncode, proc.stderr.strip()))
    return proc.stdout


class Netns:
    """A network namespace with veth pair v0/v1 (both up) and lo up; delete() removes it."""

    def __init__(self):
        self.name = "vipt%d%s" % (os.getpid(), secrets.token_hex(3))
        self.tree = tempfile.mkdtemp(prefix="vip-ansible-")  # ansible's local temp, interpreter wrappers

    def create(self):
        run("ip", "netns", "add", self.name)
        self.ip("link", "set", "lo", "up")
        self.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
        for link in ("v0", "v1"):  # no IPv6 link-local addresses appearing while a test compares states
            self.ip("link", "set", link, "addrgenmode", "none")
        self.ip("link", "set", "v0", "up")
        self.ip("link", "set", "v1", "up")
        return self

    def delete(self):
        run("ip", "netns", "del", self.name, check=False)
        shutil.rmtree(self.tree, ignore_errors=True)
        assert not os.path.lexists("/run/netns/%s" % self.name), "namespace %s left behind" % self.name

    def exec(self, *argv, check=True):
        """Run a command inside the namespace."""
        return run("ip", "netns", "exec", self.name, *argv, check=check)

    def ip(self, *argv):
        """ip -n NS ..."""
        return run("ip", "-n", self.name, *argv)

    def ip_json(self, *argv):
        """ip -j -n NS ... parsed (a list)."""
        out = run("ip", "-j", "-n", self.name, *argv).strip()
        return json.loads(out) if out else []

    def routes(self, table):
        """{(dst, dev, protocol)} of both families in ``table``, as iproute2 reports them."""
        result = set()
        for family in ("-4", "-6"):
            proc = subprocess.run(["ip", "-j", "-n", self.name, family, "route", "show", "table", str(table)],
                                  capture_output=True, text=True, check=False)
            if proc.returncode and "FIB table does not exist" in proc.stderr:
                continue
            assert proc.returncode == 0, proc.stderr
            for route in json.loads(proc.stdout or "[]"):
                if route.get("type", "unicast") != "unicast":
                    continue
                result.add((route["dst"], route.get("dev"), str(route.get("protocol", "boot"))))
        return result

    def all_routes(self):
        """Every route of every table, as text, to compare before/after."""
        return self.ip("-4", "route", "show", "table", "all") + self.ip("-6", "route", "show", "table", "all")

    def addresses(self):
        """{(address, prefix, interface)} of global-scope addresses."""
        result = set()
        for link in self.ip_json("address", "show"):
            for info in link.get("addr_info", []):
                if info.get("scope") == "global":
                    result.add((info["local"], info["prefixlen"], link["ifname"]))
        return result

    def ipvs(self):
        """ipvsadm -Ln -n inside the namespace (text)."""
        return self.exec("ipvsadm", "-Ln")

    def ansible(self, module, args, check=False, python=PYTHON, verbose=False):
        """Run baremetal.vip.MODULE through ``ansible`` inside the namespace; return the result dict.

        ``_rc`` is ansible's exit status, ``failed`` whether the task failed, ``_diff`` the +/- lines
        of the diff ansible printed, ``_output`` everything it printed.
        """
        from testkit.ansible import ansible_env  # pylint: disable=import-outside-toplevel  # this file also runs in the UML guest
        env = ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_PIPELINING="1", ANSIBLE_DEPRECATION_WARNINGS="0",
                          ANSIBLE_LOCAL_TEMP=self.tree, ANSIBLE_DISPLAY_TRACEBACK="error" if verbose else "never")
        argv = ["ip", "netns", "exec", self.name, os.path.join(VENV_BIN, "ansible"), "localhost", "-c", "local",
                "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % python, "-m", "baremetal.vip.%s" % module,
                "-a", json.dumps(args) if args else "", "--diff"] + (["--check"] if check else []) + (["-vvv"] if verbose else [])
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=TOP, check=False)
        match = re.search(r"^localhost \| (SUCCESS|CHANGED|FAILED!) => ", proc.stdout, re.M)
        if not match:
            raise AssertionError("ansible printed no result (rc %s):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
        result = json.JSONDecoder().raw_decode(proc.stdout[match.end():])[0]
        result["failed"] = match.group(1) == "FAILED!"
        result["_rc"] = proc.returncode
        result["_output"] = proc.stdout + proc.stderr
        lines = proc.stdout[:match.start()].splitlines()
        result["_diff"] = [line for line in lines if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
        return result

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the benchmarks (tests/bench/run.py): timing, network namespaces, route sets.

Only documentation addresses are used (198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), and
only inside namespaces created here; every namespace is deleted again, also on failure.
"""

from __future__ import annotations

import ctypes
import os
import resource
import secrets
import socket
import statistics
import struct
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(TOP, ".venv", "bin")
PYTHON = os.path.join(BIN, "python")
COLLECTIONS = os.path.join(TOP, ".collections")
CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
TABLE = 198
PROTOCOL = 248

if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


class BenchError(Exception):
    """A benchmark could not run or its result was wrong (the message says which)."""


def run(argv, stdin=None, env=None, check=True, cwd=None):
    """Run a command; CompletedProcess (BenchError with its stderr on failure when ``check``)."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, check=False, cwd=cwd)
    if check and proc.returncode:
        raise BenchError("%s failed (%d): %s" % (" ".join(argv[:6]), proc.returncode, (proc.stderr or proc.stdout)[-2000:]))
    return proc


def median(values):
    """Median of a list of seconds."""
    return statistics.median(values)


def timed(function, *args, **kwargs):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def timed_run(argv, **kwargs):
    """(seconds, CompletedProcess) of one command, wall clock from start to exit."""
    start = time.perf_counter()
    proc = run(argv, **kwargs)
    return time.perf_counter() - start, proc


def timed_cpu(function, *args, **kwargs):
    """(wall seconds, CPU seconds of this process, result) of one call; CPU = user + system time."""
    start, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, time.process_time() - cpu, result


def timed_cpu_run(argv, **kwargs):
    """(wall seconds, CPU seconds of the command, CompletedProcess); CPU = the child's user + system time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, proc = timed_run(argv, **kwargs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc


_LIBC = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _LIBC.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise BenchError("setns failed: %s" % os.strerror(err))


class Netns:
    """A network namespace with lo and a veth pair v0/v1 up; ``with`` deletes it whatever happens."""

    def __init__(self, label):
        self.name = "vipbench-%s-%s" % (label, secrets.token_hex(3))

    def __enter__(self):
        run(["ip", "netns", "add", self.name])
        try:
            self.batch(["link set lo up", "link add v0 type veth peer name v1",
                        "link set v0 addrgenmode none", "link set v1 addrgenmode none",
                        "link set v0 up", "link set v1 up"])
        except BaseException:
            self.delete()
            raise
        return self

    def __exit__(self, *exc):
        self.delete()

    def delete(self):
        """Remove the namespace (safe twice); BenchError if it is still there."""
        run(["ip", "netns", "del", self.name], check=False)
        if os.path.lexists(os.path.join(NETNS_DIR, self.name)):
            raise BenchError("namespace %s left behind" % self.name)

    def batch(self, commands, path=None):
        """Run iproute2 commands in one `ip -n NS -batch` process (from ``path`` if given)."""
        if path is None:
            run(["ip", "-n", self.name, "-batch", "-"], stdin="\n".join(commands) + "\n")
        else:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("\n".join(commands) + "\n")
            run(["ip", "-n", self.name, "-batch", path])

    def count_routes(self, table):
        """Routes of both families in ``table`` (iproute2 as witness)."""
        total = 0
        for family in ("-4", "-6"):
            proc = run(["ip", "-n", self.name, family, "route", "show", "table", str(table)], check=False)
            total += len([line for line in proc.stdout.splitlines() if line.strip()])
        return total

    def enter(self):
        """Context manager: this thread in the namespace, back in the original one afterwards."""
        return _Inside(self.name)


class _Inside:
    def __init__(self, name):
        self.name = name
        self.home = None

    def __enter__(self):
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(os.path.join(NETNS_DIR, self.name), os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        return self

    def __exit__(self, *exc):
        try:
            _setns(self.home)
        finally:
            os.close(self.home)


def host_destinations(count, start=0):
    """``count`` distinct host routes (CIDR strings): up to 500 IPv4 first, then IPv6."""
    result = []
    for index in range(start, start + count):
        if index < 250:
            result.append("198.51.100.%d/32" % (index + 1))
        elif index < 500:
            result.append("203.0.113.%d/32" % (index - 249))
        else:
            result.append("2001:db8:1::%x/128" % index)
    return result


def other_destinations(count):
    """``count`` distinct IPv6 host routes outside 2001:db8:1::/64 (for other tables)."""
    return ["2001:db8:2::%x/128" % index for index in range(count)]


def route_commands(verb, destinations, table=TABLE, protocol=PROTOCOL, dev="v0"):
    """`route add|del DST dev v0 table T proto P` lines for ip -batch."""
    suffix = " dev %s table %s proto %s" % (dev, table, protocol)
    return ["route %s %s%s" % (verb, dst, suffix) for dst in destinations]


def ansible_env(tmp):
    """Environment for ansible / ansible-playbook runs from the checkout."""
    from testkit.ansible import ansible_env as checkout_env  # pylint: disable=import-outside-toplevel  # also runs in the UML guest
    return checkout_env(ANSIBLE_LOCAL_TEMP=tmp, ANSIBLE_DEPRECATION_WARNINGS="0",
                        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_PIPELINING="1")


_NLMSG = struct.Struct("=IHHII")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")
RTM_GETROUTE = 26
NLM_F_DUMP_REQUEST = 0x301  # NLM_F_REQUEST | NLM_F_DUMP
NETLINK_GET_STRICT_CHK = 12
SOL_NETLINK = 270
ROUTE_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw"}


def struct_route_dump(table, links):
    """The dicts netstate.read_routes returns, from one kernel-filtered RTM_GETROUTE dump parsed with struct.

    A prototype for comparison only (what decoding costs without pyroute2); the modules do not use it.
    """
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        sock.bind((0, 0))
        body = _RTMSG.pack(0, 0, 0, 0, table if table < 256 else 252, 0, 0, 0, 0) + _RTATTR.pack(8, 15) + _U32.pack(table)
        sock.send(_NLMSG.pack(16 + len(body), RTM_GETROUTE, NLM_F_DUMP_REQUEST, 1, 0) + body)
        result = []
        while True:
            data = sock.recv(1 << 20)
            offset = 0
            while offset < len(data):
                length, kind = _NLMSG.unpack_from(data, offset)[:2]
                if kind == 3:  # NLMSG_DONE
                    return result
                if kind == 2:  # NLMSG_ERROR
                    error = struct.unpack_from("=i", data, offset + 16)[0]
                    if error == -2:
                        return []
                    raise OSError(-error, os.strerror(-error))
                family, dst_len, _src, _tos, _tbl, proto, scope, rtype, _flags = _RTMSG.unpack_from(data, offset + 16)
                af = socket.AF_INET if family == socket.AF_INET else socket.AF_INET6
                attr, end = offset + 28, offset + length
                dst = gateway = oif = hops = None
                metric = 0
                rtable = _tbl
                while attr < end:
                    alen, atype = _RTATTR.unpack_from(data, attr)
                    if atype == 1:
                        dst = socket.inet_ntop(af, data[attr + 4:attr + alen])
                    elif atype == 4:
                        oif = _U32.unpack_from(data, attr + 4)[0]
                    elif atype == 5:
                        gateway = socket.inet_ntop(af, data[attr + 4:attr + alen])
                    elif atype == 6:  # RTA_PRIORITY
                        metric = _U32.unpack_from(data, attr + 4)[0]
                    elif atype == 9:  # RTA_MULTIPATH: not decoded here (the bench's tables have none); never equal
                        hops = "multipath"
                    elif atype == 15:
                        rtable = _U32.unpack_from(data, attr + 4)[0]
                    attr += (alen + 3) & ~3
                offset += (length + 3) & ~3
                if rtable != table or family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                result.append({"destination": "%s/%d" % (dst or ("0.0.0.0" if af == socket.AF_INET else "::"), dst_len),
                               "interface": links.get(oif, {}).get("name"), "gateway": gateway, "nexthops": hops, "metric": metric,
                               "table": table,
                               "protocol": proto, "type": ROUTE_TYPES.get(rtype, rtype), "scope": scope,
                               "family": "ipv4" if af == socket.AF_INET else "ipv6"})
    finally:
        sock.close()

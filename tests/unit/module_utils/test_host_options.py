"""What the host modules refuse before touching anything (hosttasks' option checks), the library checks (deps),
and the announcement frames and their interface checks (netstate): no kernel needed."""
import socket
import struct

import pytest

from ansible_collections.baremetal.vip.plugins.module_utils import deps, hosttasks, ipvs, netstate
from ansible_collections.baremetal.vip.plugins.module_utils.reconcile import VipError


def test_gratuitous_arp_frame():
    mac = bytes.fromhex("020000000001")
    frame = netstate.gratuitous_arp_frame(mac, "192.0.2.10")
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == mac and frame[12:14] == b"\x08\x06"
    htype, ptype, hlen, plen, oper = struct.unpack("!HHBBH", frame[14:22])
    assert (htype, ptype, hlen, plen, oper) == (1, 0x0800, 6, 4, 1)
    assert frame[28:32] == frame[38:42] == socket.inet_aton("192.0.2.10")


def test_unsolicited_na():
    packet = netstate.unsolicited_na(bytes.fromhex("020000000001"), "2001:db8::10")
    assert packet[0] == 136 and packet[4] & 0x20 and packet[8:24] == socket.inet_pton(socket.AF_INET6, "2001:db8::10")
    assert packet[24:26] == b"\x02\x01"


class FailingModule:
    def __init__(self):
        self.failed = None

    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise SystemExit(1)


def test_missing_library_uses_the_standard_message(monkeypatch):
    monkeypatch.setitem(deps._ERRORS, "pyroute2", "Traceback: ImportError: No module named 'pyroute2'")
    module = FailingModule()
    with pytest.raises(SystemExit):
        deps.require(module)
    assert "Failed to import the required Python library (pyroute2)" in module.failed["msg"]
    assert "No module named 'pyroute2'" in module.failed["exception"]


def _params(**kwargs):
    base = dict(address=None, prefix=None, interface=None, state="present", owned_ranges=[], prune=False,
                keep_addresses=[], protected_addresses=[], announce=False, announce_count=3)
    base.update(kwargs)
    return base


@pytest.mark.parametrize("params, message", [
    (_params(address="192.0.2.10"), "adding 192.0.2.10: interface is required with state=present"),
    (_params(address="192.0.2.300", interface="eth0"), "address: '192.0.2.300' is not an IP address"),
    (_params(prune=True), "prune needs owned_ranges"),
    (_params(), "nothing to do"),
    (_params(address="192.0.2.10", interface="eth0", prefix=33), "prefix 33 is not valid for 192.0.2.10"),
    (_params(addresses=["192.0.2.10", "192.0.2.300"], state="absent"), r"addresses\[1\]: '192.0.2.300' is not an IP address"),
    (_params(addresses=["192.0.2.10", "2001:db8::1", "2001:DB8:0::1"], state="absent"),
     r"addresses\[2\]: 2001:db8::1 is listed twice \(addresses\[1\]\)"),
    (_params(addresses=["192.0.2.10"], interface="eth0", announce=True), "announce: give one address, not addresses"),
    (_params(addresses=["192.0.2.10", "2001:db8::1"], interface="eth0", prefix=64), "prefix 64 is not valid for 192.0.2.10"),
])
def test_address_options_refused_before_anything(params, message):
    with pytest.raises(VipError, match=message):
        hosttasks.address_request(params)


def test_addresses_is_address_many_times():
    """The compact form asks what one address option per VIP asks; an empty list asks for nothing (no error)."""
    many = hosttasks.address_request(_params(addresses=["192.0.2.10", "2001:db8::1"], interface="eth0"))
    one = [hosttasks.address_request(_params(address=a, interface="eth0")) for a in ("192.0.2.10", "2001:db8::1")]
    assert many[0] == one[0][0] + one[1][0] == [{"address": "192.0.2.10", "prefix": 32, "interface": "eth0"},
                                                {"address": "2001:db8::1", "prefix": 128, "interface": "eth0"}]
    gone = hosttasks.address_request(_params(addresses=["192.0.2.10"], state="absent"))
    assert gone[:2] == ([], [{"address": "192.0.2.10", "interface": None}])
    assert hosttasks.address_request(_params(addresses=[]))[:2] == ([], [])


def test_ipvs_options_refused_before_anything():
    service = dict(address="192.0.2.10", port=70000, protocol="tcp", scheduler="rr", real_servers=[])
    with pytest.raises(VipError, match=r"services\[0\].port: 70000 is not a port"):
        hosttasks.desired_services([service])
    service["port"] = 6443
    with pytest.raises(VipError, match=r"services\[1\]: IPVS service TCP 192.0.2.10:6443 is listed twice"):
        hosttasks.desired_services([service, service])
    real = dict(address="192.0.2.11", port=None, weight=1, forward_method=None)
    with pytest.raises(VipError, match=r"services\[0\].real_servers\[1\]: real server 192.0.2.11:6443 is listed twice"):
        hosttasks.desired_services([dict(service, real_servers=[real, dict(real, port=6443)])])
    with pytest.raises(VipError, match="prune needs owned_addresses"):
        hosttasks.reconcile_ipvs(dict(services=[], owned_addresses=[], prune=True), check_mode=True)


def test_ipvs_check_mode_diff_simulation():
    current = [{"address": "192.0.2.10", "port": 6443, "protocol": "tcp", "scheduler": "wlc",
                "real_servers": [{"address": "192.0.2.11", "port": 6443, "weight": 1, "forward_method": "route"}]}]
    changes = {"remove_services": [], "add_services": [], "edit_services": [dict(current[0], scheduler="rr")],
               "remove_dests": [{"service": current[0], "dest": current[0]["real_servers"][0]}],
               "add_dests": [{"service": current[0], "dest": {"address": "192.0.2.12", "port": 6443, "weight": 2,
                                                              "forward_method": None}}], "edit_dests": []}
    lines = hosttasks.service_lines(ipvs.after_changes(current, changes))
    assert lines == ["TCP 192.0.2.10:6443 rr", "  -> 192.0.2.12:6443 route weight 2"]


@pytest.mark.parametrize("found, expected", [("0.7.11", "pyroute2 0.7.11 is installed; these modules need pyroute2 0.9.1 or later"),
                                             ("0.9.0", "pyroute2 0.9.0 is installed"), ("0.9.1", None), ("0.9.7", None), ("1.0.0rc1", None)])
@pytest.mark.parametrize("source", ["package", "distribution"])
def test_pyroute2_version_check(monkeypatch, found, expected, source):
    """The version the package says (pyroute2.__version__), else, where it says none or 'unknown', the distribution's."""
    import importlib.metadata  # pylint: disable=import-outside-toplevel
    if source == "package":
        monkeypatch.setattr(deps.pyroute2, "__version__", found, raising=False)
        monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.0.1")  # not read: the package said
    else:
        monkeypatch.setattr(deps.pyroute2, "__version__", "unknown", raising=False)
        monkeypatch.setattr(importlib.metadata, "version", lambda name: found)
    problem = deps._pyroute2_too_old()  # pylint: disable=protected-access
    assert problem == expected if expected is None else problem.startswith(expected)


@pytest.mark.parametrize("link, problem", [
    ({"name": "lo", "mac": "00:00:00:00:00:00", "type": 772, "flags": 0x49}, "lo is a loopback interface"),
    ({"name": "tun0", "mac": None, "type": 65534, "flags": 0x91}, "tun0 does not use ARP or neighbour discovery"),
    ({"name": "wg0", "mac": None, "type": 65534, "flags": 0x41}, "wg0 is not an Ethernet interface"),
    ({"name": "v0", "mac": "02:00:00:00:00:01", "type": 1, "flags": 0x1003}, None),
])
def test_announce_problem(link, problem):
    found = netstate.announce_problem(link)
    assert (found is None) if problem is None else found.startswith(problem)


def _fresh_python(code):
    """stdout of ``code`` run by a new Python with this one's path (nothing imported yet); the test fails on its error."""
    import os  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                         env=dict(os.environ, PYTHONPATH=":".join(p for p in sys.path if p)))
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_pyroute2_package_init_deferred():
    """deps enters pyroute2 without its package __init__ (IPDB, NDB, ... are not imported by a module run), yet
    pyroute2's names keep their meaning: the ones the modules use come from their submodules, any other runs the
    __init__ (pyroute2 0.9.7's __init__ imports NDB from pyroute2.ndb.main)."""
    code = ("import sys\n"
            "from ansible_collections.baremetal.vip.plugins.module_utils import deps\n"
            "import pyroute2\n"
            "assert pyroute2 is deps.pyroute2 and not deps.missing(), deps._ERRORS\n"
            "from pyroute2.iproute.linux import IPRoute\n"
            "from pyroute2.netlink.exceptions import NetlinkError\n"
            "assert pyroute2.IPRoute is IPRoute and pyroute2.NetlinkError is NetlinkError\n"
            "assert pyroute2.__version__[:1].isdigit() and deps._pyroute2_too_old() is None\n"
            "before = 'pyroute2.ndb.main' in sys.modules\n"
            "from pyroute2 import NDB\n"
            "from pyroute2.ndb.main import NDB as defined\n"
            "assert NDB is defined and pyroute2.IPVS.__module__ == 'pyroute2.ipvs'\n"
            "print(before)\n")
    assert _fresh_python(code) == "False"


def test_the_run_channel_needs_no_iproute_api():
    """open_iproute: a NETLINK_ROUTE socket with strict checking, extended acks and pyroute2's buffer sizes, opened
    by pyroute2.netns.create_socket without pyroute2's IPRoute, its mock engine or asyncio being imported (about 40 ms
    of every module run); a module run reads links, addresses and routes through it, and on a node without ip_vs
    loaded vip_check's gathering imports nothing of IPVS."""
    code = ("import socket, sys\n"
            "from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks, netstate\n"
            "from pyroute2.netlink import NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, NETLINK_ROUTE, SOL_NETLINK\n"
            "with netstate.open_iproute() as channel:\n"
            "    sock = channel.sock\n"
            "    assert sock.family == socket.AF_NETLINK and sock.proto == NETLINK_ROUTE, sock\n"
            "    assert sock.getsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK) == sock.getsockopt(SOL_NETLINK, NETLINK_EXT_ACK) == 1\n"
            "    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= min(netstate.SOCKET_BUFFER,\n"
            "                                                                       int(open('/proc/sys/net/core/rmem_max').read()))\n"
            "hosttasks.IPVS_PROC_FILE = '/proc/net/no-ip_vs-here'  # a node without ip_vs loaded\n"
            "facts = hosttasks.gather_facts({'table': 198, 'protocol': 248, 'gather': ['links', 'addresses', 'routes', 'ipvs']})\n"
            "assert any(link['name'] == 'lo' for link in facts['links'].values()) and facts['ipvs_available'] is False\n"
            "assert any(addr['address'] == '127.0.0.1' for addr in facts['addresses']), facts['addresses']\n"
            "print(sorted(name for name in sys.modules if name.startswith(('pyroute2.iproute', 'pyroute2.ipvs', 'asyncio'))\n"
            "             or name.endswith('module_utils.ipvs')))\n")
    assert _fresh_python(code) == "[]"

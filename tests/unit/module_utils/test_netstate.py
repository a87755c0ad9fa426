"""Readers and helpers of netstate / deps / hosttasks that need no kernel."""
import socket
import struct

import pyroute2
import pytest

from ansible_collections.baremetal.vip.plugins.module_utils import deps, hosttasks, netstate
from ansible_collections.baremetal.vip.plugins.module_utils.reconcile import VipError


class FakeMsg(dict):
    def get(self, key, default=None):  # pyroute2 messages answer NLA names too
        return dict.get(self, key, default)


class FakeIPRoute:
    """Records the dump request; answers like a kernel that filtered by table."""

    def __init__(self, error=None):
        self.requests = []
        self.error = error

    def route(self, command, **kwargs):
        self.requests.append((command, kwargs))
        if self.error:
            raise self.error
        return [FakeMsg(family=socket.AF_INET, dst_len=32, table=198, proto=248, type=1, scope=253,
                        RTA_DST="198.51.100.7", RTA_OIF=3, RTA_TABLE=198)]


def test_route_dump_is_filtered_by_the_kernel():
    ipr = FakeIPRoute()
    routes = netstate.read_routes(ipr, 198, {3: {"name": "eth0", "mac": None}})
    command, kwargs = ipr.requests[0]
    assert command == "dump"
    assert kwargs["dump_filter"] is None  # no filtering in Python
    request = kwargs["request_filter"]
    assert dict(request) == {"RTA_TABLE": 198}
    assert request.get_value("family") == socket.AF_UNSPEC and request.get_value("table") == 198
    assert routes == [{"destination": "198.51.100.7/32", "interface": "eth0", "gateway": None, "table": 198,
                       "protocol": 248, "type": "unicast", "scope": 253, "family": "ipv4"}]


def test_route_dump_of_large_table_uses_attribute():
    ipr = FakeIPRoute()
    netstate.read_routes(ipr, 1000, {})
    request = ipr.requests[0][1]["request_filter"]
    assert dict(request) == {"RTA_TABLE": 1000} and request.get_value("table") == 252


def test_route_dump_of_missing_table_is_empty():
    assert netstate.read_routes(FakeIPRoute(error=pyroute2.NetlinkError(2, "No such file")), 198, {}) == []


def test_link_index_names_what_was_done():
    with pytest.raises(VipError, match=r"adding route 198.51.100.7/32: interface 'eth9' does not exist on this host \(interfaces: eth0, lo\)"):
        netstate.link_index({1: {"name": "lo"}, 2: {"name": "eth0"}}, "eth9", "adding route 198.51.100.7/32")


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
])
def test_address_options_refused_before_anything(params, message):
    with pytest.raises(VipError, match=message):
        hosttasks.address_request(params)


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
    lines = hosttasks.service_lines(hosttasks._simulate_ipvs(current, changes))  # pylint: disable=protected-access
    assert lines == ["TCP 192.0.2.10:6443 rr", "  -> 192.0.2.12:6443 route weight 2"]


@pytest.mark.parametrize("found, expected", [("0.7.11", "pyroute2 0.7.11 is installed; these modules need pyroute2 0.9.1 or later"),
                                             ("0.9.0", "pyroute2 0.9.0 is installed"), ("0.9.1", None), ("0.9.7", None), ("1.0.0rc1", None)])
def test_pyroute2_version_check(monkeypatch, found, expected):
    import importlib.metadata  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(importlib.metadata, "version", lambda name: found)
    problem = deps._pyroute2_too_old()  # pylint: disable=protected-access
    assert problem == expected if expected is None else problem.startswith(expected)

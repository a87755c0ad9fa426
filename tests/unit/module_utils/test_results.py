"""What vip_routes and ipvs_service return for each return_routes / return_services (issue 19): counts always, the
lists only as asked; the compact form of vip_routes lists destinations. The kernel tests (test_host_modules.py,
guest_ipvs.py in User-Mode Linux) run the same through the modules."""
import copy

import pytest

from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks


def route(destination, dev="v0"):
    return {"destination": destination, "interface": dev, "table": 198, "protocol": 248, "type": "unicast", "family": "ipv4"}


ROUTE_RESULT = {"changed": True, "added": [route("198.51.100.7/32")],
                "removed": [route("198.51.100.8/32"), route("198.51.100.8/32", dev="v1")],
                "legacy_routes": [dict(route("198.51.100.9/32"), protocol=4)]}
TABLE = [route("198.51.100.7/32"), route("198.51.100.10/32")]
ROUTE_COUNTS = {"routes": 2, "added": 1, "removed": 2, "legacy_routes": 1}


@pytest.mark.parametrize("return_routes, compact, keys", [
    ("all", False, {"added", "removed", "legacy_routes", "routes"}),
    ("all", True, {"added", "removed", "legacy_routes", "routes"}),
    ("changed", False, {"added", "removed", "legacy_routes"}),
    ("changed", True, {"added_destinations", "removed_destinations", "legacy_routes"}),
    ("none", False, set()),
    ("none", True, set()),
])
def test_route_result_keeps_what_return_routes_asks(return_routes, compact, keys):
    result = hosttasks._route_result(copy.deepcopy(ROUTE_RESULT), TABLE, return_routes, compact=compact)  # pylint: disable=protected-access
    assert set(result) == keys | {"changed", "counts"}
    assert result["counts"] == ROUTE_COUNTS
    if compact and return_routes == "changed":  # one destination per route, in the order of the route lists
        assert result["added_destinations"] == ["198.51.100.7/32"]
        assert result["removed_destinations"] == ["198.51.100.8/32", "198.51.100.8/32"]
    for key in keys & {"added", "removed", "legacy_routes"}:
        assert result[key] == ROUTE_RESULT[key]


def service(address, port=80, real_servers=None):
    return {"address": address, "port": port, "protocol": "tcp", "scheduler": "rr", "real_servers": real_servers}


IPVS_RESULT = {"changed": True, "added": [service("192.0.2.10", real_servers=[])], "removed": [],
               "updated": {"schedulers": [service("192.0.2.11")], "real_servers_added": [], "real_servers_removed": [],
                           "real_servers_updated": []},
               "foreign": ["TCP 203.0.113.5:80", "FWM 7"],
               "services": [service("192.0.2.10", real_servers=[]), service("192.0.2.11", real_servers=[]),
                            service("203.0.113.5")]}
IPVS_COUNTS = {"services": 3, "added": 1, "removed": 0, "schedulers": 1, "real_servers_added": 0, "real_servers_removed": 0,
               "real_servers_updated": 0, "foreign": 2}


@pytest.mark.parametrize("return_services, keys", [
    ("all", {"added", "removed", "updated", "foreign", "services"}),
    ("changed", {"added", "removed", "updated"}),
    ("none", set()),
])
def test_ipvs_result_keeps_what_return_services_asks(return_services, keys):
    result = hosttasks._ipvs_result(copy.deepcopy(IPVS_RESULT), return_services)  # pylint: disable=protected-access
    assert set(result) == keys | {"changed", "counts"}
    assert result["counts"] == IPVS_COUNTS
    for key in keys:
        assert result[key] == IPVS_RESULT[key]

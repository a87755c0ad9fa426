"""vip_facts, vip_routes, vip_address through real Ansible in network namespaces of this kernel.

State is set up and checked with iproute2, never with the code under test. Each module runs in
check mode (nothing changes, the diff says what would), then for real twice (second: unchanged).
"""
import json
import os
import socket
import subprocess
import time

import pytest

from nsutil import PYTHON, TOP  # pylint: disable=import-error

from benchlib import host_destinations  # pylint: disable=import-error

ROUTES = {"routes": [{"destination": "198.51.100.7", "interface": "v0"}, {"destination": "2001:db8::7/128", "interface": "v0"}],
          "prune": True}


def setup_route_mix(ns):
    """kube-vip's orphan, a legacy route, a foreign network route, other tables."""
    ns.ip("address", "add", "192.0.2.11/24", "dev", "v0")
    ns.ip("route", "add", "198.51.100.8/32", "dev", "v0", "table", "198", "proto", "248")            # orphan: pruned
    ns.ip("route", "add", "198.51.100.9/32", "dev", "v0", "table", "198", "proto", "static")         # legacy: reported
    ns.ip("route", "add", "203.0.113.0/24", "dev", "v0", "table", "198", "proto", "boot")            # foreign network
    ns.ip("-6", "route", "add", "2001:db8::9/128", "dev", "v0", "table", "198", "proto", "199")      # legacy (v6)
    ns.ip("route", "add", "198.51.100.10/32", "dev", "v0", "table", "199", "proto", "248")           # other table
    ns.ip("route", "add", "198.51.100.11/32", "dev", "v0", "proto", "248")                           # main table


def test_vip_routes_check_then_apply_then_idempotent(netns):
    setup_route_mix(netns)
    before = netns.all_routes()

    result = netns.ansible("vip_routes", ROUTES, check=True)
    assert result["_rc"] == 0 and result["changed"] is True, result
    assert netns.all_routes() == before, "check mode changed routes"
    assert sorted(result["_diff"]) == ["+198.51.100.7/32 dev v0 table 198 proto 248", "+2001:db8::7/128 dev v0 table 198 proto 248",
                                       "-198.51.100.8/32 dev v0 table 198 proto 248"]
    assert sorted(r["destination"] for r in result["legacy_routes"]) == ["198.51.100.9/32", "2001:db8::9/128"]

    result = netns.ansible("vip_routes", ROUTES)
    assert result["_rc"] == 0 and result["changed"] is True, result
    assert sorted(r["destination"] for r in result["removed"]) == ["198.51.100.8/32"]
    assert netns.routes(198) == {("198.51.100.7", "v0", "248"), ("2001:db8::7", "v0", "248"), ("198.51.100.9", "v0", "static"),
                                 ("203.0.113.0/24", "v0", "boot"), ("2001:db8::9", "v0", "199")}
    assert netns.routes(199) == {("198.51.100.10", "v0", "248")}
    assert ("198.51.100.11", "v0", "248") in netns.routes("main")
    # exactly as kube-vip (PrepareRoute, pkg/vip/address.go, kube-vip v1.2.2): unicast, scope universe (iproute2 prints
    # no scope for it), on the interface, no gateway
    route = netns.ip_json("route", "show", "table", "198", "198.51.100.7")[0]
    assert "scope" not in route and route["protocol"] == "248" and route["dev"] == "v0" and "gateway" not in route, route

    result = netns.ansible("vip_routes", ROUTES)
    assert result["_rc"] == 0 and result["changed"] is False, result


def test_vip_routes_removes_legacy_only_when_named(netns):
    setup_route_mix(netns)
    result = netns.ansible("vip_routes", {"remove_legacy": ["198.51.100.9"]})
    assert result["changed"] is True, result
    assert netns.routes(198) == {("198.51.100.8", "v0", "248"), ("203.0.113.0/24", "v0", "boot"), ("2001:db8::9", "v0", "199")}
    assert [r["destination"] for r in result["legacy_routes"]] == ["2001:db8::9/128"]
    assert netns.ansible("vip_routes", {"remove_legacy": ["198.51.100.9"]})["changed"] is False


@pytest.mark.parametrize("args, message", [
    (dict(ROUTES, table=254), "refusing to remove routes from table 254 (main)"),
    (dict(ROUTES, protocol=4), "refusing to remove routes of protocol 4 (static)"),
    ({"routes": [{"destination": "198.51.100.7", "interface": "nope0"}]},
     "adding route 198.51.100.7/32 to table 198: interface 'nope0' does not exist"),
    ({"routes": [{"destination": "198.51.100.0/24", "interface": "v0"}]}, "routes[0].destination: 198.51.100.0/24 is not a host route"),
    ({"routes": [{"destination": "vip.example", "interface": "v0"}]}, "routes[0].destination: 'vip.example' is not an IP address"),
])
def test_vip_routes_refuses_bad_options_before_changing_anything(netns, args, message):
    assert_refused_unchanged(netns, args, message)


def assert_refused_unchanged(netns, args, message):
    """vip_routes with ``args`` fails saying ``message`` on the route mix, which stays as it was."""
    setup_route_mix(netns)
    before = netns.all_routes()
    result = netns.ansible("vip_routes", args)
    assert result.get("failed") is True and message in result["msg"], result
    assert netns.all_routes() == before


ADDRESS = {"address": "192.0.2.10", "interface": "v0", "owned_ranges": ["192.0.2.10/32", "198.51.100.0/28", "2001:db8:5::/64"],
           "protected_addresses": ["192.0.2.11"], "prune": True}


def test_vip_address_check_then_apply_then_idempotent(netns):
    netns.ip("address", "add", "192.0.2.11/24", "dev", "v0")          # node address: protected
    netns.ip("address", "add", "198.51.100.3/32", "dev", "v0")        # stray Service VIP: pruned
    netns.ip("address", "add", "198.51.100.4/32", "dev", "v1")        # stray on another interface: pruned
    netns.ip("address", "add", "203.0.113.5/32", "dev", "v0")         # outside owned ranges: kept
    netns.ip("address", "add", "2001:db8:5::3/128", "dev", "v0", "nodad")  # stray IPv6: pruned
    before = netns.addresses()

    result = netns.ansible("vip_address", ADDRESS, check=True)
    assert result["_rc"] == 0 and result["changed"] is True, result
    assert netns.addresses() == before
    assert sorted(result["_diff"]) == ["+192.0.2.10/32 dev v0", "-198.51.100.3/32 dev v0", "-198.51.100.4/32 dev v1",
                                       "-2001:db8:5::3/128 dev v0"]

    result = netns.ansible("vip_address", ADDRESS)
    assert result["changed"] is True, result
    assert netns.addresses() == {("192.0.2.11", 24, "v0"), ("192.0.2.10", 32, "v0"), ("203.0.113.5", 32, "v0")}
    assert netns.ansible("vip_address", ADDRESS)["changed"] is False


def test_vip_address_ipv6_present_then_absent(netns):
    args = {"address": "2001:db8:5::10", "interface": "v0"}
    assert netns.ansible("vip_address", args)["changed"] is True
    info = [i for link in netns.ip_json("address", "show", "dev", "v0") for i in link["addr_info"] if i["local"] == "2001:db8:5::10"]
    assert info and info[0]["prefixlen"] == 128 and info[0].get("nodad") is True
    assert netns.ansible("vip_address", args)["changed"] is False
    args["state"] = "absent"
    assert netns.ansible("vip_address", args, check=True)["changed"] is True
    assert ("2001:db8:5::10", 128, "v0") in netns.addresses()
    assert netns.ansible("vip_address", args)["changed"] is True
    assert ("2001:db8:5::10", 128, "v0") not in netns.addresses()
    assert netns.ansible("vip_address", args)["changed"] is False


def test_vip_address_compact_form_is_address_many_times(netns):
    """addresses: the VIPs of one state, interface and prefix in one run; check mode and diff as with one address per
    run, the kernel (iproute2 as witness) ends the same; a protected or an unowned one refuses the whole run first."""
    netns.ip("address", "add", "192.0.2.11/24", "dev", "v0")
    many = {"addresses": ["198.51.100.3", "198.51.100.4", "2001:db8:5::3"], "interface": "v0",
            "owned_ranges": ["198.51.100.0/28", "2001:db8:5::/64"], "protected_addresses": ["192.0.2.11"]}
    before = netns.addresses()
    checked = netns.ansible("vip_address", many, check=True)
    assert netns.addresses() == before, "check mode changed addresses"
    assert checked["changed"] is True and sorted(checked["_diff"]) == [
        "+198.51.100.3/32 dev v0", "+198.51.100.4/32 dev v0", "+2001:db8:5::3/128 dev v0"], checked
    result = netns.ansible("vip_address", many)
    assert [a["address"] for a in result["added"]] == many["addresses"] and result["removed"] == [], result
    assert netns.addresses() == before | {("198.51.100.3", 32, "v0"), ("198.51.100.4", 32, "v0"), ("2001:db8:5::3", 128, "v0")}
    assert netns.ansible("vip_address", many)["changed"] is False

    for bad, message in ((["198.51.100.5", "192.0.2.11"], "refusing to manage 192.0.2.11"),
                         (["198.51.100.5", "203.0.113.9"], "203.0.113.9 is outside owned_ranges")):
        refused = netns.ansible("vip_address", dict(many, addresses=bad))
        assert refused.get("failed") is True and message in refused["msg"], refused
    gone = dict(many, addresses=["198.51.100.4", "2001:db8:5::3", "198.51.100.9"], state="absent")
    result = netns.ansible("vip_address", gone)
    assert sorted(a["address"] for a in result["removed"]) == ["198.51.100.4", "2001:db8:5::3"], result
    assert netns.addresses() == before | {("198.51.100.3", 32, "v0")}
    assert netns.ansible("vip_address", dict(gone, addresses=[]))["changed"] is False


@pytest.mark.parametrize("args, message", [
    ({"address": "192.0.2.11", "state": "absent", "protected_addresses": ["192.0.2.11"]},
     "refusing to manage 192.0.2.11 on any interface: it is a protected address"),
    ({"address": "203.0.113.9", "interface": "v0", "owned_ranges": ["198.51.100.0/28"]}, "203.0.113.9 is outside owned_ranges"),
    ({"address": "192.0.2.10", "interface": "nope0"}, "managing 192.0.2.10: interface 'nope0' does not exist"),
    ({"prune": True}, "prune needs owned_ranges"),
])
def test_vip_address_refuses_bad_options(netns, args, message):
    netns.ip("address", "add", "192.0.2.11/24", "dev", "v0")
    before = netns.addresses()
    result = netns.ansible("vip_address", args)
    assert result.get("failed") is True and message in result["msg"], result
    assert netns.addresses() == before


CAPTURE = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(int(sys.argv[2], 16)))
s.bind(("v1", int(sys.argv[2], 16)))
s.settimeout(0.5)
print("ready", flush=True)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    try:
        frame = s.recv(2048)
    except socket.timeout:
        continue
    print(frame.hex(), flush=True)
"""


def capture_while(netns, ethertype, args):
    """Frames of ``ethertype`` seen on v1 (the peer of v0) while vip_address runs with ``args``."""
    capture = subprocess.Popen(["ip", "netns", "exec", netns.name, PYTHON, "-c", CAPTURE, "30", ethertype],  # pylint: disable=consider-using-with
                               stdout=subprocess.PIPE, text=True)
    try:
        assert capture.stdout.readline().strip() == "ready"
        result = netns.ansible("vip_address", args)
        assert result["changed"] is True and result["announced"] is True, result
        time.sleep(1)
    finally:
        capture.terminate()
    return [bytes.fromhex(line.strip()) for line in capture.stdout.read().splitlines() if line.strip()]


def test_vip_address_announces_with_gratuitous_arp(netns):
    mac = netns.ip_json("link", "show", "dev", "v0")[0]["address"]
    frames = capture_while(netns, "0806", {"address": "192.0.2.10", "interface": "v0", "announce": True, "announce_count": 2})
    ip = socket.inet_aton("192.0.2.10")
    garps = [f for f in frames if f[:6] == b"\xff" * 6 and f[22:28] == bytes.fromhex(mac.replace(":", "")) and f[28:32] == ip
             and f[38:42] == ip]
    assert len(garps) >= 2, [f.hex() for f in frames]


def test_vip_address_announces_with_unsolicited_neighbour_advertisement(netns):
    mac = bytes.fromhex(netns.ip_json("link", "show", "dev", "v0")[0]["address"].replace(":", ""))
    frames = capture_while(netns, "86dd", {"address": "2001:db8::10", "interface": "v0", "announce": True, "announce_count": 2})
    target = socket.inet_pton(socket.AF_INET6, "2001:db8::10")
    # Ethernet (14) + IPv6 header (40): next header 58 (ICMPv6), hop limit 255, to ff02::1; type 136, override flag
    nas = [f for f in frames if f[14 + 6] == 58 and f[14 + 7] == 255 and f[14 + 24:14 + 40] == socket.inet_pton(socket.AF_INET6, "ff02::1")
           and f[54] == 136 and f[58] & 0x20 and f[62:78] == target and f[78:80] == b"\x02\x01" and f[80:86] == mac]
    assert len(nas) >= 2, [f.hex() for f in frames]


def test_vip_facts_matches_iproute2(netns):
    setup_route_mix(netns)
    netns.ip("address", "add", "192.0.2.10/32", "dev", "v0")
    netns.ip("-6", "address", "add", "2001:db8::10/128", "dev", "v0", "nodad")
    netns.ip("route", "add", "198.51.100.7/32", "dev", "v0", "table", "198", "proto", "248")
    result = netns.ansible("vip_facts", {})
    assert result["_rc"] == 0 and result["changed"] is False, result
    facts = result["ansible_facts"]["vip_host"]
    assert {(a["address"], a["prefix"], a["interface"]) for a in facts["addresses"] if a["scope"] == "global"} == netns.addresses()
    assert {(r["destination"], r["interface"]) for r in facts["routes"]} == {("198.51.100.7/32", "v0"), ("198.51.100.8/32", "v0")}
    assert all(r["table"] == 198 and r["protocol"] == 248 for r in facts["routes"])
    assert {r["destination"] for r in facts["legacy_routes"]} == {"198.51.100.9/32", "2001:db8::9/128"}
    assert facts["ipvs_available"] is False and facts["ipvs_services"] == []
    other = netns.ansible("vip_facts", {"table": 199, "gather": ["routes"]})["ansible_facts"]["vip_host"]
    assert [r["destination"] for r in other["routes"]] == ["198.51.100.10/32"] and "addresses" not in other
    empty = netns.ansible("vip_facts", {"table": 4242, "gather": ["routes"]})["ansible_facts"]["vip_host"]
    assert empty["routes"] == [] and empty["legacy_routes"] == []


def test_ipvs_service_without_ipvs_fails_clearly(netns):
    if netns.ansible("vip_facts", {"gather": ["ipvs"]})["ipvs_available"]:
        pytest.skip("this kernel has IPVS; the guest test covers it")
    result = netns.ansible("ipvs_service", {"services": [{"address": "192.0.2.10", "port": 6443}]})
    assert result.get("failed") is True, result
    assert "reconciling IPVS services failed: the kernel has no IPVS" in result["msg"]


@pytest.mark.parametrize("module", ["vip_facts", "vip_routes", "vip_address", "ipvs_service"])
def test_missing_pyroute2_gives_the_standard_error(netns, module):
    """Under a Python without site-packages (no pyroute2, no netaddr): missing_required_lib, traceback kept."""
    interpreter = os.path.join(netns.tree, "python-without-site")
    with open(interpreter, "w", encoding="utf-8") as handle:
        handle.write('#!/bin/sh\nexec "%s" -S "$@"\n' % PYTHON)
    os.chmod(interpreter, 0o755)
    result = netns.ansible(module, {}, python=interpreter, verbose=True)
    assert result["failed"] is True, result
    assert result["msg"].startswith("Failed to import the required Python library (pyroute2)"), result
    assert "No module named 'pyroute2'" in result["_output"], result  # the traceback, shown with -vvv


def test_vip_routes_reports_what_the_kernel_refused(netns):
    """One batch: the kernel refuses the route on a down link, the other route is still added."""
    netns.ip("link", "set", "v1", "down")
    result = netns.ansible("vip_routes", {"routes": [{"destination": "198.51.100.7", "interface": "v0"},
                                                     {"destination": "198.51.100.8", "interface": "v1"}]})
    assert result["failed"] is True, result
    assert result["msg"].startswith("adding route 198.51.100.8/32 dev v1 to table 198 (protocol 248) failed: "), result
    assert "198.51.100.7" not in result["msg"]
    assert netns.routes(198) == {("198.51.100.7", "v0", "248")}


# --------------------------------------------------------------------------- big tables

def ip_batch(netns, lines):
    """Many iproute2 commands in one `ip -n NS -batch -` (setup only)."""
    proc = subprocess.run(["ip", "-n", netns.name, "-batch", "-"], input="\n".join(lines) + "\n", capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def kube_vip_routes(netns):
    """{destination} of table 198, protocol 248, both families -- iproute2's view."""
    found = set()
    for family, full in (("-4", "/32"), ("-6", "/128")):
        for line in netns.ip(family, "route", "show", "table", "198", "proto", "248").splitlines():
            if line.strip():
                dst = line.split()[0]
                found.add(dst if "/" in dst else dst + full)
    return found


def everything_else(netns):
    """Every route of every table except table 198 / protocol 248, as iproute2 prints them."""
    return [line for line in netns.all_routes().splitlines() if not (" table 198 " in line + " " and " proto 248 " in line + " ")]


def test_vip_routes_on_a_big_table(netns):
    """3,000 routes (multi-part dumps), 1,750 pruned and 250 added in one run (two writes), nothing else touched."""
    table = host_destinations(3000)
    ip_batch(netns, ["route add %s dev v0 table 198 proto 248" % dst for dst in table]
             + ["route add %s dev v0 table 199 proto 248" % dst for dst in host_destinations(200, start=3000)]       # other table
             + ["route add %s dev v0 table 198 proto static" % dst for dst in host_destinations(100, start=3200)]    # legacy
             + ["route add %s dev v0 proto 248" % dst for dst in host_destinations(50, start=3300)]                  # main table
             + ["route add 192.0.2.0/25 dev v0 table 198 proto 248"])                                         # not a host route
    assert len(kube_vip_routes(netns)) == 3001
    others = everything_else(netns)
    keep = table[::12] + table[1::12] + [dst for index, dst in enumerate(table) if index % 12 in (2, 3, 4, 5, 6, 7, 8, 9)][:250]
    new = host_destinations(250, start=4000)
    wanted = {"routes": [{"destination": dst, "interface": "v0"} for dst in keep + new], "prune": True, "return_routes": "all"}

    facts = netns.ansible("vip_facts", {"gather": ["routes"]})["ansible_facts"]["vip_host"]
    assert {r["destination"] for r in facts["routes"]} == set(table) | {"192.0.2.0/25"}
    assert {r["destination"] for r in facts["legacy_routes"]} == set(host_destinations(100, start=3200))

    result = netns.ansible("vip_routes", wanted)
    assert result["_rc"] == 0 and result["changed"] is True, result.get("msg")
    assert len(result["removed"]) == 3001 - len(keep) and len(result["added"]) == 250
    assert kube_vip_routes(netns) == set(keep + new)
    assert {r["destination"] for r in result["routes"]} == set(keep + new)
    assert everything_else(netns) == others
    assert netns.ansible("vip_routes", wanted)["changed"] is False


LOST_ANSWERS = r"""
import socket, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.baremetal.vip.plugins.module_utils import netstate
from ansible_collections.baremetal.vip.plugins.module_utils.reconcile import VipError
ipr = netstate.open_iproute()
ipr.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the smallest buffer the kernel allows
links = netstate.read_links(ipr)
missing = [{"destination": "2001:db8:7::%x/128" % i, "interface": "v0", "table": 198, "protocol": 248, "type": "unicast",
            "scope": 0, "family": "ipv6"} for i in range(1, 201)]
try:
    netstate.apply_routes(ipr, {"remove": missing, "add": []}, links)
except VipError as exc:
    print(exc)
"""


def test_answers_lost_to_a_full_receive_buffer_are_reported(netns):
    """200 failing removals on a socket whose buffer holds a few answers: ENOBUFS is said, not waited on forever."""
    out = netns.exec(PYTHON, "-c", LOST_ANSWERS, os.path.join(TOP, ".collections"))
    assert "No such process" in out  # the answers that fitted name their route
    assert ("the kernel's answers to some of 64 requests were lost (ENOBUFS: the socket's receive buffer was full), so whether "
            "those not named here failed is unknown: removing route 2001:db8:7::1/128 dev v0 from table 198 (protocol 248) ... "
            "removing route 2001:db8:7::40/128") in out, out


ROUTES_AFTER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.baremetal.vip.plugins.module_utils import netstate, reconcile
with netstate.open_iproute() as ipr:
    links = netstate.read_links(ipr)
    current = netstate.read_routes(ipr, 198, links)
    desired = [{"destination": "198.51.100.7/32", "interface": "v0"}, {"destination": "2001:db8::7/128", "interface": "v0"},
               {"destination": "2001:db8::10/128", "interface": "v1"}]
    changes = reconcile.plan_routes(desired, current, 198, 248, prune=True, remove_legacy=["198.51.100.9/32"])
    netstate.apply_routes(ipr, changes, links)
    print(json.dumps([sorted(netstate.routes_after(current, changes), key=str), sorted(netstate.read_routes(ipr, 198, links), key=str)]))
"""


def test_routes_after_a_batch_match_a_second_read(netns):
    """What routes_after derives from the change set is what the kernel lists afterwards."""
    setup_route_mix(netns)
    netns.ip("-6", "route", "add", "2001:db8::10/128", "dev", "v0", "table", "198", "proto", "248")  # moves to v1
    derived, read = json.loads(netns.exec(PYTHON, "-c", ROUTES_AFTER, os.path.join(TOP, ".collections")))
    assert derived == read
    assert {(r["destination"], r["interface"]) for r in read if r["protocol"] == 248} == {
        ("198.51.100.7/32", "v0"), ("2001:db8::7/128", "v0"), ("2001:db8::10/128", "v1")}


DIFF_ONLY_WHEN_ASKED = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks, netstate
params = {"table": 198, "protocol": 248, "prune": True, "remove_legacy": [],
          "routes": [{"destination": "198.51.100.7", "interface": "v0"}, {"destination": "2001:db8::7", "interface": "v0"}]}
quiet = hosttasks.reconcile_routes(params, check_mode=True)
checked = hosttasks.reconcile_routes(params, check_mode=True, diff=True)
done = hosttasks.reconcile_routes(params, check_mode=False, diff=True)
with netstate.open_iproute() as ipr:
    read = netstate.read_routes(ipr, 198, netstate.read_links(ipr))
print(json.dumps({"quiet": "diff" in quiet, "checked": checked["diff"], "done": done["diff"],
                  "routes": sorted(done["routes"], key=str), "read": sorted([r for r in read if r["protocol"] == 248], key=str),
                  "same": [sorted(quiet[k], key=str) == sorted(checked[k], key=str) for k in ("added", "removed", "routes")]}))
"""


def test_vip_routes_builds_the_diff_only_when_asked(netns):
    """Without diff mode no diff is built; check mode with it shows the run's diff; the result's routes are the kernel's."""
    setup_route_mix(netns)
    out = json.loads(netns.exec(PYTHON, "-c", DIFF_ONLY_WHEN_ASKED, os.path.join(TOP, ".collections")))
    assert out["quiet"] is False and out["same"] == [True, True, True]
    assert out["checked"] == out["done"]
    assert out["checked"]["after"].splitlines() == sorted([
        "198.51.100.7/32 dev v0 table 198 proto 248", "198.51.100.9/32 dev v0 table 198 proto 4", "2001:db8::7/128 dev v0 table 198 proto 248",
        "2001:db8::9/128 dev v0 table 198 proto 199", "203.0.113.0/24 dev v0 table 198 proto 3"])
    assert "198.51.100.8/32 dev v0 table 198 proto 248" in out["checked"]["before"].splitlines()
    assert out["routes"] == out["read"]


def test_vip_routes_compact_form_and_return_routes(netns):
    """destinations + interface is the routes list in a compact form; return_routes trims the result, counts always there;
    check mode and diff are the same as with the routes list."""
    setup_route_mix(netns)
    before = netns.all_routes()
    compact = {"destinations": ["198.51.100.7", "2001:db8::7/128"], "interface": "v0", "prune": True}
    listed = netns.ansible("vip_routes", dict(ROUTES, return_routes="all"), check=True)
    checked = netns.ansible("vip_routes", dict(compact, return_routes="all"), check=True)
    assert netns.all_routes() == before, "check mode changed routes"
    for key in ("changed", "added", "removed", "legacy_routes", "routes", "counts", "_diff"):
        assert checked[key] == listed[key], key
    assert checked["counts"] == {"routes": 1, "added": 2, "removed": 1, "legacy_routes": 2}, checked["counts"]  # before, in check mode
    default = netns.ansible("vip_routes", compact, check=True)  # return_routes: changed, by destination in the compact form
    assert not {"routes", "added", "removed"} & set(default), default
    assert default["added_destinations"] == [route["destination"] for route in listed["added"]] == ["198.51.100.7/32", "2001:db8::7/128"]
    assert default["removed_destinations"] == [route["destination"] for route in listed["removed"]] == ["198.51.100.8/32"]
    assert default["legacy_routes"] == listed["legacy_routes"] and default["counts"] == checked["counts"], default

    result = netns.ansible("vip_routes", dict(compact, return_routes="none"))
    assert result["changed"] is True and result["counts"] == {"routes": 2, "added": 2, "removed": 1, "legacy_routes": 2}, result
    assert not {"added", "removed", "legacy_routes", "routes"} & set(result), result
    assert netns.routes(198) == {("198.51.100.7", "v0", "248"), ("2001:db8::7", "v0", "248"), ("198.51.100.9", "v0", "static"),
                                 ("203.0.113.0/24", "v0", "boot"), ("2001:db8::9", "v0", "199")}
    again = netns.ansible("vip_routes", compact)
    assert again["changed"] is False and again["added_destinations"] == [] and again["removed_destinations"] == [] \
        and "routes" not in again, again


@pytest.mark.parametrize("args, message", [
    ({"destinations": ["198.51.100.7", "198.51.100.0/24"], "interface": "v0"}, "destinations[1]: 198.51.100.0/24 is not a host route"),
    ({"destinations": ["vip.example"], "interface": "v0"}, "destinations[0]: 'vip.example' is not an IP address"),
    ({"destinations": ["198.51.100.7"]}, "parameters are required together: destinations, interface"),
    ({"destinations": ["198.51.100.7"], "interface": "v0", "routes": [{"destination": "198.51.100.8", "interface": "v0"}]},
     "parameters are mutually exclusive: routes|destinations"),
    ({"destinations": ["198.51.100.7"], "interface": "nope0"}, "adding route 198.51.100.7/32 to table 198: interface 'nope0' does not exist"),
])
def test_vip_routes_compact_form_refuses_bad_options(netns, args, message):
    assert_refused_unchanged(netns, args, message)

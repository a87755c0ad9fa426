"""IPVS checks that run INSIDE the User-Mode Linux guest (this machine's kernel has no IPVS).

Not collected on the host (the name does not match test_*.py): test_ipvs_modules_uml.py boots one guest
and runs this file there with pytest, then asserts on the guest's junit report. Each check runs
in a namespace of the guest's kernel; IPVS state is set up and witnessed with ipvsadm.
"""
import json
import os
import subprocess

import pytest

from nsutil import PYTHON, TOP  # pylint: disable=import-error

COLLECTIONS = os.path.join(TOP, ".collections")  # tests/conftest.py links the checkout there

if os.environ.get("VIP_UML_GUEST") != "1":  # pragma: no cover - only ever run by test_ipvs_modules_uml.py
    pytest.fail("guest_ipvs.py runs inside the UML guest only (see test_ipvs_modules_uml.py)", pytrace=False)

SERVICES = {
    "services": [
        {"address": "192.0.2.10", "port": 6443, "scheduler": "rr",
         "real_servers": [{"address": "192.0.2.11", "forward_method": "masquerade"},
                          {"address": "192.0.2.12", "weight": 2, "forward_method": "masquerade"}]},
        {"address": "2001:db8::10", "port": 6443, "protocol": "tcp", "scheduler": "wrr",
         "real_servers": [{"address": "2001:db8::11", "port": 8443, "forward_method": "masquerade"}]},
    ],
    "owned_addresses": ["192.0.2.0/27", "2001:db8::/64"],
    "prune": True,
}

EXPECTED = {
    "TCP 192.0.2.10:6443 rr": {"192.0.2.11:6443 Masq 1", "192.0.2.12:6443 Masq 2"},
    "TCP [2001:db8::10]:6443 wrr": {"[2001:db8::11]:8443 Masq 1"},
    "TCP 203.0.113.5:80 rr": {"203.0.113.6:80 Route 1"},
    "FWM 7 rr": set(),
}


def ipvsadm_state(ns):
    """{'TCP 192.0.2.10:6443 rr': {'192.0.2.11:6443 Masq 1', ...}} from ipvsadm -Ln."""
    state, current = {}, None
    for line in ns.ipvs().splitlines()[3:]:
        fields = line.split()
        if line.startswith("  ->"):
            state[current].add("%s %s %s" % (fields[1], fields[2], fields[3]))
        elif fields:
            current = " ".join(fields[:3])
            state[current] = set()
    return state


def setup_ipvs(ns):
    """A wrong scheduler and real servers, a stale owned service, a foreign and a fwmark service."""
    for argv in (["-A", "-t", "192.0.2.10:6443", "-s", "wlc"],
                 ["-a", "-t", "192.0.2.10:6443", "-r", "192.0.2.11:6443", "-m", "-w", "5"],
                 ["-a", "-t", "192.0.2.10:6443", "-r", "192.0.2.13:6443", "-m"],
                 ["-A", "-t", "192.0.2.20:443", "-s", "rr"],
                 ["-A", "-t", "203.0.113.5:80", "-s", "rr"],
                 ["-a", "-t", "203.0.113.5:80", "-r", "203.0.113.6:80", "-g"],
                 ["-A", "-f", "7", "-s", "rr"]):
        ns.exec("ipvsadm", *argv)


def test_ipvs_service_check_apply_idempotent_and_restore(netns):
    setup_ipvs(netns)
    before = ipvsadm_state(netns)

    result = netns.ansible("ipvs_service", SERVICES, check=True)
    assert result["_rc"] == 0 and result["changed"] is True, result
    assert ipvsadm_state(netns) == before, "check mode changed IPVS"
    assert sorted(result["_diff"]) == sorted([
        "+TCP 192.0.2.10:6443 rr", "-TCP 192.0.2.10:6443 wlc", "+  -> 192.0.2.11:6443 masquerade weight 1",
        "-  -> 192.0.2.11:6443 masquerade weight 5", "+  -> 192.0.2.12:6443 masquerade weight 2",
        "-  -> 192.0.2.13:6443 masquerade weight 1", "-TCP 192.0.2.20:443 rr", "+TCP [2001:db8::10]:6443 wrr",
        "+  -> 2001:db8::11:8443 masquerade weight 1"]), result["_diff"]

    result = netns.ansible("ipvs_service", dict(SERVICES, return_services="all"))
    assert result["_rc"] == 0 and result["changed"] is True, result
    assert sorted(result["foreign"]) == ["FWM 7", "TCP 203.0.113.5:80"]
    assert ipvsadm_state(netns) == EXPECTED
    assert result["counts"] == {"services": len(result["services"]), "added": 1, "removed": 1, "schedulers": 1,
                                "real_servers_added": 1, "real_servers_removed": 1, "real_servers_updated": 1,
                                "foreign": 2}, result["counts"]

    result = netns.ansible("ipvs_service", SERVICES)
    assert result["_rc"] == 0 and result["changed"] is False, result

    # kube-proxy in IPVS mode deletes the service: the next run restores it
    netns.exec("ipvsadm", "-D", "-t", "192.0.2.10:6443")
    result = netns.ansible("ipvs_service", SERVICES)  # return_services: changed (the default)
    assert result["changed"] is True and [s["address"] for s in result["added"]] == ["192.0.2.10"], result
    assert not {"services", "foreign"} & set(result) and result["counts"]["added"] == 1, result
    assert ipvsadm_state(netns) == EXPECTED

    # a weight change without forward_method keeps the kernel's forwarding method
    reweighted = {"services": [dict(SERVICES["services"][0], real_servers=[{"address": "192.0.2.11", "weight": 4},
                                                                           {"address": "192.0.2.12", "weight": 2}])],
                  "owned_addresses": SERVICES["owned_addresses"]}
    result = netns.ansible("ipvs_service", reweighted)
    assert result["changed"] is True, result
    assert ipvsadm_state(netns)["TCP 192.0.2.10:6443 rr"] == {"192.0.2.11:6443 Masq 4", "192.0.2.12:6443 Masq 2"}


def test_ipvs_service_without_owned_addresses_keeps_existing_services(netns):
    """No owned_addresses, no prune: existing desired services are compared, not added again (was: File exists)."""
    setup_ipvs(netns)
    unowned = {"services": SERVICES["services"]}
    result = netns.ansible("ipvs_service", unowned)
    assert result["_rc"] == 0 and result["changed"] is True, result.get("msg")
    assert [s["address"] for s in result["added"]] == ["2001:db8::10"] and result["removed"] == []
    state = ipvsadm_state(netns)
    assert state["TCP 192.0.2.10:6443 rr"] == {"192.0.2.11:6443 Masq 1", "192.0.2.12:6443 Masq 2"}
    assert "TCP 192.0.2.20:443 rr" in state  # not pruned: nothing is owned
    result = netns.ansible("ipvs_service", unowned)
    assert result["_rc"] == 0 and result["changed"] is False, result.get("msg")
    assert ipvsadm_state(netns) == state


def test_vip_facts_lists_ipvs_services(netns):
    setup_ipvs(netns)
    result = netns.ansible("vip_facts", {"gather": ["ipvs"]})
    assert result["_rc"] == 0 and result["ipvs_available"] is True, result
    services = {(s["address"], s["port"], s["protocol"], s["scheduler"], s["fwmark"]): s["real_servers"]
                for s in result["ipvs_services"]}
    assert set(services) == {("192.0.2.10", 6443, "tcp", "wlc", None), ("192.0.2.20", 443, "tcp", "rr", None),
                             ("203.0.113.5", 80, "tcp", "rr", None), (None, 0, 0, "rr", 7)}
    reals = {(d["address"], d["port"], d["weight"], d["forward_method"]) for d in services[("192.0.2.10", 6443, "tcp", "wlc", None)]}
    assert reals == {("192.0.2.11", 6443, 5, "masquerade"), ("192.0.2.13", 6443, 1, "masquerade")}
    assert services[("203.0.113.5", 80, "tcp", "rr", None)] == [{"address": "203.0.113.6", "port": 80, "weight": 1, "forward_method": "route",
                                                                "active_connections": 0, "inactive_connections": 0}]

    # gather_facts (also used by vip_check) can read the real servers of some addresses only
    code = ("import json; from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks; "
            "print(json.dumps(hosttasks.gather_facts({'table': 198, 'protocol': 248, 'gather': ['ipvs'], "
            "'ipvs_real_servers_of': ['192.0.2.0/28']})['ipvs_services']))")
    read = {(s["address"], s["port"], s["fwmark"]): s["real_servers"]
            for s in json.loads(netns.exec("env", "PYTHONPATH=" + COLLECTIONS, PYTHON, "-c", code))}
    assert read == {("192.0.2.10", 6443, None): services[("192.0.2.10", 6443, "tcp", "wlc", None)],
                    ("192.0.2.20", 443, None): None, ("203.0.113.5", 80, None): None, (None, 0, 7): None}


def test_ipvs_service_refusals_name_what_failed(netns):
    setup_ipvs(netns)
    before = ipvsadm_state(netns)
    result = netns.ansible("ipvs_service", {"services": [{"address": "203.0.113.5", "port": 80}], "owned_addresses": ["192.0.2.0/27"]})
    assert result["failed"] is True and "203.0.113.5 is outside owned_addresses" in result["msg"], result
    assert ipvsadm_state(netns) == before

    # the kernel refuses an IPv6 real server behind an IPv4 service unless it is tunnelled: the
    # error names the operation, the service and the errno; the rest of the batch is done
    mixed = {"services": [{"address": "192.0.2.30", "port": 80,
                           "real_servers": [{"address": "192.0.2.31", "forward_method": "masquerade"},
                                            {"address": "2001:db8::31", "forward_method": "masquerade"},
                                            {"address": "2001:db8::32", "forward_method": "tunnel"}]}],
             "owned_addresses": ["192.0.2.30"]}
    result = netns.ansible("ipvs_service", dict(mixed, return_services="none"))  # a failed task lists everything
    assert result["failed"] is True, result
    assert result["msg"] == ("adding real server [2001:db8::31]:80 to IPVS service TCP 192.0.2.30:80 failed: "
                             "Invalid argument (errno 22)"), result["msg"]
    assert ipvsadm_state(netns) == dict(before, **{"TCP 192.0.2.30:80 rr": {"192.0.2.31:80 Masq 1", "[2001:db8::32]:80 Tunnel 1"}})
    # issue 15: the failed task says it changed the host, and the services as the kernel has them
    assert result["changed"] is True, result
    [service] = [s for s in result["services"] if s["address"] == "192.0.2.30"]
    assert sorted(d["address"] for d in service["real_servers"]) == ["192.0.2.31", "2001:db8::32"], service


# --------------------------------------------------------------------------- a big table

OWNED = ["192.0.2.0/24", "2001:db8::/64"]
# kube-proxy's (IPVS mode) services: not on owned addresses, so never touched nor read
KUBE_PROXY = [["-A", "-t", "203.0.113.20:443", "-s", "rr"],
              ["-a", "-t", "203.0.113.20:443", "-r", "203.0.113.21:8443", "-m", "-w", "3"],
              ["-a", "-t", "203.0.113.20:443", "-r", "203.0.113.22:8443", "-m", "-w", "0"],
              ["-A", "-u", "203.0.113.20:53", "-s", "rr"],
              ["-a", "-u", "203.0.113.20:53", "-r", "203.0.113.23:53", "-m"],
              ["-A", "-t", "[2001:db8:1::20]:80", "-s", "rr"],
              ["-a", "-t", "[2001:db8:1::20]:80", "-r", "[2001:db8:1::21]:8080", "-m"],
              ["-A", "-f", "9", "-s", "rr"]]
FORWARD = {"masquerade": "Masq", "route": "Route", "tunnel": "Tunnel", "local": "Local"}


def big_service(index):
    """(address, port, real servers) of service ``index``: IPv4 and IPv6 VIPs, 3 real servers each."""
    if index % 4 == 3:
        return "2001:db8::%x" % (0x100 + index % 40), 20000 + index // 40, ["2001:db8:2::%d" % i for i in (1, 2, 3)]
    return "192.0.2.%d" % (10 + index % 100), 10000 + index // 100, ["198.51.100.%d" % i for i in (1, 2, 3)]


def bracket(address):
    return "[%s]" % address if ":" in address else address


def state_of(services):
    """ipvsadm_state's shape for a module's ``services`` (real servers not read: None)."""
    return {"%s %s:%s %s" % (s["protocol"].upper(), bracket(s["address"]), s["port"], s["scheduler"]):
            None if s["real_servers"] is None else
            {"%s:%s %s %s" % (bracket(d["address"]), d["port"], FORWARD[d["forward_method"]], d["weight"]) for d in s["real_servers"]}
            for s in services if s["address"] is not None}


def test_ipvs_service_big_table_leaves_kube_proxy_alone(netns):
    """600 owned services (a quarter IPv6): a third stale, one real server of three stale in the
    rest, some weights changed, some real servers and services new; kube-proxy's services
    untouched. More changes than one write carries."""
    count = 600
    lines, desired, expected = [], [], {}
    for index in range(count):
        address, port, reals = big_service(index)
        lines.append("-A -t %s:%d -s rr" % (bracket(address), port))
        lines.extend("-a -t %s:%d -r %s:8080 -m -w 1" % (bracket(address), port, bracket(real)) for real in reals)
        if index % 3 == 2:
            continue
        keep = [{"address": reals[0], "port": 8080, "weight": 2 if index % 5 == 0 else 1}, {"address": reals[1], "port": 8080}]
        if index % 7 == 0:
            keep.append({"address": "2001:db8:2::4" if ":" in address else "198.51.100.4", "port": 8080, "forward_method": "masquerade"})
        desired.append({"address": address, "port": port, "real_servers": keep})
    for index in range(10):  # missing services
        desired.append({"address": "192.0.2.%d" % (200 + index), "port": 443, "scheduler": "wrr",
                        "real_servers": [{"address": "198.51.100.9", "forward_method": "masquerade"}]})
    for service in desired:
        expected["TCP %s:%s %s" % (bracket(service["address"]), service["port"], service.get("scheduler", "rr"))] = {
            "%s:%s Masq %s" % (bracket(real["address"]), real.get("port", service["port"]), real.get("weight", 1))
            for real in service["real_servers"]}
    proc = subprocess.run(["ip", "netns", "exec", netns.name, "ipvsadm", "-R"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    for argv in KUBE_PROXY:
        netns.exec("ipvsadm", *argv)
    kube_proxy = {key: value for key, value in ipvsadm_state(netns).items() if "203.0.113." in key or "2001:db8:1::" in key
                  or key.startswith("FWM")}
    assert len(kube_proxy) == 4 and len(ipvsadm_state(netns)) == count + 4

    result = netns.ansible("ipvs_service", {"services": desired, "owned_addresses": OWNED, "prune": True, "return_services": "all"})
    assert result["_rc"] == 0 and result["changed"] is True, result.get("msg")
    assert len(result["removed"]) == count // 3 and len(result["added"]) == 10
    assert sorted(result["foreign"]) == ["FWM 9", "TCP 203.0.113.20:443", "TCP [2001:db8:1::20]:80", "UDP 203.0.113.20:53"]
    witness = ipvsadm_state(netns)
    assert witness == dict(expected, **kube_proxy)
    # the result (derived from the acknowledged changes, not read again) is what ipvsadm lists;
    # kube-proxy's real servers were never read
    derived = state_of(result["services"])
    assert derived == dict(expected, **{key: None for key in kube_proxy if not key.startswith("FWM")})

    result = netns.ansible("ipvs_service", {"services": desired, "owned_addresses": OWNED, "prune": True, "return_services": "none"})
    assert result["_rc"] == 0 and result["changed"] is False, result.get("msg")
    assert set(result) & {"added", "removed", "updated", "foreign", "services"} == set(), result
    assert result["counts"] == dict(services=len(witness), added=0, removed=0, schedulers=0, real_servers_added=0,
                                    real_servers_removed=0, real_servers_updated=0, foreign=4), result["counts"]
    assert ipvsadm_state(netns) == witness

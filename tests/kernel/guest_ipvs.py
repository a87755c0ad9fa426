"""IPVS checks that run INSIDE the User-Mode Linux guest (this machine's kernel has no IPVS).

Not collected on the host (the name does not match test_*.py): test_ipvs_modules_uml.py boots one guest
and runs this file there with pytest, then asserts on the guest's junit report. Each check runs
in a namespace of the guest's kernel; IPVS state is set up and witnessed with ipvsadm.
"""
import os

import pytest

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

    result = netns.ansible("ipvs_service", SERVICES)
    assert result["_rc"] == 0 and result["changed"] is True, result
    assert sorted(result["foreign"]) == ["FWM 7", "TCP 203.0.113.5:80"]
    assert ipvsadm_state(netns) == EXPECTED

    result = netns.ansible("ipvs_service", SERVICES)
    assert result["_rc"] == 0 and result["changed"] is False, result

    # kube-proxy in IPVS mode deletes the service: the next run restores it
    netns.exec("ipvsadm", "-D", "-t", "192.0.2.10:6443")
    result = netns.ansible("ipvs_service", SERVICES)
    assert result["changed"] is True and [s["address"] for s in result["added"]] == ["192.0.2.10"], result
    assert ipvsadm_state(netns) == EXPECTED

    # a weight change without forward_method keeps the kernel's forwarding method
    reweighted = {"services": [dict(SERVICES["services"][0], real_servers=[{"address": "192.0.2.11", "weight": 4},
                                                                           {"address": "192.0.2.12", "weight": 2}])],
                  "owned_addresses": SERVICES["owned_addresses"]}
    result = netns.ansible("ipvs_service", reweighted)
    assert result["changed"] is True, result
    assert ipvsadm_state(netns)["TCP 192.0.2.10:6443 rr"] == {"192.0.2.11:6443 Masq 4", "192.0.2.12:6443 Masq 2"}


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


def test_ipvs_service_refuses_service_outside_owned(netns):
    setup_ipvs(netns)
    before = ipvsadm_state(netns)
    result = netns.ansible("ipvs_service", {"services": [{"address": "203.0.113.5", "port": 80}], "owned_addresses": ["192.0.2.0/27"]})
    assert result["failed"] is True and "203.0.113.5 is outside owned_addresses" in result["msg"], result
    assert ipvsadm_state(netns) == before

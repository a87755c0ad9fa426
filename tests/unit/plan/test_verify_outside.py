# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vip_verify_outside: where verify.yml looks at the VIPs from outside the nodes (the plan validates it, once)."""

from __future__ import annotations

from testkit.planlib import errors, has, hosts4, ok


def test_default_is_the_controller_enabled_with_one_second():
    assert ok()["verify_outside"] == {"enabled": True, "vantage": "localhost", "timeout_ms": 1000, "ca_file": None}


def test_a_host_of_the_inventory_may_be_the_vantage_point():
    hosts, groups = hosts4()
    groups = dict(groups, all=list(hosts) + ["router1"])
    plan = ok({"vip_verify_outside": {"vantage": "router1", "ca_file": "/etc/kubernetes/pki/ca.crt", "timeout_ms": 300}},
              hosts=hosts, groups=groups)
    assert plan["verify_outside"] == {"enabled": True, "vantage": "router1", "timeout_ms": 300,
                                      "ca_file": "/etc/kubernetes/pki/ca.crt"}
    assert ok({"vip_verify_outside": {"vantage": "worker1"}})["verify_outside"]["vantage"] == "worker1"  # without group all: the nodes


def test_every_problem_is_named_at_once():
    hosts, groups = hosts4()
    found = errors({"vip_verify_outside": {"vantage": "router9", "ca_file": "pki/ca.crt", "timeout_ms": 20,
                                           "enabled": "maybe"}},
                   hosts=hosts, groups=dict(groups, all=list(hosts)))
    assert has(found, "vip_verify_outside.vantage (router9) is neither localhost (the controller) nor a host of the inventory")
    assert has(found, "vip_verify_outside.ca_file (pki/ca.crt) must be an absolute path")
    assert has(found, "vip_verify_outside.timeout_ms")
    assert has(found, "vip_verify_outside.enabled")
    assert has(errors({"vip_verify_outside": {"vantage": "cp 1"}}), "vip_verify_outside.vantage ('cp 1')")


def test_unknown_key_is_refused_with_the_closest_name():
    assert has(errors({"vip_verify_outside": {"vantge": "localhost"}}), "vip_verify_outside", "vantage")

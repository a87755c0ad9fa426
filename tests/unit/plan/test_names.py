# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes names: one check per kind of name, the same wherever the plan meets it.

Upstream: k8s.io/apimachinery v0.31.0 (kubernetes v1.31.0), pkg/util/validation/validation.go:
IsDNS1123Label (DNS1123LabelMaxLength 63), IsQualifiedName (an empty prefix before '/' is an error;
name part at most qualifiedNameMaxLength 63); kubernetes v1.31.0 pkg/apis/core/validation/validation.go
validates Service spec.loadBalancerClass with ValidateQualifiedName.
"""

from __future__ import annotations

import pytest

from testkit.planlib import errors, has, ok

LABEL_63 = "a" * 63
LABEL_70 = "a" * 70


def kube_vip_pool(namespace):
    return {"vip_services": {"provider": "kube_vip", "pools": [
        {"name": "a", "addresses": ["192.0.2.64/28"], "namespace": namespace}]}}


def metallb(namespace):
    return {"vip_services": {"provider": "metallb", "metallb_namespace": namespace,
                             "pools": [{"name": "a", "addresses": ["192.0.2.64/28"]}]}}


def test_a_70_character_namespace_is_refused_for_a_pool_as_for_metallb():
    # the pool namespace check lacked the 63-character limit: a 70-character namespace was accepted
    assert has(errors(kube_vip_pool(LABEL_70)), "vip_services.pools[0].namespace (%s) is not a valid namespace name" % LABEL_70)
    assert has(errors(metallb(LABEL_70)), "vip_services.metallb_namespace (%s) is not a valid namespace name" % LABEL_70)


def test_a_63_character_namespace_is_accepted_for_a_pool_and_for_metallb():
    assert ok(kube_vip_pool(LABEL_63))["services"]["pools"][0]["namespace"] == LABEL_63
    assert ok(metallb(LABEL_63))["services"]["metallb"]["namespace"] == LABEL_63


@pytest.mark.parametrize("key", ["/zone", "a/b/zone", "example.com/" + "z" * 64])
def test_label_keys_kubernetes_refuses_are_refused(key):
    override = {"vip_services": {"provider": "metallb", "pools": [
        {"name": "a", "addresses": ["192.0.2.64/28"], "node_selectors": {key: "x"}}]}}
    assert has(errors(override), "%r is not a valid label key" % key)


@pytest.mark.parametrize("lb_class", ["/kube-vip-class", "kube-vip.io/" + "c" * 64, "kube-vip.io/a/b"])
def test_load_balancer_classes_kubernetes_refuses_are_refused(lb_class):
    override = {"vip_services": {"provider": "kube_vip", "load_balancer_class": lb_class,
                                 "pools": [{"name": "a", "addresses": ["192.0.2.64/28"]}]}}
    assert has(errors(override), "vip_services.load_balancer_class (%s) is not a valid class name" % lb_class)


def test_a_63_character_class_name_part_is_accepted():
    lb_class = "kube-vip.io/" + "c" * 63
    override = {"vip_services": {"provider": "kube_vip", "load_balancer_class": lb_class,
                                 "pools": [{"name": "a", "addresses": ["192.0.2.64/28"]}]}}
    assert ok(override)["services"]["load_balancer_class"] == lb_class

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What upgrade.yml says changes between the release a node runs and the plan's (plan_upgrade.release_changes).

Release facts (plan_spec.KUBE_VIP_RELEASES, each with its upstream source): vip_subnet replaced vip_cidr in kube-vip
v0.9.0 (pkg/kubevip/config_environment.go); enable_endpointslices is needed before v1.0.0 (EndpointSlices are the
default from v1.0.0, same file); the rendered manifest follows the plan's release, the filter only says what differs.
"""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.baremetal.vip.plugins.filter.lifecycle import vip_upgrade_plan
from ansible_collections.baremetal.vip.plugins.filter.manifests import vip_objects
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_upgrade import image_version, plan_lines, release_changes

from testkit.planlib import ok


def test_image_version_reads_the_tag_only():
    assert image_version("ghcr.io/kube-vip/kube-vip:v0.9.2") == (0, 9, 2)
    assert image_version("registry.example:5000/kube-vip") is None  # a port, no tag
    assert image_version("ghcr.io/kube-vip/kube-vip@sha256:" + "0" * 64) is None
    assert image_version("ghcr.io/kube-vip/kube-vip:latest") is None


def test_crossing_0_9_and_1_0_names_both_renames():
    changes = release_changes("ghcr.io/kube-vip/kube-vip:v0.8.10", "1.0.0")
    assert changes == [
        "0.8.10 -> 1.0.0: EndpointSlices are kube-vip's default (no enable_endpointslices env) "
        "(was: env enable_endpointslices turns EndpointSlices on)",
        "0.8.10 -> 1.0.0: the prefix length goes in env vip_subnet (was: the prefix length goes in env vip_cidr)",
    ]


@pytest.mark.parametrize("running, target, count", [("v1.0.0", "0.9.2", 1), ("v0.9.1", "0.9.2", 0),
                                                    ("v1.2.1", "1.2.3", 2), ("v1.2.1", "1.2.2", 2)])
def test_only_what_differs(running, target, count):
    assert len(release_changes("ghcr.io/kube-vip/kube-vip:" + running, target)) == count


def test_unknown_running_release_is_said():
    assert release_changes(None, "1.0.0") == ["the running image (none) names no release: every setting is rendered "
                                              "for 1.0.0"]


def test_filter_reads_the_target_from_the_plan():
    plan = ok({"vip_kube_vip": {"version": "0.9.2"}})
    assert vip_objects(plan, "upgrade_changes", running_image="ghcr.io/kube-vip/kube-vip:v1.0.0") == [
        "1.0.0 -> 0.9.2: env enable_endpointslices turns EndpointSlices on "
        "(was: EndpointSlices are kube-vip's default (no enable_endpointslices env))"]


def test_plan_lines_say_what_each_node_gets_the_holder_marked():
    """upgrade.yml's plan: the image line, then per node the running image and what changes, or skipped."""
    plan = ok({"vip_kube_vip": {"version": "1.0.0"}})
    lines = plan_lines(plan, [
        {"name": "cp1", "holder": False, "pending": True, "image": "ghcr.io/kube-vip/kube-vip:v0.9.2"},
        {"name": "cp2", "holder": True, "pending": True, "image": "ghcr.io/kube-vip/kube-vip:v1.0.0"},
        {"name": "cp3", "holder": True, "pending": False, "image": "ghcr.io/kube-vip/kube-vip:v1.0.0"},
        {"name": "cp4", "holder": False, "pending": True, "image": None}])
    assert lines == [
        "kube-vip ghcr.io/kube-vip/kube-vip:v1.0.0, services and cloud provider through the cluster objects",
        "cp1: runs ghcr.io/kube-vip/kube-vip:v0.9.2 -> upgrade; 0.9.2 -> 1.0.0: EndpointSlices are kube-vip's default "
        "(no enable_endpointslices env) (was: env enable_endpointslices turns EndpointSlices on)",
        "cp2 (VIP holder, moved first, upgraded last): runs ghcr.io/kube-vip/kube-vip:v1.0.0 -> upgrade; "
        "no release-dependent setting changes",
        "cp3: already on the target, skipped",
        "cp4: runs no kube-vip manifest -> upgrade; the running image (none) names no release: every setting is "
        "rendered for 1.0.0"]


def test_filter_reads_the_nodes_facts_as_set_fact_left_them():
    plan = ok({"vip_kube_vip": {"version": "1.0.0"}})
    nodes = [{"inventory_hostname": "cp1", "__vip_upgrade_holder": "True", "__vip_upgrade_pending": True,
              "__vip_upgrade_image": "ghcr.io/kube-vip/kube-vip:v1.0.0"},
             {"inventory_hostname": "cp2", "__vip_upgrade_holder": False, "__vip_upgrade_pending": "False",
              "__vip_upgrade_image": ""}]
    assert vip_upgrade_plan(plan, nodes)[1:] == [
        "cp1 (VIP holder, moved first, upgraded last): runs ghcr.io/kube-vip/kube-vip:v1.0.0 -> upgrade; "
        "no release-dependent setting changes",
        "cp2: already on the target, skipped"]
    with pytest.raises(AnsibleFilterError, match="vip_upgrade_plan: .*inventory_hostname"):
        vip_upgrade_plan(plan, [{"__vip_upgrade_pending": True}])

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Failure 1 (kube-proxy deleted kube-vip's IPVS service, kube-vip #454) end to end by the real programs.

The machine's own kernel has no IPVS, so one User-Mode Linux boot (tests/kernel/uml.py) runs a one-node real lab
inside the guest: etcd v3.5.15 and kube-apiserver v1.31.0 through the real kubeadm phases, the collection's kube-vip
v1.0.0 static pod with ``lb_enable`` (its IPVS service VIP:6443), then the real kube-proxy v1.31.0 in IPVS mode on a
ConfigMap whose ``ipvs.excludeCIDRs`` lacks the VIP. kube-proxy's ``cleanLegacyService`` (k8s.io/kubernetes v1.31.0
pkg/proxy/ipvs/proxier.go) deletes kube-vip's service; kube-vip v1.0.0 does not put it back
(pkg/loadbalancer/ipvs.go). verify.yml must fail naming the missing service and the cause (the live ConfigMap),
remediate.yml must restore the service and merge the plan's excludeCIDRs, and after the restarted kube-proxy synced
twice (its metric) the service must still be there and verify.yml pass. ``ipvsadm -Ln`` in the node is the witness.
The lab's kube-proxy syncs every 10 s (``ipvs.syncPeriod``, ipvs_real_uml.SYNC_PERIOD) and remediate.yml is given
the same period as ``vip_remediate_ipvs_settle_delay`` (the default, 30 s, is kube-proxy's default period): the old
kube-proxy still deletes the service at each of its syncs until the restarted one replaces it, and remediate's
settle loop must outlast that on the real programs, only without waiting out periods the lab does not have.

The Ansible controller runs on the machine, in a network namespace made for the run and linked to the guest by a
TAP device; it reaches the node over ssh (tests/lab/uml_controller.py). The steps and checks live in
tests/lab/ipvs_real_uml.py (``ipvs_real_uml.py run`` by hand); test_ipvs_uml_checks.py shows the checks refuse
each way a run can go wrong.
"""

from __future__ import annotations

import pytest

import ipvs_real_uml  # pylint: disable=import-error

TIMEOUT = 1500  # 392 s measured at load 3-8 (docs/lab.md, "Failure 1 by the real kube-proxy"); room for a loaded machine


def test_the_real_kube_proxy_deletes_kube_vips_ipvs_service_and_remediate_restores_it():
    reason = ipvs_real_uml.problem()
    if reason:
        pytest.skip(reason)
    outcome = ipvs_real_uml.run(timeout=TIMEOUT)
    print("\nUML IPVS failure 1 by the real programs: %.0f s\n%s" % (outcome.result.seconds, outcome.text()))
    assert not outcome.problems, "\n".join(outcome.problems) + "\n" + outcome.explain()
    assert ipvs_real_uml.MISSING in outcome.report["problems"]
    assert outcome.has_service("after-sync2") and not outcome.has_service("deleted")

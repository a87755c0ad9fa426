# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Failure 1 (kube-proxy deletes kube-vip's IPVS service, kube-vip #454) made by the real programs, found by
verify.yml and fixed by remediate.yml, on a kernel with IPVS.

The machine's own kernel has no IPVS, so one User-Mode Linux boot (tests/kernel/uml.py) runs a one-node real
lab inside the guest: etcd v3.5.15, kube-apiserver v1.31.0, the collection's kube-vip v1.0.0 static pod with
``lb_enable`` and the real kube-proxy v1.31.0 in IPVS mode, reading a live ConfigMap whose ipvs.excludeCIDRs
lacks the VIP. Upstream: k8s.io/kubernetes v1.31.0 ``pkg/proxy/ipvs/proxier.go`` ``cleanLegacyService`` deletes
every virtual service of its IP family that is not one of its own Services and not ``isIPInExcludeCIDRs``, at
every sync (after a successful iptables-restore); kube-vip v1.0.0 ``pkg/loadbalancer/ipvs.go`` creates the
service VIP:lb_port with the control-plane nodes as real servers when their first backend turns healthy
(``addBackend``) and creates it again only when a backend's health changes (``healthCheck``), so it stays deleted. Witnesses: ``ipvsadm -Ln`` inside the node,
kube-proxy's own /healthz (``lastUpdated``: a sync happened), the real API server's ConfigMap. The guest steps
live in ipvs_real_uml.py.

Opt-in (``BAREMETAL_VIP_REAL_IPVS=1``): in the guest the real lab's bring-up alone took 11-20 minutes on the
loaded 2-core machine (docs/lab.md, "Failure 1 by the real kube-proxy"), so `make test` keeps the stand-in
scenario of test_ipvs_uml.py for now.
"""

from __future__ import annotations

import os

import pytest


import ipvs_real_uml as ipvs_uml  # noqa: E402  pylint: disable=wrong-import-position,import-error


def test_real_kube_proxy_deletes_kube_vips_ipvs_service_and_remediate_keeps_it():
    if os.environ.get("BAREMETAL_VIP_REAL_IPVS") != "1":
        pytest.skip("opt-in: BAREMETAL_VIP_REAL_IPVS=1 (a run takes much longer than the stand-in, see docs/lab.md)")
    reason = ipvs_uml.problem()
    if reason:
        pytest.skip(reason)
    outcome = ipvs_uml.run(timeout=ipvs_uml.TIMEOUT)
    print("\nUML IPVS run on the real programs: %.0f s\n%s" % (outcome.result.seconds, outcome.text()))
    assert not outcome.problems, "\n".join(outcome.problems) + "\n" + outcome.explain()
    # made by the real kube-proxy: kube-vip's service there first, gone after kube-proxy's sync
    assert outcome.has_service("kube-vip") and "TCP  %s" % ipvs_uml.VIP not in outcome.ipvs["deleted"]
    assert ipvs_uml.MISSING in outcome.report["problems"]
    assert any(ipvs_uml.CAUSE in line for line in outcome.report["problems"])
    # kept by the restarted kube-proxy across two syncs
    assert outcome.has_service("after-sync1") and outcome.has_service("after-sync2")

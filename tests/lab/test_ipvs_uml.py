# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Failure 1 (kube-proxy deleted kube-vip's IPVS service) end to end, on a kernel with IPVS.

The machine's own kernel has no IPVS, so one User-Mode Linux boot (tests/kernel/uml.py) runs
the lab inside the guest: fake_kube_vip puts the IPVS service on the VIP and deletes it again,
verify must find it missing, remediate must restore it, verify must then pass; ipvsadm inside
each node is the witness. The guest steps live in ipvs_uml.py, which `make demo` runs too.
"""

from __future__ import annotations

import pytest

import ipvs_uml  # pylint: disable=import-error
import uml  # pylint: disable=import-error


def test_remediate_restores_the_ipvs_service_kube_proxy_deleted():
    reason = uml.problem()
    if reason:
        pytest.skip(reason)
    outcome = ipvs_uml.run(timeout=540)
    print("\nUML IPVS day-2 run: %.0f s\n%s" % (outcome.result.seconds, outcome.text()))
    assert not outcome.problems, "\n".join(outcome.problems) + "\n" + outcome.result.explain()
    assert ipvs_uml.MISSING in outcome.report["problems"]
    assert "TCP  192.0.2.10:6443" in outcome.after["cp1"] and "192.0.2.11:6443" in outcome.after["cp1"]

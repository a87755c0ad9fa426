# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Failure 1 (kube-proxy deleted kube-vip's IPVS service) end to end, on a kernel with IPVS.

The machine's own kernel has no IPVS, so one User-Mode Linux boot (tests/kernel/uml.py) runs
the lab inside the guest: fake_kube_vip puts the IPVS service on the VIP and deletes it again,
verify must find it missing, remediate must restore it; ipvsadm inside the node is the witness.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "kernel"))

import uml  # noqa: E402  pylint: disable=wrong-import-position,import-error

MODULES = uml.IPVS_MODULES + ("llc", "stp", "bridge", "overlay")
GUEST_SCRIPT = r"""
py="$VIP_UML_CWD/.venv/bin/python"
out="$VIP_UML_DIR"
state=/tmp/vip-lab-ipvs
export ANSIBLE_CONFIG="$VIP_UML_CWD/ansible.cfg" ANSIBLE_DEPRECATION_WARNINGS=0
step() { name=$1; shift; "$@" > "$out/$name.log" 2>&1; echo "$name $?" >> "$out/steps"; }
step up "$py" tests/lab/lab.py up --nodes cp1,w1 --state-dir "$state"
step apply "$py" tests/lab/fake_kube_vip.py --state-dir "$state" apply
step inject "$py" tests/lab/fake_kube_vip.py --state-dir "$state" inject ipvs-deleted
ns=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["nodes"][0]["netns"])' "$state/lab.json")
ip netns exec "$ns" ipvsadm -Ln > "$out/ipvs-before.txt" 2>&1
step verify "$VIP_UML_CWD/.venv/bin/ansible-playbook" -i "$state/inventory.yml" playbooks/verify.yml \
  -e "vip_verify_report=$out/report.json"
step remediate "$VIP_UML_CWD/.venv/bin/ansible-playbook" -i "$state/inventory.yml" playbooks/remediate.yml
ip netns exec "$ns" ipvsadm -Ln > "$out/ipvs-after.txt" 2>&1
step down "$py" tests/lab/lab.py down --state-dir "$state"
"""


def test_remediate_restores_the_ipvs_service_kube_proxy_deleted():
    reason = uml.problem()
    if reason:
        pytest.skip(reason)
    result = uml.run(GUEST_SCRIPT, modules=MODULES, timeout=540)
    print("\nUML IPVS day-2 run: %.0f s" % result.seconds)
    steps = dict(line.split() for line in result.files.get("steps", "").splitlines())
    assert steps.get("up") == "0" and steps.get("apply") == "0" and steps.get("inject") == "0", result.explain()
    assert "192.0.2.10:6443" not in result.files.get("ipvs-before.txt", ""), result.explain()
    assert steps.get("verify") not in (None, "0"), result.explain()
    report = json.loads(result.files["report.json"])
    assert "cp1: IPVS service 192.0.2.10:6443 missing on the VIP holder" in report["problems"]
    assert steps.get("remediate") == "0", result.files.get("remediate.log", "")[-4000:]
    after = result.files.get("ipvs-after.txt", "")
    assert "TCP  192.0.2.10:6443" in after and "192.0.2.11:6443" in after, after
    assert steps.get("down") == "0", result.explain()

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the day-2 playbooks (verify.yml, remediate.yml): the judgement lives in plugin_utils/verdicts.py.

Documentation: vip_check_options.yml, vip_verify_report.yml, vip_service_vip_strays.yml,
vip_holder_summary.yml and vip_remediation.yml next to this file.
"""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.baremetal.vip.plugins.plugin_utils import remediation
from ansible_collections.baremetal.vip.plugins.plugin_utils import verdicts


def _call(name, function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("%s: the plan, the node checks or the cluster data lack or mistype %s" % (name, exc)) from exc


def vip_check_options(plan, host, cluster=None, service_routes=None):
    """The baremetal.vip.vip_check options of ``host`` (or {host: options} of a list of hosts), from the plan (and the
    live Services)."""
    return _call("vip_check_options", verdicts.check_options, plan, host, cluster, service_routes or [])


def vip_verify_report(plan, checks, cluster=None, daemonsets=None, daemonset_file=None):
    """The cluster-wide report of playbooks/verify.yml."""
    return _call("vip_verify_report", verdicts.verify_report, plan, checks, cluster, daemonsets, daemonset_file)


def vip_service_vip_strays(plan, addresses_by_host, cluster):
    """{host: [Service VIP]} held by a node that does not hold the Service's lease."""
    return _call("vip_service_vip_strays", verdicts.service_vip_strays, plan, addresses_by_host, cluster)


def vip_holder_summary(report):
    """One line per VIP of verify's report: the nodes holding it and its lease holder."""
    return _call("vip_holder_summary", verdicts.holder_lines, report)


def vip_remediation(plan, report, holder=None, service_routes=None):
    """What playbooks/remediate.yml changes on each node, from verify's report."""
    return _call("vip_remediation", remediation.remediation, plan, report, holder, service_routes or [])


class FilterModule:
    """baremetal.vip day-2 filters."""

    def filters(self):
        return {"vip_check_options": vip_check_options, "vip_verify_report": vip_verify_report,
                "vip_service_vip_strays": vip_service_vip_strays, "vip_remediation": vip_remediation,
                "vip_holder_summary": vip_holder_summary}

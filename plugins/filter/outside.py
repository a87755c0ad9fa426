# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of verify.yml's checks from outside the nodes: the logic lives in plugin_utils/outside.py.

Documentation: vip_probe_options.yml, vip_outside_report.yml and vip_outside_summary.yml next to this file.
"""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.baremetal.vip.plugins.plugin_utils import outside


def _call(name, function, *args):
    try:
        return function(*args)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("%s: the plan, the report or the node checks lack or mistype %s" % (name, exc)) from exc


def vip_probe_options(plan, report, checks, kubeconfig=None):
    """The baremetal.vip.vip_probe options (and vantage point) of verify.yml."""
    return _call("vip_probe_options", outside.probe_options, plan, report, checks, kubeconfig)


def vip_outside_report(report, probe, options=None):
    """verify.yml's report with the outside checks' figures per VIP and their problems."""
    return _call("vip_outside_report", outside.outside_report, report, probe, options)


def vip_outside_summary(report):
    """What verify.yml shows of the outside checks, one line per VIP and one for the API."""
    return _call("vip_outside_summary", outside.outside_lines, report)


class FilterModule:
    """baremetal.vip outside-check filters."""

    def filters(self):
        return {"vip_probe_options": vip_probe_options, "vip_outside_report": vip_outside_report,
                "vip_outside_summary": vip_outside_summary}

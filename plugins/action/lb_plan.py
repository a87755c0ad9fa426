# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""baremetal.vip.lb_plan: check the inventory and set the vip_plan fact (controller only)."""

from __future__ import annotations

from ansible.errors import AnsibleError

from ansible_collections.baremetal.vip.plugins.plugin_utils.controller_action import ControllerAction
from ansible_collections.baremetal.vip.plugins.plugin_utils.plan import (
    CLUSTER_VARS, CONTROL_PLANE_GROUP, HOST_VARS, NODE_GROUP, MissingLibraryError, build_plan)

_HOST_KEYS = ("ansible_host",) + HOST_VARS


class ActionModule(ControllerAction):
    """Collect the vip_* variables, build the plan, return it as a fact or fail with every error."""

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        result["changed"] = False

        unknown = sorted(set(self._task.args) - set(CLUSTER_VARS))
        if unknown:
            result.update(failed=True, msg="lb_plan: unsupported option(s) %s; supported: %s"
                          % (", ".join(unknown), ", ".join(CLUSTER_VARS)))
            return result

        template_errors = []
        cluster_vars = {}
        for name in CLUSTER_VARS:
            if name in self._task.args:
                cluster_vars[name] = self._task.args[name]
            elif name in task_vars:
                cluster_vars[name] = self._template(task_vars[name], name, template_errors)

        groups = task_vars.get("groups") or {}
        wanted = {CONTROL_PLANE_GROUP: list(groups.get(CONTROL_PLANE_GROUP) or []),
                  NODE_GROUP: list(groups.get(NODE_GROUP) or []),
                  "all": list(groups.get("all") or [])}  # vip_verify_outside.vantage may name any host
        hostvars = task_vars.get("hostvars") or {}
        hosts = {}
        for host in wanted[CONTROL_PLANE_GROUP] + wanted[NODE_GROUP]:
            if host not in hosts:
                hosts[host] = self._host_vars(hostvars, host, template_errors)

        if template_errors:
            return self._fail(result, template_errors)

        try:
            built = build_plan(cluster_vars, hosts, wanted)
        except MissingLibraryError as exc:
            result.update(failed=True, msg=str(exc))
            return result

        if built["warnings"]:
            result["warnings"] = list(built["warnings"])
        if built["errors"]:
            return self._fail(result, built["errors"])
        result["ansible_facts"] = {"vip_plan": built["plan"]}
        return result

    @staticmethod
    def _fail(result, errors):
        lines = ["%d. %s" % (i, err) for i, err in enumerate(errors, 1)]
        result.update(failed=True, errors=list(errors),
                      msg="the vip_* inventory has %d error(s):\n%s" % (len(errors), "\n".join(lines)))
        return result

    def _template(self, value, path, errors):
        """Template one variable; on failure record only the error text (never the value: it may hold a password)."""
        try:
            return self._templar.template(value)
        except AnsibleError as exc:
            errors.append("%s cannot be templated: %s" % (path, getattr(exc, "message", None) or type(exc).__name__))
            return None

    def _host_vars(self, hostvars, host, errors):
        try:
            hv = hostvars[host]
        except KeyError:
            return {}
        out = {}
        for key in _HOST_KEYS:
            try:
                value = hv[key]
            except KeyError:
                continue
            except AnsibleError as exc:
                errors.append("hostvars[%s].%s cannot be templated: %s" % (host, key, getattr(exc, "message", None) or type(exc).__name__))
                continue
            out[key] = self._template(value, "hostvars[%s].%s" % (host, key), errors)
        # Other vip_* names are passed by name only, so the plan can point out likely typos.
        try:
            names = list(hv.keys())
        except (AttributeError, TypeError):
            names = []
        for key in names:
            if isinstance(key, str) and key.startswith("vip_") and key not in out:
                out[key] = None
        return out

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""baremetal.vip.vip_report: finish verify's report and write it on the controller (no module process)."""

from __future__ import annotations

import os

from ansible_collections.baremetal.vip.plugins.plugin_utils import report as report_utils
from ansible_collections.baremetal.vip.plugins.plugin_utils.controller_action import ControllerAction

ARGUMENT_SPEC = {
    "report": {"type": "dict", "required": True},
    "probe": {"type": "dict"},
    "probe_options": {"type": "dict"},
    "dest": {"type": "path"},
}


class ActionModule(ControllerAction):
    """Add the outside figures, give the summary lines, write the report file when asked."""

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        try:
            report = report_utils.finish(args["report"], args.get("probe"), args.get("probe_options"))
        except (KeyError, TypeError, ValueError) as exc:
            result.update(failed=True, msg="vip_report: adding the outside checks' figures to the report: the report, "
                                           "probe or probe_options lack or mistype %s" % exc)
            return result
        result.update(changed=False, report=report, summary=report_utils.summary_lines(report), dest=None)
        if not args.get("dest"):
            return result

        dest = os.path.abspath(args["dest"])
        result["dest"] = dest
        text = report_utils.report_text(report)
        try:
            before = report_utils.read_text(dest)
        except (OSError, UnicodeDecodeError) as exc:
            result.update(failed=True, msg="vip_report: reading the report file %s before writing it: %s" % (dest, exc))
            return result
        result["changed"] = before != text
        if result["changed"] and self._task.diff:
            result["diff"] = {"before_header": dest, "after_header": dest, "before": before or "", "after": text}
        if result["changed"] and not self._task.check_mode:
            try:
                report_utils.write_text(dest, text)
            except OSError as exc:
                result.update(failed=True, msg="vip_report: writing the report to %s: %s" % (dest, exc))
        return result

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""verify.yml's last step on the controller (action baremetal.vip.vip_report): plain functions.

* ``finish`` - verify's report with the outside checks' figures (``outside.outside_report``) when the probe ran.
* ``summary_lines`` - what verify shows: who holds each VIP and its lease (with a kubeconfig), what answers each
  VIP from outside (when the outside checks ran).
* ``report_text`` - the report file's text (JSON, keys sorted, indented as Ansible's ``to_nice_json``).
* ``write_text`` - that text into a file on the controller, atomically, only when it differs.
"""
from __future__ import annotations

import json
import os
import tempfile

from ansible_collections.baremetal.vip.plugins.plugin_utils import outside, render, verdicts


def finish(report, probe=None, probe_options=None):
    """``report`` (plain data) with ``outside`` filled from the registered vip_probe result ``probe`` when
    ``probe_options`` (the vip_probe_options filter's result) is given; else the report as it is."""
    if probe_options is None:
        return render.plain(report)
    return outside.outside_report(report, probe, probe_options)


def summary_lines(report):
    """One line per VIP: its holders and its lease's holder when the cluster was read through a kubeconfig
    (``report.kubeconfig.path``), then what answers it from outside when the outside checks ran."""
    lines = []
    if (report.get("kubeconfig") or {}).get("path"):
        lines.extend(verdicts.holder_lines(report))
    if (report.get("outside") or {}).get("checked"):
        lines.extend(outside.outside_lines(report))
    return lines


def report_text(report):
    """The report as the file holds it: JSON with sorted keys, 4 spaces of indent, a final newline."""
    return json.dumps(report, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"


def read_text(path):
    """The file's text, or None when there is no such file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_text(path, text, mode=0o644):
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename (a reader never sees
    half a report). OSError when the directory is missing or not writable."""
    directory = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise

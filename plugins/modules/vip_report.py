# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The code is the action plugin plugins/action/vip_report.py; this file carries its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vip_report
short_description: Finish verify's report, give its summary lines and write it on the controller
version_added: 0.1.0
description:
  - The last step of C(playbooks/verify.yml), on the controller only (no module process, no connection).
  - Adds the outside checks' figures to the report when O(probe_options) is given (as the filter
    P(baremetal.vip.vip_outside_report#filter) does), and returns the report in RV(report).
  - Returns in RV(summary) what verify shows, one line per VIP - who holds it and who holds its lease (when the
    report was made with a kubeconfig, its C(kubeconfig.path)), then what answers it from outside the nodes (when the
    outside checks ran), as the filters P(baremetal.vip.vip_holder_summary#filter) and
    P(baremetal.vip.vip_outside_summary#filter) give them.
  - With O(dest), writes the report as JSON (keys sorted, indented by 4) to that file on the controller, through
    a temporary file in the same directory and a rename, and only when its content differs. The report holds the
    kubeconfig's path, never its content.
options:
  report:
    description: Verify's report, as the filter P(baremetal.vip.vip_verify_report#filter) gives it.
    type: dict
    required: true
  probe:
    description:
      - The registered result of M(baremetal.vip.vip_probe) (skipped when the outside checks are off, failed when
        it could not ask). Used only with O(probe_options).
    type: dict
  probe_options:
    description: The vip_probe options and vantage the probe ran with (P(baremetal.vip.vip_probe_options#filter)).
    type: dict
  dest:
    description:
      - Write the report to this file on the controller (mode C(0644)). Its directory must exist.
      - A relative path is relative to the directory C(ansible-playbook) was started in.
      - Omitted, nothing is written.
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
  - baremetal.vip.controller
attributes:
  check_mode:
    support: full
    details: In check mode the file is not written; C(changed) says whether it would be.
  diff_mode:
    support: full
    details: The file's text before and after.
seealso:
  - module: baremetal.vip.vip_check
  - module: baremetal.vip.vip_probe
author:
  - baremetal.vip developers (@baremetal)
"""

EXAMPLES = r"""
- name: Finish the report, write it and keep the summary
  baremetal.vip.vip_report:
    report: "{{ __vip_day2_report }}"
    probe: "{{ __vip_outside }}"
    probe_options: "{{ _vip_outside }}"
    dest: /var/tmp/vip-report.json
  register: __vip_verify
  run_once: true
  check_mode: false

- name: Show who holds each VIP and what answers it from outside
  ansible.builtin.debug:
    msg: "{{ __vip_verify.summary }}"
  run_once: true
  when: __vip_verify.summary | length > 0

- name: Only the summary of a report made earlier, nothing written
  baremetal.vip.vip_report:
    report: "{{ lookup('ansible.builtin.file', '/var/tmp/vip-report.json') | from_json }}"
  register: __vip_again
  run_once: true
"""

RETURN = r"""
report:
  description:
    - The report, with C(outside) (the figures per VIP from the vantage point) and the probe's problems when
      O(probe_options) was given. C(ok) is false when any check failed; C(problems) says which, one sentence each.
  returned: success
  type: dict
  sample:
    ok: true
    problems: []
    vip_holders: ["cp1"]
summary:
  description: The lines verify shows, one per VIP (holders and lease), then one per VIP asked from outside and the API's.
  returned: success
  type: list
  elements: str
  sample:
    - VIP 192.0.2.10 on cp1; lease plndr-cp-lock held by cp1
    - "control-plane VIP 192.0.2.10: 1 MAC(s) answer (02:00:00:00:00:01); holder cp1"
dest:
  description: The absolute path of the report file written (or that would be in check mode); null without O(dest).
  returned: success
  type: str
  sample: /var/tmp/vip-report.json
"""

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The test suite's one helper package (found through pytest.ini's ``pythonpath``: ``tests``).

A helper that more than one test file needs lives here, never in a test_*.py file that another one
imports (tests/collection/test_test_layout.py checks it):

- ansible: the one environment for ansible / ansible-playbook runs (``ansible_env``) and the runners;
- inventory: the one reader of an inventory file and of examples/<name>/inventory.yml;
- planlib: inventories and build_plan wrappers for the plan tests;
- render_plans, render_schemas: hand-built plans and validators for the render tests;
- netns: iproute2 witnesses inside a namespace node;
- labrun: lab.py as a program (up --real, api, logs) and lease-physics bounds for the lab tests;
- k8s_objects: API objects the lab tests put into the API double.

Programs that also run on their own (tests/lab/lab.py, reallab.py, podrunner.py, tests/bench/run.py,
tests/kernel/uml.py, tests/realbin/realbin.py) stay next to what they drive.
"""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running ansible / ansible-playbook from the checkout: the one environment builder and its runners."""

from __future__ import annotations

import json
import os
import subprocess

from testkit import BIN, TOP

JSON_CALLBACK = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}


def ansible_env(**settings):
    """The environment of an ansible / ansible-playbook run from the checkout.

    Always: the checkout's ansible.cfg, the venv's programs first on PATH, no colour. ``settings`` add or
    change variables (ANSIBLE_DEPRECATION_WARNINGS="0", a callback, ...); a value of None removes one.
    """
    env = dict(os.environ)
    env.update({"ANSIBLE_CONFIG": os.path.join(TOP, "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "PATH": BIN + os.pathsep + os.environ.get("PATH", "")})
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def lab_env(**settings):
    """ansible_env for the lab's json-callback runs (no deprecation warnings)."""
    merged = {"ANSIBLE_DEPRECATION_WARNINGS": "0"}
    merged.update(JSON_CALLBACK)
    merged.update(settings)  # the caller's settings win, also over the two above
    return ansible_env(**merged)


def ansible(*args, program="ansible"):
    """Run ansible / ansible-playbook from the checkout; return (returncode, parsed JSON output)."""
    proc = subprocess.run([os.path.join(BIN, program)] + list(args), cwd=TOP, env=lab_env(),
                          capture_output=True, text=True, check=False)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("%s gave no JSON (rc %d):\n%s\n%s" % (program, proc.returncode, proc.stdout, proc.stderr))


def run_render(inventory, out, *extra):
    """playbooks/render.yml for INVENTORY into OUT; its output (fails the test when the run fails)."""
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", inventory, os.path.join(TOP, "playbooks", "render.yml"),
           "-e", "vip_render_dir=%s" % out] + list(extra)
    proc = subprocess.run(cmd, cwd=TOP, env=ansible_env(), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one inventory loader: an inventory file as Ansible's YAML inventory reads it, the examples by name."""

from __future__ import annotations

import os

import jinja2
import yaml

from testkit import TOP

EXAMPLES_DIR = os.path.join(TOP, "examples")


def example_path(name):
    """examples/<name>/inventory.yml."""
    return os.path.join(EXAMPLES_DIR, name, "inventory.yml")


def examples():
    """The names of the examples that have an inventory.yml, sorted."""
    return sorted(e for e in os.listdir(EXAMPLES_DIR) if os.path.exists(example_path(e)))


def read_inventory(path):
    """The inventory file at PATH as a dict (all: vars + children), untemplated."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def read_example(name):
    """read_inventory of examples/<name>/inventory.yml."""
    return read_inventory(example_path(name))


def _lookup(kind, name):
    """The one lookup the examples use (ansible.builtin.env), as Ansible would answer it."""
    assert kind == "ansible.builtin.env", kind
    return os.environ.get(name, "")


def _template(value):
    """Template strings as Ansible would before the plan sees them (examples use env lookups)."""
    if isinstance(value, dict):
        return {k: _template(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_template(v) for v in value]
    if isinstance(value, str) and "{{" in value:
        return jinja2.Environment().from_string(value).render(lookup=_lookup)
    return value


def load_example(name):
    """(cluster_vars, hosts, groups) of examples/<name>/inventory.yml (all: vars + children: hosts), templated."""
    inv = _template(read_example(name)["all"])
    hosts, groups = {}, {}
    for group, data in inv["children"].items():
        groups[group] = list(data["hosts"])
        for host, hv in data["hosts"].items():
            hosts.setdefault(host, {}).update(hv or {})
    return inv["vars"], hosts, groups


def make_unreachable(inv):
    """Put every host of the inventory dict INV on ssh at a documentation address nobody answers; return INV.

    ``vip_node_ip`` keeps the original address (it defaults to ``ansible_host``), so what is rendered
    stays the same bytes as for the example itself.
    """
    for i, (_group, data) in enumerate(sorted(inv["all"]["children"].items())):
        for j, (_host, hv) in enumerate((data.get("hosts") or {}).items()):
            hv = hv if hv is not None else {}
            hv.setdefault("vip_node_ip", hv.get("ansible_host", _host))
            hv.update(ansible_connection="ssh", ansible_host="192.0.2.%d" % (200 + 10 * i + j), ansible_port=22,
                      ansible_ssh_common_args="-o ConnectTimeout=1")
            data["hosts"][_host] = hv
    return inv


def write_inventory(inv, dest):
    """Write the inventory dict INV to DEST (a path); return DEST."""
    with open(str(dest), "w", encoding="utf-8") as handle:
        yaml.safe_dump(inv, handle)
    return dest


def unreachable_inventory(example, dest):
    """examples/<example>/inventory.yml made unreachable (make_unreachable), written to DEST; returns DEST."""
    return write_inventory(make_unreachable(read_example(example)), dest)

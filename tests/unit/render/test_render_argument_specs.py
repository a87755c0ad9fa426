"""Every role's meta/argument_specs.yml documents exactly the keys of defaults/main.yml, with the same defaults.

The roles that render share the private role ``common`` (roles/common): its ``preflight`` entry point checks their
inputs, and its variables ``_common_render``, ``_common_root`` and ``_common_target`` (visible through a meta
dependency) say where files go. Nothing of that is defined twice.

A dict or list option whose default is a Jinja template (``{{ vip_plan }}``) carries no ``default`` in the spec
(antsibull-docs and ansible-doc would show the template string as a dict or a comma-split list): its description
says what the default is instead.
"""
import os

import pytest
import yaml

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLES = sorted(r for r in os.listdir(os.path.join(TOP, "roles")) if os.path.isdir(os.path.join(TOP, "roles", r)))


def _load(role, *path):
    with open(os.path.join(TOP, "roles", role, *path), encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


RENDER_ROLES = ["kube_vip_control_plane", "kube_vip_services", "metallb", "kube_proxy", "host_prep"]
# Roles that check their inputs with common's preflight and place files where common says.
COMMON_USERS = RENDER_ROLES + ["kubeadm_config"]
COMMON_VARS = ("render", "root", "target")


def test_all_roles_present():
    assert set(RENDER_ROLES) <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_spec_keys_equal_defaults(role):
    defaults = _load(role, "defaults", "main.yml")
    specs = _load(role, "meta", "argument_specs.yml")["argument_specs"]
    # the private role has no main entry point: its options are those of its tasks_from entry points
    options = specs["main"]["options"] if "main" in specs else {
        name: spec for entry in specs.values() for name, spec in entry.get("options", {}).items()}
    assert sorted(options) == sorted(defaults)
    for name, spec in options.items():
        assert name.startswith(role + "_"), name
        assert spec.get("description"), name
        assert spec.get("type"), name
        if spec["type"] in ("dict", "list") and isinstance(defaults[name], str) and "{{" in defaults[name]:
            assert "default" not in spec, name
            description = spec["description"]
            assert "Default " in (description if isinstance(description, str) else " ".join(description)), name
        else:
            assert spec.get("default") == defaults[name], name


@pytest.mark.parametrize("role", RENDER_ROLES)
def test_role_layout(role):
    for path in ("tasks/main.yml", "tasks/configure.yml", "handlers/main.yml", "meta/main.yml"):
        assert os.path.exists(os.path.join(TOP, "roles", role, path)), path
    for handler in _load(role, "handlers", "main.yml"):
        assert handler.get("listen"), handler["name"]
    templates = os.path.join(TOP, "roles", role, "templates")
    for name in os.listdir(templates):
        with open(os.path.join(templates, name), encoding="utf-8") as handle:
            assert handle.readline().startswith("{{ %s_managed_header | comment }}" % role), name
    private = _load(role, "vars", "main.yml")
    assert all(k.startswith("_" + role + "_") for k in private)


def _tasks(role, name):
    with open(os.path.join(TOP, "roles", role, "tasks", name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("role", COMMON_USERS)
def test_role_uses_common(role):
    """common's preflight comes first, for this role; common's variables come through the meta dependency."""
    assert "baremetal.vip.common" in _load(role, "meta", "main.yml")["dependencies"]
    first = _tasks(role, "main.yml")[0]
    if "ansible.builtin.import_tasks" in first:  # kubeadm_config: one preflight.yml for its entry points main, render_init
        first = _tasks(role, first["ansible.builtin.import_tasks"])[0]
    assert first["ansible.builtin.include_role"] == {"name": "baremetal.vip.common", "tasks_from": "preflight"}
    assert first["vars"]["common_role"] == role
    # common reads <role>_plan and <role>_render_dir by name
    assert {role + "_plan", role + "_render_dir"} <= set(_load(role, "defaults", "main.yml"))
    private = _load(role, "vars", "main.yml")
    assert not {"_%s_%s" % (role, name) for name in COMMON_VARS} & set(private)
    assert not os.path.exists(os.path.join(TOP, "roles", role, "tasks", "preflight.yml")) or role == "kubeadm_config"


def test_common_is_private_and_defines_where_files_go():
    specs = _load("common", "meta", "argument_specs.yml")["argument_specs"]
    assert "main" not in specs and set(specs) == {"preflight"}
    assert all(spec["short_description"].startswith("Private") for spec in specs.values())
    assert {"_common_" + name for name in COMMON_VARS} <= set(_load("common", "vars", "main.yml"))
    assert not os.path.exists(os.path.join(TOP, "roles", "common", "tasks", "main.yml"))

"""Every role's meta/argument_specs.yml documents exactly the keys of defaults/main.yml, with the same defaults.

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


def test_all_roles_present():
    assert set(RENDER_ROLES) <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_spec_keys_equal_defaults(role):
    defaults = _load(role, "defaults", "main.yml")
    options = _load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
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
    for path in ("tasks/main.yml", "tasks/preflight.yml", "tasks/configure.yml", "handlers/main.yml", "meta/main.yml"):
        assert os.path.exists(os.path.join(TOP, "roles", role, path)), path
    for handler in _load(role, "handlers", "main.yml"):
        assert handler.get("listen"), handler["name"]
    templates = os.path.join(TOP, "roles", role, "templates")
    for name in os.listdir(templates):
        with open(os.path.join(templates, name), encoding="utf-8") as handle:
            assert handle.readline().startswith("{{ %s_managed_header | comment }}" % role), name
    private = _load(role, "vars", "main.yml")
    assert all(k.startswith("_" + role + "_") for k in private)

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schema checker: one spec (plan_spec.SPEC) drives type checks, unknown-key errors and defaults.

``normalize(value, spec, path, errors)`` returns the value with defaults filled in and types
coerced, appending a message per problem to ``errors``.
"""

from __future__ import annotations

import copy
import difflib
import re

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_spec import format_version, parse_version

_BOOL_STRINGS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def closest_name(name, valid):
    """The valid name closest to ``name`` (difflib), or None."""
    found = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.5)
    return found[0] if found else None


def unknown_key_message(path, key, valid):
    """'<path>: unknown key ...; did you mean ...? (valid keys: ...)'."""
    best = closest_name(key, valid)
    hint = "did you mean '%s'? " % best if best else ""
    return "%s: unknown key '%s'; %s(valid keys: %s)" % (path, key, hint, ", ".join(sorted(valid)))


def value_text(value, spec):
    """The value as an error message shows it: its repr, or "(value hidden)" for a secret."""
    return "(value hidden)" if spec.get("secret") else repr(value)


def user_set(written, *keys):
    """True when the inventory set ``written[k1][k2]...`` (as written, before defaults) to something other than None."""
    cur = written
    for key in keys:
        if not isinstance(cur, dict) or cur.get(key) is None:
            return False
        cur = cur[key]
    return True


def normalize(value, spec, path, errors):
    """Check ``value`` against ``spec``; return it with defaults filled in and types coerced."""
    if value is None:
        if spec.get("required"):
            errors.append("%s is required" % path)
            return None
        default = spec.get("default")
        if spec["type"] == "dict" and default is not None and "options" in spec:
            value = {}
        elif isinstance(default, (list, dict)):
            return copy.deepcopy(default) if default else type(default)()
        else:
            return default
    checker = _TYPE_CHECKERS[spec["type"]]
    return checker(value, spec, path, errors)


def _check_dict(value, spec, path, errors):
    if not isinstance(value, dict):
        errors.append("%s must be a dict, got %s %s" % (path, type(value).__name__, value_text(value, spec)))
        return None
    options = spec.get("options")
    if options is None:
        return value
    for key in value:
        if key not in options:
            errors.append(unknown_key_message(path, key, options))
    return {key: normalize(value.get(key), sub, "%s.%s" % (path, key), errors) for key, sub in options.items()}


def _check_list(value, spec, path, errors):
    elements = spec.get("elements")
    if isinstance(value, str) and elements == "str":
        value = [value]
    if not isinstance(value, (list, tuple)):
        errors.append("%s must be a list, got %s %s" % (path, type(value).__name__, value_text(value, spec)))
        return None
    if elements is None:
        return list(value)
    item_spec = {"type": elements, "options": spec.get("options"), "secret": spec.get("secret")}
    out = []
    for i, item in enumerate(value):
        ipath = "%s[%d]" % (path, i)
        if item is None:
            errors.append("%s is empty" % ipath)
            continue
        out.append(normalize(item, item_spec, ipath, errors))
    return out


def _check_str(value, spec, path, errors):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        errors.append("%s must be a string, got %s %s" % (path, type(value).__name__, value_text(value, spec)))
        return None
    value = str(value)
    choices = spec.get("choices")
    if choices and value not in choices:
        best = closest_name(value, choices)
        hint = " (did you mean '%s'?)" % best if best else ""
        errors.append("%s is %s; expected one of %s%s" % (path, value_text(value, spec), ", ".join(choices), hint))
        return None
    return value


def _check_int(value, spec, path, errors):
    if isinstance(value, str) and re.match(r"^\s*\d+\s*$", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append("%s must be an integer, got %s %s" % (path, type(value).__name__, value_text(value, spec)))
        return None
    low, high = spec.get("min"), spec.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        errors.append("%s is %s; expected %s..%s" % (path, value_text(value, spec), low, high))
        return None
    return value


def _check_bool(value, spec, path, errors):
    if isinstance(value, str) and value.strip().lower() in _BOOL_STRINGS:
        return _BOOL_STRINGS[value.strip().lower()]
    if not isinstance(value, bool):
        errors.append("%s must be true or false, got %s %s" % (path, type(value).__name__, value_text(value, spec)))
        return None
    return value


def _check_version(value, spec, path, errors):
    if isinstance(value, bool) or not isinstance(value, str):
        errors.append("%s must be a quoted string like \"1.31\" or \"v1.31.4\", got %s %r (YAML reads 1.30 as 1.3: quote it)"
                      % (path, type(value).__name__, value))
        return None
    try:
        return format_version(parse_version(value))
    except ValueError as exc:
        errors.append("%s is %r: %s" % (path, value, exc))
        return None


def _check_auto_bool(value, spec, path, errors):
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, str) and value.strip().lower() in _BOOL_STRINGS:
        return _BOOL_STRINGS[value.strip().lower()]
    if isinstance(value, bool):
        return value
    errors.append("%s must be auto, true or false, got %r" % (path, value))
    return None


def _check_auto_list(value, spec, path, errors):
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    return _check_list(value, {"type": "list", "elements": "str"}, path, errors)


def _check_raw(value, spec, path, errors):
    return value


_TYPE_CHECKERS = {
    "dict": _check_dict, "list": _check_list, "str": _check_str, "int": _check_int, "bool": _check_bool,
    "version": _check_version, "auto_bool": _check_auto_bool, "auto_list": _check_auto_list, "raw": _check_raw,
}

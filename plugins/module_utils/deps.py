# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Third-party libraries of the host modules, imported once and guarded.

The sanity ``import`` test loads every module without pyroute2 or netaddr: nothing here may
raise at import time. Modules call :func:`require` first; it fails the task with Ansible's
standard missing-library message and keeps the original traceback.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible.module_utils.basic import missing_required_lib

_ERRORS = {}

try:
    import netaddr  # noqa: F401  pylint: disable=unused-import
except ImportError:
    netaddr = None
    _ERRORS["netaddr"] = traceback.format_exc()

try:
    import pyroute2  # noqa: F401  pylint: disable=unused-import
except ImportError:
    pyroute2 = None
    _ERRORS["pyroute2"] = traceback.format_exc()


PYROUTE2_MINIMUM = (0, 9, 1)


def _pyroute2_too_old():
    """'pyroute2 0.7.11 is installed, ...' when the installed pyroute2 predates 0.9.1, else None.

    The package's own ``__version__`` first (importlib.metadata's search of the installed distributions cost every
    module run about 17 ms); the distribution's version where the package does not say."""
    found = getattr(pyroute2, "__version__", None)
    if not found or not found[:1].isdigit():
        try:
            from importlib.metadata import version  # pylint: disable=import-outside-toplevel
            found = version("pyroute2")
        except Exception:  # pylint: disable=broad-exception-caught
            return None  # not installed as a distribution (vendored): trust it
    parts = []
    for part in found.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    if tuple(parts) >= PYROUTE2_MINIMUM:
        return None
    return "pyroute2 %s is installed; these modules need pyroute2 0.9.1 or later" % found


def missing(names=("pyroute2", "netaddr")):
    """The names among ``names`` that could not be imported."""
    return [name for name in names if name in _ERRORS]


def require(module, names=("pyroute2", "netaddr")):
    """Fail ``module`` with missing_required_lib() for the first library that is missing."""
    for name in missing(names):
        module.fail_json(msg=missing_required_lib(name), exception=_ERRORS[name])
    too_old = "pyroute2" in names and _pyroute2_too_old()
    if too_old:
        module.fail_json(msg=missing_required_lib("pyroute2>=0.9.1", reason=too_old))

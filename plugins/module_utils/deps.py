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


def missing(names=("pyroute2", "netaddr")):
    """The names among ``names`` that could not be imported."""
    return [name for name in names if name in _ERRORS]


def require(module, names=("pyroute2", "netaddr")):
    """Fail ``module`` with missing_required_lib() for the first library that is missing."""
    for name in missing(names):
        module.fail_json(msg=missing_required_lib(name), exception=_ERRORS[name])

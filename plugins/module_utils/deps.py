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

import importlib
import importlib.util
import sys
import traceback
import types

from ansible.module_utils.basic import missing_required_lib

_ERRORS = {}

try:
    import netaddr  # noqa: F401  pylint: disable=unused-import
except ImportError:
    netaddr = None
    _ERRORS["netaddr"] = traceback.format_exc()

# pyroute2's package __init__ imports all of pyroute2 (IPDB, NDB, conntrack, nl80211, ...): about 60 modules and a
# third of its import time that the host modules never use, paid by every module run. The package is entered here
# without running its __init__; the names the modules use come from the submodules that define them, and any other
# name runs the whole __init__ first (so ``pyroute2.X`` keeps meaning what pyroute2 says, here and for any caller).
_PYROUTE2_NAMES = {
    "IPRoute": "pyroute2.iproute.linux",
    "IPVS": "pyroute2.ipvs",
    "NetlinkError": "pyroute2.netlink.exceptions",
    "__version__": "pyroute2.config.version",
}


class _Pyroute2Package(types.ModuleType):
    """pyroute2's package module before its __init__ ran (see _PYROUTE2_NAMES)."""

    def __getattr__(self, name):
        if name in _PYROUTE2_NAMES:
            value = getattr(importlib.import_module(_PYROUTE2_NAMES[name]), name)
        elif name.startswith("__") or self.__dict__.get("_vip_initialised"):
            raise AttributeError(name)
        elif importlib.util.find_spec("%s.%s" % (self.__name__, name)) is not None:  # a submodule (from pyroute2 import config)
            value = importlib.import_module("%s.%s" % (self.__name__, name))
        else:  # any other name: pyroute2's own __init__, once, in this module object
            self.__dict__["_vip_initialised"] = True
            self.__spec__.loader.exec_module(self)
            if name not in self.__dict__:
                raise AttributeError("module %r has no attribute %r" % (self.__name__, name))
            value = self.__dict__[name]
        setattr(self, name, value)
        return value


def _import_pyroute2():
    """The pyroute2 package, its __init__ deferred when nothing imported it yet (ImportError when it is missing)."""
    if "pyroute2" in sys.modules:
        return sys.modules["pyroute2"]
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or not spec.submodule_search_locations or not hasattr(spec.loader, "exec_module"):
        import pyroute2 as package  # pylint: disable=import-outside-toplevel  # not a plain package: import it whole
        return package
    package = _Pyroute2Package(spec.name)
    package.__spec__, package.__loader__, package.__file__ = spec, spec.loader, spec.origin
    package.__path__, package.__package__ = list(spec.submodule_search_locations), spec.name
    sys.modules[spec.name] = package
    try:
        package.NetlinkError  # pylint: disable=pointless-statement  # ImportError here when pyroute2 is broken
    except BaseException:
        del sys.modules[spec.name]
        raise
    return package


try:
    pyroute2 = _import_pyroute2()
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

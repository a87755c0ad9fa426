# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the host modules.

``baremetal.vip.host`` (DOCUMENTATION): requirements and platform of every host module.
The other attributes are used as ``baremetal.vip.host.<attribute in lower case>``:

- ``route_scope``: the options ``table`` and ``protocol`` (``hosttasks.ROUTE_SCOPE_OPTIONS``).
- ``read_only``: check and diff mode, and a note, of the modules that only read (vip_facts, vip_check).

Each attribute is one literal string: ansible-test's yamllint reads them from the source.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """Shared documentation of the host modules (vip_facts, vip_routes, vip_address, ipvs_service, vip_check)."""

    DOCUMENTATION = r"""
requirements:
  - pyroute2 >= 0.9.1 (on the managed host; tested with 0.9.7)
  - netaddr (on the managed host)
attributes:
  platform:
    description: Linux only (netlink).
    support: full
    platforms: posix
"""

    ROUTE_SCOPE = r"""
options:
  table:
    description:
      - kube-vip's routing table (C(vip_routingtableid)), 1 to 4294967295. Table 0 is refused.
      - Where the module may remove routes or judges them stale (see its notes), the kernel's tables 253
        (default), 254 (main) and 255 (local) are refused too.
    type: int
    default: 198
  protocol:
    description:
      - kube-vip's route protocol (C(vip_routingprotocol)), 0 to 255.
      - Where the module may remove routes or judges them stale (see its notes), protocols 0 to 4 (unspec,
        redirect, kernel, boot, static) are refused.
    type: int
    default: 248
"""

    READ_ONLY = r"""
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, there is no diff.
    support: none
notes:
  - The module never loads a kernel module; IPVS counts as absent while C(ip_vs) is not loaded.
"""

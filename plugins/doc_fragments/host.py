# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """Shared documentation of the host modules (vip_facts, vip_routes, vip_address, ipvs_service)."""

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

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the actions that run on the controller only (lb_plan, vip_report).

``baremetal.vip.controller`` (DOCUMENTATION): what these actions support of Ansible's action attributes - an action
plugin, no module process, no connection, no become, no async, no delegation. Listed after the fragments
``ansible.builtin.action_common_attributes`` (and its ``conn`` and ``flow``), which describe the attributes; each
action adds its own C(check_mode) and C(diff_mode).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """Shared documentation of the controller-only actions."""

    DOCUMENTATION = r"""
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  connection:
    support: none
  delegation:
    support: none
  platform:
    platforms: all
"""

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of role kubeadm_config: the decisions live in plugin_utils/kubeadm_init.py.

Documentation: vip_kubeadm_init_conflicts.yml next to this file.
"""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.baremetal.vip.plugins.plugin_utils import kubeadm_init


def vip_kubeadm_init_conflicts(settings, owned, plan, manager_args=None):
    """The sentences saying what kubeadm_config_init_settings changes of what the collection sets (empty when nothing)."""
    try:
        masks = (plan.get("cluster") or {}).get("node_cidr_mask_sizes")
        return kubeadm_init.init_conflicts(settings, owned, manager_args, masks)
    except (AttributeError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("vip_kubeadm_init_conflicts: the settings, the owned entries or the plan lack or "
                                 "mistype %s" % exc) from exc


class FilterModule:
    """baremetal.vip kubeadm filters."""

    def filters(self):
        return {"vip_kubeadm_init_conflicts": vip_kubeadm_init_conflicts}

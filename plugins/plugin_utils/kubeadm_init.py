# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What kubeadm_config_init_settings may not change in the kubeadm init documents (role kubeadm_config,
tasks/validate_init.yml).

The collection's own settings are listed by the role (``_kubeadm_config_init_owned`` in vars/main.yml: kind, path,
the accepted spellings, where the value comes from); the node CIDR mask sizes come from the plan
(``cluster.node_cidr_mask_sizes``). A setting may repeat the collection's value, never change it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

_MANAGER_ARGS = "kubeadm_config_init_settings.ClusterConfiguration.controllerManager.extraArgs "


def _json(value):
    """``value`` as Ansible's to_json writes it (dates in ISO 8601)."""
    return json.dumps(value, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))


def _at(settings, kind, path):
    """(found, value) of ``path`` in the ``kind`` document of the settings."""
    value = settings.get(kind, {})
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return False, None
        value = value[key]
    return True, value


def _owned_conflicts(settings, owned):
    out = []
    for entry in owned:
        found, value = _at(settings, entry["kind"], entry["path"])
        accept = entry["accept"]
        if found and str(value) not in [str(a) for a in accept]:
            sets = _json(accept[0]) if str(accept[0]) else "nothing"
            out.append("kubeadm_config_init_settings.%s.%s is %s, the collection sets %s from %s"
                       % (entry["kind"], ".".join(entry["path"]), _json(value), sets, entry["source"]))
    return out


def _args_map(manager_args):
    """controllerManager.extraArgs as a mapping, from a v1beta3 mapping or a v1beta4 list of {name, value}."""
    if isinstance(manager_args, Mapping):
        return dict(manager_args)
    args = {}
    for arg in manager_args or []:
        args[arg["name"]] = arg.get("value", "")
    return args


def _mask_conflicts(args, masks):
    out = []
    for family, size in sorted(masks.items(), key=lambda item: str(item[0]).lower()):
        name = "node-cidr-mask-size-%s" % family
        if name in args and str(args[name]) != str(size):
            out.append('%s%s is %s, the collection sets "%s" from vip_cluster.pod_cidrs and the number of nodes in the '
                       "plan (cluster.node_cidr_mask_sizes)" % (_MANAGER_ARGS, name, _json(args[name]), size))
    if masks and "node-cidr-mask-size" in args:
        out.append("%snode-cidr-mask-size is %s: kube-controller-manager refuses it next to node-cidr-mask-size-%s, "
                   "which the collection sets from vip_cluster.pod_cidrs (cluster.node_cidr_mask_sizes)"
                   % (_MANAGER_ARGS, _json(args["node-cidr-mask-size"]), "/-".join(sorted(masks, key=str.lower))))
    return out


def init_conflicts(settings, owned, manager_args, masks):
    """Every way ``settings`` (kubeadm_config_init_settings, its shape already checked) changes what the collection
    sets: the ``owned`` entries ({kind, path, accept, source}) it gives another value, then the controller-manager
    arguments ``manager_args`` (v1beta3 mapping or v1beta4 list of {name, value}) that differ from the plan's node
    CIDR mask sizes ``masks`` (family to size) or name the single-stack node-cidr-mask-size next to them."""
    return _owned_conflicts(settings or {}, owned) + _mask_conflicts(_args_map(manager_args), masks or {})

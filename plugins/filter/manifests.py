# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn ``vip_plan`` into the objects and files of the VIP layer.

Documentation: vip_objects.yml, k8s_yaml.yml and vip_split_secrets.yml next to this file.
"""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.baremetal.vip.plugins.module_utils import k8s_apply
from ansible_collections.baremetal.vip.plugins.plugin_utils import plan_upgrade, render, render_metallb, render_node

_ARTIFACTS = {
    "control_plane_pod": lambda plan, o: [render.kube_vip_static_pod(
        plan, o["host"], o["cluster"], o.get("use_super_admin", False), _passwords(o))],
    "control_plane_daemonset": lambda plan, o: render.kube_vip_control_plane_daemonset(
        plan, o["cluster"], o["names"], _passwords(o)),
    "services": lambda plan, o: render.kube_vip_services(
        plan, o["cluster"], o.get("bgp_secret", "kube-vip-services-bgp"), _passwords(o)),
    "cloud_provider": lambda plan, o: render.kube_vip_cloud_provider(plan, o["cluster"], o.get("deployment", True)),
    "metallb_pools": lambda plan, o: render_metallb.metallb_pools(plan, o["cluster"]),
    "metallb_bgp_peers": lambda plan, o: render_metallb.metallb_bgp_peers(plan, o["cluster"]),
    "metallb_bgp_secrets": lambda plan, o: render_metallb.metallb_bgp_secrets(
        plan, o["cluster"], _passwords(o),
        {h: render.password_map([render.plain(p)]) for h, p in (o.get("host_bgp_peers") or {}).items()}),
    "kube_proxy_configuration": lambda plan, o: [render_node.kube_proxy_configuration(plan)],
    "kube_proxy_configmap_patch": lambda plan, o: [render_node.kube_proxy_configmap_patch(plan)],
    "kube_proxy_daemonset_patch": lambda plan, o: [p for p in [render_node.kube_proxy_daemonset_patch(plan)] if p],
    "kube_proxy_args": lambda plan, o: [render_node.kube_proxy_args(plan)],
    "k3s_server_disable": lambda plan, o: [p for p in [render_node.k3s_server_disable(plan)] if p],
    "host_modules": lambda plan, o: render_node.host_modules(plan, o["host"]),
    "host_sysctls": lambda plan, o: render_node.host_sysctls(plan, o["host"], o.get("nonlocal_bind", False)),
    "upgrade_changes": lambda plan, o: plan_upgrade.release_changes(o.get("running_image"),
                                                                    plan["kube_vip"]["version"]),
}


def _passwords(options):
    return render.password_map(render.plain(options.get("bgp_peers") or []))


def vip_objects(plan, artifact, **options):
    """Objects (list) of one artifact of the VIP layer, built from the plan."""
    if artifact not in _ARTIFACTS:
        raise AnsibleFilterError("vip_objects: unknown artifact %r, expected one of %s" % (artifact, ", ".join(sorted(_ARTIFACTS))))
    try:
        return _ARTIFACTS[artifact](render.plain(plan), options)
    except render.RenderError as exc:
        raise AnsibleFilterError("vip_objects(%s): %s" % (artifact, exc)) from exc
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError("vip_objects(%s): the plan or the options lack %s" % (artifact, exc)) from exc


def k8s_yaml(objects, output="yaml"):
    """Objects as deterministic YAML documents (or sorted JSON for ``output='json'``)."""
    if output == "json":
        return render.dump_json(objects)
    return render.dump(objects)


def vip_split_secrets(objects):
    """{"objects": objects with Secrets bare of values, "secret_values": their values by namespace/name}."""
    try:
        return k8s_apply.split_secret_values(objects)
    except ValueError as exc:
        raise AnsibleFilterError("vip_split_secrets: %s" % exc) from exc
    except (AttributeError, TypeError) as exc:
        raise AnsibleFilterError("vip_split_secrets: an object is not a mapping or mistypes %s" % type(exc).__name__) from None


class FilterModule:
    """baremetal.vip rendering filters."""

    def filters(self):
        return {"vip_objects": vip_objects, "k8s_yaml": k8s_yaml, "vip_split_secrets": vip_split_secrets}

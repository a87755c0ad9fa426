# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What changes when kube-vip goes from the release a node runs to the release the plan names (upgrade.yml).

The changes are read from KUBE_VIP_RELEASES (plan_spec), the one table of release-dependent facts, never
discovered on the hosts: the playbook gives the image a node's manifest runs, this module says, in sentences,
which rendered settings differ between that release and the plan's. The target release itself is checked by
the plan as always (refused releases fail the plan before any host is touched).
"""

from __future__ import annotations

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan_spec import format_version, kube_vip_has, parse_version

# fact of KUBE_VIP_RELEASES -> (what the rendered manifest does while the fact holds, what it does otherwise)
_SENTENCES = {
    "vip_subnet": ("the prefix length goes in env vip_subnet", "the prefix length goes in env vip_cidr"),
    "enable_endpointslices_env": ("env enable_endpointslices turns EndpointSlices on",
                                  "EndpointSlices are kube-vip's default (no enable_endpointslices env)"),
    "bgp_peer_port": ("bgp_peers carry the peer port", "bgp_peers carry no peer port"),
    "bgp_peer_slash_options": ("MP-BGP options follow a '/' in bgp_peers", "MP-BGP options are bgp_peers' sixth field"),
    "drop_all_capabilities": ("the container drops every other capability", "the container keeps its default capabilities"),
    "clean_routes_deletes_all": ("route cleaning deletes every route (the plan refuses it)", "route cleaning is safe"),
    "client_through_vip": ("the control-plane instance elects through its own VIP (localhost rewrite rendered)",
                           "the control-plane instance elects through admin.conf's server"),
}


def image_version(image):
    """'ghcr.io/kube-vip/kube-vip:v0.9.2' -> (0, 9, 2); None for a digest, no tag, or a tag that is no version."""
    if not image or "@" in image:
        return None
    name = image.rsplit("/", 1)[-1]
    if ":" not in name:
        return None
    try:
        return parse_version(name.rsplit(":", 1)[1])
    except ValueError:
        return None


def release_changes(running_image, target_version):
    """Sentences for every release-dependent setting that differs between the image a node runs and the target.

    An image whose tag is no version (a digest, a custom tag) gets one sentence saying its release is unknown.
    """
    target = parse_version(target_version)
    current = image_version(running_image)
    if current is None:
        return ["the running image %s names no release: every setting is rendered for %s"
                % (running_image or "(none)", format_version(target))]
    out = []
    for fact, (holds, otherwise) in sorted(_SENTENCES.items()):
        before, after = kube_vip_has(current, fact), kube_vip_has(target, fact)
        if before != after:
            out.append("%s -> %s: %s (was: %s)" % (format_version(current), format_version(target),
                                                   holds if after else otherwise, holds if before else otherwise))
    return out


def plan_lines(plan, nodes):
    """What upgrade.yml will do, as it shows it: the cluster objects' line, then one line per control-plane node.

    ``nodes``: in play order, {"name", "holder" (carries the control-plane VIP now), "pending" (not on the target
    release yet, or not running it), "image" (what its manifest runs now, None without a manifest)}. A pending node
    gets the release-dependent settings that change for it (release_changes); the holder is moved first, upgraded last.
    """
    lines = ["kube-vip %s, services and cloud provider through the cluster objects" % plan["kube_vip"]["image"]]
    for node in nodes:
        if not node["pending"]:
            lines.append("%s: already on the target, skipped" % node["name"])
            continue
        changes = "; ".join(release_changes(node["image"], plan["kube_vip"]["version"]))
        lines.append("%s%s: runs %s -> upgrade; %s" % (
            node["name"], " (VIP holder, moved first, upgraded last)" if node["holder"] else "",
            node["image"] or "no kube-vip manifest", changes or "no release-dependent setting changes"))
    return lines

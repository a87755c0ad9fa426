# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MetalLB's objects from ``vip_plan``: IPAddressPools with their advertisements, BGPPeers and the
Secrets of their passwords. Pure functions, dicts in, dicts out, as in ``render`` (whose labels and
password lookup they share).
"""
from __future__ import annotations

from ansible_collections.baremetal.vip.plugins.plugin_utils.render import meta, peer_password, plain

# ---------------------------------------------------------------- MetalLB


def _selectors(value):
    return [plain(s) for s in value or []]


def metallb_pools(plan, cluster):
    """IPAddressPool and its L2Advertisement or BGPAdvertisement, per pool, pool by pool."""
    plan = plain(plan)
    ns = plan["services"]["metallb"]["namespace"]
    out = []
    for pool in plan["services"]["pools"]:
        out.append({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                    "metadata": meta(pool["name"], cluster, "pool", ns, "metallb"),
                    "spec": {"addresses": pool["addresses"], "autoAssign": pool["auto_assign"]}})
        spec = {"ipAddressPools": [pool["name"]]}
        if pool["advertisement"] == "l2":
            kind = "L2Advertisement"
            if pool["interfaces"]:
                spec["interfaces"] = pool["interfaces"]
        else:
            kind = "BGPAdvertisement"
        if pool["node_selectors"]:
            spec["nodeSelectors"] = _selectors(pool["node_selectors"])
        out.append({"apiVersion": "metallb.io/v1beta1", "kind": kind,
                    "metadata": meta(pool["name"], cluster, "advertisement", ns, "metallb"), "spec": spec})
    return out


def metallb_bgp_peers(plan, cluster):
    """One BGPPeer (v1beta2) per plan peer; passwords only by ``passwordSecret``."""
    plan = plain(plan)
    ns = plan["services"]["metallb"]["namespace"]
    bgp = plan["bgp"]
    out = []
    for peer in plan["services"]["metallb"]["bgp_peers"]:
        spec = {"myASN": bgp["local_as"], "peerASN": peer["as"], "peerAddress": peer["address"],
                "peerPort": peer["port"], "holdTime": "%ss" % bgp["hold_time"]}
        # native BGP mode refuses keepaliveTime (the plan leaves it null there)
        if plan["services"]["metallb"]["keepalive_time"] is not None:
            spec["keepaliveTime"] = "%ss" % plan["services"]["metallb"]["keepalive_time"]
        if peer["multihop"]:
            spec["ebgpMultiHop"] = True
        if bgp.get("router_id"):
            spec["routerID"] = bgp["router_id"]
        if bgp.get("source_address"):
            spec["sourceAddress"] = bgp["source_address"]
        if peer.get("password_secret"):
            spec["passwordSecret"] = {"name": peer["password_secret"]["name"], "namespace": ns}
        if peer["node_selectors"]:
            spec["nodeSelectors"] = _selectors(peer["node_selectors"])
        out.append({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
                    "metadata": meta(peer["name"], cluster, "bgp-peer", ns, "metallb"), "spec": spec})
    return out


def _single_node(selectors):
    """The node name when ``selectors`` is exactly one ``kubernetes.io/hostname`` label (a per-host peer)."""
    if len(selectors or []) == 1 and list(selectors[0]) == ["matchLabels"]:
        labels_ = selectors[0]["matchLabels"]
        if list(labels_) == ["kubernetes.io/hostname"]:
            return labels_["kubernetes.io/hostname"]
    return None


def metallb_bgp_secrets(plan, cluster, passwords, host_passwords=None):
    """The basic-auth Secrets MetalLB reads BGP passwords from (contain the passwords).

    ``host_passwords``: inventory host → password map of its ``vip_bgp_peers``; a peer that the
    plan pins to one node takes the password from that node's host first.
    """
    plan = plain(plan)
    ns = plan["services"]["metallb"]["namespace"]
    by_node = {n["node_name"]: h for h, n in plan["nodes"].items()}
    out = []
    for peer in plan["services"]["metallb"]["bgp_peers"]:
        ref = peer.get("password_secret")
        if not ref:
            continue
        host = by_node.get(_single_node(peer.get("node_selectors")))
        lookup = dict(passwords or {})
        lookup.update((host_passwords or {}).get(host) or {})
        password = peer_password(dict(peer, has_password=True), lookup, "MetalLB BGPPeer %s" % peer["name"])
        out.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta(ref["name"], cluster, "bgp-peer", ns, "metallb"),
                    "type": "kubernetes.io/basic-auth", "stringData": {ref.get("key", "password"): password}})
    return out

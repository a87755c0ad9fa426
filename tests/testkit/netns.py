# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""iproute2 as the witness inside a lab node's network namespace."""

from __future__ import annotations

import json
import re
import subprocess

VIP = "192.0.2.10/32"  # the control-plane VIP of examples/lab


def witness(netns, *args):
    """``ip -n NETNS -j ARGS``, parsed."""
    return json.loads(subprocess.run(["ip", "-n", netns, "-j"] + list(args), capture_output=True, text=True,
                                     check=True).stdout or "[]")


def addresses(netns):
    """Every address of the namespace, as ADDRESS/PREFIX."""
    return {"%s/%s" % (a["local"], a["prefixlen"]) for link in witness(netns, "addr", "show")
            for a in link.get("addr_info", [])}


def holders(the_lab, vip=VIP):
    """Lab nodes that carry VIP (ADDRESS/PREFIX)."""
    return [n["name"] for n in the_lab.nodes if vip in addresses(n["netns"])]


def kube_vip_routes(netns):
    """Destinations of kube-vip's routes (table 198, protocol 248) in the namespace."""
    return sorted(r["dst"] for r in witness(netns, "route", "show", "table", "198") if r.get("protocol") == "248")


def vip_holders(the_lab, vip):
    """Nodes whose interfaces carry the VIP, read with iproute2 in each node's namespace."""
    found = []
    for node in the_lab.nodes:
        out = subprocess.run(["ip", "-n", node["netns"], "-o", "addr", "show"], capture_output=True, text=True,
                             check=True).stdout
        if re.search(r"\binet %s/" % re.escape(vip), out):
            found.append(node["name"])
    return found


def link_mac(netns, link):
    """The MAC address of LINK in namespace NETNS."""
    return json.loads(subprocess.run(["ip", "-j", "-n", netns, "link", "show", link], capture_output=True, text=True,
                                     check=True).stdout)[0]["address"]

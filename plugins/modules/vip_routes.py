#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vip_routes
short_description: Reconcile kube-vip's routing table (routing-table mode)
description:
  - Adds the routes kube-vip would add for the given VIPs, exactly as kube-vip adds them (unicast host route
    /32 or /128 on the interface, no gateway, scope universe, in O(table) with protocol O(protocol)).
  - A VIP in O(routes) keeps one route of O(table) and O(protocol) that is kube-vip's route through the asked
    interface (unicast, no gateway, no next hops, scope universe or link). Its other routes of that table and
    protocol (another interface, a gateway, a multipath route) are replaced, with or without O(prune).
  - With O(prune), also removes every other route of O(table) B(and) O(protocol), whatever its prefix. A route of
    another protocol or another table is never removed.
  - Each deletion names the route exactly (interface, gateway or next hops, metric, type, scope). Where a VIP has
    several routes the table is read back after the change; a route the kernel removed in place of another is put
    back (RV(restored), with a warning).
  - Host routes of O(table) with another protocol (kube-vip releases that did not set a protocol wrote them)
    are reported in RV(legacy_routes) and removed only when named in O(remove_legacy).
  - All options are checked before anything changes.
version_added: 0.1.0
author: baremetal.vip contributors (@baremetal-vip)
extends_documentation_fragment:
  - baremetal.vip.host
  - baremetal.vip.host.route_scope
options:
  # table and protocol (baremetal.vip.host.route_scope) come from plugins/doc_fragments/host.py.
  routes:
    description:
      - The routes that must exist.
      - For many routes through one interface, O(destinations) with O(interface) says the same in a compact form.
    type: list
    elements: dict
    default: []
    suboptions:
      destination:
        description: The VIP, as an address or a host CIDR (/32, /128).
        type: str
        required: true
        aliases: [address]
      interface:
        description: The interface the route points to (the VIP interface).
        type: str
        required: true
  destinations:
    description:
      - The compact form of O(routes) for many VIPs through one interface; each is an address or a host CIDR (/32, /128).
      - The same as O(routes) with one C(destination) and O(interface) per item. Mutually exclusive with O(routes).
    type: list
    elements: str
  interface:
    description: The interface every route of O(destinations) points to. Required with O(destinations).
    type: str
  return_routes:
    description:
      - Which routes the result lists; RV(counts) is always returned.
      - V(changed) lists the routes added, removed and restored, and the legacy routes that remain. With O(destinations),
        the routes added and removed are listed by destination (RV(added_destinations), RV(removed_destinations)).
      - V(all) also lists every route of the table with O(protocol) after the change in RV(routes).
      - V(none) lists none of them, only RV(counts).
      - A task that fails returns every list, whatever this says.
    type: str
    choices: [changed, all, none]
    default: changed
  prune:
    description: Remove routes of O(table) with protocol O(protocol) that are not in O(routes).
    type: bool
    default: false
  remove_legacy:
    description: Legacy host routes (addresses or host CIDRs) of O(table) to remove, whatever their protocol.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Reports what would change, changes nothing.
    support: full
  diff_mode:
    description: Routes of the table before and after, one per line (built only in diff mode).
    support: full
notes:
  - With O(prune) or O(remove_legacy) the module may remove routes, so O(table) 253, 254 and 255 and O(protocol) 0
    to 4 are then refused. Without them it only adds and replaces routes of the VIPs in O(routes), in any table but 0.
  - Adding a VIP's route while O(table) has a route of another protocol to it fails until that route is named in
    O(remove_legacy). Where kube-vip's route is there already, the other one is only reported in RV(legacy_routes).
  - When the kernel refuses a change, the task fails, with C(changed) and RV(added), RV(removed), RV(not_added),
    RV(not_removed) and RV(routes) as the kernel has them.
seealso:
  - module: baremetal.vip.vip_facts
"""

EXAMPLES = r"""
- name: The control-plane VIP route, nothing else of kube-vip's in the table
  baremetal.vip.vip_routes:
    table: "{{ vip_plan.owned.route_table }}"
    protocol: "{{ vip_plan.owned.route_protocol }}"
    routes:
      - destination: "{{ vip_plan.control_plane.address }}"
        interface: "{{ vip_plan.nodes[inventory_hostname].interface }}"
    prune: true

- name: Thousands of Service VIP routes through one interface, the result with counts only
  baremetal.vip.vip_routes:
    destinations: "{{ service_vips }}"
    interface: eth0
    prune: true
    return_routes: none

- name: Remove a route an old kube-vip release left with protocol boot
  baremetal.vip.vip_routes:
    remove_legacy: [198.51.100.7/32]
"""

RETURN = r"""
counts:
  description: How many routes of the table with O(protocol) there are after the change (before it, in check mode), and
    how many were added, removed, and how many legacy routes remain.
  returned: always
  type: dict
  sample: {"routes": 25000, "added": 0, "removed": 25000, "legacy_routes": 0}
added:
  description: Routes added (or that would be, in check mode).
  returned: with O(routes) unless O(return_routes=none); with O(return_routes=all); when the task fails
  type: list
  elements: dict
  sample: [{"destination": "198.51.100.7/32", "interface": "eth0", "table": 198, "protocol": 248, "type": "unicast",
            "family": "ipv4"}]
removed:
  description: Routes removed (or that would be).
  returned: with O(routes) unless O(return_routes=none); with O(return_routes=all); when the task fails
  type: list
  elements: dict
added_destinations:
  description: The destination of each route added (or that would be), in place of RV(added).
  returned: with O(destinations) and O(return_routes=changed), unless the task fails
  type: list
  elements: str
  sample: ["198.51.100.7/32", "2001:db8::7/128"]
removed_destinations:
  description: The destination of each route removed (or that would be; one item per route), in place of RV(removed).
  returned: with O(destinations) and O(return_routes=changed), unless the task fails
  type: list
  elements: str
  sample: ["198.51.100.8/32"]
legacy_routes:
  description: Legacy host routes of the table that remain (not named in O(remove_legacy)).
  returned: unless O(return_routes=none)
  type: list
  elements: dict
routes:
  description: Routes of the table with O(protocol), after the change (before it, in check mode); fields as in vip_facts.
  returned: with O(return_routes=all), and when the task fails
  type: list
  elements: dict
restored:
  description: Routes the kernel removed in place of a route this task removed (a deletion matched both), put back.
  returned: when any
  type: list
  elements: dict
not_added:
  description: Routes that were to be added and are not (the kernel refused them).
  returned: when the kernel refused a change
  type: list
  elements: dict
not_removed:
  description: Routes that were to be removed and are still there.
  returned: when the kernel refused a change
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks


def main():
    argument_spec = dict(
        hosttasks.ROUTE_SCOPE_OPTIONS,
        routes=dict(type="list", elements="dict", default=[], options=dict(
            destination=dict(type="str", required=True, aliases=["address"]),
            interface=dict(type="str", required=True),
        )),
        destinations=dict(type="list", elements="str"),
        interface=dict(type="str"),
        return_routes=dict(type="str", choices=["changed", "all", "none"], default="changed"),
        prune=dict(type="bool", default=False),
        remove_legacy=dict(type="list", elements="str", default=[]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("routes", "destinations")], required_together=[("destinations", "interface")])
    hosttasks.run(module, hosttasks.reconcile_routes, diff=True)


if __name__ == "__main__":
    main()

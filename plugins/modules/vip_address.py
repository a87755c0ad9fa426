#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vip_address
short_description: Ensure a VIP is present or absent on an interface; prune stray owned VIPs
description:
  - Adds or removes one VIP the way kube-vip does (a /32 or /128 address, IPv6 without duplicate address detection).
  - With O(prune) and O(owned_ranges), removes every address inside those ranges that is not wanted on this
    host (for example a Service VIP a wrong controller bound to a control-plane node). Addresses outside
    O(owned_ranges), O(protected_addresses) and O(keep_addresses) are never removed. A point-to-point address is
    removed as the kernel holds it (address and peer).
  - A removal the kernel would not make alone is not made (RV(spared), with a warning) - the last IPv4 address of an
    interface that carries IPv4 routes (the kernel would flush every IPv4 route through it, in every table), and a
    primary IPv4 address whose secondary addresses stay (the kernel would delete or promote them).
  - Optionally announces a present VIP on its interface (gratuitous ARP for IPv4, unsolicited neighbour
    advertisement for IPv6), from a raw socket bound to that interface only.
  - All options are checked before anything changes.
version_added: 0.1.0
author: baremetal.vip contributors (@baremetal-vip)
extends_documentation_fragment:
  - baremetal.vip.host
options:
  address:
    description: The VIP (an address, no prefix). Required unless O(prune) is used alone, or O(addresses) is given.
    type: str
  addresses:
    description:
      - The compact form of O(address) for many VIPs with the same O(prefix), O(interface) and O(state), in one run (for
        example the Service VIPs a node must give up). Mutually exclusive with O(address) and with O(announce).
      - Each is checked as O(address) is; the messages name it C(addresses[N]). An empty list asks for nothing.
    type: list
    elements: str
  prefix:
    description: Prefix length of the VIP. Default 32 (IPv4) or 128 (IPv6), as kube-vip.
    type: int
  interface:
    description:
      - The interface of the VIP. Required with O(state=present).
      - With O(state=absent), omit it to remove the VIP from every interface.
    type: str
  state:
    description: Whether O(address) (or each of O(addresses)) must be on O(interface).
    type: str
    choices: [present, absent]
    default: present
  owned_ranges:
    description:
      - Addresses, CIDRs or C(first-last) ranges kube-vip owns (C(vip_plan.owned.addresses) or
        C(vip_plan.owned.service_addresses)). Required with O(prune); O(address) must lie inside them when given.
    type: list
    elements: str
    default: []
  prune:
    description: Remove addresses inside O(owned_ranges) that are not O(address) on O(interface) or in O(keep_addresses).
    type: bool
    default: false
  keep_addresses:
    description: Addresses inside O(owned_ranges) that this host may hold (on any interface); never pruned.
    type: list
    elements: str
    default: []
  protected_addresses:
    description: Addresses never removed nor managed, whatever else is asked (the node's own, C(vip_node_ip)).
    type: list
    elements: str
    default: []
    aliases: [node_ip]
  announce:
    description: After the VIP is present, announce it on O(interface) (gratuitous ARP / unsolicited NA).
    type: bool
    default: false
  announce_count:
    description: How many announcements to send.
    type: int
    default: 3
attributes:
  check_mode:
    description: Reports what would change, changes and sends nothing.
    support: full
  diff_mode:
    description: Addresses of the host before and after, one per line (built only in diff mode).
    support: full
notes:
  - An announcement does not count as a change; RV(announced) tells whether one was sent. Nothing is sent on a
    loopback, NOARP or non-Ethernet interface (RV(announce_skipped) says why, with a warning).
  - When the kernel refuses a change, or the announcement fails after the address was added, the task fails with
    C(changed) and RV(added), RV(removed) (and RV(not_added), RV(not_removed)) as the kernel has them.
seealso:
  - module: baremetal.vip.vip_facts
"""

EXAMPLES = r"""
- name: Hold the control-plane VIP and announce it
  baremetal.vip.vip_address:
    address: "{{ vip_plan.control_plane.address }}"
    interface: "{{ vip_plan.nodes[inventory_hostname].interface }}"
    owned_ranges: "{{ vip_plan.owned.addresses }}"
    protected_addresses: ["{{ vip_plan.nodes[inventory_hostname].node_ip }}"]
    announce: true

- name: Give up Service VIPs this node holds without their lease, in one run
  baremetal.vip.vip_address:
    addresses: ["198.51.100.20", "198.51.100.21", "2001:db8::20"]
    state: absent
    owned_ranges: "{{ vip_plan.owned.service_addresses }}"
    protected_addresses: ["{{ vip_plan.nodes[inventory_hostname].node_ip }}"]

- name: Remove Service VIPs a wrong controller bound to this control-plane node
  baremetal.vip.vip_address:
    owned_ranges: "{{ vip_plan.owned.service_addresses }}"
    protected_addresses: ["{{ vip_plan.nodes[inventory_hostname].node_ip }}"]
    prune: true
"""

RETURN = r"""
added:
  description: Addresses added (or that would be, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"address": "192.0.2.10", "prefix": 32, "interface": "eth0", "family": "ipv4"}]
removed:
  description: Addresses removed (or that would be).
  returned: always
  type: list
  elements: dict
announced:
  description: Whether an announcement was sent.
  returned: always
  type: bool
announce_skipped:
  description: Why nothing was announced although O(announce) asked for it.
  returned: when the interface cannot carry an announcement
  type: str
  sample: "192.0.2.10 not announced: lo is a loopback interface: there is no segment to announce to"
spared:
  description: Addresses that were to be removed and are not, each with C(reason).
  returned: when any
  type: list
  elements: dict
not_added:
  description: Addresses that were to be added and are not (the kernel refused them).
  returned: when the kernel refused a change
  type: list
  elements: dict
not_removed:
  description: Addresses that were to be removed and are still there.
  returned: when the kernel refused a change
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks


def main():
    argument_spec = dict(
        address=dict(type="str"),
        addresses=dict(type="list", elements="str"),
        prefix=dict(type="int"),
        interface=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        owned_ranges=dict(type="list", elements="str", default=[]),
        prune=dict(type="bool", default=False),
        keep_addresses=dict(type="list", elements="str", default=[]),
        protected_addresses=dict(type="list", elements="str", default=[], aliases=["node_ip"]),
        announce=dict(type="bool", default=False),
        announce_count=dict(type="int", default=3),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, mutually_exclusive=[("address", "addresses")])
    hosttasks.run(module, hosttasks.reconcile_address, diff=True)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vip_facts
short_description: Read the host's VIP state (addresses, kube-vip routes, IPVS services) in one pass
description:
  - Reads the network state kube-vip works with on a host, over netlink, changing nothing.
  - Addresses of every interface; the routes of kube-vip's routing table, dumped with the table in the
    request so the kernel does the filtering; IPVS virtual services with their real servers.
  - Routes of the table with kube-vip's protocol are returned in RV(routes); host routes of the table with
    another protocol (written by kube-vip releases that did not set a protocol) in RV(legacy_routes).
  - Also sets the fact C(vip_host) with the same data.
version_added: 0.1.0
author: baremetal.vip contributors (@baremetal-vip)
extends_documentation_fragment:
  - baremetal.vip.host
  - baremetal.vip.host.route_scope
  - baremetal.vip.host.read_only
options:
  # table and protocol (baremetal.vip.host.route_scope) come from plugins/doc_fragments/host.py.
  gather:
    description: What to read.
    type: list
    elements: str
    choices: [addresses, routes, ipvs]
    default: [addresses, routes, ipvs]
attributes:
  facts:
    description: Sets C(vip_host).
    support: full
notes:
  - When the kernel has no IPVS, or C(ip_vs) is not loaded, RV(ipvs_available) is C(false) and the module still
    succeeds.
  - The module only reads routes, so any O(table) but 0 and any O(protocol) are accepted.
seealso:
  - module: baremetal.vip.vip_routes
  - module: baremetal.vip.vip_address
  - module: baremetal.vip.ipvs_service
"""

EXAMPLES = r"""
- name: Read VIP state
  baremetal.vip.vip_facts:
    table: "{{ vip_plan.owned.route_table }}"
    protocol: "{{ vip_plan.owned.route_protocol }}"
  register: __vip_state

- name: Only addresses and routes
  baremetal.vip.vip_facts:
    gather: [addresses, routes]
"""

RETURN = r"""
addresses:
  description: Every IPv4 and IPv6 address of the host.
  returned: when addresses are gathered
  type: list
  elements: dict
  sample: [{"address": "192.0.2.10", "prefix": 32, "interface": "eth0", "family": "ipv4", "scope": "global", "peer": null,
            "secondary": false}]
routes:
  description:
    - Routes of O(table) with protocol O(protocol), in the kernel's order.
    - C(nexthops) lists the hops of a multipath route (C(gateway), C(interface), C(weight)); C(interface) and C(gateway) are
      then null. C(metric) is the route's priority (the kernel's default is 0 for IPv4, 1024 for IPv6).
    - A route has C(from) (source prefix), C(tos), C(prefsrc) or C(nhid) (nexthop object) only when it has them.
  returned: when routes are gathered
  type: list
  elements: dict
  sample: [{"destination": "198.51.100.7/32", "interface": "eth0", "table": 198, "protocol": 248, "type": "unicast",
            "scope": 0, "gateway": null, "nexthops": null, "metric": 0, "family": "ipv4"}]
legacy_routes:
  description: Host routes (/32, /128) of O(table) with another protocol, left by old kube-vip releases.
  returned: when routes are gathered
  type: list
  elements: dict
ipvs_available:
  description: Whether the kernel has IPVS, loaded (C(/proc/net/ip_vs) exists).
  returned: when ipvs is gathered
  type: bool
ipvs_services:
  description: IPVS virtual services (fwmark services have C(address) null) with their real servers.
  returned: when ipvs is gathered
  type: list
  elements: dict
  sample: [{"address": "192.0.2.10", "port": 6443, "protocol": "tcp", "scheduler": "rr", "family": "ipv4", "fwmark": null,
            "real_servers": [{"address": "192.0.2.11", "port": 6443, "weight": 1, "forward_method": "masquerade",
                              "active_connections": 0, "inactive_connections": 0}]}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks


def main():
    argument_spec = dict(
        hosttasks.ROUTE_SCOPE_OPTIONS,
        gather=dict(type="list", elements="str", choices=["addresses", "routes", "ipvs"],
                    default=["addresses", "routes", "ipvs"]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    hosttasks.run(module, hosttasks.gather_facts)


if __name__ == "__main__":
    main()

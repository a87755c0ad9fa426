#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ipvs_service
short_description: Verify and reconcile IPVS virtual services on the collection's VIPs
description:
  - Restores a missing virtual service (kube-proxy in IPVS mode deletes services it did not create), fixes its
    scheduler and real servers (added, removed, weight and forwarding method), and with O(prune) removes
    stale services on O(owned_addresses).
  - Services on other addresses and fwmark services are never touched; they are listed in RV(foreign). Their
    real servers are not read either (one real-server dump per service is most of the reading cost on hosts
    where kube-proxy runs in IPVS mode).
  - Changes are sent as batches of generic-netlink requests, each acknowledged by the kernel; a refused change
    fails the task with the operation, the service or real server and the kernel's errno, and the other
    changes of the batch are made.
  - Fails with a clear message when the kernel has no IPVS.
version_added: 0.1.0
author: baremetal.vip contributors (@baremetal-vip)
extends_documentation_fragment:
  - baremetal.vip.host
options:
  services:
    description: The virtual services that must exist.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: The VIP.
        type: str
        required: true
      port:
        description: The virtual service's port (1 to 65535).
        type: int
        required: true
      protocol:
        description: The protocol.
        type: str
        choices: [tcp, udp, sctp]
        default: tcp
      scheduler:
        description: The IPVS scheduler, by the kernel's name for it (for example C(rr), C(wrr), C(sh)).
        type: str
        default: rr
      real_servers:
        description:
          - The service's real servers, all of them. A real server of the service that is not listed here is one
            too many.
        type: list
        elements: dict
        default: []
        suboptions:
          address:
            description: The real server's address.
            type: str
            required: true
          port:
            description: The real server's port (1 to 65535). Default the service's port.
            type: int
          weight:
            description: The real server's weight (0 or more).
            type: int
            default: 1
          forward_method:
            description:
              - Forwarding method (kube-vip C(lb_fwdmethod)). Compared only when given; omitted, the kernel's is
                not judged.
              - A real server M(baremetal.vip.ipvs_service) adds without it gets C(route) (direct routing, the
                ipvsadm default).
            type: str
            choices: [masquerade, local, tunnel, route]
  owned_addresses:
    description:
      - Addresses, CIDRs or ranges of the VIPs the collection manages (C(vip_plan.owned.addresses)).
      - Every service in O(services) must be on one of them. Required with O(prune).
    type: list
    elements: str
    default: []
  prune:
    description: Remove services on O(owned_addresses) that are not in O(services).
    type: bool
    default: false
  return_services:
    description:
      - Which services the result lists; RV(counts) is always returned.
      - V(changed) lists the services added and removed and what was updated (RV(added), RV(removed), RV(updated)).
      - V(all) also lists the services left alone (RV(foreign)) and every virtual service (RV(services)).
      - V(none) lists none of them, only RV(counts).
      - A task that fails returns every list, whatever this says.
    type: str
    choices: [changed, all, none]
    default: changed
attributes:
  check_mode:
    description: Reports what would change, changes nothing.
    support: full
  diff_mode:
    description: The virtual services before and after, ipvsadm-like (built only in diff mode).
    support: full
notes:
  - A scheduler the kernel does not have (built in, or a module it can load) is refused by the kernel; the task
    fails naming the service, the scheduler and the kernel's errno.
seealso:
  - module: baremetal.vip.vip_facts
"""

EXAMPLES = r"""
- name: kube-vip's API server load balancer on the control-plane VIP
  baremetal.vip.ipvs_service:
    services:
      - address: "{{ vip_plan.control_plane.address }}"
        port: "{{ vip_plan.control_plane.load_balancer.port }}"
        real_servers: "{{ groups['kube_control_plane'] | map('extract', vip_plan.nodes) |
                          map(attribute='node_ip') | map('community.general.dict_kv', 'address') }}"
    owned_addresses: "{{ vip_plan.owned.addresses }}"
    prune: true
"""

RETURN = r"""
counts:
  description: How many virtual services there are after the change (before it, in check mode), and how many of each
    change and of RV(foreign) services.
  returned: always
  type: dict
  sample: {"services": 1334, "added": 0, "removed": 666, "schedulers": 0, "real_servers_added": 0,
           "real_servers_removed": 1334, "real_servers_updated": 0, "foreign": 0}
added:
  description: Services added, with their real servers.
  returned: unless O(return_services=none)
  type: list
  elements: dict
removed:
  description: Services removed, with their real servers as they were.
  returned: unless O(return_services=none)
  type: list
  elements: dict
updated:
  description: Scheduler changes and real servers added, removed or updated.
  returned: unless O(return_services=none)
  type: dict
  sample: {"schedulers": [], "real_servers_added": [], "real_servers_removed": [], "real_servers_updated": []}
foreign:
  description: Services left alone (not on O(owned_addresses), or fwmark services).
  returned: with O(return_services=all), and when the task fails
  type: list
  elements: str
  sample: ["TCP 203.0.113.5:80"]
services:
  description:
    - All virtual services after the change (before it, in check mode). After a change, this is the state read
      before with the acknowledged changes made; the table is not read again.
    - C(real_servers) is null for services whose real servers were not read (those in RV(foreign)).
  returned: with O(return_services=all), and when the task fails
  type: list
  elements: dict
  sample: [{"address": "192.0.2.10", "port": 6443, "protocol": "tcp", "scheduler": "rr", "family": "ipv4", "fwmark": null,
            "real_servers": [{"address": "192.0.2.11", "port": 6443, "weight": 1, "forward_method": "masquerade",
                              "active_connections": 0, "inactive_connections": 0}]},
           {"address": "203.0.113.5", "port": 80, "protocol": "tcp", "scheduler": "rr", "family": "ipv4", "fwmark": null,
            "real_servers": null}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks


def main():
    argument_spec = dict(
        services=dict(type="list", elements="dict", default=[], options=hosttasks.IPVS_SERVICE_OPTIONS),
        owned_addresses=dict(type="list", elements="str", default=[]),
        prune=dict(type="bool", default=False),
        return_services=dict(type="str", choices=["changed", "all", "none"], default="changed"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    hosttasks.run(module, hosttasks.reconcile_ipvs, diff=True)


if __name__ == "__main__":
    main()

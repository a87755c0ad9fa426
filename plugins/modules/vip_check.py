#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vip_check
short_description: Compare one node's VIP state with what the plan expects there, in one pass
description:
  - Reads the node's addresses, kube-vip's routing table, its IPVS services (only when O(ipvs_service) is given),
    the sysctls in O(sysctls) (from C(/proc/sys)) and the control-plane kube-vip static pod (only when
    O(static_pod) is given, one file) once, and returns what differs from the expectations as
    RV(findings). Changes nothing.
  - The judgement is that of the reconciling modules in check mode (M(baremetal.vip.vip_address) with prune,
    M(baremetal.vip.vip_routes) with prune, M(baremetal.vip.ipvs_service) with prune) - what they would change
    is what is wrong.
  - One call per node replaces the four of C(playbooks/verify.yml) before it (C(vip_facts), three check-mode
    reconcilers and a C(command) for the sysctls). The expectations come from the plan, built on the controller
    by the filter P(baremetal.vip.vip_check_options#filter).
version_added: 0.1.0
author: baremetal.vip contributors (@baremetal-vip)
extends_documentation_fragment:
  - baremetal.vip.host
  - baremetal.vip.host.route_scope
  - baremetal.vip.host.read_only
options:
  # table and protocol (baremetal.vip.host.route_scope) come from plugins/doc_fragments/host.py.
  control_plane:
    description:
      - The control-plane VIP. RV(vip_interfaces) says where the node holds it (its address, or in
        routing-table mode its route in O(table)); in routing-table mode its route is never stale.
      - Omit when the plan has no control-plane VIP.
    type: dict
    suboptions:
      address:
        description: The VIP.
        type: str
        required: true
      prefix:
        description: Its prefix length as kube-vip binds it (default /32, /128).
        type: int
      mode:
        description: kube-vip's mode for it.
        type: str
        choices: [arp, bgp, routing_table]
        default: arp
  service_ranges:
    description:
      - The ranges Service VIPs come from (the plan's owned service addresses). Addresses of the node inside them
        are returned in RV(service_vips).
    type: list
    elements: str
    default: []
  control_plane_only:
    description:
      - The node must hold no address inside O(service_ranges) (a control-plane-only node where Services are not
        placed); each one is a finding. O(protected_addresses) are never findings.
    type: bool
    default: false
  protected_addresses:
    description: The node's own addresses.
    type: list
    elements: str
    default: []
  watch_addresses:
    description: More Service VIPs (for example of the cluster's live Services) to return in RV(service_vips) when held.
    type: list
    elements: str
    default: []
  keep_routes:
    description:
      - Routes of O(table) with O(protocol) that are needed (Services' routes). Every other route of O(table) with
        O(protocol) is a finding (stale). Routes of other tables or protocols are never findings.
    type: list
    elements: dict
    default: []
    suboptions:
      destination:
        description: The VIP, as an address or a host CIDR (/32, /128).
        type: str
        required: true
      interface:
        description: Its interface; omitted, the route is needed on any interface.
        type: str
  ipvs_service:
    description:
      - kube-vip's IPVS load-balancer service on the control-plane VIP. It must exist, with these real servers
        (the API servers), on the node that holds the VIP and on no other node. Only checked where the kernel
        has IPVS loaded (else a note says so).
    type: dict
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
  sysctls:
    description: Sysctls and the values the plan wants (read from C(/proc/sys); an unreadable one is a finding).
    type: dict
    default: {}
  static_pod:
    description:
      - The control-plane kube-vip static pod of this node (a control-plane node where the plan runs kube-vip as a
        static pod). A missing or unparsable file is a finding, and so is an env C(svc_enable) other than
        O(static_pod.svc_enable) (failure 2, kube-vip and MetalLB or the services DaemonSet both serving Services).
      - Omit on other nodes.
    type: dict
    suboptions:
      path:
        description: The manifest (C(vip_plan.cluster.paths.static_pod_dir)/kube-vip.yaml).
        type: str
        required: true
      svc_enable:
        description:
          - What C(svc_enable) must be (an absent variable is off, as for kube-vip). Omitted, it is not judged.
        type: bool
      services_owner:
        description: Who handles Services instead, named in the finding (for example C(MetalLB)).
        type: str
notes:
  - Its judgement of routes is that of M(baremetal.vip.vip_routes) with prune, so O(table) 253, 254 and 255 and
    O(protocol) 0 to 4 are always refused.
seealso:
  - module: baremetal.vip.vip_facts
  - module: baremetal.vip.vip_address
  - module: baremetal.vip.vip_routes
  - module: baremetal.vip.ipvs_service
"""

EXAMPLES = r"""
- name: Check this node against the plan
  baremetal.vip.vip_check:
    table: "{{ _check.table }}"
    protocol: "{{ _check.protocol }}"
    control_plane: "{{ _check.control_plane }}"
    service_ranges: "{{ _check.service_ranges }}"
    control_plane_only: "{{ _check.control_plane_only }}"
    protected_addresses: "{{ _check.protected_addresses }}"
    keep_routes: "{{ _check.keep_routes }}"
    ipvs_service: "{{ _check.ipvs_service }}"
    sysctls: "{{ _check.sysctls }}"
    static_pod: "{{ _check.static_pod }}"
  vars:
    _check: "{{ vip_plan | baremetal.vip.vip_check_options(inventory_hostname) }}"
  register: __check

- name: Only the sysctls
  baremetal.vip.vip_check:
    sysctls:
      net.ipv4.conf.all.arp_ignore: "1"
      net.ipv4.conf.all.arp_announce: "2"
"""

RETURN = r"""
findings:
  description: What differs from the expectations, one sentence each.
  returned: always
  type: list
  elements: str
  sample: ["Service VIP 198.51.100.2/32 on eth0 of a control-plane-only node",
           "stale route 198.51.100.3/32 dev eth0 table 198 proto 248",
           "sysctl net.ipv4.conf.all.arp_ignore is 0, the plan wants 1"]
notes:
  description: What was not judged or was left alone (no IPVS; legacy routes of the table).
  returned: always
  type: list
  elements: str
  sample: ["IPVS not checked: this kernel has no IPVS"]
vip_interfaces:
  description: Interfaces holding the control-plane VIP on this node (empty when it does not hold it).
  returned: always
  type: list
  elements: str
  sample: ["eth0"]
interface_macs:
  description:
    - The MAC address of each interface in RV(vip_interfaces) and RV(service_vips) (what must answer ARP / NDP for
      those VIPs; M(baremetal.vip.vip_probe) asks from outside).
  returned: always
  type: dict
  sample: {"eth0": "02:00:00:00:00:01"}
service_vips:
  description: Addresses of the node inside O(service_ranges) or named in O(watch_addresses).
  returned: always
  type: list
  elements: dict
  sample: [{"address": "198.51.100.1", "prefix": 32, "interface": "eth0"}]
ipvs_available:
  description: Whether IPVS was readable (null when O(ipvs_service) is not given).
  returned: always
  type: bool
routes:
  description: The routes of O(table) with O(protocol) (kube-vip's) on this node, whatever the judgement of them.
  returned: always
  type: list
  elements: dict
  sample: [{"destination": "198.51.100.1/32", "interface": "eth0"}]
sysctls:
  description: The values read of the sysctls in O(sysctls) (null where unreadable).
  returned: always
  type: dict
  sample: {"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "0"}
static_pod:
  description:
    - What was read of O(static_pod.path) (null when O(static_pod) is not given) - C(path), C(present), C(error)
      and the value of C(svc_enable) (null when absent). The rest of its env is never returned.
  returned: always
  type: dict
  sample: {"path": "/etc/kubernetes/manifests/kube-vip.yaml", "present": true, "error": null, "svc_enable": "false"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks
from ansible_collections.baremetal.vip.plugins.module_utils import vipcheck


def main():
    argument_spec = dict(
        hosttasks.ROUTE_SCOPE_OPTIONS,
        control_plane=dict(type="dict", options=dict(
            address=dict(type="str", required=True),
            prefix=dict(type="int"),
            mode=dict(type="str", choices=["arp", "bgp", "routing_table"], default="arp"),
        )),
        service_ranges=dict(type="list", elements="str", default=[]),
        control_plane_only=dict(type="bool", default=False),
        protected_addresses=dict(type="list", elements="str", default=[]),
        watch_addresses=dict(type="list", elements="str", default=[]),
        keep_routes=dict(type="list", elements="dict", default=[], options=dict(
            destination=dict(type="str", required=True),
            interface=dict(type="str"),
        )),
        ipvs_service=dict(type="dict", options=hosttasks.IPVS_SERVICE_OPTIONS),
        sysctls=dict(type="dict", default={}),
        static_pod=dict(type="dict", options=dict(
            path=dict(type="str", required=True),
            svc_enable=dict(type="bool"),
            services_owner=dict(type="str"),
        )),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    hosttasks.run(module, vipcheck.check_node)


if __name__ == "__main__":
    main()

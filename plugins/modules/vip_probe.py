#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vip_probe
short_description: Look at the VIPs from outside the nodes - who answers ARP or NDP, and the API's TLS and /readyz
description:
  - Runs on a vantage point beside the nodes (C(playbooks/verify.yml) runs it on the host that
    C(vip_verify_outside.vantage) names, the controller by default) and asks what a client asks.
  - For each address of O(vips) on the vantage point's own segment, sends ARP requests (IPv4) or neighbour
    solicitations (IPv6) from the interface the kernel routes it through, on a raw packet socket, and collects
    every answer for O(timeout_ms). Exactly one MAC address must answer, and it must be one of
    O(vips[].expected) (the holder's) when that is given. An address reached through a gateway, or not at all,
    is not asked (a note says why). An address no node holds (O(vips[].expected) empty) that nothing answers is a
    note too.
  - With O(api), opens a TLS connection to O(api.address):O(api.port) that trusts only the cluster CA (the name
    checked is the address), and asks C(GET /readyz), which must answer C(200 ok).
  - What fails is returned in RV(findings), one sentence each; the module itself fails only when it cannot ask
    (no raw socket, an unreadable CA file).
version_added: 0.1.0
author: baremetal.vip contributors (@baremetal-vip)
extends_documentation_fragment:
  - baremetal.vip.host
  - baremetal.vip.host.read_only
options:
  vips:
    description: The ARP and NDP VIPs to ask for (the control-plane VIP in ARP mode, kube-vip's Service VIPs in ARP mode).
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: The VIP (IPv4 or IPv6).
        type: str
        required: true
      label:
        description: What it is, in the findings (for example C(control-plane VIP), C(Service VIP (default/web))).
        type: str
      expected:
        description:
          - The MAC addresses of the interfaces holding the VIP (the holders, as the nodes read them). The one MAC that
            answers must be among them. Omitted, only the number of answering MACs is judged; an empty list means
            no node holds the address, so any answer is wrong.
        type: list
        elements: dict
        suboptions:
          mac:
            description: The MAC address (C(aa:bb:cc:dd:ee:ff)).
            type: str
            required: true
          host:
            description: The node it belongs to, named in findings.
            type: str
  api:
    description: The control-plane VIP's API endpoint, checked over TLS. Omit to skip that check.
    type: dict
    suboptions:
      address:
        description: The control-plane VIP.
        type: str
        required: true
      port:
        description: Its port (1 to 65535).
        type: int
        default: 6443
      path:
        description: The path asked.
        type: str
        default: /readyz
      ca_file:
        description: The cluster CA (PEM) on the vantage point. Wins over O(api.kubeconfig).
        type: path
      kubeconfig:
        description:
          - A kubeconfig on the vantage point whose current cluster's certificate authority is the cluster CA. Only
            that is read of it; no credential of it is used or returned.
        type: path
      ca_missing:
        description: Why there is no CA, said in the note when neither O(api.ca_file) nor O(api.kubeconfig) is given.
        type: str
  timeout_ms:
    description:
      - How long to collect answers, in milliseconds (100 to 10000); three requests per address are spread over it.
        The TLS check waits at least 3 seconds.
    type: int
    default: 1000
notes:
  - It only asks (the frames are the questions any client on the segment sends) and runs the same in check mode.
  - Needs a raw packet socket (root or C(CAP_NET_RAW)) on the vantage point.
  - A node that is the vantage point and holds the VIP itself cannot see who else answers; a note says so.
seealso:
  - module: baremetal.vip.vip_check
"""

EXAMPLES = r"""
- name: Who answers for the control-plane VIP, and does the API answer through it
  baremetal.vip.vip_probe:
    vips:
      - address: 192.0.2.10
        label: control-plane VIP
        expected:
          - mac: "02:00:00:00:00:01"
            host: cp1
    api:
      address: 192.0.2.10
      port: 6443
      kubeconfig: /root/.kube/config
  register: __probe

- name: Count the answers only, IPv6
  baremetal.vip.vip_probe:
    vips:
      - address: 2001:db8::10
    timeout_ms: 500
"""

RETURN = r"""
vips:
  description: One record per O(vips) entry, in order.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The VIP.
      type: str
    label:
      description: Its label.
      type: str
    interface:
      description: The vantage point's interface toward it (null without a route).
      type: str
    macs:
      description: The distinct MAC addresses that answered, first seen first (null when not asked).
      type: list
      elements: str
    count:
      description: How many distinct MAC addresses answered (null when not asked).
      type: int
    expected:
      description: The holders' MAC addresses given.
      type: list
      elements: str
    holder:
      description: The node whose MAC answered, when it is one of O(vips[].expected).
      type: str
    ok:
      description: Exactly one MAC answered and it is the holder's; null when not checked.
      type: bool
    problem:
      description: What is wrong, or null.
      type: str
    note:
      description: Why it was not checked, or null.
      type: str
  sample: [{"address": "192.0.2.10", "label": "control-plane VIP", "interface": "br0", "macs": ["02:00:00:00:00:01"],
            "count": 1, "expected": ["02:00:00:00:00:01"], "holder": "cp1", "ok": true, "problem": null, "note": null}]
api:
  description: The TLS check of O(api) (null without O(api)).
  returned: always
  type: dict
  contains:
    address:
      description: The address connected to.
      type: str
    port:
      description: The port.
      type: int
    ca:
      description: Where the cluster CA came from (a path), null when it was not checked.
      type: str
    tls:
      description: Whether the TLS handshake succeeded with a certificate chaining to the CA and naming the address.
      type: bool
    readyz_status:
      description: The HTTP status of O(api.path).
      type: int
    readyz_body:
      description: The start of its body (C(ok) when ready).
      type: str
    peer:
      description: The common name of the server's certificate.
      type: str
    ok:
      description: TLS verified and C(200 ok); null when not checked.
      type: bool
    problem:
      description: The TLS or C(/readyz) failure in one sentence, or null.
      type: str
    note:
      description: Why the API was not checked (no route, no cluster CA), or null.
      type: str
  sample: {"address": "192.0.2.10", "port": 6443, "ca": "kubeconfig /root/.kube/config", "tls": true,
           "readyz_status": 200, "readyz_body": "ok", "peer": "kube-apiserver", "ok": true, "problem": null, "note": null}
findings:
  description: Every problem of RV(vips) and RV(api), one sentence each.
  returned: always
  type: list
  elements: str
  sample: ["control-plane VIP 192.0.2.10: 2 MAC addresses answer ARP on br0: 02:00:00:00:00:01 (cp1), 02:00:00:00:00:09
            (exactly one wanted, the holder's: 02:00:00:00:00:01 (cp1))"]
notes:
  description: What was not checked, and why.
  returned: always
  type: list
  elements: str
  sample: ["control-plane VIP 192.0.2.10: ARP not checked: the vantage point reaches it through the gateway 203.0.113.1,
            not on its segment"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks
from ansible_collections.baremetal.vip.plugins.module_utils import vipprobe


def main():
    argument_spec = dict(
        vips=dict(type="list", elements="dict", default=[], options=dict(
            address=dict(type="str", required=True),
            label=dict(type="str"),
            expected=dict(type="list", elements="dict", options=dict(
                mac=dict(type="str", required=True),
                host=dict(type="str"),
            )),
        )),
        api=dict(type="dict", options=dict(
            address=dict(type="str", required=True),
            port=dict(type="int", default=6443),
            path=dict(type="str", default="/readyz"),
            ca_file=dict(type="path"),
            kubeconfig=dict(type="path"),
            ca_missing=dict(type="str"),
        )),
        timeout_ms=dict(type="int", default=1000),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    hosttasks.run(module, vipprobe.probe)


if __name__ == "__main__":
    main()

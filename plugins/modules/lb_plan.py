# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The code is the action plugin plugins/action/lb_plan.py; this file carries its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lb_plan
short_description: Check the VIP inventory and set the C(vip_plan) fact
version_added: 0.1.0
description:
  - Reads the cluster variables C(vip_cluster), C(vip_kube_vip), C(vip_control_plane), C(vip_services),
    C(vip_bgp), C(vip_kube_proxy) and C(vip_verify_outside), and the per-host variables C(ansible_host), C(vip_node_ip),
    C(vip_node_name), C(vip_interface) and C(vip_bgp_peers) of every host in the groups
    C(kube_control_plane) and C(kube_node) (control plane first, inventory order).
  - Checks every rule of the collection's C(docs/plan.md) and returns one normalized fact, C(vip_plan),
    that roles and playbooks read instead of the raw variables.
  - Collects all errors before failing; each names the variable path and the conflicting values.
  - Runs on the controller only and never contacts a host, so it works when every host is unreachable.
    Use it with C(run_once=true).
  - BGP passwords are never copied into the plan; it records C(has_password) and the Secret name and key.
  - Needs the Python library C(netaddr) on the controller.
options:
  vip_cluster:
    description: Overrides the variable C(vip_cluster) (distro, kubernetes_version, node_cidrs, pod_cidrs, service_cidrs).
    type: dict
  vip_kube_vip:
    description: Overrides the variable C(vip_kube_vip) (version, image, cloud_provider_version, cloud_provider_image, prometheus_port).
    type: dict
  vip_control_plane:
    description: Overrides the variable C(vip_control_plane) (the control-plane VIP; absent means none).
    type: dict
  vip_services:
    description: Overrides the variable C(vip_services) (Service load balancer provider and pools).
    type: dict
  vip_bgp:
    description: Overrides the variable C(vip_bgp) (local AS, router id, source, timers, peers).
    type: dict
  vip_kube_proxy:
    description: Overrides the variable C(vip_kube_proxy) (mode, strict_arp, exclude_cidrs, cleanup_ipvs, manage).
    type: dict
  vip_verify_outside:
    description: Overrides the variable C(vip_verify_outside) (enabled, vantage, timeout_ms, ca_file of verify.yml's outside checks).
    type: dict
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
  - baremetal.vip.controller
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
requirements:
  - netaddr >= 1.3.0 (on the controller)
seealso:
  - name: The plan contract
    description: The inventory schema, the shape of C(vip_plan) and the rules, in the collection's C(docs/plan.md).
    link: https://example.invalid/baremetal/vip/docs/plan.md
author:
  - baremetal.vip developers (@baremetal)
"""

EXAMPLES = r"""
- name: Build and check the plan once for the whole cluster
  baremetal.vip.lb_plan:
  run_once: true

- name: Check a different services configuration than the inventory's
  baremetal.vip.lb_plan:
    vip_services:
      provider: metallb
      pools:
        - name: public
          addresses: [198.51.100.0/28]
  run_once: true
"""

RETURN = r"""
ansible_facts:
  description: The facts set by the plan.
  returned: success
  type: complex
  contains:
    vip_plan:
      description:
        - The normalized plan; its shape is documented in the collection's C(docs/plan.md).
        - Keys include C(schema), C(cluster), C(kube_vip), C(control_plane), C(services), C(bgp),
          C(kube_proxy), C(nodes), C(owned), C(warnings) and C(summary).
      returned: success
      type: dict
      sample:
        schema: 1
        summary: ["kubeadm 1.31.4 (ipv4), kube-vip 1.0.3, 5 nodes (3 control plane, 2 workers)"]
errors:
  description: Every rule violation found, one message each.
  returned: failure
  type: list
  elements: str
  sample: ["vip_services.pools[1] (web, 198.51.100.8/29) overlaps vip_services.pools[0] (public, 198.51.100.0/28)"]
"""

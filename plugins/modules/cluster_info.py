#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cluster_info
short_description: Read the live VIP state of a cluster from the Kubernetes API
version_added: "0.1.0"
description:
  - Reads, through a kubeconfig, what decides where virtual IPs live in a cluster and returns it
    as plain data, for verification and remediation.
  - The holders and renew ages of kube-vip's leases, the control-plane lease (C(plndr-cp-lock)),
    the services lease (C(plndr-svcs-lock)) and the per-service leases (C(kubevip-<service>) in
    the Service's namespace, or the name in annotation C(kube-vip.io/leaseName)).
  - Every Service of type C(LoadBalancer) with the addresses it asked for
    (C(spec.loadBalancerIP), annotation C(kube-vip.io/loadbalancerIPs)) and got
    (C(status.loadBalancer.ingress)), its class, C(externalTrafficPolicy) and kube-vip annotations,
    and its endpoints from its EndpointSlices (C(discovery.k8s.io/v1), label C(kubernetes.io/service-name)),
    the node of each and whether it is ready, which decides where C(externalTrafficPolicy=Local) traffic is
    served.
  - The live kube-proxy settings from ConfigMap C(kube-proxy) in C(kube-system), key
    C(config.conf) (C(mode), C(ipvs.strictARP), C(ipvs.excludeCIDRs)).
  - The nodes with their addresses, and the nodes where kube-vip runs (pods of the kube-vip
    DaemonSet, and kube-vip static pods).
  - The pods of k3s's or RKE2's ServiceLB (Klipper), which answers LoadBalancer Services itself, that is the pods labelled
    C(svccontroller.k3s.cattle.io/svcname) (or C(svccontroller.rke2.cattle.io/svcname)) in O(daemonset_namespace),
    ServiceLB's namespace unless k3s runs with C(--servicelb-namespace).
  - MetalLB's address pools with the advertisements that select them, when MetalLB's CRDs are
    installed (C(metallb.installed=false) otherwise; that is not an error here).
  - Read-only. Errors say what was being read and from which API address, and what to do about
    the usual causes (API unreachable, a kubeadm 1.29 or later C(admin.conf) without rights).
author: baremetal.vip contributors (@baremetal-vip)
attributes:
  check_mode:
    description: Can run in check mode; the module only reads, so it does the same.
    support: full
  diff_mode:
    description: Returns no diff; the module changes nothing.
    support: none
extends_documentation_fragment:
  - baremetal.vip.k8s_connection
options:
  lease_namespace:
    description:
      - Namespace of the control-plane lease (kube-vip's C(cp_namespace)), and of the services lease unless
        O(services_lease_namespace) is given.
    type: str
    default: kube-system
  services_lease_namespace:
    description:
      - Namespace of the services lease (that of kube-vip's services instance).
      - Omitted, O(lease_namespace).
    type: str
  control_plane_lease:
    description:
      - Name of the control-plane lease (kube-vip's C(vip_leasename)).
    type: str
    default: plndr-cp-lock
  services_lease:
    description:
      - Name of the services lease (kube-vip's C(svc_leasename)).
    type: str
    default: plndr-svcs-lock
  daemonset_name:
    description:
      - Name of the kube-vip DaemonSet.
    type: str
    default: kube-vip-ds
  daemonset_namespace:
    description:
      - Namespace of the kube-vip DaemonSet (and of kube-vip static pods).
    type: str
    default: kube-system
notes:
  - Needs C(list) on Leases, Services, Nodes, Pods (in O(daemonset_namespace)), EndpointSlices and MetalLB's
    IPAddressPools and advertisements, and C(get) on the DaemonSet and the ConfigMap C(kube-proxy).
  - Without C(list) on EndpointSlices (or on an API without C(discovery.k8s.io/v1)) the module still succeeds;
    each Service's RV(services[].endpoints) is then null and RV(services[].endpoints_error) says why.
  - On kubeadm 1.29 and later, C(/etc/kubernetes/admin.conf) has rights only once the
    ClusterRoleBinding C(kubeadm:cluster-admins) exists; use C(/etc/kubernetes/super-admin.conf)
    on the first control-plane node until then.
  - Renew ages are computed with the clock of the host the module runs on.
seealso:
  - module: baremetal.vip.k8s_apply_set
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Read the VIP state of the cluster
  baremetal.vip.cluster_info:
    kubeconfig: /etc/kubernetes/admin.conf
  register: __cluster

- name: Show who holds the control-plane VIP
  ansible.builtin.debug:
    msg: "{{ __cluster.leases.control_plane.holder }} (renewed {{ __cluster.leases.control_plane.renew_age_seconds }}s ago)"

- name: Services still waiting for an address
  ansible.builtin.debug:
    msg: "{{ __cluster.services | selectattr('ingress_ips', 'equalto', []) | map(attribute='name') | list }}"

- name: The first control-plane node of kubeadm 1.29+ during init
  baremetal.vip.cluster_info:
    kubeconfig: /etc/kubernetes/super-admin.conf
    control_plane_lease: plndr-cp-lock
"""

RETURN = r"""
api:
  description: Where the data was read from.
  returned: success
  type: dict
  contains:
    host:
      description: The API address of the kubeconfig (never its credentials).
      type: str
      sample: https://192.0.2.10:6443
leases:
  description: The control-plane and services leases.
  returned: success
  type: dict
  contains:
    control_plane:
      description: The control-plane lease; see O(control_plane_lease).
      type: dict
      sample:
        name: plndr-cp-lock
        namespace: kube-system
        present: true
        holder: cp1
        renew_time: "2026-01-01T10:00:00.000000Z"
        renew_age_seconds: 1.4
        lease_duration_seconds: 15
        expired: false
        transitions: 2
    services:
      description: The services lease, same keys as RV(leases.control_plane).
      type: dict
services:
  description: Services of type LoadBalancer, sorted by namespace and name.
  returned: success
  type: list
  elements: dict
  contains:
    namespace:
      description: Namespace of the Service.
      type: str
    name:
      description: Name of the Service.
      type: str
    load_balancer_class:
      description: C(spec.loadBalancerClass), or null.
      type: str
    external_traffic_policy:
      description: C(Cluster) or C(Local).
      type: str
    ingress_ips:
      description: Addresses in C(status.loadBalancer.ingress) (what a provider assigned).
      type: list
      elements: str
    requested_ips:
      description: C(spec.loadBalancerIP) and the addresses of annotation C(kube-vip.io/loadbalancerIPs).
      type: list
      elements: str
    ports:
      description: Ports and protocols.
      type: list
      elements: dict
    kube_vip_annotations:
      description: The Service's annotations whose key starts with C(kube-vip.io/).
      type: dict
    lease_name:
      description: The per-service lease kube-vip uses with service election.
      type: str
    lease:
      description: That lease, same keys as RV(leases.control_plane) (C(present=false) without service election).
      type: dict
    endpoints:
      description:
        - The endpoints of the Service's EndpointSlices, sorted by node, with C(node) (C(nodeName)), C(ready)
          (C(conditions.ready); unset counts as ready, as the API documents), C(serving), C(terminating) and
          C(addresses).
        - Null when the EndpointSlices could not be read; see RV(services[].endpoints_error).
      type: list
      elements: dict
      sample:
        - node: w2
          ready: true
          serving: true
          terminating: false
          addresses: [203.0.113.140]
    endpoints_error:
      description: Why the EndpointSlices could not be read (forbidden, or not served), or null.
      type: str
kube_proxy:
  description: The live kube-proxy configuration (ConfigMap C(kube-proxy), key C(config.conf)).
  returned: success
  type: dict
  contains:
    name:
      description: The ConfigMap's name (C(kube-proxy)).
      type: str
    namespace:
      description: The ConfigMap's namespace (C(kube-system)).
      type: str
    present:
      description: Whether the ConfigMap exists (k3s and RKE2 have none).
      type: bool
    mode:
      description: C(mode) as written; an empty string means the default (iptables).
      type: str
    strict_arp:
      description: C(ipvs.strictARP).
      type: bool
    exclude_cidrs:
      description: C(ipvs.excludeCIDRs).
      type: list
      elements: str
    parse_error:
      description: Why C(config.conf) could not be read, or null.
      type: str
nodes:
  description: The cluster's nodes.
  returned: success
  type: list
  elements: dict
  sample:
    - name: cp1
      addresses: [{type: InternalIP, address: 192.0.2.11}, {type: Hostname, address: cp1}]
      internal_ips: [192.0.2.11]
      roles: [control-plane]
      ready: true
      has_vip_label: null
kube_vip:
  description: The kube-vip DaemonSet and where kube-vip pods run.
  returned: success
  type: dict
  contains:
    daemonset:
      description:
        - Name, namespace, C(present), C(desired) and C(ready) pod counts, container images (C(image)), and where its
          pods may run as the API has it, C(node_selector) (a dict) and C(affinity) (the pod template's, or null).
        - C(generation), C(observed_generation) (the status's C(observedGeneration), null or lower while no
          DaemonSet controller has seen the current template) and C(updated) (C(updatedNumberScheduled)).
        - C(env), the kube-vip container's env variables that choose what it serves and how (C(vip_arp), C(bgp_enable),
          C(vip_routingtable), C(vip_routingtableid), C(vip_routingprotocol), C(svc_enable), C(svc_election), ...;
          a value from a reference reads C((valueFrom))), null without the DaemonSet. No other variable is returned
          (C(bgp_peers) holds passwords).
      type: dict
    pods:
      description:
        - kube-vip pods with C(name), C(namespace), C(node), C(phase), C(ready) (the pod's C(Ready) condition in
          C(status.conditions) is C(True)), C(source) (C(daemonset) or C(static_pod)) and C(image) (the containers'
          images).
      type: list
      elements: dict
service_lb:
  description:
    - k3s/RKE2 ServiceLB (Klipper) pods in O(daemonset_namespace), per LoadBalancer Service they answer for
      (C(svclb-<service>-<uid>) DaemonSets; k3s-io/k3s C(pkg/cloudprovider/servicelb.go)). Empty C(services) when
      ServiceLB is off or serves no Service.
  returned: success
  type: dict
  contains:
    namespace:
      description: Where the pods were looked for.
      type: str
    services:
      description: C(service) (namespace/name), C(program) (k3s or rke2), C(pods) and C(nodes).
      type: list
      elements: dict
      sample:
        - service: default/web
          program: k3s
          pods: [svclb-web-7c71dc76-2bkr7, svclb-web-7c71dc76-ljqlk]
          nodes: [agent1, server1]
metallb:
  description: MetalLB's pools.
  returned: success
  type: dict
  contains:
    installed:
      description: Whether the API serves the C(metallb.io) group (the MetalLB CRDs are installed).
      type: bool
    pools:
      description: IPAddressPools with C(addresses), C(auto_assign), C(labels) and C(advertisements) (C(kind) l2 or bgp, C(name)).
      type: list
      elements: dict
      sample:
        - namespace: metallb-system
          name: public
          addresses: [198.51.100.0/28]
          auto_assign: true
          advertisements: [{kind: l2, name: public}]
          labels: {app.kubernetes.io/managed-by: baremetal.vip}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.baremetal.vip.plugins.module_utils import k8s_client
from ansible_collections.baremetal.vip.plugins.module_utils.k8s_state import DEFAULTS, gather


def main():
    argument_spec = dict(k8s_client.CONNECTION_ARGS)
    argument_spec.update((key, dict(type="str", default=value)) for key, value in DEFAULTS.items()
                         if key not in ("kube_proxy_configmap", "kube_proxy_namespace"))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not k8s_client.HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=k8s_client.KUBERNETES_IMPORT_ERROR)
    api = None
    try:
        api = k8s_client.connect(module.params)
        result = gather(api, dict((k, module.params[k]) for k in DEFAULTS if k in module.params))
    except k8s_client.K8sError as exc:
        module.fail_json(msg="reading the cluster's VIP state: %s" % exc)
    finally:
        if api is not None:
            api.close()
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

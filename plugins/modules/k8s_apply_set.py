#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: k8s_apply_set
short_description: Server-side apply a set of Kubernetes objects and prune what left the set
version_added: "0.1.0"
description:
  - Applies a list of objects with server-side apply under one field manager
    (C(baremetal.vip) by default), in a safe order, RBAC, then workloads, then ConfigMaps and
    Secrets, then MetalLB resources.
  - MetalLB resources are retried while the API server answers that MetalLB's admission webhook
    cannot be called (HTTP 5xx, C(failed calling webhook)), up to O(webhook_timeout) seconds. Nothing else is
    probed, so where no webhook is registered for C(metallb.io) nothing waits. A missing C(metallb.io)
    API (MetalLB CRDs not installed) is an explained error.
  - Every apply is sent with C(fieldValidation=Strict), as C(kubectl apply) does, so a field the
    object's schema (or a CRD's) lacks is refused naming the field, never silently dropped.
  - Every applied object gets the labels C(app.kubernetes.io/managed-by=baremetal.vip) and
    C(baremetal.vip/cluster=<set_name>) (the labels the render roles of this collection give
    every cluster object).
  - Pruning deletes objects of the applied kinds (and of O(prune_kinds)) that carry both labels
    with this O(set_name) and are not in O(objects). Nothing without these labels is ever
    deleted, and Namespaces are never pruned.
  - In check mode every write is a server-side dry run (C(dryRun=All)), so the diff shows what
    the API server itself would store, defaults and webhooks included.
  - Unlike M(kubernetes.core.k8s), which applies one object or file and has no pruning of a
    labelled set, this module treats the objects as one set.
  - O(container_flags) adds command-line flags to a container of existing workloads the collection
    does not own (kube-proxy's C(--cleanup-ipvs) before Kubernetes 1.21). The workload is read, and only a flag whose
    name is in neither C(command) nor C(args) (with any value) is added, with a JSON patch whose
    C(test) operations make the API server refuse it if the container changed since it was read.
author: baremetal.vip contributors (@baremetal-vip)
attributes:
  check_mode:
    description: Every apply and delete is a server-side dry run (C(dryRun=All)); nothing is stored.
    support: full
  diff_mode:
    description: One entry per created, changed or deleted object, as the API server stores it; Secret values masked.
    support: full
extends_documentation_fragment:
  - baremetal.vip.k8s_connection
options:
  objects:
    description:
      - The desired objects (complete manifests as mappings).
      - Put Secret values in O(secret_string_data), not here, so that they are never logged.
    type: list
    elements: dict
    required: true
  set_name:
    description:
      - Names the set, as the value of label C(baremetal.vip/cluster), normally the cluster's
        name (C(vip_plan.cluster.name), V(default) when unset). Pruning only touches objects of
        this set. At most 63 characters.
    type: str
    default: default
  namespace:
    description:
      - Namespace for namespaced objects that name none.
    type: str
  prune:
    description:
      - Delete objects of this set that are no longer in O(objects).
    type: bool
    default: true
  prune_kinds:
    description:
      - Kinds to prune besides those present in O(objects), so that the last object of a kind is
        pruned too. Kinds the API does not serve are skipped.
    type: list
    elements: dict
    default: []
    suboptions:
      apiVersion:
        description: API version, e.g. C(metallb.io/v1beta1).
        type: str
        required: true
      kind:
        description: Kind, e.g. C(IPAddressPool).
        type: str
        required: true
  field_manager:
    description:
      - The server-side apply field manager.
    type: str
    default: baremetal.vip
  force_conflicts:
    description:
      - Take over fields another manager owns (C(force=true)), as a configuration tool should.
    type: bool
    default: true
  webhook_timeout:
    description:
      - Seconds to keep retrying MetalLB resources while the API server cannot call MetalLB's webhook.
      - V(0) fails at the first such refusal instead of waiting.
    type: int
    default: 120
  retry_delay:
    description:
      - Seconds between two tries while waiting for the webhook.
    type: float
    default: 2.0
  secret_string_data:
    description:
      - 'Values of Secrets by C(<namespace>/<name>), each a mapping of key to value, merged into the
        C(stringData) of the Secret of O(objects) with that namespace and name. Never logged.'
    type: dict
    default: {}
  container_flags:
    description:
      - Flags to add to a container of existing workloads, after the set is applied and pruned.
      - A flag is added only when the container has no flag of that name in C(command) or C(args), whatever
        its value there; a value someone set is kept. A workload that does not exist is left alone
        (RV(container_flags[].found) false). Nothing is ever removed.
      - Flags go to C(command) when the container has one, else to C(args).
    type: list
    elements: dict
    default: []
    suboptions:
      apiVersion:
        description: API version of the workload.
        type: str
        default: apps/v1
      kind:
        description: Kind of the workload (it has a pod template).
        type: str
        default: DaemonSet
      name:
        description: Name of the workload.
        type: str
        required: true
      namespace:
        description: Namespace of the workload.
        type: str
        default: kube-system
      container:
        description: Name of the container; the first container when unset.
        type: str
      flags:
        description: Flags as C(--name=value).
        type: list
        elements: str
        required: true
notes:
  - On kubeadm 1.29 and later, C(/etc/kubernetes/admin.conf) has rights only once the
    ClusterRoleBinding C(kubeadm:cluster-admins) exists; use C(/etc/kubernetes/super-admin.conf)
    on the first control-plane node until then.
  - A server-side dry run cannot create a namespaced object in a namespace that does not exist
    yet; in check mode such objects are shown as they are given.
seealso:
  - module: baremetal.vip.cluster_info
  - module: kubernetes.core.k8s
  - name: Server-side apply
    description: Kubernetes documentation of server-side apply and field management.
    link: https://kubernetes.io/docs/reference/using-api/server-side-apply/
"""

EXAMPLES = r"""
- name: Apply the MetalLB configuration, pruning pools that left the inventory
  baremetal.vip.k8s_apply_set:
    kubeconfig: /etc/kubernetes/admin.conf
    set_name: default
    objects: "{{ lookup('ansible.builtin.file', 'build/cluster/metallb.yaml') | ansible.builtin.from_yaml_all | list }}"
    prune_kinds:
      - {apiVersion: metallb.io/v1beta1, kind: IPAddressPool}
      - {apiVersion: metallb.io/v1beta1, kind: L2Advertisement}
      - {apiVersion: metallb.io/v1beta1, kind: BGPAdvertisement}
      - {apiVersion: metallb.io/v1beta2, kind: BGPPeer}
    webhook_timeout: 180

- name: A BGP password Secret, its value kept out of the logs
  baremetal.vip.k8s_apply_set:
    kubeconfig: /etc/kubernetes/admin.conf
    set_name: bgp-secrets
    objects:
      - apiVersion: v1
        kind: Secret
        metadata: {name: vip-bgp-peer-192-0-2-1, namespace: metallb-system}
        type: Opaque
    secret_string_data:
      metallb-system/vip-bgp-peer-192-0-2-1: {password: "{{ vault_bgp_password }}"}
"""

RETURN = r"""
applied:
  description: Every object of O(objects), in apply order, with what happened to it.
  returned: always
  type: list
  elements: dict
  sample:
    - {apiVersion: metallb.io/v1beta1, kind: IPAddressPool, name: public, namespace: metallb-system, action: created}
  contains:
    action:
      description: C(created), C(configured) or C(unchanged) (in check mode, what would happen).
      type: str
pruned:
  description: Objects deleted (in check mode, that would be deleted) because they left the set.
  returned: always
  type: list
  elements: dict
  sample:
    - {apiVersion: metallb.io/v1beta1, kind: IPAddressPool, name: old, namespace: metallb-system, action: deleted}
webhook_retries:
  description: How many times a MetalLB resource was retried while the webhook was not ready.
  returned: always
  type: int
  sample: 0
container_flags:
  description: One entry per O(container_flags) item, with the flags added (in check mode, that would be added).
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: DaemonSet, name: kube-proxy, namespace: kube-system, found: true, added: ["--cleanup-ipvs=true"]}
  contains:
    found:
      description: Whether the workload exists.
      type: bool
    added:
      description: The flags added; empty when every flag was there already.
      type: list
      elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.baremetal.vip.plugins.module_utils import k8s_client
from ansible_collections.baremetal.vip.plugins.module_utils.k8s_apply import apply_set, ensure_container_flags


def main():
    argument_spec = dict(k8s_client.CONNECTION_ARGS)
    argument_spec.update(
        objects=dict(type="list", elements="dict", required=True),
        set_name=dict(type="str", default="default"),
        namespace=dict(type="str"),
        prune=dict(type="bool", default=True),
        prune_kinds=dict(type="list", elements="dict", default=[], options=dict(
            apiVersion=dict(type="str", required=True), kind=dict(type="str", required=True))),
        field_manager=dict(type="str", default="baremetal.vip"),
        force_conflicts=dict(type="bool", default=True),
        webhook_timeout=dict(type="int", default=120),
        retry_delay=dict(type="float", default=2.0),
        secret_string_data=dict(type="dict", default={}, no_log=True),
        container_flags=dict(type="list", elements="dict", default=[], options=dict(
            apiVersion=dict(type="str", default="apps/v1"), kind=dict(type="str", default="DaemonSet"),
            name=dict(type="str", required=True), namespace=dict(type="str", default="kube-system"),
            container=dict(type="str"), flags=dict(type="list", elements="str", required=True))),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not k8s_client.HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=k8s_client.KUBERNETES_IMPORT_ERROR)
    params = module.params
    api = None
    try:
        api = k8s_client.connect(params)
        result = apply_set(
            api, params["objects"], params["set_name"], check_mode=module.check_mode,
            namespace=params["namespace"], extra_prune_kinds=params["prune_kinds"],
            prune=params["prune"], force=params["force_conflicts"],
            field_manager=params["field_manager"], webhook_timeout=params["webhook_timeout"],
            retry_delay=params["retry_delay"], secret_string_data=params["secret_string_data"])
        result["container_flags"] = []
        for target in params["container_flags"]:
            done = ensure_container_flags(api, target, target["flags"], check_mode=module.check_mode,
                                          field_manager=params["field_manager"])
            result["changed"] = result["changed"] or done["changed"]
            result["diff"].extend(done.pop("diff"))
            result["container_flags"].append(dict(kind=target["kind"], name=target["name"], namespace=target["namespace"],
                                                  found=done["found"], added=done["added"]))
    except ValueError as exc:
        module.fail_json(msg="objects: %s" % exc)
    except k8s_client.K8sError as exc:
        module.fail_json(msg="applying the set %s: %s" % (params["set_name"], exc))
    finally:
        if api is not None:
            api.close()
    diff = result.pop("diff")
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()

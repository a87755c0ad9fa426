# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real lab's placement (the stand-in for the scheduler and the DaemonSet/Deployment controllers, for the
collection's own workloads and MetalLB's only): which nodes a pod may go to, MetalLB's workloads, and the
Placement part of reallab.RealLab that writes the pods for the nodes' runners."""

from __future__ import annotations

import json
import os
import shutil
import time

import yaml

from realsys import RealLabError


# ------------------------------------------------------------------ MetalLB in the lab
METALLB_NAMESPACE = "metallb-system"
# what the lab's placement places besides the collection's own workloads: MetalLB's, labelled as
# config/manifests/metallb-native.yaml labels them (MetalLB v0.16.1)
METALLB_SELECTOR = "app=metallb"
PLACED_SELECTORS = ("app.kubernetes.io/managed-by=baremetal.vip", METALLB_SELECTOR)


def metallb_image(name, version):
    """MetalLB's published image of NAME (controller, speaker) at VERSION, as its manifests name it."""
    return "quay.io/metallb/%s:v%s" % (name, version.lstrip("v"))


def metallb_workloads(version, namespace=METALLB_NAMESPACE):
    """MetalLB's controller (a Deployment) and speaker (a DaemonSet on every node), L2 only, for the lab's placement.

    What they rely on, MetalLB v0.16.1:
    - the controller (controller/main.go) reads its kubeconfig the controller-runtime way (in-cluster: the
      ServiceAccount token the placement writes, the API at KUBERNETES_SERVICE_HOST = the control-plane VIP);
      ``--webhook-mode=disabled`` and ``--disable-cert-rotation``: no webhook server, no certificate Secret (the lab
      registers no MetalLB webhook); no ``--ml-secret-name``: no memberlist Secret is created;
    - the speaker (speaker/main.go) needs ``--node-name`` (here the env METALLB_NODE_NAME from spec.nodeName, as
      metallb-native.yaml sets it); without METALLB_ML_BIND_ADDR / METALLB_ML_LABELS memberlist stays off
      (internal/speakerlist/speakerlist.go New), and then speaker/layer2_controller.go speakersForAds counts every
      Node object as having a speaker, less those with the NetworkUnavailable condition or the
      node.kubernetes.io/exclude-from-external-load-balancers label; ShouldAnnounce needs a serving endpoint
      (EndpointSlices: no controller-manager runs here, the tests write them) and, for externalTrafficPolicy
      Local, takes only nodes with one; among the candidates the first by sha256(node + "#" + IP) announces;
      METALLB_BGP_TYPE unset is the native BGP implementation, unused in L2 (no FRR needed);
    - RBAC: the lab binds both ServiceAccounts to cluster-admin rather than carrying metallb-native.yaml's roles
      (what MetalLB is allowed to read is not what the lab tests).
    """
    labels = {"app": "metallb"}

    # the lab's Node objects keep the not-ready taint the API server's admission (TaintNodesByCondition) puts on a
    # new Node: no node lifecycle controller runs to take it off; the speaker also tolerates the control-plane taint
    # as metallb-native.yaml's DaemonSet does
    tolerations = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"},
                   {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]

    def workload(kind, component, args, env=()):
        pod_labels = dict(labels, component=component)
        spec = {"selector": {"matchLabels": pod_labels},
                "template": {"metadata": {"labels": pod_labels},
                             "spec": {"serviceAccountName": component, "hostNetwork": True,
                                      "nodeSelector": {"kubernetes.io/os": "linux"},
                                      "tolerations": tolerations[:1] if kind == "Deployment" else tolerations,
                                      "containers": [{"name": component, "image": metallb_image(component, version),
                                                      "args": list(args), "env": list(env)}]}}}
        if kind == "Deployment":
            spec["replicas"] = 1
        return {"apiVersion": "apps/v1", "kind": kind,
                "metadata": {"name": component, "namespace": namespace, "labels": dict(pod_labels)}, "spec": spec}

    objects = [{"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)}}
               for name in ("controller", "speaker")]
    objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                    "metadata": {"name": "metallb-lab", "labels": dict(labels)},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                    "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}
                                 for name in ("controller", "speaker")]})
    pod_name = {"name": "METALLB_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    # the lab's pods share their node's network namespace: the controller (upstream in a pod network of its own)
    # gets metrics and health ports other than the speaker's 9120 and 17472 (internal/k8s/k8s.go DefaultHealthProbePort)
    objects.append(workload("Deployment", "controller", [
        "--port=9121", "--health-probe-port=17473", "--webhook-mode=disabled", "--disable-cert-rotation",
        "--log-level=info"], [pod_name]))
    node_name = {"name": "METALLB_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    objects.append(workload("DaemonSet", "speaker", ["--port=9120", "--log-level=info"], [node_name, pod_name]))
    return objects


def _expression_matches(expr, labels):
    key, operator, values = expr["key"], expr["operator"], expr.get("values") or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise RealLabError("node affinity operator %s is not supported by the lab's placement" % operator)


def _tolerated(taint, tolerations):
    for tol in tolerations:
        if tol.get("effect") and tol["effect"] != taint["effect"]:
            continue
        if tol.get("operator") == "Exists" and (not tol.get("key") or tol["key"] == taint["key"]):
            return True
        if tol.get("key") == taint["key"] and tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def schedulable(pod_spec, node):
    """True when the pod's nodeSelector, required node affinity and tolerations allow the node (a Node dict)."""
    labels = node["metadata"].get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if terms and not any(all(_expression_matches(e, labels) for e in term.get("matchExpressions") or [])
                         for term in terms):
        return False
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint["effect"] in ("NoSchedule", "NoExecute") and not _tolerated(taint, pod_spec.get("tolerations") or []):
            return False
    return True


class Placement:
    """reallab.RealLab's placement of pods (it reads self.lab, self.api(), self.ca_file(), self.tail_logs())."""

    def place_workloads(self, wait=60.0, attempts=3):
        """_place_workloads, again (it is idempotent) when the API connection breaks mid-answer: the API is
        reached through the control-plane VIP, and while the VIP is on two nodes (a killed kube-vip that left
        its address, as failure 4 leaves it) both answer ARP and a connection can move between them."""
        import urllib3  # pylint: disable=import-outside-toplevel  # the kubernetes client's transport
        for attempt in range(1, attempts + 1):
            try:
                return self._place_workloads(wait)
            except (urllib3.exceptions.ProtocolError, urllib3.exceptions.MaxRetryError) as exc:
                if attempt == attempts:
                    raise
                print("placement: the API connection broke (%s); again in 2 s" % exc.__class__.__name__, flush=True)
                time.sleep(2)
        return None

    def _place_workloads(self, wait):
        """Place the collection's DaemonSets and Deployments on the nodes (stand-in for the scheduler and the
        DaemonSet/Deployment controllers, none of which run here).

        Only objects labelled app.kubernetes.io/managed-by=baremetal.vip (or app=metallb: MetalLB's controller and
        speaker, metallb_workloads) are placed, on the nodes their
        nodeSelector, required node affinity and tolerations allow (a Deployment's replicas on the first
        such nodes by name). Each placed pod gets a Pod object bound to its node, a ServiceAccount token from
        the TokenRequest API bound to that Pod (as kubelet asks for one), and a file in the node's pods.d
        that the node's runner starts. Returns {pod name: node}. Once the runner says a pod runs, its Pod
        object's status says Running and Ready (the kubelet's report); pods no longer wanted are removed.
        """
        api, client = self.api()
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        nodes = [api.sanitize_for_serialization(n) for n in core.list_node().items]
        wanted = {}
        found = []
        for selector in PLACED_SELECTORS:
            found += [("DaemonSet", obj) for obj in apps.list_daemon_set_for_all_namespaces(label_selector=selector).items]
            found += [("Deployment", obj) for obj in apps.list_deployment_for_all_namespaces(label_selector=selector).items]
        for kind, obj in found:
            obj = api.sanitize_for_serialization(obj)
            template = obj["spec"]["template"]
            eligible = sorted(n["metadata"]["name"] for n in nodes if schedulable(template["spec"], n))
            if kind == "Deployment":
                eligible = eligible[:int(obj["spec"].get("replicas", 1))]
            for node_name in eligible:
                suffix = node_name if kind == "DaemonSet" else str(eligible.index(node_name))
                wanted["%s-%s" % (obj["metadata"]["name"], suffix)] = (kind, obj, node_name)
        placed = {}
        for node in self.lab.nodes:
            directory = os.path.join(node["dir"], "pods.d")
            os.makedirs(directory, exist_ok=True)
            for name in os.listdir(directory):
                if name.endswith(".yaml") and (name[:-5] not in wanted or wanted[name[:-5]][2] != node["name"]):
                    namespace = self._pod_file_namespace(os.path.join(directory, name))
                    os.unlink(os.path.join(directory, name))
                    shutil.rmtree(os.path.join(directory, name + ".serviceaccount"), ignore_errors=True)
                    shutil.rmtree(os.path.join(directory, name + ".secrets"), ignore_errors=True)
                    core.delete_namespaced_pod(name[:-5], namespace, grace_period_seconds=0) if namespace else None
        for pod_name, (kind, obj, node_name) in sorted(wanted.items()):
            self._place_pod(core, api, pod_name, kind, obj, self.lab.node(node_name))
            placed[pod_name] = node_name
        if wait:
            self._report_running(core, placed, wait)
        return placed

    @staticmethod
    def _pod_file_namespace(path):
        try:
            with open(path) as handle:
                return (yaml.safe_load(handle) or {}).get("metadata", {}).get("namespace")
        except (OSError, yaml.YAMLError):
            return None

    def _place_pod(self, core, api, pod_name, kind, obj, node):
        namespace = obj["metadata"]["namespace"]
        template = json.loads(json.dumps(obj["spec"]["template"]))
        spec = template["spec"]
        spec["nodeName"] = node["name"]
        path = os.path.join(node["dir"], "pods.d", pod_name + ".yaml")
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": pod_name, "namespace": namespace, "labels": template["metadata"].get("labels", {}),
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "name": obj["metadata"]["name"],
                                                 "uid": obj["metadata"]["uid"], "controller": True}]},
               "spec": spec}
        if os.path.exists(path) and self._same_spec(path, pod):
            return
        from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel
        try:
            core.delete_namespaced_pod(pod_name, namespace, grace_period_seconds=0)
        except ApiException as exc:
            if exc.status != 404:
                raise
        created = api.sanitize_for_serialization(core.create_namespaced_pod(namespace, pod))
        account = spec.get("serviceAccountName") or "default"
        token = core.create_namespaced_service_account_token(account, namespace, {
            "spec": {"expirationSeconds": 86400,
                     "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": pod_name,
                                        "uid": created["metadata"]["uid"]}}}).status.token
        sa_dir = path + ".serviceaccount"
        os.makedirs(sa_dir, exist_ok=True)
        for fname, text in (("token", token), ("namespace", namespace)):
            with open(os.open(os.path.join(sa_dir, fname), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
                handle.write(text)
        shutil.copy(self.ca_file(), os.path.join(sa_dir, "ca.crt"))
        self._pod_secrets(core, namespace, spec, path + ".secrets")
        tmp = path + ".tmp"
        with open(tmp, "w") as handle:
            yaml.safe_dump(pod, handle, sort_keys=False)
        os.replace(tmp, path)

    @staticmethod
    def _pod_secrets(core, namespace, spec, directory):
        """The Secrets the pod's env refers to (secretKeyRef), read from the API as kubelet would, as files
        DIRECTORY/<secret>/<key> (0600) for the runner; a missing Secret or key is left to the runner to report."""
        import base64  # pylint: disable=import-outside-toplevel
        from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel
        shutil.rmtree(directory, ignore_errors=True)
        refs = [item["valueFrom"]["secretKeyRef"] for c in spec.get("containers") or [] for item in c.get("env") or []
                if "secretKeyRef" in (item.get("valueFrom") or {})]
        for name in sorted({r["name"] for r in refs}):
            try:
                data = core.read_namespaced_secret(name, namespace).data or {}
            except ApiException as exc:
                if exc.status == 404:
                    continue
                raise
            os.makedirs(os.path.join(directory, name), mode=0o700, exist_ok=True)
            for key, value in data.items():
                with open(os.open(os.path.join(directory, name, key), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                          "wb") as handle:
                    handle.write(base64.b64decode(value))

    @staticmethod
    def _same_spec(path, pod):
        try:
            with open(path) as handle:
                return yaml.safe_load(handle) == pod
        except (OSError, yaml.YAMLError):
            return False

    def _report_running(self, core, placed, wait):
        """Patch each placed Pod's status to Running/Ready once its node's runner runs it (kubelet's report)."""
        deadline = time.monotonic() + wait
        # a node whose runner is paused stands for a node whose kubelet is down: its pods stay Pending, as the
        # API server would show them, and nobody waits for them
        pending = {pod: node for pod, node in placed.items()
                   if not os.path.exists(os.path.join(self.lab.node(node)["dir"], "runner.paused"))}
        while pending and time.monotonic() < deadline:
            status = self.lab.pods()
            for pod_name, node_name in list(pending.items()):
                info = status[node_name]["pods"].get(pod_name)
                if info and info["phase"] == "Running":
                    namespace = self._pod_file_namespace(os.path.join(self.lab.node(node_name)["dir"], "pods.d",
                                                                      pod_name + ".yaml"))
                    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    ip = self.lab.node(node_name)["ipv4"]
                    core.patch_namespaced_pod_status(pod_name, namespace, {"status": {
                        "phase": "Running", "hostIP": ip, "podIP": ip, "podIPs": [{"ip": ip}], "startTime": now,
                        "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                                       for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]}})
                    del pending[pod_name]
            time.sleep(0.3)
        if pending:
            raise RealLabError("pods not running after %ds: %s%s" % (wait, ", ".join(sorted(pending)), self.tail_logs()))

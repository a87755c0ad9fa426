# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real lab: the cluster's own programs on the namespace nodes of lab.py (`lab.py up --real`).

What runs is real: etcd, kube-apiserver and kubeadm (k8s.io/kubernetes), kube-vip and
kube-vip-cloud-provider, each built from its Go module by tests/realbin/realbin.py. The one stand-in
is tests/lab/podrunner.py, which starts pods' containers as processes the way kubelet would.

Bring-up, in the order a kubeadm cluster is made (each step timed, see `bring_up`):

 1. one static-pod runner per node (podrunner.py), started with the lab's marker;
 2. playbooks/bootstrap.yml without a kubeconfig, run from the switch namespace (the lab's
    controller vantage point): host preparation, the collection's kube-vip static pod on every
    control-plane node (the plan's super-admin host on super-admin.conf) and the kubeadm fragment;
 3. per control-plane node, a kubeadm configuration made of the placed fragment plus the node's own
    InitConfiguration and a three-member stacked etcd (`kubeadm config validate` must pass), then
    `kubeadm init phase certs all` (the first node makes the CAs; the others get its CA files, as
    `kubeadm join --control-plane` would copy them), `kubeconfig admin` (and `super-admin` on the
    first), `etcd local`, `control-plane apiserver`: the runner starts etcd and kube-apiserver;
 4. once every API server answers /readyz: `kubeadm init phase upload-config kubeadm` on the first
    node (it binds kubeadm:cluster-admins, so admin.conf gets its rights) and `addon kube-proxy`
    (kube-proxy's ConfigMap and DaemonSet, as kubeadm writes them);
 5. the Node objects kubelet would register (the runner stands in for kubelet): InternalIP, Ready,
    control-plane label;
 6. the first node's admin.conf copied to STATE/admin.conf (server: the VIP), and bootstrap.yml again
    with vip_kubeconfig: the cluster objects applied by the collection, the super-admin host's
    kube-vip put back on admin.conf.

No kube-controller-manager and no scheduler run: nothing creates Pods from DaemonSets or
EndpointSlices from Services (tests that need them write them).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
REALBIN = os.path.join(TOP, "tests", "realbin")
CLONE_NEWNET = 0x40000000
LAB_KUBEADM_CONFIG = "/etc/kubernetes/lab/kubeadm.yaml"
FRAGMENT = "/etc/kubernetes/baremetal-vip/kubeadm-vip.yaml"
PKI_SHARED = ("ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key",
              "etcd/ca.crt", "etcd/ca.key")
API_TIMEOUT = 180.0


class RealLabError(Exception):
    """A step of the real lab failed; the message names the step, the node and what the program said."""


def images(binaries, kubernetes_version, etcd_image_tag, kube_vip_image, cloud_image, metallb_version=None):
    """Image reference -> binary: the only images the runner will run."""
    registry = "registry.k8s.io"
    found = {
        "%s/kube-apiserver:%s" % (registry, kubernetes_version): binaries["kube-apiserver"],
        "%s/kube-proxy:%s" % (registry, kubernetes_version): binaries["kube-proxy"],
        "%s/etcd:%s" % (registry, etcd_image_tag): binaries["etcd"],
        kube_vip_image: binaries["kube-vip"],
        cloud_image: binaries["kube-vip-cloud-provider"],
    }
    if metallb_version:
        for name in ("controller", "speaker"):
            found[metallb_image(name, metallb_version)] = binaries["metallb-" + name]
    return found


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


def enter_netns(name):
    """Move this (single-threaded) process into network namespace NAME for good."""
    fd = os.open(os.path.join("/run/netns", name), os.O_RDONLY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise RealLabError("setns into %s failed: %s" % (name, os.strerror(ctypes.get_errno())))
    finally:
        os.close(fd)


def in_node(node, argv, check=True, timeout=120):
    """Run argv in a node's network and mount namespaces (through its holder)."""
    full = ["nsenter", "--target", str(node["pid"]), "--mount", "--net", "--"] + list(argv)
    proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RealLabError("on %s: %s failed (%d): %s" % (node["name"], " ".join(argv[:6]), proc.returncode,
                                                          (proc.stderr or proc.stdout).strip()[-1500:]))
    return proc


def node_path(node, path):
    """The host-side path of PATH inside a node's private directories."""
    return os.path.join(node["dir"], "root", path.lstrip("/"))


def lab_plan(inventory):
    """The collection's plan of the lab's inventory (plugins/plugin_utils/plan.py build_plan, as lb_plan builds it)."""
    collections = os.path.join(TOP, ".collections")  # the checkout as baremetal.vip (make setup, tests/conftest.py)
    if collections not in sys.path:
        sys.path.insert(0, collections)
    from ansible_collections.baremetal.vip.plugins.plugin_utils import plan  # pylint: disable=import-outside-toplevel
    root = inventory["all"]
    cluster_vars = {k: v for k, v in (root.get("vars") or {}).items() if k in plan.CLUSTER_VARS}
    hosts, groups = {}, {}
    for name, group in (root.get("children") or {}).items():
        groups[name] = list((group.get("hosts") or {}).keys())
        for host, hvars in (group.get("hosts") or {}).items():
            hosts.setdefault(host, {}).update(group.get("vars") or {})
            hosts[host].update(hvars or {})
    result = plan.build_plan(cluster_vars, hosts, groups)
    if result["errors"]:
        raise RealLabError("the lab's inventory has no plan: %s" % "; ".join(result["errors"]))
    return result["plan"]


def kubeadm_documents(node, fragment_docs, control_plane_nodes, lab_vars, node_cidr_masks):
    """The node's kubeadm configuration: its InitConfiguration, the placed fragment, a stacked etcd of every member.

    node_cidr_masks: the plan's cluster.node_cidr_mask_sizes ({"ipv4": 28}): kubeadm refuses the lab's /25 pod CIDR
    with its default node mask /24, the plan gives every node a share (docs/validation.md).
    """
    cluster = next(d for d in fragment_docs if d.get("kind") == "ClusterConfiguration")
    api_version = cluster["apiVersion"]
    port = int(lab_vars["vip_control_plane"].get("port", 6443))
    init = {"apiVersion": api_version, "kind": "InitConfiguration",
            "localAPIEndpoint": {"advertiseAddress": node["ipv4"], "bindPort": port},
            "nodeRegistration": {"name": node["name"], "criSocket": "unix:///run/containerd/containerd.sock"}}
    members = ",".join("%s=https://%s:2380" % (n["name"], n["ipv4"]) for n in control_plane_nodes)
    cluster = json.loads(json.dumps(cluster))
    cluster_vars = lab_vars["vip_cluster"]
    networking = {}
    if cluster_vars.get("service_cidrs"):
        networking["serviceSubnet"] = ",".join(cluster_vars["service_cidrs"])
    if cluster_vars.get("pod_cidrs"):
        networking["podSubnet"] = ",".join(cluster_vars["pod_cidrs"])
    cluster.setdefault("networking", {}).update(networking)
    if node_cidr_masks:
        manager = cluster.setdefault("controllerManager", {}).setdefault("extraArgs", [])
        manager.extend({"name": "node-cidr-mask-size-%s" % family, "value": str(size)}
                       for family, size in sorted(node_cidr_masks.items()))
    extra = [{"name": "initial-cluster", "value": members}, {"name": "initial-cluster-state", "value": "new"},
             # a test cluster on a shared disk: etcd's fsync is the slowest part of every write
             {"name": "unsafe-no-fsync", "value": "true"}]
    cluster.setdefault("etcd", {}).setdefault("local", {})["extraArgs"] = extra
    rest = [d for d in fragment_docs if d.get("kind") != "ClusterConfiguration"]
    return [init, cluster] + rest


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


def https_get(url, ca_file, timeout=3.0):
    """(status, body) of a GET verified against the cluster CA; (None, error text) when unreachable."""
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # nosec: lab addresses only
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        return None, str(exc)


def wait_for(what, probe, timeout, interval=0.5, describe_failure=None):
    """Call probe() until it returns a true value; RealLabError naming WHAT after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last and last[0]:
            return last
        time.sleep(interval)
    detail = describe_failure() if describe_failure else ""
    raise RealLabError("%s did not happen within %ds (last: %s)%s" % (what, timeout, last, detail))


def profile_inventory(path, profile, example=None):
    """Write examples/lab's inventory (or EXAMPLE's) with the control-plane leader election PROFILE to PATH."""
    with open(example or os.path.join(TOP, "examples", "lab", "inventory.yml")) as handle:
        inventory = yaml.safe_load(handle)
    inventory["all"]["vars"]["vip_control_plane"]["leader_election"] = {"profile": profile}
    with open(path, "w") as handle:
        yaml.safe_dump(inventory, handle)
    return path


class RealLab:
    """The real control plane on a lab.Lab (its state, nodes and inventory)."""

    def __init__(self, lab, log=print):
        self.lab = lab
        self.log = log
        self.timings = []

    # ------------------------------------------------------------ helpers
    @property
    def control_plane(self):
        return [n for n in self.lab.nodes if n["control_plane"]]

    def lab_vars(self):
        return self.lab.inventory()["all"]["vars"]

    def step(self, name, func, *args):
        started = time.monotonic()
        self.log("real lab: %s ..." % name)
        result = func(*args)
        seconds = time.monotonic() - started
        self.timings.append((name, round(seconds, 2)))
        self.log("real lab: %s done in %.1fs" % (name, seconds))
        return result

    def ca_file(self):
        return node_path(self.control_plane[0], "/etc/kubernetes/pki/ca.crt")

    def kubeconfig(self):
        return os.path.join(self.lab.state_dir, "admin.conf")

    def tail_logs(self, lines=30):
        """The last lines of every pod log of the lab (for failure messages)."""
        out = []
        for node in self.lab.nodes:
            log_dir = os.path.join(node["dir"], "logs")
            if not os.path.isdir(log_dir):
                continue
            for name in sorted(os.listdir(log_dir)):
                with open(os.path.join(log_dir, name), errors="replace") as handle:
                    tail = handle.read().splitlines()[-lines:]
                out.append("--- %s/%s\n%s" % (node["name"], name, "\n".join(tail)))
        return "\n" + "\n".join(out)

    # --------------------------------------------------------------- steps
    def ansible_playbook(self, playbook, *extra):
        from testkit.ansible import ansible_env  # pylint: disable=import-outside-toplevel  # lab.py puts tests/ on the path
        env = ansible_env(ANSIBLE_DEPRECATION_WARNINGS="0")
        binary = os.path.join(os.path.dirname(self.lab.state["python"]), "ansible-playbook")
        argv = [binary, "-i", self.lab.inventory_path, os.path.join(TOP, "playbooks", playbook)] + list(extra)
        proc = subprocess.run(argv, cwd=TOP, env=env, capture_output=True, text=True, check=False)
        with open(os.path.join(self.lab.state_dir, "ansible-%s.log" % playbook.replace(".yml", "")), "a") as handle:
            handle.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise RealLabError("%s failed (%d):\n%s" % (playbook, proc.returncode, proc.stdout[-4000:]))
        return proc

    def place(self):
        self.ansible_playbook("bootstrap.yml", "-e", "vip_bootstrap_verify=false",
                              "-e", "vip_bootstrap_render_dir=%s" % os.path.join(self.lab.state_dir, "bootstrap"))

    def kubeadm(self, node, *args, timeout=180):
        return in_node(node, [self.lab.state["binaries"]["kubeadm"]] + list(args), timeout=timeout)

    def configure_kubeadm(self):
        lab_vars = self.lab_vars()
        masks = lab_plan(self.lab.inventory())["cluster"]["node_cidr_mask_sizes"]
        for node in self.control_plane:
            with open(node_path(node, FRAGMENT)) as handle:
                fragment = [d for d in yaml.safe_load_all(handle) if d]
            docs = kubeadm_documents(node, fragment, self.control_plane, lab_vars, masks)
            path = node_path(node, LAB_KUBEADM_CONFIG)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                yaml.safe_dump_all(docs, handle, sort_keys=False)
            os.chmod(path, 0o600)
            self.kubeadm(node, "config", "validate", "--config", LAB_KUBEADM_CONFIG)

    def certificates(self):
        first = self.control_plane[0]
        self.kubeadm(first, "init", "phase", "certs", "all", "--config", LAB_KUBEADM_CONFIG)
        for node in self.control_plane[1:]:
            for name in PKI_SHARED:
                target = node_path(node, "/etc/kubernetes/pki/" + name)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(node_path(first, "/etc/kubernetes/pki/" + name), target)
            self.kubeadm(node, "init", "phase", "certs", "all", "--config", LAB_KUBEADM_CONFIG)
        for node in self.control_plane:
            kinds = ["admin", "super-admin"] if node is first else ["admin"]
            for kind in kinds:
                self.kubeadm(node, "init", "phase", "kubeconfig", kind, "--config", LAB_KUBEADM_CONFIG)

    def static_pods(self):
        for node in self.control_plane:
            self.kubeadm(node, "init", "phase", "etcd", "local", "--config", LAB_KUBEADM_CONFIG)
            self.kubeadm(node, "init", "phase", "control-plane", "apiserver", "--config", LAB_KUBEADM_CONFIG)

    def wait_api_servers(self):
        ca_file = self.ca_file()
        for node in self.control_plane:
            url = "https://%s:%d/readyz" % (node["ipv4"], int(self.lab_vars()["vip_control_plane"].get("port", 6443)))
            wait_for("kube-apiserver on %s answering %s" % (node["name"], url),
                     lambda u=url: (https_get(u, ca_file)[0] == 200, https_get(u, ca_file)),
                     API_TIMEOUT, describe_failure=self.tail_logs)

    def cluster_admins(self):
        first = self.control_plane[0]
        # kubeadm binds kubeadm:cluster-admins through super-admin.conf when it first needs a client
        self.kubeadm(first, "init", "phase", "upload-config", "kubeadm", "--config", LAB_KUBEADM_CONFIG)
        self.kubeadm(first, "init", "phase", "addon", "kube-proxy", "--config", LAB_KUBEADM_CONFIG)
        with open(node_path(first, "/etc/kubernetes/admin.conf")) as handle:
            config = yaml.safe_load(handle)
        path = self.kubeconfig()
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            yaml.safe_dump(config, handle)

    def api(self):
        """A kubernetes ApiClient on STATE/admin.conf (this process must be in the switch namespace)."""
        from kubernetes import client, config  # pylint: disable=import-outside-toplevel
        return config.new_client_from_config(config_file=self.kubeconfig()), client

    def request(self, method, path, body=None):
        """(status, parsed JSON) of one API request through STATE/admin.conf (in the switch namespace)."""
        api, dummy = self.api()
        url = api.configuration.host.rstrip("/") + path
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = ("application/merge-patch+json" if method == "PATCH" else "application/json")
        try:
            response = api.call_api(method, url, header_params=headers, body=body, _request_timeout=10)
            status, text = response.status, response.read()
        except Exception as exc:  # pylint: disable=broad-except  # ApiException and transport errors alike
            status, text = getattr(exc, "status", None), getattr(exc, "body", None) or json.dumps({"error": str(exc)})
        try:
            data = json.loads(text or "null")
        except ValueError:
            data = {"text": text if isinstance(text, str) else text.decode(errors="replace")}
        return status, data

    def register_nodes(self):
        api, client = self.api()
        core = client.CoreV1Api(api)
        existing = {n.metadata.name for n in core.list_node().items}
        for node in self.lab.nodes:
            labels = {"kubernetes.io/hostname": node["name"], "kubernetes.io/os": "linux"}
            if node["control_plane"]:
                labels["node-role.kubernetes.io/control-plane"] = ""
            body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node["name"], "labels": labels}}
            if node["name"] not in existing:
                core.create_node(body)
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            status = {"status": {
                "addresses": [{"type": "InternalIP", "address": node["ipv4"]},
                              {"type": "Hostname", "address": node["name"]}],
                "conditions": [{"type": "Ready", "status": "True", "reason": "LabRunner",
                                "message": "the lab's static-pod runner stands in for kubelet",
                                "lastHeartbeatTime": now, "lastTransitionTime": now}]}}
            core.patch_node_status(node["name"], status)

    # ---------------------------------------------------- workload placement
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

    # ------------------------------------------------------- demo / bench
    def vip_holders(self):
        """Nodes whose interfaces carry the control-plane VIP (iproute2 in each node)."""
        vip = self.lab_vars()["vip_control_plane"]["address"]
        holders = []
        for node in self.control_plane:
            out = subprocess.run(["ip", "-n", node["netns"], "-o", "addr", "show"], capture_output=True, text=True,
                                 check=True).stdout
            if (" inet %s/" % vip) in out:
                holders.append(node["name"])
        return holders

    def failover(self, pause=False, timeout=60.0):
        """SIGKILL the VIP holder's kube-vip; measure until another node holds the VIP and /readyz answers.

        With pause the node's runner stays paused (as after a crash: the killed kube-vip never removes its
        VIP, so two nodes carry it, failure 4); `lab.py resume NODE` ends that. Without pause the runner
        restarts the killed kube-vip at once, which renews its own lease and keeps the VIP: no failover.
        Returns the measured seconds and the holders afterwards.

        With the lab's BGP router (a BGP lab) it also measures, from the router's table, when the old holder's
        route to the VIP is withdrawn and when another node's is announced ("bgp": seconds and next hops).
        """
        holders = self.vip_holders()
        if len(holders) != 1:
            raise RealLabError("the VIP has %d holders (%s); a failover needs exactly one" % (len(holders), holders))
        old = holders[0]
        cp = self.lab_vars()["vip_control_plane"]
        url = "https://%s:%d/readyz" % (cp["address"], int(cp.get("port", 6443)))
        router = self.lab.state.get("router")
        route = {"before": self._next_hops(cp["address"])} if router else None
        addresses = {n["ipv4"]: n["name"] for n in self.lab.nodes}
        if pause:
            self.lab.pause(old)
        killed = time.monotonic()
        self.lab.kill(old, "kube-vip")
        moved = answered = new = None
        failed_requests = requests = 0
        while time.monotonic() - killed < timeout and (answered is None or (route and "announced_s" not in route)):
            others = [h for h in self.vip_holders() if h != old]
            if others and moved is None:
                moved, new = time.monotonic() - killed, others[0]
            if route is not None:
                self._route_change(route, cp["address"], addresses, old, time.monotonic() - killed)
            if moved is not None and answered is None:
                requests += 1
                if https_get(url, self.ca_file(), timeout=1.0)[0] == 200:
                    answered = time.monotonic() - killed
                else:
                    failed_requests += 1
            time.sleep(0.1)
        if moved is None:
            raise RealLabError("the VIP did not leave %s within %ds after its kube-vip was killed%s"
                               % (old, timeout, self.tail_logs()))
        result = {"old_holder": old, "new_holder": new, "vip_moved_s": round(moved, 2),
                  "api_answered_s": round(answered, 2) if answered is not None else None,
                  "profile": (cp.get("leader_election") or {}).get("profile", "default"),
                  "holders_after": self.vip_holders(), "paused": old if pause else None}
        if route is not None:
            route["after"] = self._next_hops(cp["address"])
            result["bgp"] = route
        return result

    def _lease_reader(self, node):
        """A function reading the control-plane lease's holder from NODE's own API server (1 s timeout; None when
        it does not answer): through the VIP there is nobody to ask while no node holds it."""
        from kubernetes import client, config  # pylint: disable=import-outside-toplevel
        with open(node_path(self.control_plane[0], "/etc/kubernetes/manifests/kube-vip.yaml")) as handle:
            env = {e["name"]: e.get("value") for e in yaml.safe_load(handle)["spec"]["containers"][0]["env"]}
        settings = client.Configuration()
        config.load_kube_config(config_file=self.kubeconfig(), client_configuration=settings)
        settings.host = "https://%s:%d" % (node["ipv4"], int(self.lab_vars()["vip_control_plane"].get("port", 6443)))
        settings.retries = 0
        leases = client.CoordinationV1Api(client.ApiClient(settings))

        def read():
            try:
                lease = leases.read_namespaced_lease(env.get("vip_leasename", "plndr-cp-lock"),
                                                     env.get("cp_namespace", "kube-system"), _request_timeout=1)
            except Exception:  # pylint: disable=broad-except  # no quorum, timeouts: "unknown" for this sample
                return None
            return lease.spec.holder_identity
        return read

    def partition(self, hold=5.0, settle=None, timeout=120.0):
        """Cut the VIP holder's link on the lab switch (its port leaves the bridge: the node's own link stays up,
        its kube-vip, etcd and API server keep running but reach nobody), wait until another node holds the VIP,
        keep the cut HOLD seconds more, heal it (the port back on the bridge) and watch SETTLE seconds more
        (default: the lease duration + 10 s). Every change of the set of VIP holders is recorded with the
        lease holder as the majority's API server gives it at that moment.

        Returns the windows in seconds: how long the VIP was on two (or more) nodes, how long on none, each
        window's start and end after the cut, and the poll's coarsest gap (the resolution of those figures).
        """
        holders = self.vip_holders()
        if len(holders) != 1:
            raise RealLabError("the VIP has %d holders (%s); a partition needs exactly one" % (len(holders), holders))
        old = holders[0]
        cp = self.lab_vars()["vip_control_plane"]
        election = cp.get("leader_election") or {}
        if settle is None:
            settle = {"partition_tolerant": 30}.get(election.get("profile"), 15) + 10.0
        majority = [n for n in self.control_plane if n["name"] != old]
        readers = [self._lease_reader(n) for n in majority]

        def lease_holder():
            return next((h for h in (read() for read in readers) if h), None)

        port, switch = self.lab.node(old)["port"], self.lab.state["switch"]
        states, gaps = [], []
        cut = time.monotonic()
        subprocess.run(["ip", "-n", switch, "link", "set", port, "nomaster"], check=True)
        healed = taken = None
        last = previous = None
        try:
            while True:
                now = time.monotonic() - cut
                current = self.vip_holders()
                if previous is not None:
                    gaps.append(now - previous)
                previous = now
                if current != last:
                    states.append({"at_s": round(now, 2), "holders": current, "lease_holder": lease_holder()})
                    last = current
                if taken is None and any(h != old for h in current):
                    taken = now
                if healed is None and (now > timeout or (taken is not None and now - taken >= hold)):
                    subprocess.run(["ip", "-n", switch, "link", "set", port, "master", "br0"], check=True)
                    healed = time.monotonic() - cut
                if healed is not None and now - healed >= settle:
                    break
                time.sleep(0.02)
        finally:
            if healed is None:
                subprocess.run(["ip", "-n", switch, "link", "set", port, "master", "br0"], check=False)
        end = time.monotonic() - cut

        def windows(test):
            found = []
            for index, state in enumerate(states):
                if test(state["holders"]):
                    stop = states[index + 1]["at_s"] if index + 1 < len(states) else end
                    found.append({"from_s": state["at_s"], "to_s": round(stop, 2), "holders": state["holders"],
                                  "lease_holder": state["lease_holder"]})
            return found
        two = windows(lambda h: len(h) > 1)
        none = windows(lambda h: not h)
        return {"profile": election.get("profile", "default"), "old_holder": old,
                "new_holder": next((h for s in states for h in s["holders"] if h != old), None),
                "new_holder_s": round(taken, 2) if taken is not None else None,
                "healed_s": round(healed, 2), "watched_s": round(end, 2),
                "two_holders_s": round(sum(w["to_s"] - w["from_s"] for w in two), 2), "two_holder_windows": two,
                "no_holder_s": round(sum(w["to_s"] - w["from_s"] for w in none), 2), "no_holder_windows": none,
                "states": states, "poll_gap_max_s": round(max(gaps), 3) if gaps else None,
                "holders_after": self.vip_holders(), "lease_holder_after": lease_holder()}

    def _next_hops(self, address):
        """{"rib": the router's next hops to ADDRESS/32, "kernel": the switch namespace's route's gateways}."""
        import bgprouter  # pylint: disable=import-outside-toplevel
        return {"rib": bgprouter.next_hops(self.lab.state["id"], address),
                "kernel": bgprouter.kernel_next_hops(self.lab.state["switch"], address)}

    def _route_change(self, route, address, addresses, old, elapsed):
        """Record in ROUTE when the old holder's path leaves the router's table and another node's appears."""
        hops = self._next_hops(address)
        old_address = next(a for a, name in addresses.items() if name == old)
        if "withdrawn_s" not in route and old_address not in hops["rib"]:
            route["withdrawn_s"] = round(elapsed, 2)
        others = [a for a in hops["rib"] if a != old_address]
        if "announced_s" not in route and others:
            route["announced_s"], route["new_next_hop"] = round(elapsed, 2), others[0]
            route["new_next_hop_node"] = addresses.get(others[0])
        if "kernel_s" not in route and any(a != old_address for a in hops["kernel"]):
            route["kernel_s"] = round(elapsed, 2)

    def pin_services_daemonset(self):
        """Failure 5 as an older inventory leaves it: the services DaemonSet applied pinned to control-plane
        nodes by the collection's own field manager (server-side apply), then placed accordingly: kube-vip on
        the control-plane nodes only. The plan's node affinity (its services hosts, the workers) is left out of
        the applied template: kept beside the pin, it would leave the DaemonSet on no node at all."""
        api, client = self.api()
        apps = client.AppsV1Api(api)
        selector = "app.kubernetes.io/managed-by=baremetal.vip,app.kubernetes.io/component=services"
        items = apps.list_daemon_set_for_all_namespaces(label_selector=selector).items
        if not items:
            raise RealLabError("no services DaemonSet of the collection in the cluster")
        live = api.sanitize_for_serialization(items[0])
        body = {"apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": {"name": live["metadata"]["name"], "namespace": live["metadata"]["namespace"],
                             "labels": live["metadata"]["labels"]},
                "spec": {"selector": live["spec"]["selector"], "template": live["spec"]["template"]}}
        body["spec"]["template"]["spec"]["nodeSelector"] = {"node-role.kubernetes.io/control-plane": ""}
        body["spec"]["template"]["spec"].pop("affinity", None)
        path = "/apis/apps/v1/namespaces/%s/daemonsets/%s?fieldManager=baremetal.vip&force=true" % (
            live["metadata"]["namespace"], live["metadata"]["name"])
        url = api.configuration.host.rstrip("/") + path
        api.call_api("PATCH", url, header_params={"Content-Type": "application/apply-patch+yaml",
                                                  "Accept": "application/json"}, body=body, _request_timeout=10)
        return self.place_workloads()

    def apply(self):
        self.ansible_playbook("bootstrap.yml", "-e", "vip_bootstrap_verify=false",
                              "-e", "vip_kubeconfig=%s" % self.kubeconfig(),
                              "-e", "vip_bootstrap_render_dir=%s" % os.path.join(self.lab.state_dir, "bootstrap"))

    def vip_answers(self):
        cp = self.lab_vars()["vip_control_plane"]
        url = "https://%s:%d/version" % (cp["address"], int(cp.get("port", 6443)))
        status, body = wait_for("the API answering through the VIP (%s)" % url,
                                lambda: (https_get(url, self.ca_file())[0] == 200, https_get(url, self.ca_file())),
                                API_TIMEOUT, describe_failure=self.tail_logs)[1]
        return json.loads(body)

    def bring_up(self):
        """Every step above, in order; returns [(step, seconds)]."""
        self.step("place kube-vip and the kubeadm fragment (bootstrap.yml, no kubeconfig)", self.place)
        self.step("kubeadm configuration per control-plane node (kubeadm config validate)", self.configure_kubeadm)
        self.step("kubeadm init phase certs/kubeconfig", self.certificates)
        self.step("kubeadm init phase etcd local / control-plane apiserver", self.static_pods)
        self.step("etcd and kube-apiserver ready on every control-plane node", self.wait_api_servers)
        self.step("kubeadm upload-config (cluster-admins) and addon kube-proxy", self.cluster_admins)
        self.step("Node objects (the runner stands in for kubelet)", self.register_nodes)
        version = self.step("the API through the VIP", self.vip_answers)
        self.log("real lab: https://VIP/version says %s" % version.get("gitVersion"))
        self.step("cluster objects applied (bootstrap.yml with vip_kubeconfig)", self.apply)
        placed = self.step("the collection's DaemonSets and Deployments placed on the nodes", self.place_workloads)
        self.log("real lab: placed %s" % ", ".join("%s on %s" % item for item in sorted(placed.items())))
        return self.timings


def main():
    sys.stderr.write("use tests/lab/lab.py up --real\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())

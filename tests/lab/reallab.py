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

import json
import os
import shutil
import subprocess
import sys
import time
import yaml

from labplacement import Placement, metallb_image
import uml_controller
# enter_netns: read as reallab.enter_netns by lab.py and the tests
from realsys import RealLabError, enter_netns, https_get, in_node, node_path, wait_for  # noqa: F401  pylint: disable=unused-import

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
REALBIN = os.path.join(TOP, "tests", "realbin")
LAB_KUBEADM_CONFIG = "/etc/kubernetes/lab/kubeadm.yaml"
FRAGMENT = "/etc/kubernetes/baremetal-vip/kubeadm-vip.yaml"
PKI_SHARED = ("ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key",
              "etcd/ca.crt", "etcd/ca.key")
API_TIMEOUT = 180.0


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


def profile_inventory(path, profile, example=None):
    """Write examples/lab's inventory (or EXAMPLE's) with the control-plane leader election PROFILE to PATH."""
    with open(example or os.path.join(TOP, "examples", "lab", "inventory.yml")) as handle:
        inventory = yaml.safe_load(handle)
    inventory["all"]["vars"]["vip_control_plane"]["leader_election"] = {"profile": profile}
    with open(path, "w") as handle:
        yaml.safe_dump(inventory, handle)
    return path


class RealLab(Placement):
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
        if os.environ.get(uml_controller.CONTROLLER_ENV):
            # a lab inside User-Mode Linux whose controller is the machine (tests/lab/uml_controller.py)
            proc = subprocess.CompletedProcess(argv, *uml_controller.playbook(self.lab, playbook, extra), stderr="")
        else:
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
        # the Node objects are written through the VIP (admin.conf): in BGP mode it is reachable only once the
        # router has kube-vip's route, so the wait for the VIP comes first
        version = self.step("the API through the VIP", self.vip_answers)
        self.log("real lab: https://VIP/version says %s" % version.get("gitVersion"))
        self.step("Node objects (the runner stands in for kubelet)", self.register_nodes)
        self.step("cluster objects applied (bootstrap.yml with vip_kubeconfig)", self.apply)
        placed = self.step("the collection's DaemonSets and Deployments placed on the nodes", self.place_workloads)
        self.log("real lab: placed %s" % ", ".join("%s on %s" % item for item in sorted(placed.items())))
        return self.timings


def main():
    sys.stderr.write("use tests/lab/lab.py up --real\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())

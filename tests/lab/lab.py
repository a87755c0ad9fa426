# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A lab of network-namespace "nodes" for the demo, the molecule scenarios and the tests.

    lab.py up --nodes cp1,cp2,cp3,w1,w2 --state-dir DIR [--real]
    lab.py status --state-dir DIR
    lab.py down --state-dir DIR        # safe to run twice

With --real the lab runs the cluster's own programs (tests/lab/reallab.py): the binaries built by
tests/realbin/realbin.py, one static-pod runner per node (tests/lab/podrunner.py, the stand-in for
kubelet), etcd and kube-apiserver laid out by the real kubeadm, the collection's kube-vip static pod.
Then also:

    lab.py pods --state-dir DIR                     # every node's pods (runner status)
    lab.py kill --state-dir DIR NODE POD [--signal KILL]
    lab.py pause|resume --state-dir DIR NODE        # the runner stops/starts restarting containers
    lab.py exec --state-dir DIR -- CMD ...          # run CMD in the switch namespace (the lab's client)
    lab.py api --state-dir DIR GET /api/v1/nodes    # one API request with the lab's admin.conf
    lab.py place --state-dir DIR                    # place our DaemonSets/Deployments again (after a change)
    lab.py failover --state-dir DIR [--pause]       # SIGKILL the VIP holder's kube-vip, measure the move
    lab.py pin-daemonset --state-dir DIR            # failure 5: services DaemonSet pinned to the control plane
    lab.py bgp --state-dir DIR                      # BGP lab: the router's neighbours, RIB and kernel routes
    lab.py drift-static-pod --state-dir DIR NODE    # failure 2: NODE's kube-vip static pod edited to svc_enable
    lab.py stale-route --state-dir DIR [--undo]     # failure 3: a stale route left by the real kube-vip (and undo)

Topology (nothing is created in the machine's own network namespace):

    netns <id>-sw:   bridge br0 192.0.2.1/24 198.51.100.254/24 2001:db8::1/64, one port per node
    netns <id>-cp1:  eth0 192.0.2.11/24 2001:db8::11/64 (veth to the bridge), lo
    ...

Each node also gets a holder process (`sleep infinity` in the node's network namespace and
in a private mount namespace) where DIR/nodes/NODE/root/<path> is bind-mounted over each of
PRIVATE_DIRS, so nodes do not share /etc/kubernetes and friends. Where one of those paths does
not exist on the machine, the nearest existing parent is covered by an overlay (upper layer in
DIR/nodes/NODE/overlay) inside that mount namespace only, so the machine's own tree is never
written. The connection plugin baremetal.vip.netns enters the holder with
`nsenter --target PID --mount --net`.

DIR/inventory.yml: the vars of examples/lab/inventory.yml plus one host per node with its
connection vars. Root only. Addresses: 192.0.2.0/24 and 2001:db8::/64, inside the lab only.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))  # testkit
import bgprouter  # noqa: E402  pylint: disable=wrong-import-position
import reallab  # noqa: E402  pylint: disable=wrong-import-position
from labhost import MARKER_ENV, NETNS_DIR, LabError, alive, environ, holder_script, ip_batch, is_control_plane, \
    kernel_has_ipvs, lab_id, lab_processes, ns_exists, run  # noqa: E402  pylint: disable=wrong-import-position

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_EXAMPLE = os.path.join(TOP, "examples", "lab", "inventory.yml")
REALBIN_DIR = os.path.join(TOP, "tests", "realbin")
# a kube-vip image repository the real lab maps to /bin/false at every kube-vip release it builds (a release
# whose program exits at once: a node that does not come back, upgrade.yml's failure path)
BROKEN_KUBE_VIP_IMAGE = "example.invalid/kube-vip-exits"
KEEP_ENV = "BAREMETAL_VIP_LAB_KEEP"  # 1: a failed `up` leaves the lab as it is, to look at (then `down`)
STATE_FILE = "lab.json"
IPV4_NET = "192.0.2."
IPV6_NET = "2001:db8::"
SWITCH_HOST = 1
SERVICE_SEGMENT_ADDRESS = "198.51.100.254"
VANTAGE_GROUP, VANTAGE_HOST = "lab_vantage", "lab-switch"  # the switch namespace as an inventory host (outside checks)
FIRST_NODE_HOST = 11


class Lab:
    """One lab, described by STATE_DIR/lab.json."""

    def __init__(self, state_dir):
        self.state_dir = os.path.realpath(state_dir)
        self.state_path = os.path.join(self.state_dir, STATE_FILE)
        self.inventory_path = os.path.join(self.state_dir, "inventory.yml")
        self.state = None
        if os.path.exists(self.state_path):
            with open(self.state_path) as handle:
                self.state = json.load(handle)

    # ----------------------------------------------------------------- state
    def _save(self):
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(self.state, handle, indent=2)
        os.replace(tmp, self.state_path)

    def node(self, name):
        for node in self.state["nodes"]:
            if node["name"] == name:
                return node
        raise LabError("no node %r in the lab at %s" % (name, self.state_dir))

    @property
    def nodes(self):
        return self.state["nodes"] if self.state else []

    # -------------------------------------------------------------------- up
    def up(self, names, example=DEFAULT_EXAMPLE, python=sys.executable, control_plane=None, real=False, log=print,
           bring_up=True):
        """Build the lab. real: the real programs and a runner per node; with bring_up (default) also the
        control plane (reallab.RealLab.bring_up). real without bring_up leaves every node as before
        `kubeadm init`: runners up, nothing in /etc/kubernetes (tests/lab/test_real_kubeadm_init.py runs
        bootstrap.yml's kubeadm init there)."""
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network and mount namespaces)")
        if not names:
            raise LabError("no nodes given")
        if len(set(names)) != len(names):
            raise LabError("node names repeat: %s" % ",".join(names))
        for name in names:
            if not name.replace("-", "").isalnum() or len(name) > 40:
                raise LabError("node name %r: use letters, digits and '-'" % name)
        if len(names) > 200:
            raise LabError("at most 200 nodes")
        if self.state:
            self.down()
        ident = lab_id(self.state_dir)
        if control_plane is None:
            control_plane = [n for n in names if is_control_plane(n)] or names[:1]
        os.makedirs(self.state_dir, exist_ok=True)
        self.state = {
            "id": ident,
            "switch": ident + "-sw",
            "bridge": "br0",
            "python": python,
            "example": example,
            "real": bool(real),
            "nodes": [],
        }
        if real:
            self._real_programs()
        for index, name in enumerate(names):
            host = FIRST_NODE_HOST + index
            self.state["nodes"].append({
                "name": name,
                "netns": "%s-%s" % (ident, name),
                "port": "port%d" % index,
                "interface": "eth0",
                "ipv4": IPV4_NET + str(host),
                "ipv6": IPV6_NET + str(host),
                "control_plane": name in control_plane,
                "dir": os.path.join(self.state_dir, "nodes", name),
                "pid": None,
            })
        # saved before anything is created, so `down` can undo a half-done `up`
        self._save()
        try:
            self._create_network()
            for node in self.nodes:
                self._start_holder(node)
            self._save()
            self.write_inventory()
            self._start_router()
            if real:
                self._record_modprobe()
                for node in self.nodes:
                    self._start_runner(node)
                self._save()
                if bring_up:
                    self._bring_up(log)
        except BaseException:
            if os.environ.get(KEEP_ENV) != "1":
                self.down()
            raise
        return self.state

    # ------------------------------------------------------------- real lab
    def _real_programs(self):
        """Build or reuse the real programs; map the images the plan renders to them (lab.json)."""
        sys.path.insert(0, REALBIN_DIR)
        try:
            import realbin  # pylint: disable=import-outside-toplevel
        finally:
            sys.path.pop(0)
        mismatches = realbin.version_mismatches(self.state["example"])
        if mismatches:
            raise LabError("the real lab builds other releases than the inventory names: %s" % "; ".join(mismatches))
        try:
            binaries = realbin.ensure(log=lambda msg: print(msg, flush=True))
        except realbin.BuildError as exc:
            raise LabError(str(exc))
        kubernetes, kube_vip, cloud = realbin.lab_versions(self.state["example"])
        with open(self.state["example"]) as handle:
            example_vars = (yaml.safe_load(handle) or {})["all"]["vars"]
        kv = example_vars["vip_kube_vip"]
        versions = {b.name: b.version for b in realbin.binaries()}
        self.state["binaries"] = binaries
        self.state["images"] = reallab.images(
            binaries, "v" + kubernetes.lstrip("v"), "%s-0" % versions["etcd"].lstrip("v"),
            "%s:v%s" % (kv.get("image", "ghcr.io/kube-vip/kube-vip"), kube_vip.lstrip("v")),
            "%s:v%s" % (kv.get("cloud_provider_image", "ghcr.io/kube-vip/kube-vip-cloud-provider"), cloud.lstrip("v")),
            metallb_version=versions["metallb-controller"])
        # other kube-vip releases built (realbin's kube-vip-vX.Y.Z: the release upgrade tests start from), and an
        # image whose program exits at once (/bin/false): a node that does not come back after an upgrade
        kv_image = kv.get("image", "ghcr.io/kube-vip/kube-vip")
        for label, path in binaries.items():
            if label.startswith("kube-vip-v"):
                self.state["images"]["%s:%s" % (kv_image, label[len("kube-vip-"):])] = path
        for tag in ["v" + kube_vip.lstrip("v")] + [label[len("kube-vip-"):] for label in binaries
                                                   if label.startswith("kube-vip-v")]:
            self.state["images"]["%s:%s" % (BROKEN_KUBE_VIP_IMAGE, tag)] = "/bin/false"
        cp = example_vars.get("vip_control_plane") or {}
        # in-cluster clients (ServiceAccount pods) reach the API through the control-plane VIP
        self.state["service_host"] = [cp.get("address"), int(cp.get("port", 6443))] if cp else None

    def _start_router(self):
        """The upstream BGP router (tests/lab/bgprouter.py) when the inventory peers with the switch's address."""
        config = bgprouter.router_config(self.inventory()["all"]["vars"], IPV4_NET + str(SWITCH_HOST), self.nodes)
        if config is None:
            return
        env = dict(os.environ)
        env[MARKER_ENV] = "%s:router" % self.state["id"]
        pids = bgprouter.start(self.state["id"], self.state["switch"], config, env)
        # as in the field, the router is the nodes' way out: it forwards, and each node's default route points at
        # it (the services kube-vip reaches the API at the VIP, which only the router knows); the switch namespace
        # has no default route, so nothing leaves the lab
        run(["ip", "netns", "exec", self.state["switch"], "sysctl", "-qw", "net.ipv4.ip_forward=1"])
        for node in self.nodes:
            ip_batch(["route add default via %s" % config["router_id"]], netns=node["netns"])
        self.state["router"] = {"asn": config["asn"], "address": config["router_id"], "pids": pids,
                                "neighbors": [n["address"] for n in config["neighbors"]]}
        self._save()

    def _record_modprobe(self):
        """Without IPVS in this kernel, modprobe inside the nodes (only) records its arguments."""
        modprobe = shutil.which("modprobe")
        if not modprobe:
            raise LabError("modprobe (Debian's kmod) is missing: `make system` installs it")
        if run([modprobe, "--dry-run", "--quiet", "ip_vs"], check=False).returncode == 0:
            return
        recorder = os.path.join(self.state_dir, "modprobe-recorder")
        with open(recorder, "w") as handle:
            handle.write("#!/bin/sh\necho \"$*\" >> %s/modprobe.log\n" % self.state_dir)
        os.chmod(recorder, 0o755)
        for node in self.nodes:
            run(["nsenter", "--target", str(node["pid"]), "--mount", "--", "mount", "--bind", recorder, modprobe])

    def _start_runner(self, node):
        env = dict(os.environ)
        env[MARKER_ENV] = "%s:%s" % (self.state["id"], node["name"])
        with open(os.path.join(node["dir"], "runner.log"), "ab") as log:
            proc = subprocess.Popen([self.state["python"], os.path.join(HERE, "podrunner.py"), "--state-dir",
                                     self.state_dir, "--node", node["name"]], env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True, cwd="/")
        node["runner_pid"] = proc.pid
        proc.returncode = 0  # it outlives this process, like the holder

    def _bring_up(self, log):
        """reallab's bring-up, in a child process that enters the switch namespace (the lab's client)."""
        proc = subprocess.run([self.state["python"], os.path.abspath(__file__), "_bring-up", "--state-dir",
                               self.state_dir], check=False)
        if proc.returncode != 0:
            raise LabError("the real control plane did not come up (see above; pod logs in %s/nodes/*/logs)"
                           % self.state_dir)
        with open(os.path.join(self.state_dir, "bring-up.json")) as handle:
            self.state["bring_up"] = json.load(handle)
        self._save()

    def pods(self):
        """{node: the runner's pods.json} of a real lab."""
        out = {}
        for node in self.nodes:
            path = os.path.join(node["dir"], "pods.json")
            try:
                with open(path) as handle:
                    out[node["name"]] = json.load(handle)
            except (OSError, ValueError):
                out[node["name"]] = {"node": node["name"], "pods": {}, "runner": "no status yet"}
            out[node["name"]]["runner_alive"] = alive(node.get("runner_pid") or 0)
        return out

    def pod_pid(self, node_name, pod, container=None):
        status = self.pods()[node_name]["pods"].get(pod)
        if not status:
            raise LabError("no pod %r on %s" % (pod, node_name))
        containers = status["containers"]
        name = container or next(iter(containers))
        pid = (containers.get(name) or {}).get("pid")
        if not pid:
            raise LabError("container %s of pod %s on %s is not running" % (name, pod, node_name))
        return pid

    def kill(self, node_name, pod, sig=signal.SIGKILL, container=None):
        """Signal a running container of a pod (the runner restarts it unless paused)."""
        pid = self.pod_pid(node_name, pod, container)
        os.kill(pid, sig)
        return pid

    def pause(self, node_name, paused=True):
        path = os.path.join(self.node(node_name)["dir"], "runner.paused")
        if paused:
            with open(path, "w") as handle:
                handle.write("paused by lab.py\n")
        elif os.path.exists(path):
            os.unlink(path)

    def _create_network(self):
        sw = self.state["switch"]
        ip_batch(["netns add %s" % ns for ns in [sw] + [n["netns"] for n in self.nodes]])
        cmds = [
            "link set lo up",
            "link add br0 type bridge",
            "addr add %s%d/24 dev br0" % (IPV4_NET, SWITCH_HOST),
            "addr add %s%d/64 dev br0 nodad" % (IPV6_NET, SWITCH_HOST),
            # the segment also carries the Service pools (L2), as examples/lab's node_cidrs say
            "addr add %s/24 dev br0" % SERVICE_SEGMENT_ADDRESS,
        ]
        for node in self.nodes:
            cmds.append("link add %s type veth peer name %s netns %s" % (node["port"], node["interface"], node["netns"]))
            cmds.append("link set %s master br0 up" % node["port"])
        cmds.append("link set br0 up")
        ip_batch(cmds, netns=sw)
        for node in self.nodes:
            ip_batch([
                "link set lo up",
                "addr add %s/24 dev %s" % (node["ipv4"], node["interface"]),
                "addr add %s/64 dev %s nodad" % (node["ipv6"], node["interface"]),
                "link set %s up" % node["interface"],
            ], netns=node["netns"])

    def _start_holder(self, node):
        os.makedirs(node["dir"])
        script = holder_script(node["dir"])
        env = dict(os.environ)
        env[MARKER_ENV] = "%s:%s" % (self.state["id"], node["name"])
        argv = ["nsenter", "--net=%s" % os.path.join(NETNS_DIR, node["netns"]), "--",
                "unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script]
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, cwd="/")
        node["pid"] = proc.pid
        with open(os.path.join(node["dir"], "holder.pid"), "w") as handle:
            handle.write("%d\n" % proc.pid)
        self._save()
        ready, dummy, dummy = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            proc.kill()
            err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None else "(timed out)"
            raise LabError("holder of %s did not start: %s" % (node["name"], err.strip()))
        proc.stdout.close()
        proc.stderr.close()
        # the holder outlives this process: make sure Python does not warn about or wait for it
        proc.returncode = 0

    # ------------------------------------------------------------- inventory
    def inventory(self):
        """The Ansible inventory of this lab (a dict): example vars + one host per node."""
        example = {}
        if self.state.get("example") and os.path.exists(self.state["example"]):
            with open(self.state["example"]) as handle:
                example = yaml.safe_load(handle) or {}
        root = example.get("all", {}) or {}
        all_vars = dict(root.get("vars", {}) or {})
        all_vars.update({
            "ansible_connection": "baremetal.vip.netns",
            "ansible_python_interpreter": self.state["python"],
            "ansible_pipelining": True,
            # tasks already run as root in the node; there is no sudo to become with
            "ansible_become": False,
            "vip_lab_state_dir": self.state_dir,
            # "what is deployed", in the layout of playbooks/render.yml: verify/remediate read it
            "vip_verify_render_dir": self.state_dir,
        })
        if self.state.get("real") and all_vars.get("vip_control_plane"):
            # kubelet's Ready of the new kube-vip static pod, for playbooks/upgrade.yml: the runner's status
            all_vars["vip_upgrade_wait_command"] = [
                self.state["python"], os.path.join(TOP, "tests", "lab", "podrunner.py"), "--state-dir", self.state_dir,
                "--node", "{{ inventory_hostname }}", "--ready", "kube-vip"]
        if self.state.get("real") and all_vars.get("vip_control_plane") and not kernel_has_ipvs():
            # kube-vip with lb_enable panics without IPVS in the kernel (kube-vip v1.0.0,
            # pkg/loadbalancer/ipvs.go NewIPVSLB); this kernel has none, so the namespace lab runs the
            # control-plane VIP without the IPVS load balancer (inside User-Mode Linux, where ip_vs is
            # loaded, the rendered settings stay: tests/lab/ipvs_uml.py)
            cp = dict(all_vars["vip_control_plane"])
            cp["load_balancer"] = dict(cp.get("load_balancer") or {}, enabled=False)
            all_vars["vip_control_plane"] = cp
        example_hosts = {}
        example_groups = root.get("children", {}) or {}
        for group in example_groups.values():
            for host, hvars in ((group or {}).get("hosts", {}) or {}).items():
                example_hosts.setdefault(host, {}).update(hvars or {})
        for host, hvars in (root.get("hosts", {}) or {}).items():
            example_hosts.setdefault(host, {}).update(hvars or {})
        groups = {"kube_control_plane": {"hosts": {}}, "kube_node": {"hosts": {}}}
        for name, gdef in example_groups.items():
            if name not in groups and (gdef or {}).get("vars"):
                groups[name] = {"vars": gdef["vars"]}
        for name in ("kube_control_plane", "kube_node"):
            gvars = (example_groups.get(name) or {}).get("vars")
            if gvars:
                groups[name]["vars"] = gvars
        for node in self.nodes:
            hvars = dict(example_hosts.get(node["name"], {}))
            hvars.update({
                "ansible_host": node["ipv4"],
                "vip_node_ip": node["ipv4"],
                "ansible_netns_name": node["netns"],
                "ansible_netns_node_root": node["dir"],
                "vip_lab_node_ipv6": node["ipv6"],
            })
            group = "kube_control_plane" if node["control_plane"] else "kube_node"
            groups[group]["hosts"][node["name"]] = hvars
        # verify.yml's outside checks run in the switch namespace (the nodes' segment), never in the controller's own
        # namespace: this machine's uplink may be on a documentation network too, and nothing is sent there
        groups[VANTAGE_GROUP] = {"hosts": {VANTAGE_HOST: {"ansible_netns_name": self.state["switch"]}}}
        outside = dict(all_vars.get("vip_verify_outside") or {})
        outside.setdefault("vantage", VANTAGE_HOST)
        control_plane = [n for n in self.nodes if n["control_plane"]]
        if self.state.get("real") and control_plane:  # the real cluster's CA, as kubeadm wrote it on the first node
            outside.setdefault("ca_file", os.path.join(control_plane[0]["dir"], "root", "etc", "kubernetes", "pki", "ca.crt"))
        all_vars["vip_verify_outside"] = outside
        return {"all": {"vars": all_vars, "children": groups}}

    def write_inventory(self):
        text = "# Written by tests/lab/lab.py for the lab in %s; removed by `lab.py down`.\n" % self.state_dir
        text += yaml.safe_dump(self.inventory(), sort_keys=False, default_flow_style=False)
        with open(self.inventory_path, "w") as handle:
            handle.write("---\n" + text)

    # ------------------------------------------------------------------ down
    def down(self):
        """Remove holders, namespaces, mounts and files of this lab. Safe to run twice."""
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network and mount namespaces)")
        ident = self.state["id"] if self.state else lab_id(self.state_dir)
        pids = set(lab_processes(ident))
        for node in self.nodes:
            if node.get("pid"):
                env = environ(node["pid"]) or {}
                if env.get(MARKER_ENV, "").split(":")[0] == ident:
                    pids.add(node["pid"])
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        names = [self.state["switch"]] + [n["netns"] for n in self.nodes] if self.state else []
        # also namespaces of a lab whose state file was lost
        if os.path.isdir(NETNS_DIR):
            names += [n for n in os.listdir(NETNS_DIR) if n.startswith(ident + "-") and n not in names]
        existing = [n for n in names if ns_exists(n)]
        if existing:
            ip_batch(["netns delete %s" % n for n in existing])
        for entry in ("nodes", "cluster", "hosts"):
            path = os.path.join(self.state_dir, entry)
            if os.path.isdir(path):
                shutil.rmtree(path)
        bgprouter.remove(ident)
        for entry in ("bootstrap",):
            path = os.path.join(self.state_dir, entry)
            if os.path.isdir(path):
                shutil.rmtree(path)
        for entry in (STATE_FILE, "inventory.yml", "injected.json", "admin.conf", "bring-up.json", "modprobe-recorder",
                      "modprobe.log", "ansible-bootstrap.log"):
            path = os.path.join(self.state_dir, entry)
            if os.path.exists(path):
                os.unlink(path)
        if os.path.isdir(self.state_dir) and not os.listdir(self.state_dir):
            os.rmdir(self.state_dir)
        self.state = None

    # ---------------------------------------------------------------- status
    def status(self):
        """Per node: namespace present, holder alive, addresses on the node's interface."""
        if not self.state:
            return {"up": False, "state_dir": self.state_dir, "nodes": []}
        report = {"up": True, "state_dir": self.state_dir, "id": self.state["id"],
                  "switch": self.state["switch"], "inventory": self.inventory_path, "nodes": []}
        for node in self.nodes:
            entry = {"name": node["name"], "netns": node["netns"], "control_plane": node["control_plane"],
                     "netns_present": ns_exists(node["netns"]), "holder_alive": alive(node["pid"] or 0),
                     "addresses": []}
            if entry["netns_present"]:
                out = run(["ip", "-n", node["netns"], "-j", "addr", "show"], check=False).stdout
                for link in json.loads(out or "[]"):
                    for addr in link.get("addr_info", []):
                        entry["addresses"].append("%s %s/%s" % (link["ifname"], addr["local"], addr["prefixlen"]))
            report["up"] = report["up"] and entry["netns_present"] and entry["holder_alive"]
            if self.state.get("real"):
                entry["runner_alive"] = alive(node.get("runner_pid") or 0)
                keep = ("state", "pid", "restarts", "last_exit", "reason")
                entry["pods"] = {name: {"phase": pod["phase"], "error": pod["error"],
                                        "containers": {c: {k: v for k, v in info.items() if k in keep}
                                                       for c, info in pod["containers"].items()}}
                                 for name, pod in self.pods()[node["name"]].get("pods", {}).items()}
                report["up"] = report["up"] and entry["runner_alive"]
            report["nodes"].append(entry)
        return report


if __name__ == "__main__":
    from labcli import main  # pylint: disable=import-outside-toplevel  # the CLI imports this module
    sys.exit(main())

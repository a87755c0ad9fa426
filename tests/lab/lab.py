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

import argparse
import hashlib
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
import real_failures  # noqa: E402  pylint: disable=wrong-import-position
import reallab  # noqa: E402  pylint: disable=wrong-import-position

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_EXAMPLE = os.path.join(TOP, "examples", "lab", "inventory.yml")
REALBIN_DIR = os.path.join(TOP, "tests", "realbin")
# a kube-vip image repository the real lab maps to /bin/false at every kube-vip release it builds (a release
# whose program exits at once: a node that does not come back, upgrade.yml's failure path)
BROKEN_KUBE_VIP_IMAGE = "example.invalid/kube-vip-exits"
PRIVATE_DIRS = ("/etc/kubernetes", "/etc/rancher", "/var/lib/rancher", "/etc/modules-load.d", "/etc/sysctl.d",
                "/var/lib/etcd", "/var/lib/kubelet")
MARKER_ENV = "BAREMETAL_VIP_LAB"
KEEP_ENV = "BAREMETAL_VIP_LAB_KEEP"  # 1: a failed `up` leaves the lab as it is, to look at (then `down`)
STATE_FILE = "lab.json"
NETNS_DIR = "/run/netns"
IPV4_NET = "192.0.2."
IPV6_NET = "2001:db8::"
SWITCH_HOST = 1
SERVICE_SEGMENT_ADDRESS = "198.51.100.254"
VANTAGE_GROUP, VANTAGE_HOST = "lab_vantage", "lab-switch"  # the switch namespace as an inventory host (outside checks)
FIRST_NODE_HOST = 11
CONTROL_PLANE_PREFIXES = ("cp", "master", "server", "control")


class LabError(Exception):
    """A lab operation failed; the message says which and why."""


def run(argv, stdin=None, check=True):
    """Run a command, return its CompletedProcess; raise LabError with its stderr on failure."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise LabError("%s failed (%d): %s" % (" ".join(argv), proc.returncode, proc.stderr.strip()))
    return proc


def ip_batch(commands, netns=None):
    """Run iproute2 commands in one process (`ip [-n NS] -batch -`)."""
    if not commands:
        return
    argv = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    run(argv, stdin="\n".join(commands) + "\n")


def lab_id(state_dir):
    """Short, stable id of a lab from its state directory (names its namespaces)."""
    return "vl" + hashlib.sha1(os.path.realpath(state_dir).encode()).hexdigest()[:6]


def kernel_has_ipvs():
    """True where the running kernel has IPVS loaded (/proc/net/ip_vs), e.g. the User-Mode Linux guest."""
    return os.path.exists("/proc/net/ip_vs")


def is_control_plane(name):
    return name.startswith(CONTROL_PLANE_PREFIXES)


def _ns_exists(name):
    return os.path.exists(os.path.join(NETNS_DIR, name))


def _environ(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def lab_processes(ident):
    """PIDs of every process carrying this lab's marker (holders and anything started in them)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            env = _environ(int(entry))
            if env and env.get(MARKER_ENV, "").split(":")[0] == ident:
                pids.append(int(entry))
    return pids


def _alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _mountpoint_plan(paths):
    """(overlay targets, missing paths): the nearest existing ancestor of each missing path."""
    overlays, missing = [], []
    for path in paths:
        if os.path.isdir(path):
            continue
        missing.append(path)
        parent = os.path.dirname(path)
        while not os.path.isdir(parent):
            parent = os.path.dirname(parent)
        if parent == "/":
            raise LabError("refusing to put an overlay over / for %s" % path)
        if parent not in overlays:
            overlays.append(parent)
    # an overlay on /a makes one on /a/b needless (mkdir -p lands in the upper layer)
    overlays = [o for o in overlays if not any(o.startswith(other + "/") for other in overlays)]
    return overlays, missing


def holder_script(node_dir):
    """Shell run by the holder inside the node's namespaces: mounts, then `sleep infinity`."""
    overlays, missing = _mountpoint_plan(PRIVATE_DIRS)
    lines = ["set -e"]
    # copies of other namespaces' /run/netns entries would keep them alive: drop them here
    lines.append("for f in %s/*; do umount \"$f\" 2>/dev/null || true; done" % NETNS_DIR)
    for index, target in enumerate(overlays):
        layer = os.path.join(node_dir, "overlay", str(index))
        os.makedirs(os.path.join(layer, "upper"))
        os.makedirs(os.path.join(layer, "work"))
        lines.append("mount -t overlay lab-overlay -o lowerdir=%s,upperdir=%s/upper,workdir=%s/work %s"
                     % (target, layer, layer, target))
    for path in missing:
        lines.append("mkdir -p %s" % path)
    for path in PRIVATE_DIRS:
        source = os.path.join(node_dir, "root", path.lstrip("/"))
        os.makedirs(source, exist_ok=True)
        lines.append("mount --bind %s %s" % (source, path))
    lines.append("echo ready")
    lines.append("exec sleep infinity </dev/null >/dev/null 2>&1")
    return "\n".join(lines)


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
            out[node["name"]]["runner_alive"] = _alive(node.get("runner_pid") or 0)
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
                env = _environ(node["pid"]) or {}
                if env.get(MARKER_ENV, "").split(":")[0] == ident:
                    pids.add(node["pid"])
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        names = [self.state["switch"]] + [n["netns"] for n in self.nodes] if self.state else []
        # also namespaces of a lab whose state file was lost
        if os.path.isdir(NETNS_DIR):
            names += [n for n in os.listdir(NETNS_DIR) if n.startswith(ident + "-") and n not in names]
        existing = [n for n in names if _ns_exists(n)]
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
                     "netns_present": _ns_exists(node["netns"]), "holder_alive": _alive(node["pid"] or 0),
                     "addresses": []}
            if entry["netns_present"]:
                out = run(["ip", "-n", node["netns"], "-j", "addr", "show"], check=False).stdout
                for link in json.loads(out or "[]"):
                    for addr in link.get("addr_info", []):
                        entry["addresses"].append("%s %s/%s" % (link["ifname"], addr["local"], addr["prefixlen"]))
            report["up"] = report["up"] and entry["netns_present"] and entry["holder_alive"]
            if self.state.get("real"):
                entry["runner_alive"] = _alive(node.get("runner_pid") or 0)
                keep = ("state", "pid", "restarts", "last_exit", "reason")
                entry["pods"] = {name: {"phase": pod["phase"], "error": pod["error"],
                                        "containers": {c: {k: v for k, v in info.items() if k in keep}
                                                       for c, info in pod["containers"].items()}}
                                 for name, pod in self.pods()[node["name"]].get("pods", {}).items()}
                report["up"] = report["up"] and entry["runner_alive"]
            report["nodes"].append(entry)
        return report


def _stale_route(lab, undo):
    """lab.py stale-route: make failure 3, keeping the services DaemonSet as it was in STATE/stale-route.json as
    soon as it is edited; with undo, delete the scenario's Services (kube-vip removes the live one's route),
    then put the services DaemonSet back and forget the record."""
    real = reallab.RealLab(lab)
    path = os.path.join(lab.state_dir, "stale-route.json")
    if not undo:
        def edited(before):
            with open(path, "w") as handle:
                json.dump(before, handle)
        print(json.dumps(real_failures.stale_route(real, edited=edited), indent=2, sort_keys=True))
        return 0
    if not os.path.exists(path):
        raise LabError("no failure-3 scenario to undo in %s (run lab.py stale-route first)" % lab.state_dir)
    with open(path) as handle:
        before = json.load(handle)
    for name in ("rt-keep", "rt-gone"):
        real_failures.delete_service(real, name)
    try:  # kube-vip removes a live Service's route when it sees the Service deleted; a stale one stays
        real_failures.wait_until("the scenario's routes gone with their Services", lambda: not any(
            real_failures.kube_vip_routes(lab, n["name"]) for n in lab.nodes), 40)
    except real_failures.ScenarioError as exc:
        print("lab.py stale-route --undo: %s (left for remediate.yml)" % exc, file=sys.stderr)
    real_failures.restore_daemonset(real, before)
    os.unlink(path)
    print("failure 3 undone: Services rt-keep and rt-gone deleted, the services DaemonSet as before")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description="A lab of network-namespace nodes for baremetal.vip (root only).")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="create the lab (a running lab in the same state dir is removed first)")
    p_up.add_argument("--nodes", default="cp1,cp2,cp3,w1,w2", help="comma list of node names (default %(default)s)")
    p_up.add_argument("--control-plane", default=None,
                      help="comma list of control-plane nodes (default: names starting with cp/master/server/control)")
    p_up.add_argument("--example", default=DEFAULT_EXAMPLE, help="inventory whose vars the lab uses (default %(default)s)")
    p_up.add_argument("--python", default=sys.executable, help="Python the nodes run modules with (default %(default)s)")
    p_up.add_argument("--real", action="store_true",
                      help="run the real control plane (etcd, kube-apiserver, kubeadm, kube-vip) on the nodes")
    p_up.add_argument("--no-init", action="store_true",
                      help="with --real: binaries and runners only, every node as before kubeadm init")
    p_kill = sub.add_parser("kill", help="signal a container of a pod (real lab)")
    p_kill.add_argument("node")
    p_kill.add_argument("pod")
    p_kill.add_argument("--signal", default="KILL", help="signal name (default %(default)s)")
    p_pause = sub.add_parser("pause", help="the node's runner stops restarting containers (real lab)")
    p_resume = sub.add_parser("resume", help="the node's runner restarts containers again (real lab)")
    for sp in (p_pause, p_resume):
        sp.add_argument("node")
    p_api = sub.add_parser("api", help="one API request through the lab's admin.conf from the switch (real lab)")
    p_api.add_argument("method", choices=["GET", "POST", "PUT", "PATCH", "DELETE"])
    p_api.add_argument("path", help="e.g. /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/plndr-cp-lock")
    p_api.add_argument("--body", default=None, help="JSON body")
    p_failover = sub.add_parser("failover", help="SIGKILL the VIP holder's kube-vip and measure (real lab)")
    p_failover.add_argument("--pause", action="store_true",
                            help="keep the killed kube-vip dead (the node's runner stays paused; `resume` ends it)")
    p_partition = sub.add_parser("partition", help="cut the VIP holder's link on the switch, heal it, measure (real lab)")
    p_partition.add_argument("--hold", type=float, default=5.0, help="seconds the cut stays after another node took the VIP")
    p_exec = sub.add_parser("exec", help="run a command in the switch namespace (the lab's client)")
    p_exec.add_argument("argv", nargs=argparse.REMAINDER)
    p_drift = sub.add_parser("drift-static-pod", help="failure 2: NODE's kube-vip static pod edited to svc_enable "
                                                      "while a LoadBalancer Service exists (real lab)")
    p_drift.add_argument("node")
    p_drift.add_argument("--service", default="drift-web", help="the Service created first (default %(default)s)")
    p_stale = sub.add_parser("stale-route", help="failure 3: the services DaemonSet in routing-table mode, its "
                                                 "kube-vip killed while a Service is deleted (real lab)")
    p_stale.add_argument("--undo", action="store_true",
                         help="delete the scenario's Services and put the services DaemonSet back as it was")
    parsers = [p_up, p_api, p_kill, p_pause, p_resume, p_exec, p_partition, p_drift, p_stale,
               sub.add_parser("down", help="remove the lab; safe to run twice"),
               sub.add_parser("status", help="print the lab's state as JSON"),
               sub.add_parser("pods", help="print every node's pods as JSON (real lab)"),
               sub.add_parser("bgp", help="the lab router's BGP neighbours, routes and kernel routes as JSON (BGP lab)"),
               sub.add_parser("place", help="place the collection's (and MetalLB's) DaemonSets and Deployments again (real lab)"),
               sub.add_parser("pin-daemonset", help="failure 5: our services DaemonSet applied pinned to the control plane"),
               p_failover,
               sub.add_parser("_bring-up", help=argparse.SUPPRESS)]
    for sp in parsers:
        sp.add_argument("--state-dir", required=True, help="directory of the lab's state, inventory and node files")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("lab.py: needs root (it creates network and mount namespaces)", file=sys.stderr)
        return 2
    lab = Lab(args.state_dir)
    try:
        return _command(lab, args)
    except (LabError, reallab.RealLabError, bgprouter.RouterError, real_failures.ScenarioError) as exc:
        print("lab.py: %s" % exc, file=sys.stderr)
        return 1


def _command(lab, args):
    if args.command == "up":
        started = time.monotonic()
        names = [n for n in args.nodes.split(",") if n]
        cps = [n for n in args.control_plane.split(",") if n] if args.control_plane else None
        if args.no_init and not args.real:
            raise LabError("--no-init goes with --real")
        lab.up(names, example=args.example, python=args.python, control_plane=cps, real=args.real,
               bring_up=not args.no_init)
        print("lab %s up%s: %d nodes in %.2fs; inventory %s" % (
            lab.state["id"], (" (real programs, not initialised)" if args.no_init else " (real control plane)") if args.real else "", len(names),
            time.monotonic() - started, lab.inventory_path))
    elif args.command == "down":
        started = time.monotonic()
        lab.down()
        print("lab down in %.2fs (%s)" % (time.monotonic() - started, lab.state_dir))
    elif args.command == "status":  # also without a lab: {"up": false}, exit 1
        report = lab.status()
        print(json.dumps(report, indent=2))
        return 0 if report["up"] else 1
    elif not lab.state:
        raise LabError("no lab in %s" % lab.state_dir)
    elif args.command == "pods":
        print(json.dumps(lab.pods(), indent=2, sort_keys=True))
    elif args.command == "bgp":
        if not lab.state.get("router"):
            raise LabError("the lab in %s has no BGP router (its inventory has no peer at the switch's address)"
                           % lab.state_dir)
        table = bgprouter.rib(lab.state["id"])
        kernel = {prefix: bgprouter.kernel_next_hops(lab.state["switch"], prefix.split("/")[0]) for prefix in table}
        print(json.dumps({"neighbors": bgprouter.neighbors(lab.state["id"]), "rib": table, "kernel": kernel},
                         indent=2, sort_keys=True))
    elif args.command == "kill":
        pid = lab.kill(args.node, args.pod, getattr(signal, "SIG" + args.signal.upper().replace("SIG", "")))
        print("sent SIG%s to %s/%s (pid %d)" % (args.signal.upper().replace("SIG", ""), args.node, args.pod, pid))
    elif args.command in ("pause", "resume"):
        lab.pause(args.node, args.command == "pause")
        print("runner of %s %sd" % (args.node, args.command))
    elif args.command == "exec":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        return subprocess.run(["ip", "netns", "exec", lab.state["switch"]] + argv, check=False).returncode
    elif args.command == "api":
        reallab.enter_netns(lab.state["switch"])
        status, data = reallab.RealLab(lab).request(args.method, args.path,
                                                    json.loads(args.body) if args.body else None)
        print(json.dumps({"status": status, "body": data}, indent=2, sort_keys=True, default=str))
        return 0 if status is not None and status < 400 else 1
    elif args.command == "place":
        reallab.enter_netns(lab.state["switch"])
        placed = reallab.RealLab(lab).place_workloads()
        print(json.dumps(placed, indent=2, sort_keys=True))
    elif args.command == "pin-daemonset":
        reallab.enter_netns(lab.state["switch"])
        placed = reallab.RealLab(lab).pin_services_daemonset()
        print(json.dumps(placed, indent=2, sort_keys=True))
    elif args.command == "failover":
        reallab.enter_netns(lab.state["switch"])
        print(json.dumps(reallab.RealLab(lab).failover(pause=args.pause), indent=2, sort_keys=True))
    elif args.command == "partition":
        reallab.enter_netns(lab.state["switch"])
        print(json.dumps(reallab.RealLab(lab).partition(hold=args.hold), indent=2, sort_keys=True))
    elif args.command == "drift-static-pod":
        reallab.enter_netns(lab.state["switch"])
        print(json.dumps(real_failures.drift_static_pod(reallab.RealLab(lab), args.node, args.service), indent=2,
                         sort_keys=True))
    elif args.command == "stale-route":
        reallab.enter_netns(lab.state["switch"])
        return _stale_route(lab, args.undo)
    elif args.command == "_bring-up":
        reallab.enter_netns(lab.state["switch"])
        real = reallab.RealLab(lab, log=lambda msg: print(msg, flush=True))
        timings = real.bring_up()
        with open(os.path.join(lab.state_dir, "bring-up.json"), "w") as handle:
            json.dump(timings, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())

# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The static-pod runner: a STAND-IN for kubelet + container runtime on one lab node.

It is the one stand-in of the real lab (docs/lab.md), and a small one. It does what kubelet does
with static pods, and nothing more:

- it watches the node's static pod directories (the host-side copies of /etc/kubernetes/manifests
  and the k3s/RKE2 pod-manifests directories of the node's private mount namespace) and the lab's
  own pod directory (STATE/nodes/NODE/pods.d, where the lab's placement of DaemonSet and Deployment
  pods writes the pods it gives this node, each with a ServiceAccount token);
- for each pod it runs each container's command/args/env as a process in the node's network and
  mount namespaces (entered through the node's holder, as the netns connection plugin does), in a
  private mount and UTS namespace of its own: the hostname is the node's name, `hostAliases` go
  into the pod's own /etc/hosts, hostPath volumes are bind-mounted where the mount path differs,
  a pod with a ServiceAccount gets the token, CA and namespace files at
  /var/run/secrets/kubernetes.io/serviceaccount and KUBERNETES_SERVICE_HOST/PORT;
- the image is mapped to a binary built by tests/realbin (lab.json "images"); an image the lab has
  no binary for is an error naming it, and nothing is run;
- restartPolicy Always: a container that exits is started again with back-off (1 s doubling to
  BACKOFF_MAX s, reset after RESET_AFTER s running); a pod whose manifest goes is stopped (SIGTERM,
  then SIGKILL after its grace period); a changed manifest is a new pod;
- pod status (phase, pid, restarts, last exit, reason) is written to STATE/nodes/NODE/pods.json;
  every container's stdout/stderr goes to STATE/nodes/NODE/logs/<pod>_<container>.log.

`podrunner.py --state-dir DIR --node NAME --ready POD` answers what kubelet's Ready condition answers for a
static pod, from that status: exit 0 when pod POD runs its manifest file as it is now (the sha256 the runner
started it from), every container running for at least --min-up seconds without a restart; else exit 1 saying
why. The lab's inventory gives it to playbooks/upgrade.yml as vip_upgrade_wait_command (the documented hook
where no kubelet reports mirror pods).

It never reports a container running unless its process is alive. A file STATE/nodes/NODE/runner.paused
makes it stop restarting containers (what runs keeps running): the lab's way to keep a killed
kube-vip dead. It does not run probes, init containers, or anything but hostNetwork pods.

    podrunner.py --state-dir DIR --node NAME      (started by `lab.py up --real`, stopped by `lab.py down`)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import yaml

POLL = 0.25
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 10.0
RESET_AFTER = 10.0
DEFAULT_GRACE = 5.0
STATIC_DIRS = ("/etc/kubernetes/manifests", "/var/lib/rancher/k3s/agent/pod-manifests",
               "/var/lib/rancher/rke2/agent/pod-manifests")
LAB_PODS = "pods.d"
SA_DIR = "/run/secrets/kubernetes.io/serviceaccount"  # /var/run is /run
# what a container never sees of the node unless it mounts it: the lab's private node trees and /run
HIDDEN_DIRS = ("/etc/kubernetes", "/etc/rancher", "/var/lib/rancher", "/var/lib/etcd", "/var/lib/kubelet", "/run")
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MARKER_ENV = "BAREMETAL_VIP_LAB"


class PodError(Exception):
    """The pod cannot be run as written; the message says why (it goes into the pod's status)."""


def image_binary(image, images):
    """The binary for IMAGE from the lab's image map, or PodError naming the image."""
    if image in images:
        return images[image]
    raise PodError("image %s has no binary in this lab (the lab runs: %s)" % (image, ", ".join(sorted(images)) or "none"))


def field_ref(path, pod, node):
    values = {
        "spec.nodeName": node["name"],
        "status.podIP": node["ipv4"],
        "status.hostIP": node["ipv4"],
        "metadata.name": pod["metadata"]["name"],
        "metadata.namespace": pod["metadata"].get("namespace", "default"),
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
    }
    if path not in values:
        raise PodError("env fieldRef %s is not supported by the lab's runner" % path)
    return values[path]


def secret_value(ref, secrets_dir):
    """An env secretKeyRef's value from SECRETS_DIR/<secret>/<key>, where the lab's placement wrote the Secret
    it read from the API (kubelet reads it from the API itself); a missing one fails the start, as kubelet's
    CreateContainerConfigError does, unless optional."""
    path = os.path.join(secrets_dir or "", ref["name"], ref["key"])
    if secrets_dir and os.path.isfile(path):
        with open(path) as handle:
            return handle.read()
    if ref.get("optional"):
        return None
    raise PodError("secret %s (key %s) not found for this pod" % (ref["name"], ref["key"]))


def container_env(container, pod, node, service_host=None, secrets_dir=None):
    """The process environment of one container (pod env, then the Service variables)."""
    env = {"PATH": BASE_PATH, "HOSTNAME": node["name"], "HOME": "/root"}
    if service_host:
        env.update({"KUBERNETES_SERVICE_HOST": service_host[0], "KUBERNETES_SERVICE_PORT": str(service_host[1])})
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif "valueFrom" in item and "fieldRef" in item["valueFrom"]:
            env[item["name"]] = field_ref(item["valueFrom"]["fieldRef"]["fieldPath"], pod, node)
        elif "valueFrom" in item and "secretKeyRef" in item["valueFrom"]:
            value = secret_value(item["valueFrom"]["secretKeyRef"], secrets_dir)
            if value is not None:
                env[item["name"]] = value
        elif "valueFrom" in item:
            raise PodError("env %s: only value, fieldRef and secretKeyRef are supported by the lab's runner"
                           % item["name"])
        else:
            env[item["name"]] = ""
    return env


def container_argv(container, binary):
    """command + args with the image's program replaced by its built binary."""
    command = list(container.get("command") or [])
    args = [str(a) for a in container.get("args") or []]
    if not command:
        return [binary] + args
    if os.path.basename(command[0]) != os.path.basename(binary):
        raise PodError("container %s runs %s, but its image's program is %s" % (
            container["name"], command[0], os.path.basename(binary)))
    return [binary] + [str(c) for c in command[1:]] + args


def mount_lines(pod, container, stage):
    """Shell lines giving the container its filesystem view, as a runtime would.

    Each hostPath volume is first bound to a staging point (STAGE/N), then the node's private
    directories (HIDDEN_DIRS: /etc/kubernetes, the k3s/RKE2 trees, ...) and /run are covered by empty
    tmpfs mounts, so a container sees nothing of them but what it mounts (kube-vip would otherwise
    find the node's admin.conf instead of its ServiceAccount), then each staged volume is bound at
    its mountPath. A hostPath of type File/Directory that does not exist fails the start (exit 97),
    as kubelet's type check does; a missing *OrCreate path is skipped (nothing is created on the node).
    """
    volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    staged, lines = [], []
    for index, mount in enumerate(container.get("volumeMounts") or []):
        volume = volumes.get(mount["name"])
        if volume is None:
            raise PodError("volumeMount %s names no volume" % mount["name"])
        if "hostPath" not in volume:
            raise PodError("volume %s: only hostPath volumes run in the lab" % mount["name"])
        source = volume["hostPath"]["path"]
        kind = volume["hostPath"].get("type", "")
        point = "%s/%d" % (stage, index)
        src = shlex.quote(source)
        if kind in ("File", "Directory", "Socket"):
            test = {"File": "-f", "Directory": "-d", "Socket": "-S"}[kind]
            lines.append("test %s %s || { echo 'hostPath %s is not a %s on the node' >&2; exit 97; }"
                         % (test, src, source, kind.lower()))
        lines.append("if [ -d %s ]; then mkdir -p %s; elif [ -e %s ]; then : > %s; fi" % (src, point, src, point))
        lines.append("[ ! -e %s ] || mount --bind %s %s" % (src, src, point))
        staged.append((point, mount["mountPath"], bool(mount.get("readOnly"))))
    lines += ["mount -t tmpfs lab-hide %s" % d for d in HIDDEN_DIRS]
    for point, target, read_only in staged:
        dst = shlex.quote(target)
        lines.append("if [ -d %s ]; then mkdir -p %s; elif [ -e %s ]; then [ -e %s ] || { mkdir -p \"$(dirname %s)\"; : > %s; }; fi"
                     % (point, dst, point, dst, dst, dst))
        lines.append("[ ! -e %s ] || mount --bind %s%s %s" % (point, "-o ro " if read_only else "", point, dst))
    return lines


def hosts_text(pod, node):
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "%s\t%s" % (node["ipv4"], node["name"])]
    for alias in pod["spec"].get("hostAliases") or []:
        lines.append("%s\t%s" % (alias["ip"], " ".join(alias.get("hostnames") or [])))
    return "\n".join(lines) + "\n"


def launch_script(pod, container, node, binary, pod_dir, service_host=None):
    """The shell script run inside the node's namespaces that becomes the container's process.

    A pod without hostNetwork runs in the node's network namespace all the same: the lab has no pod
    network (the cloud provider, the only such pod, needs nothing but the API).
    """
    env = container_env(container, pod, node, service_host, os.path.join(pod_dir, "secrets"))
    argv = container_argv(container, binary)
    hosts = os.path.join(pod_dir, "hosts")
    with open(hosts, "w") as handle:
        handle.write(hosts_text(pod, node))
    home = os.path.join(pod_dir, "home")
    os.makedirs(home, exist_ok=True)
    env["HOME"] = home  # never the machine's /root (kube-vip reads $HOME/.kube/config)
    stage = os.path.join(pod_dir, "volumes")
    os.makedirs(stage, exist_ok=True)
    lines = ["set -e", "hostname %s" % shlex.quote(node["name"]),
             "mount --bind %s /etc/hosts" % shlex.quote(hosts)]
    lines += mount_lines(pod, container, stage)
    sa_dir = os.path.join(pod_dir, "serviceaccount")
    if os.path.isdir(sa_dir):
        lines += ["mkdir -p %s" % SA_DIR, "mount --bind -o ro %s %s" % (shlex.quote(sa_dir), SA_DIR)]
    env_args = " ".join(shlex.quote("%s=%s" % item) for item in sorted(env.items()))
    marker = shlex.quote(os.environ.get(MARKER_ENV, ""))
    lines.append("exec env -i %s=%s %s %s" % (MARKER_ENV, marker, env_args, " ".join(shlex.quote(a) for a in argv)))
    return "\n".join(lines) + "\n"


class Container:
    def __init__(self, pod_name, spec):
        self.pod = pod_name
        self.name = spec["name"]
        self.spec = spec
        self.proc = None
        self.log = None
        self.restarts = 0
        self.started = None
        self.started_mono = None
        self.next_start = 0.0
        self.backoff = BACKOFF_FIRST
        self.last_exit = None
        self.reason = None
        self.started_epoch = None

    def status(self):
        alive = self.proc is not None and self.proc.poll() is None
        return {"state": "running" if alive else ("error" if self.reason and self.proc is None else "waiting"),
                "pid": self.proc.pid if alive else None, "restarts": self.restarts,
                "last_exit": self.last_exit, "reason": self.reason,
                "started_at": self.started if alive else None,
                "started_epoch": self.started_epoch if alive else None}


class Runner:
    def __init__(self, state_dir, node_name):
        self.state_dir = os.path.realpath(state_dir)
        with open(os.path.join(self.state_dir, "lab.json")) as handle:
            lab = json.load(handle)
        self.node = next(n for n in lab["nodes"] if n["name"] == node_name)
        self.images = lab.get("images") or {}
        self.service_host = tuple(lab["service_host"]) if lab.get("service_host") else None
        self.holder = self.node["pid"]
        self.node_dir = self.node["dir"]
        self.log_dir = os.path.join(self.node_dir, "logs")
        self.pod_root = os.path.join(self.node_dir, "run")
        self.status_path = os.path.join(self.node_dir, "pods.json")
        self.pause_path = os.path.join(self.node_dir, "runner.paused")
        os.makedirs(self.log_dir, exist_ok=True)
        os.makedirs(self.pod_root, exist_ok=True)
        os.makedirs(os.path.join(self.node_dir, LAB_PODS), exist_ok=True)
        self.pods = {}  # key -> {"digest", "file", "manifest", "containers": [Container], "error"}
        self.stopping = False
        self._last_status = None

    # ------------------------------------------------------------- sources
    def sources(self):
        dirs = [os.path.join(self.node_dir, "root", d.lstrip("/")) for d in STATIC_DIRS]
        dirs.append(os.path.join(self.node_dir, LAB_PODS))
        found = {}
        for directory in dirs:
            if not os.path.isdir(directory):
                continue
            for name in sorted(os.listdir(directory)):
                if name.startswith(".") or not name.endswith((".yaml", ".yml", ".json")):
                    continue
                path = os.path.join(directory, name)
                try:
                    with open(path, "rb") as handle:
                        data = handle.read()
                except OSError:
                    continue
                found[path] = data
        return found

    def load(self, path, data):
        try:
            docs = [d for d in yaml.safe_load_all(data) if d]
        except yaml.YAMLError as exc:
            raise PodError("%s is not YAML: %s" % (path, exc))
        if len(docs) != 1 or docs[0].get("kind") != "Pod":
            raise PodError("%s does not hold exactly one Pod" % path)
        return docs[0]

    # ----------------------------------------------------------- lifecycle
    def sync(self):
        found = self.sources()
        for key in list(self.pods):
            if key not in found or hashlib.sha256(found[key]).hexdigest() != self.pods[key]["digest"]:
                self.stop_pod(key)
        for key, data in found.items():
            if key in self.pods:
                continue
            entry = {"digest": hashlib.sha256(data).hexdigest(), "file": key, "containers": [], "error": None,
                     "name": os.path.basename(key).rsplit(".", 1)[0], "manifest": None}
            try:
                pod = self.load(key, data)
                entry["manifest"] = pod
                entry["name"] = pod["metadata"]["name"]
                entry["containers"] = [Container(entry["name"], c) for c in pod["spec"]["containers"]]
                for container in entry["containers"]:
                    image_binary(container.spec.get("image", ""), self.images)
            except (PodError, KeyError, TypeError) as exc:
                entry["error"] = str(exc)
                entry["containers"] = []
            self.pods[key] = entry
        paused = os.path.exists(self.pause_path)
        now = time.monotonic()
        for entry in self.pods.values():
            for container in entry["containers"]:
                if container.proc is not None and container.proc.poll() is not None:
                    code = container.proc.returncode
                    container.last_exit = {"code": code, "at": time.strftime("%H:%M:%S")}
                    container.proc = None
                    container.log.write(("--- lab runner: exited with %s\n" % code).encode())
                    container.log.close()
                    ran = now - (container.started_mono or now)
                    container.backoff = BACKOFF_FIRST if ran >= RESET_AFTER else min(container.backoff * 2, BACKOFF_MAX)
                    container.next_start = now + container.backoff
                if container.proc is None and not paused and now >= container.next_start:
                    self.start(entry, container)
        self.write_status(paused)

    def start(self, entry, container):
        pod = entry["manifest"]
        pod_dir = os.path.join(self.pod_root, "%s_%s" % (entry["name"], entry["digest"][:8]))
        os.makedirs(pod_dir, exist_ok=True)
        side = entry["file"] + ".serviceaccount"
        if os.path.isdir(side) and not os.path.exists(os.path.join(pod_dir, "serviceaccount")):
            os.symlink(side, os.path.join(pod_dir, "serviceaccount"))
        side = entry["file"] + ".secrets"
        if os.path.isdir(side) and not os.path.exists(os.path.join(pod_dir, "secrets")):
            os.symlink(side, os.path.join(pod_dir, "secrets"))
        try:
            binary = image_binary(container.spec.get("image", ""), self.images)
            script = launch_script(pod, container.spec, self.node, binary, pod_dir, self.service_host)
        except PodError as exc:
            container.reason = str(exc)
            container.next_start = float("inf")
            return
        if container.log is None or container.log.closed:
            container.log = open(os.path.join(self.log_dir, "%s_%s.log" % (entry["name"], container.name)), "ab")
        container.log.write(("--- lab runner: starting %s (restart %d) at %s\n" % (
            container.name, container.restarts if container.started else 0, time.strftime("%H:%M:%S"))).encode())
        container.log.flush()
        argv = ["nsenter", "--target", str(self.holder), "--mount", "--net", "--",
                "unshare", "--mount", "--uts", "--propagation", "private", "--", "/bin/sh", "-c", script]
        if container.started is not None:
            container.restarts += 1
        container.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=container.log, stderr=container.log,
                                          start_new_session=True, cwd="/")
        container.started = time.strftime("%H:%M:%S")
        container.started_mono = time.monotonic()
        container.started_epoch = round(time.time(), 3)
        container.reason = None

    def stop_pod(self, key):
        entry = self.pods.pop(key)
        grace = DEFAULT_GRACE
        if entry["manifest"]:
            grace = float(entry["manifest"]["spec"].get("terminationGracePeriodSeconds", DEFAULT_GRACE) or 0)
        procs = [c.proc for c in entry["containers"] if c.proc is not None and c.proc.poll() is None]
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + min(grace, 30)
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        for proc in procs:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        for container in entry["containers"]:
            if container.log is not None and not container.log.closed:
                container.log.write(b"--- lab runner: pod stopped (manifest removed or changed)\n")
                container.log.close()

    def write_status(self, paused):
        status = {"node": self.node["name"], "paused": paused, "pods": {}}
        for entry in self.pods.values():
            containers = {c.name: c.status() for c in entry["containers"]}
            if entry["error"]:
                phase = "Error"
            elif containers and all(c["state"] == "running" for c in containers.values()):
                phase = "Running"
            else:
                phase = "Pending"
            status["pods"][entry["name"]] = {"file": entry["file"], "phase": phase, "error": entry["error"],
                                             "digest": entry["digest"], "containers": containers}
        text = json.dumps(status, indent=2, sort_keys=True)
        if text != self._last_status:
            tmp = self.status_path + ".tmp"
            with open(tmp, "w") as handle:
                handle.write(text)
            os.replace(tmp, self.status_path)
            self._last_status = text

    def run(self):
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        while not self.stopping:
            self.sync()
            time.sleep(POLL)
        for key in list(self.pods):
            self.stop_pod(key)
        self.write_status(False)

    def _on_term(self, *dummy):
        self.stopping = True


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def pod_ready(state_dir, node_name, pod_name, min_up, now=None):
    """(ready, why): whether POD runs the manifest its file holds now, every container up >= MIN_UP s, no restart."""
    with open(os.path.join(state_dir, "lab.json")) as handle:
        node = next(n for n in json.load(handle)["nodes"] if n["name"] == node_name)
    try:
        with open(os.path.join(node["dir"], "pods.json")) as handle:
            status = json.load(handle)
    except (OSError, ValueError) as exc:
        return False, "no status of the runner of %s yet (%s)" % (node_name, exc)
    pod = status["pods"].get(pod_name)
    if pod is None:
        return False, "pod %s is not run on %s (pods: %s)" % (pod_name, node_name, ", ".join(sorted(status["pods"])))
    try:
        with open(pod["file"], "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    except OSError as exc:
        return False, "the manifest of pod %s is gone (%s)" % (pod_name, exc)
    if digest != pod.get("digest"):
        return False, "pod %s on %s still runs an earlier version of %s" % (pod_name, node_name, pod["file"])
    if pod["phase"] != "Running":
        return False, "pod %s on %s is %s: %s" % (pod_name, node_name, pod["phase"], pod.get("error") or json.dumps(
            {n: (c["state"], c["last_exit"], c["reason"]) for n, c in pod["containers"].items()}))
    now = time.time() if now is None else now
    for name, container in pod["containers"].items():
        if container["restarts"]:
            return False, "container %s of pod %s on %s restarted %d times (last exit %s)" % (
                name, pod_name, node_name, container["restarts"], container["last_exit"])
        if now - (container.get("started_epoch") or now) < min_up:
            return False, "container %s of pod %s on %s runs for less than %ss" % (name, pod_name, node_name, min_up)
    return True, "pod %s on %s runs its current manifest" % (pod_name, node_name)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Static-pod runner of one lab node (a stand-in for kubelet).")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--ready", metavar="POD", help="exit 0 when POD runs its current manifest (kubelet's Ready)")
    parser.add_argument("--min-up", type=float, default=3.0, help="with --ready: seconds every container must be up")
    args = parser.parse_args(argv)
    if args.ready:
        ready, why = pod_ready(os.path.realpath(args.state_dir), args.node, args.ready, args.min_up)
        print(why)
        return 0 if ready else 1
    Runner(args.state_dir, args.node).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

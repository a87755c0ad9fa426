# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real kube-proxy (k8s.io/kubernetes v1.31.0, built by tests/realbin) on one node of a real lab, as
kubeadm's DaemonSet would run it there.

No DaemonSet controller and no kubelet run in the lab, so this stands in for both, for kubeadm's
``kube-system/kube-proxy`` DaemonSet only: it reads the live DaemonSet and ConfigMap through the real API
server, and whenever the DaemonSet's pod template changes (``remediate.yml`` restarts kube-proxy the way
``kubectl rollout restart`` does, with an annotation) it stops the running kube-proxy and starts a new one
that reads the ConfigMap as it is then. The new one gets, as kubelet would give it:

- the ConfigMap's ``config.conf`` and ``kubeconfig.conf`` at ``/var/lib/kube-proxy`` (a tmpfs in a mount
  namespace of its own, so nothing is written on the machine), byte for byte;
- a ServiceAccount token of ``kube-system/kube-proxy`` from the TokenRequest API and the cluster CA at
  ``/var/run/secrets/kubernetes.io/serviceaccount`` (its RBAC is kubeadm's ``system:node-proxier``);
- the DaemonSet's command with ``$(NODE_NAME)`` = the node, run in the node's network namespace;
- ``iptables``/``ip6tables`` of Debian's package in legacy mode (the guest kernel, Debian's UML 6.1, has no
  ``nft_chain_nat``), found first on its PATH.

Exits are restarted after 2 s. Started with the lab's marker variable, so ``lab.py down`` stops it.

    python tests/lab/kube_proxy_runner.py run --state-dir STATE --node cp1    # runs until killed
    python tests/lab/kube_proxy_runner.py edit --state-dir STATE --drop-exclude-cidrs --sync-period 10s \
        --conntrack-max-per-core 0      # the live ConfigMap's config.conf edited as a user would
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import lab as lab_mod  # noqa: E402  pylint: disable=wrong-import-position,import-error
import reallab  # noqa: E402  pylint: disable=wrong-import-position,import-error

DS_PATH = "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"
CM_PATH = "/api/v1/namespaces/kube-system/configmaps/kube-proxy"
TOKEN_PATH = "/api/v1/namespaces/kube-system/serviceaccounts/kube-proxy/token"
LEGACY = ("iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore")
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def log(message):
    print("%s kube-proxy runner: %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def command(template, node_name, binary):
    """The DaemonSet's container command and args, $(NODE_NAME) resolved, the image's binary first."""
    container = [c for c in template["spec"]["containers"] if c["name"] == "kube-proxy"][0]
    argv = list(container.get("command") or []) + list(container.get("args") or [])
    argv = [a.replace("$(NODE_NAME)", node_name) for a in argv]
    return [binary] + argv[1:]


class Runner:
    """One kube-proxy on one node, restarted when the DaemonSet's pod template changes."""

    def __init__(self, state_dir, node_name):
        self.lab = lab_mod.Lab(state_dir)
        self.node = self.lab.node(node_name)
        self.dir = os.path.join(self.node["dir"], "kube-proxy")
        self.status_path = os.path.join(self.dir, "status.json")
        self.starts = []
        self.proc = None
        reallab.enter_netns(self.lab.state["switch"])
        self.real = reallab.RealLab(self.lab)
        client = self.real.api()
        self.real.api = lambda: client  # one client for the runner's life (the guest is slow to make them)
        self.binary = self.lab.state["binaries"]["kube-proxy"]

    def get(self, path):
        status, data = self.real.request("GET", path)
        if status != 200:
            raise reallab.RealLabError("GET %s: %s %s" % (path, status, data))
        return data

    def stage(self):
        """Files for the next start: the ConfigMap's keys, a token, the CA, the legacy iptables links."""
        os.makedirs(os.path.join(self.dir, "bin"), exist_ok=True)
        for name in LEGACY:
            link = os.path.join(self.dir, "bin", name)
            if not os.path.islink(link):
                os.symlink("/usr/sbin/xtables-legacy-multi", link)
        data = self.get(CM_PATH)["data"]
        for key in ("config.conf", "kubeconfig.conf"):
            with open(os.path.join(self.dir, key), "w") as handle:
                handle.write(data[key])
        status, token = self.real.request("POST", TOKEN_PATH, {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}})
        if status != 201:
            raise reallab.RealLabError("TokenRequest for kube-system/kube-proxy: %s %s" % (status, token))
        with open(os.open(os.path.join(self.dir, "token"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(token["status"]["token"])
        with open(self.real.ca_file()) as src, open(os.path.join(self.dir, "ca.crt"), "w") as dst:
            dst.write(src.read())
        return yaml.safe_load(data["config.conf"])

    def start(self, template):
        config = self.stage()
        argv = command(template, self.node["name"], self.binary)
        script = " && ".join([
            "mount -t tmpfs tmpfs /var/lib", "mkdir -p /var/lib/kube-proxy",
            "cp %s %s /var/lib/kube-proxy/" % tuple(shlex.quote(os.path.join(self.dir, k)) for k in ("config.conf", "kubeconfig.conf")),
            "mount -t tmpfs tmpfs /run", "mkdir -p %s" % SA_DIR,
            "cp %s %s %s/" % (shlex.quote(os.path.join(self.dir, "token")), shlex.quote(os.path.join(self.dir, "ca.crt")), SA_DIR),
            "exec env -i PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin %s" % (
                shlex.quote(os.path.join(self.dir, "bin")), " ".join(shlex.quote(a) for a in argv))])
        env = dict(os.environ)
        env[lab_mod.MARKER_ENV] = "%s:%s:kube-proxy" % (self.lab.state["id"], self.node["name"])
        logfile = open(os.path.join(self.dir, "kube-proxy.log"), "ab")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            ["nsenter", "--target", str(self.node["pid"]), "--mount", "--net", "--", "unshare", "--mount", "--",
             "sh", "-c", script], env=env, stdin=subprocess.DEVNULL, stdout=logfile, stderr=logfile,
            start_new_session=True, cwd="/")
        logfile.close()
        ipvs = config.get("ipvs") or {}
        self.starts.append({"at": time.time(), "pid": self.proc.pid, "mode": config.get("mode"),
                            "exclude_cidrs": ipvs.get("excludeCIDRs"), "sync_period": ipvs.get("syncPeriod"),
                            "restarted_at": (template["metadata"].get("annotations") or {}).get(
                                "kubectl.kubernetes.io/restartedAt")})
        log("started kube-proxy (pid %d): mode %s, ipvs.excludeCIDRs %s" % (
            self.proc.pid, config.get("mode"), json.dumps(ipvs.get("excludeCIDRs"))))
        self.write_status()

    def stop(self):
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        log("stopped kube-proxy (pid %d, exit %s)" % (self.proc.pid, self.proc.returncode))
        self.proc = None

    def write_status(self):
        running = self.proc is not None and self.proc.poll() is None
        with open(self.status_path + ".tmp", "w") as handle:
            json.dump({"running": running, "pid": self.proc.pid if self.proc else None, "starts": self.starts}, handle)
        os.replace(self.status_path + ".tmp", self.status_path)

    def run(self):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        last = None
        try:
            while True:
                template = self.get(DS_PATH)["spec"]["template"]
                key = json.dumps(template, sort_keys=True)
                if key != last:
                    self.stop()
                    self.start(template)
                    last = key
                elif self.proc.poll() is not None:
                    log("kube-proxy exited with %s; restarting in 2 s" % self.proc.returncode)
                    time.sleep(2)
                    self.start(template)
                time.sleep(2)
        finally:
            self.stop()
            self.write_status()


def edit_config(state_dir, drop_exclude_cidrs=False, sync_period=None, conntrack_max_per_core=None):
    """Edit config.conf of the live ConfigMap kube-system/kube-proxy as a user (or an upgrade that writes
    kubeadm's defaults again) would: returns the ipvs and conntrack sections as written."""
    lab = lab_mod.Lab(state_dir)
    reallab.enter_netns(lab.state["switch"])
    real = reallab.RealLab(lab)
    status, cm = real.request("GET", CM_PATH)
    if status != 200:
        raise reallab.RealLabError("GET %s: %s %s" % (CM_PATH, status, cm))
    config = yaml.safe_load(cm["data"]["config.conf"])
    ipvs, conntrack = config.setdefault("ipvs", {}), config.setdefault("conntrack", {})
    if drop_exclude_cidrs:
        ipvs["excludeCIDRs"] = None
    if sync_period:
        ipvs["syncPeriod"] = sync_period
    if conntrack_max_per_core is not None:
        conntrack["maxPerCore"] = conntrack_max_per_core
    status, dummy = real.request("PATCH", CM_PATH, {"data": {"config.conf": yaml.safe_dump(config, sort_keys=False)}})
    if status != 200:
        raise reallab.RealLabError("PATCH %s: %s %s" % (CM_PATH, status, dummy))
    return {"ipvs": ipvs, "conntrack": conntrack}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run kube-proxy on NODE until killed")
    p_run.add_argument("--node", required=True)
    p_edit = sub.add_parser("edit", help="edit the live ConfigMap's config.conf")
    p_edit.add_argument("--drop-exclude-cidrs", action="store_true")
    p_edit.add_argument("--sync-period", default=None)
    p_edit.add_argument("--conntrack-max-per-core", type=int, default=None)
    for sp in (p_run, p_edit):
        sp.add_argument("--state-dir", required=True)
    args = parser.parse_args(argv)
    if args.command == "edit":
        print(json.dumps(edit_config(args.state_dir, args.drop_exclude_cidrs, args.sync_period,
                                     args.conntrack_max_per_core), sort_keys=True))
        return 0
    Runner(args.state_dir, args.node).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

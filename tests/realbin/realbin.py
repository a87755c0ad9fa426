# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build, or reuse from a cache outside the checkout, the real programs the lab runs.

    python tests/realbin/realbin.py            # build what is missing, print name=/path per binary last
    python tests/realbin/realbin.py --json     # the same as one JSON object
    python tests/realbin/realbin.py --check    # build nothing; exit 1 naming what is not cached

Every program is built from its Go module with the ordinary Go client (the Go module proxy; no
release downloads, no container images):

- kube-apiserver, kubeadm, kube-proxy: k8s.io/kubernetes through the wrapper module in
  tests/realbin/kubernetes (one `replace` per staging module, generated from that release's
  go.mod by `realbin.py gen-kubernetes VERSION`), version stamped with -ldflags the way
  hack/lib/version.sh does, so `--version` and /version tell the truth;
- etcd: go.etcd.io/etcd/server/v3 through tests/realbin/etcd (kubeadm's etcd for that release);
- kube-vip and kube-vip-cloud-provider: through tests/realbin/kube-vip and
  tests/realbin/kube-vip-cloud-provider, at the versions examples/lab/inventory.yml and the plan's
  defaults name (`version_mismatches` and a test hold them equal). `go install MODULE@vVERSION`
  would do, but it reads the module's version list, which the Go module proxy here refuses;
- metallb-controller and metallb-speaker: MetalLB's controller and speaker (go.universe.tf/metallb,
  the release of the CRDs in tests/data/metallb-crds) through tests/realbin/metallb.

The cache is ~/.cache/baremetal.vip/bin (BAREMETAL_VIP_BIN_CACHE overrides it); each binary lives in
a directory keyed by its name, its module version, the Go version and a hash of what decides the
build (go.mod, go.sum, package, flags). A cached binary is reused only when that key matches.
Nothing is ever committed: the checkout holds only the wrapper modules' go.mod, go.sum and tools.go.
If the proxy refuses a module, the build stops with the module and the proxy's answer; there is no
fallback to a stand-in.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
LAB_EXAMPLE = os.path.join(TOP, "examples", "lab", "inventory.yml")
CACHE_ENV = "BAREMETAL_VIP_BIN_CACHE"
DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "baremetal.vip", "bin")
KUBERNETES_DIR = os.path.join(HERE, "kubernetes")
ETCD_DIR = os.path.join(HERE, "etcd")
KUBE_VIP_DIR = os.path.join(HERE, "kube-vip")
# the previous kube-vip release (what upgrade.yml's lab test upgrades FROM); cached as kube-vip-<version>
KUBE_VIP_PREVIOUS_DIR = os.path.join(HERE, "kube-vip-previous")
CLOUD_PROVIDER_DIR = os.path.join(HERE, "kube-vip-cloud-provider")
METALLB_DIR = os.path.join(HERE, "metallb")
ETCD_MODULE = "go.etcd.io/etcd/server/v3"
KUBE_VIP_MODULE = "github.com/kube-vip/kube-vip"
CLOUD_PROVIDER_MODULE = "github.com/kube-vip/kube-vip-cloud-provider"
METALLB_MODULE = "go.universe.tf/metallb"
CLOUD_PROVIDER_SPEC_KEY = "cloud_provider_version"
PROGRESS_EVERY = 20.0


class BuildError(Exception):
    """A binary could not be built; the message names it, the module and what Go said."""


def cache_dir():
    return os.environ.get(CACHE_ENV) or DEFAULT_CACHE


def go_version():
    try:
        out = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError("the Go toolchain is needed to build the real lab's programs (go env GOVERSION: %s)" % exc)
    return out.strip()


def _required_version(gomod_path, module):
    """The version of MODULE required by the go.mod at gomod_path."""
    with open(gomod_path) as handle:
        text = handle.read()
    match = re.search(r"^\s*(?:require\s+)?%s\s+(v\S+)" % re.escape(module), text, re.M)
    if not match:
        raise BuildError("%s does not require %s" % (gomod_path, module))
    return match.group(1)


def _load_plan():
    """plugins/plugin_utils/plan.py, imported as the collection's module (it imports its siblings that way).

    A bare ``import plan`` finds whichever ``plan`` comes first (under pytest, tests/unit/plan);
    ``make setup`` links the checkout as .collections/ansible_collections/baremetal/vip.
    """
    collections = os.path.join(TOP, ".collections")
    if collections not in sys.path:
        sys.path.insert(0, collections)
    return importlib.import_module("ansible_collections.baremetal.vip.plugins.plugin_utils.plan")


def lab_versions(example=LAB_EXAMPLE):
    """(kubernetes version, kube-vip version, cloud-provider version) the lab's inventory names.

    The cloud provider's version falls back to the plan's default (vip_kube_vip.cloud_provider_version).
    """
    with open(example) as handle:
        data = yaml.safe_load(handle)
    lab_vars = data["all"]["vars"]
    kube_vip = lab_vars["vip_kube_vip"]
    cloud = kube_vip.get(CLOUD_PROVIDER_SPEC_KEY)
    if not cloud:
        cloud = _load_plan().SPEC["vip_kube_vip"]["options"][CLOUD_PROVIDER_SPEC_KEY]["default"]
    return str(lab_vars["vip_cluster"]["kubernetes_version"]), str(kube_vip["version"]), str(cloud)


def kubernetes_ldflags(version):
    """-X flags of hack/lib/version.sh for a release tag such as v1.31.0."""
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += ["-X", "%s.gitVersion=%s" % (pkg, version), "-X", "%s.gitMajor=%s" % (pkg, major),
                  "-X", "%s.gitMinor=%s" % (pkg, minor), "-X", "%s.gitTreeState=clean" % pkg]
    return flags


class Binary:
    """One program: how to build it and the key of its cache entry."""

    def __init__(self, name, version, module_dir, package, ldflags=(), label=None):
        self.name = name
        # the key of ensure()'s answer: the name, or name-version for an extra release of the same program
        self.label = label or name
        self.version = version
        self.module_dir = module_dir
        self.package = package
        self.ldflags = list(ldflags)

    def key(self, gover):
        digest = hashlib.sha256()
        for part in (self.name, self.version, gover, self.package, " ".join(self.ldflags)):
            digest.update(part.encode() + b"\0")
        for fname in ("go.mod", "go.sum"):
            with open(os.path.join(self.module_dir, fname), "rb") as handle:
                digest.update(handle.read())
        return "%s-%s-%s-%s" % (self.name, self.version, gover, digest.hexdigest()[:12])

    def path(self, gover):
        return os.path.join(cache_dir(), self.key(gover), self.name)

    def describe(self):
        return "%s (%s)" % (self.package, os.path.relpath(self.module_dir, TOP))


def binaries():
    """Every program of the real lab, at the versions the wrapper modules require."""
    k8s = _required_version(os.path.join(KUBERNETES_DIR, "go.mod"), "k8s.io/kubernetes")
    found = [Binary(name, k8s, module_dir=KUBERNETES_DIR, package="k8s.io/kubernetes/cmd/" + name,
                    ldflags=kubernetes_ldflags(k8s))
             for name in ("kube-apiserver", "kubeadm", "kube-proxy")]
    etcd = _required_version(os.path.join(ETCD_DIR, "go.mod"), ETCD_MODULE)
    found.append(Binary("etcd", etcd, module_dir=ETCD_DIR, package=ETCD_MODULE, ldflags=["-s", "-w"]))
    version = _required_version(os.path.join(KUBE_VIP_DIR, "go.mod"), KUBE_VIP_MODULE)
    found.append(Binary("kube-vip", version, module_dir=KUBE_VIP_DIR, package=KUBE_VIP_MODULE,
                        ldflags=["-s", "-w", "-X=main.Version=" + version, "-X=main.Build=baremetal.vip-lab"]))
    previous = _required_version(os.path.join(KUBE_VIP_PREVIOUS_DIR, "go.mod"), KUBE_VIP_MODULE)
    found.append(Binary("kube-vip", previous, module_dir=KUBE_VIP_PREVIOUS_DIR, package=KUBE_VIP_MODULE,
                        ldflags=["-s", "-w", "-X=main.Version=" + previous, "-X=main.Build=baremetal.vip-lab"],
                        label="kube-vip-" + previous))
    version = _required_version(os.path.join(CLOUD_PROVIDER_DIR, "go.mod"), CLOUD_PROVIDER_MODULE)
    found.append(Binary("kube-vip-cloud-provider", version, module_dir=CLOUD_PROVIDER_DIR, package=CLOUD_PROVIDER_MODULE,
                        ldflags=["-s", "-w", "-X=main.Version=" + version,
                                 "-X", "k8s.io/component-base/version.gitVersion=" + version]))
    version = _required_version(os.path.join(METALLB_DIR, "go.mod"), METALLB_MODULE)
    # the release is compiled in (internal/version's version = "0.16.1"); the Dockerfiles' -X flags only add a commit
    found += [Binary("metallb-" + name, version, module_dir=METALLB_DIR, package="%s/%s" % (METALLB_MODULE, name),
                     ldflags=["-s", "-w"]) for name in ("controller", "speaker")]
    return found


def module_source(module_dir, module):
    """The directory of MODULE's source in the Go module cache, as the wrapper at MODULE_DIR requires it (downloaded
    by its build; `go list -m` reads, it builds nothing)."""
    proc = subprocess.run(["go", "list", "-m", "-json", module], cwd=module_dir, env=_go_env(), capture_output=True,
                          text=True, check=False)
    data = json.loads(proc.stdout or "{}") if proc.returncode == 0 else {}
    if not data.get("Dir"):
        raise BuildError("%s is not in the Go module cache (go list -m in %s: %s); run `make real-bin`" % (
            module, os.path.relpath(module_dir, TOP), proc.stderr.strip() or "no Dir"))
    return data["Dir"]


def version_mismatches(example=LAB_EXAMPLE):
    """What the lab's inventory names that the wrapper modules do not build (empty when they agree)."""
    kubernetes, kube_vip, cloud = lab_versions(example)
    built = {b.label: b.version for b in binaries()}
    wanted = {"kube-apiserver": kubernetes, "kube-vip": kube_vip, "kube-vip-cloud-provider": cloud}
    return ["%s: %s names %s, tests/realbin builds %s" % (name, os.path.relpath(example, TOP), version, built[name])
            for name, version in sorted(wanted.items()) if "v" + version.lstrip("v") != built[name]]


def _go_env():
    env = dict(os.environ)
    env.update({"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"})
    return env


def _run_with_progress(argv, cwd, env, label, log):
    """Run a go command; print a line every PROGRESS_EVERY s with packages built so far."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    count = [0]

    def reader():
        for line in proc.stdout:
            lines.append(line)
            if not line.startswith(("go: ", "#")):
                count[0] += 1

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    while True:
        try:
            proc.wait(timeout=PROGRESS_EVERY)
            break
        except subprocess.TimeoutExpired:
            log("  %s: %d packages compiled, %ds" % (label, count[0], time.monotonic() - started))
    thread.join()
    return proc.returncode, "".join(lines), time.monotonic() - started


def build(binary, gover, log=print):
    """Build one binary into its cache directory; return a dict with path, seconds, peak RSS."""
    target = binary.path(gover)
    os.makedirs(os.path.dirname(os.path.dirname(target)), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".build-", dir=os.path.dirname(os.path.dirname(target)))
    try:
        env = _go_env()
        ldflags = ["-ldflags=" + " ".join(binary.ldflags)] if binary.ldflags else []
        argv = ["go", "build", "-v", "-trimpath"] + ldflags + ["-o", os.path.join(tmp, binary.name), binary.package]
        log("building %s %s from %s" % (binary.name, binary.version, binary.describe()))
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        code, output, seconds = _run_with_progress(argv, binary.module_dir, env, binary.name, log)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        built = os.path.join(tmp, binary.name)
        if code != 0 or not os.path.exists(built):
            tail = "\n".join(line for line in output.splitlines() if not line.startswith("  ")
                             and "/" not in line.split(" ")[0] or "error" in line or "go:" in line)[-3000:]
            raise BuildError("building %s %s from %s failed (exit %s):\n%s" % (
                binary.name, binary.version, binary.describe(), code, tail or output[-3000:]))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(built, target)
        info = {"name": binary.name, "version": binary.version, "go": gover, "source": binary.describe(),
                "seconds": round(seconds, 1), "peak_rss_mib": round(max(peak, before) / 1024.0),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with open(os.path.join(os.path.dirname(target), "build.json"), "w") as handle:
            json.dump(info, handle, indent=2)
        log("built %s in %.0fs (peak RSS of the go tool's children so far: %d MiB)" % (
            binary.name, seconds, info["peak_rss_mib"]))
        return info
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure(names=None, log=print, build_missing=True):
    """{name: absolute path} of every (or the named) binary, built first where not cached."""
    gover = go_version()
    wanted = [b for b in binaries() if names is None or b.label in names]
    unknown = set(names or ()) - {b.label for b in wanted}
    if unknown:
        raise BuildError("unknown program(s): %s" % ", ".join(sorted(unknown)))
    os.makedirs(cache_dir(), exist_ok=True)
    paths = {}
    with open(os.path.join(cache_dir(), ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for binary in wanted:
            path = binary.path(gover)
            if os.access(path, os.X_OK):
                paths[binary.label] = path
                continue
            if not build_missing:
                raise BuildError("%s %s is not built (expected %s); run `make real-bin`" % (
                    binary.name, binary.version, path))
            build(binary, gover, log=log)
            paths[binary.label] = path
    return paths


def gen_kubernetes(version, gomod_cache=None):
    """go.mod of the kubernetes wrapper module for release VERSION (vX.Y.Z): one replace per staging module."""
    env = _go_env()
    env["GOFLAGS"] = "-mod=mod"
    info = subprocess.run(["go", "mod", "download", "-json", "k8s.io/kubernetes@" + version],
                          capture_output=True, text=True, env=env, check=False)
    data = json.loads(info.stdout or "{}")
    if info.returncode != 0 or "GoMod" not in data:
        raise BuildError("the Go module proxy did not give k8s.io/kubernetes@%s: %s" % (
            version, data.get("Error") or info.stderr.strip()))
    with open(data["GoMod"]) as handle:
        upstream = handle.read()
    staging = re.findall(r"^\s*(k8s\.io/\S+)\s*=>\s*\./staging/", upstream, re.M)
    minor = "v0." + version.lstrip("v").split(".", 1)[1]
    lines = ["// Wrapper module: the real lab builds kube-apiserver, kubeadm and kube-proxy of",
             "// k8s.io/kubernetes from here. Generated by `tests/realbin/realbin.py gen-kubernetes %s`" % version,
             "// from that release's go.mod: one replace per staging module.",
             "module baremetal.vip/tests/realbin/kubernetes", "", "go 1.22.0", "",
             "require k8s.io/kubernetes %s" % version, "", "replace ("]
    lines += ["\t%s => %s %s" % (mod, mod, minor) for mod in staging]
    lines += [")", ""]
    with open(os.path.join(KUBERNETES_DIR, "go.mod"), "w") as handle:
        handle.write("\n".join(lines))
    tidy = subprocess.run(["go", "mod", "tidy"], cwd=KUBERNETES_DIR, env=env, capture_output=True, text=True,
                          check=False)
    if tidy.returncode != 0:
        raise BuildError("go mod tidy in %s failed: %s" % (KUBERNETES_DIR, tidy.stderr.strip()[-2000:]))
    return staging


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print {name: path} as JSON")
    parser.add_argument("--check", action="store_true", help="build nothing; fail naming what is not cached")
    parser.add_argument("--only", default="", help="comma list of programs (default: all)")
    parser.add_argument("--gen-kubernetes", metavar="VERSION", help="regenerate the kubernetes wrapper's go.mod")
    args = parser.parse_args(argv)
    try:
        if args.gen_kubernetes:
            mods = gen_kubernetes(args.gen_kubernetes)
            print("wrote %s/go.mod: %d staging replaces" % (os.path.relpath(KUBERNETES_DIR), len(mods)))
            return 0
        names = [n for n in args.only.split(",") if n] or None
        started = time.monotonic()
        paths = ensure(names, log=lambda msg: print(msg, flush=True), build_missing=not args.check)
    except BuildError as exc:
        print("realbin: %s" % exc, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(paths, indent=2, sort_keys=True))
    else:
        print("real lab programs ready in %.1fs (cache %s):" % (time.monotonic() - started, cache_dir()))
        for name in sorted(paths):
            print("%s=%s" % (name, paths[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

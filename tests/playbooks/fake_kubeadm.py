# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake `kubeadm` — a test double, NOT kubeadm — for the bootstrap tests (tests/playbooks/test_bootstrap.py).

The test puts a `kubeadm` wrapper running this file on one lab node's PATH (bind-mounted over
/usr/local/sbin inside that node's own mount namespace). Its settings are in the JSON file named by
FAKE_KUBEADM_SETTINGS (the wrapper sets it): {"log", "manifest", "admin_conf", "kubeconfig_text"} and optionally
"fail_marker", a file path.

`kubeadm init ...`:
  * appends one JSON line to the log: argv, the documents of --config, and what kube-vip's static pod
    manifest looked like at that moment (present? which kubeconfig it mounts);
  * fails (exit 1) when the manifest is not in place yet: kube-vip must answer the VIP before init;
  * fails (exit 1) while the file "fail_marker" exists, as kubeadm fails late in init (after the token and
    the certificate key were created): its stderr carries the bootstrap token, the certificate key and the
    CA hash, so the tests can check that a failure report masks them. Nothing is written then;
  * writes admin.conf (and super-admin.conf) with kubeconfig_text: a kubeconfig of the Kubernetes API
    test double, so the rest of bootstrap runs against the double;
  * prints what kubeadm prints at the end, a join command with a bootstrap token and a certificate key,
    so the tests can check that these never reach Ansible's output.
Anything else exits 2.
"""

import json
import os
import sys

import yaml

TOKEN = "abcdef.0123456789abcdef"
CERT_KEY = "f" * 64
CA_HASH = "0" * 64


def manifest_state(path):
    if not os.path.exists(path):
        return {"present": False}
    with open(path) as handle:
        pod = yaml.safe_load(handle)
    mounts = [v["hostPath"]["path"] for v in pod["spec"]["volumes"] if v["name"] == "kubeconfig"]
    return {"present": True, "kubeconfig": mounts[0] if mounts else None}


def main(argv):
    with open(os.environ["FAKE_KUBEADM_SETTINGS"]) as handle:
        settings = json.load(handle)
    if not argv or argv[0] != "init":
        print("fake kubeadm: only `init` is faked", file=sys.stderr)
        return 2
    config = argv[argv.index("--config") + 1] if "--config" in argv else None
    docs = []
    if config:
        with open(config) as handle:
            docs = [d for d in yaml.safe_load_all(handle) if d]
    pod = manifest_state(settings["manifest"])
    with open(settings["log"], "a") as handle:
        handle.write(json.dumps({"argv": argv, "config": docs, "manifest": pod}) + "\n")
    if not pod["present"]:
        print("fake kubeadm: %s is not in place: the VIP of controlPlaneEndpoint would never answer"
              % settings["manifest"], file=sys.stderr)
        return 1
    if settings.get("fail_marker") and os.path.exists(settings["fail_marker"]):
        print("[upload-certs] Using certificate key:\n%s" % CERT_KEY, file=sys.stderr)
        print("error execution phase bootstrap-token: error creating bootstrap token %s: fake kubeadm: %s exists "
              "(the test's failure switch); join would have been: kubeadm join 192.0.2.10:6443 --token %s "
              "--discovery-token-ca-cert-hash sha256:%s --certificate-key %s"
              % (TOKEN, settings["fail_marker"], TOKEN, CA_HASH, CERT_KEY), file=sys.stderr)
        return 1
    directory = os.path.dirname(settings["admin_conf"])
    for name in ("admin.conf", "super-admin.conf"):
        with open(os.path.join(directory, name), "w") as handle:
            handle.write(settings["kubeconfig_text"])
        os.chmod(os.path.join(directory, name), 0o600)
    print("[bootstrap-token] Using token: %s" % TOKEN)
    print("[upload-certs] Using certificate key:\n%s" % CERT_KEY)
    print("Your Kubernetes control-plane has initialized successfully!")
    print("  kubeadm join 192.0.2.10:6443 --token %s --discovery-token-ca-cert-hash sha256:%s "
          "--control-plane --certificate-key %s" % (TOKEN, CA_HASH, CERT_KEY))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

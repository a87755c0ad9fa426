# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake `kubeadm` — a test double, NOT kubeadm — for the one case the real kubeadm cannot be made to produce.

The real kubeadm runs bootstrap.yml's opt-in `kubeadm init` in tests/lab/test_real_kubeadm_init.py (every phase
that does not need a kubelet). What it cannot be made to do on demand: fail late in `kubeadm init`, after the
bootstrap token and the certificate key were created, with both (and the CA hash) in its stderr. This fake does
exactly that, so tests/playbooks/test_bootstrap.py can check that the failure report masks them; check mode uses
its log as the witness that nothing ran.

The test puts a `kubeadm` wrapper running this file on one lab node's PATH (bind-mounted over /usr/local/sbin
inside that node's own mount namespace); FAKE_KUBEADM_LOG (set by the wrapper) names the log.

`kubeadm init ...`: appends one JSON line {"argv"} to the log, prints the certificate key and an error naming
the token and a join command to stderr, exits 1, writes nothing else. Anything else exits 2.
"""

import json
import os
import sys

TOKEN = "abcdef.0123456789abcdef"
CERT_KEY = "f" * 64
CA_HASH = "0" * 64


def main(argv):
    with open(os.environ["FAKE_KUBEADM_LOG"], "a") as handle:
        handle.write(json.dumps({"argv": argv}) + "\n")
    if not argv or argv[0] != "init":
        print("fake kubeadm: only a failing `init` is faked", file=sys.stderr)
        return 2
    print("[upload-certs] Using certificate key:\n%s" % CERT_KEY, file=sys.stderr)
    print("error execution phase bootstrap-token: error creating bootstrap token %s: fake kubeadm fails here "
          "(tests/playbooks/fake_kubeadm.py); join would have been: kubeadm join 192.0.2.10:6443 --token %s "
          "--discovery-token-ca-cert-hash sha256:%s --certificate-key %s"
          % (TOKEN, TOKEN, CA_HASH, CERT_KEY), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A stand-in for the Kubernetes API server (a test double) — not a Kubernetes API server.

The real kube-apiserver (v1.31.0, built from its module) runs in the real lab (``lab.py up --real``,
tests/lab/reallab.py), and what the collection does through the API is proven there
(tests/lab/test_real_lab.py): ``bootstrap.yml`` applying the kube-vip objects through
``cluster_apply`` (services DaemonSet, RBAC, cloud-provider ConfigMap and Deployment) and the real
kube-vip authorised by that RBAC; the MetalLB v0.16.1 CRDs and every MetalLB resource rendered for
the examples, validated by the real server's schemas (an unknown field and a wrong type refused);
server-side apply with our field manager; pruning that leaves objects without our labels and other
sets alone; the MetalLB webhook registered with no controller behind it (refused writes, the
explained timeout, the apply going through once the webhook goes); ``cluster_info``/``verify.yml``/
``remediate.yml`` with the real kubeconfig.

This stand-in is kept for the cases below, which a real server cannot produce on demand (or not
without a real-lab bring-up, about 2 minutes of CPU, in tests that take a second here):

1. a webhook that refuses exactly the next N writes, then accepts (``webhook_failures``): the retry
   pacing and the one deadline of ``k8s_apply.apply_set`` under a fake clock
   (tests/unit/k8s/test_k8s_apply.py), the role retrying (tests/unit/k8s/test_cli.py) and
   ``bootstrap.yml``'s order of requests around it (tests/playbooks/test_bootstrap.py). A real
   outage has no count; the real lab covers an outage that ends when the webhook goes;
2. kube-proxy as kubeadm 1.20 leaves it, for the guarded ``--cleanup-ipvs`` JSON patch
   (tests/unit/k8s/test_k8s_apply.py, tests/playbooks/test_cluster_apply.py): the flag exists only
   before Kubernetes 1.21 and the lab builds 1.31 (a real server would store the object just the
   same; the race case slips a write in between the read and the patch by wrapping ``Api.get``);
3. an API that goes away mid-test (``stop()``: unreachable), a token that authenticates but may do
   nothing (``forbidden_tokens``, kubeadm >= 1.29's admin.conf before ``kubeadm:cluster-admins``),
   one resource forbidden (``forbidden_resources``), the MetalLB CRDs absent (``crds_missing``):
   a real server produces each, but not within one shared real lab without undoing its setup
   (the kubeadm:cluster-admins binding, the CRDs) for the tests after them;
4. day-2 scenarios with Leases held by nodes the test names, EndpointSlices and Pod conditions as
   written, and no kube-vip renewing them (tests/lab/test_day2_cluster.py,
   test_day2_endpoints.py, molecule/cluster_apply): in the real lab the real kube-vip owns the
   Leases and rewrites them, so these states cannot be held still there.

The rest of tests/unit/k8s (summaries, apply and prune, check mode, masking) also runs against this
stand-in so that the unit tier needs neither root nor the built binaries; each behaviour there
that a real server decides (schemas, server-side apply, pruning scope, the webhook) is proven
against the real one in tests/lab/test_real_lab.py as listed above.

A small threaded HTTP server on 127.0.0.1 that answers the parts of the Kubernetes REST API
that baremetal.vip uses. It is deliberately simple and says so:

* discovery: ``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/<group>/<version>``;
* the resources in ``RESOURCES`` (core ConfigMaps, Secrets, Services with ``status``, Nodes,
  Pods, Namespaces, ServiceAccounts; coordination Leases; discovery EndpointSlices; apps DaemonSets
  and Deployments; RBAC;
  MetalLB's CRs in v1beta1 and BGPPeer in v1beta2): list (``labelSelector``), get, create,
  replace, delete, and PATCH as server-side apply (``application/apply-patch+yaml``, with
  ``fieldManager`` and ``force``), JSON merge patch and strategic merge patch (both handled as
  a JSON merge patch: lists are replaced, never merged by key), and JSON patch (RFC 6902:
  ``add``, ``remove``, ``replace``, ``test``; a failed ``test`` or a missing path is a 422 and
  nothing is written, as the API server answers);
* ``dryRun=All`` on every write: validated and answered, never stored;
* server-side apply is simplified but honest: each manager's fields are kept in
  ``metadata.managedFields`` (``fieldsV1``, lists are atomic), fields a manager stops applying
  are removed unless another manager owns them, a field owned by another manager with a
  different value is a 409 conflict unless ``force=true``, a no-op apply changes nothing, and
  ``resourceVersion`` (any change) and ``generation`` (a change outside metadata and status)
  move only on a real change;
* EndpointSlices and Pod status are stored as written (seeded or PUT to ``/status``): no controller
  derives slices from Pods or Services, and nothing moves a Pod's conditions; a test writes what it wants;
* Secrets: ``stringData`` is folded into ``data`` (base64) and never returned, as the API does;
* no schema validation: ``fieldValidation`` is ignored, unknown fields are stored and wrong types
  accepted (the real lab's kube-apiserver refuses them: tests/lab/test_real_lab.py);
* an object is stored once per group and kind: reading it in another version of the group
  (BGPPeer v1beta1/v1beta2) only rewrites ``apiVersion``; there is no schema conversion.

Toggles simulate what a user meets: ``require_namespaces`` (creating or applying into a
Namespace that does not exist is a 404, as the API server's NamespaceLifecycle admission does;
off by default so tests need not seed Namespaces), ``crds_missing`` (the metallb.io group is absent from
discovery and its paths answer 404), ``webhook_failures`` (the next N metallb.io writes answer
500 with a "failed calling webhook ... connection refused" message, as while MetalLB's webhook
is starting), ``forbidden_tokens`` (authenticated, discovery allowed, every resource request
403 — the kubeadm >= 1.29 admin.conf before the kubeadm:cluster-admins binding exists),
``forbidden_resources`` (plurals, e.g. ``{"endpointslices"}``: every request for them is 403 for every
token, as for a role without those rules) and
``stop()`` (unreachable).

Standalone use (for the lab)::

    python tests/k8s_double/server.py --seed seed.yaml --kubeconfig /tmp/double.kubeconfig

prints the URL and serves until interrupted. Seed files are YAML: a list of objects, a
``kind: List`` or a mapping with ``items``.
"""

import argparse
import copy
import os
import secrets
import sys
import threading
import time
from http.server import ThreadingHTTPServer

import yaml

try:
    from .fieldsets import object_fields
    from .handler import Handler
    from .resources import METALLB, RESOURCES, Resource
    from .store import Store, key, view
except ImportError:  # run as a file (python tests/k8s_double/server.py, molecule/cluster_apply): import the package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from k8s_double.fieldsets import object_fields
    from k8s_double.handler import Handler
    from k8s_double.resources import METALLB, RESOURCES, Resource
    from k8s_double.store import Store, key, view

LOOPBACK = "127.0.0.1"


class KubeDouble:
    """The test double: state, toggles and the HTTP server around them."""

    def __init__(self, seed=None, token=None):
        self.resources = [Resource(*row) for row in RESOURCES]
        self.store = Store()
        self.token = token or secrets.token_hex(16)
        self.tokens = {self.token}
        self.forbidden_tokens = set()
        self.forbidden_resources = set()  # plurals every token is forbidden (a role without their rules)
        self.crds_missing = False
        self.require_namespaces = False  # True: writes into a missing Namespace answer 404
        self.webhook_failures = 0
        self.requests = []  # (method, path with query) of every request, for tests
        self.server = None
        self.thread = None
        self.port = None
        if seed:
            self.seed(seed)

    # --------------------------------------------------------- lifecycle
    @property
    def url(self):
        return "http://%s:%d" % (LOOPBACK, self.port)

    def start(self, port=0):
        handler = type("Handler", (Handler,), {"double": self})
        self.server = ThreadingHTTPServer((LOOPBACK, port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="k8s-double",
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    def write_kubeconfig(self, path, token=None, context="double", user="double-admin"):
        """A kubeconfig for this double (bearer token, plain http on 127.0.0.1)."""
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "double", "cluster": {"server": self.url}}],
            "users": [{"name": user, "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": {"cluster": "double", "user": user}}],
            "current-context": context,
        }
        with open(path, "w") as handle:
            yaml.safe_dump(config, handle)
        return path

    def add_forbidden_token(self):
        """A token that authenticates but may do nothing beyond discovery."""
        token = secrets.token_hex(16)
        self.tokens.add(token)
        self.forbidden_tokens.add(token)
        return token

    # --------------------------------------------------------- resources
    def groups(self):
        out = {}
        for res in self.resources:
            if res.group == METALLB and self.crds_missing:
                continue
            out.setdefault(res.group, [])
            for version in res.versions:
                if version not in out[res.group]:
                    out[res.group].append(version)
        return out

    def find(self, group, version, plural):
        if group == METALLB and self.crds_missing:
            return None
        for res in self.resources:
            if res.group == group and version in res.versions and res.plural == plural:
                return res
        return None

    def find_kind(self, api_version, kind):
        group, version = api_version.rpartition("/")[::2]
        for res in self.resources:
            if res.group == group and version in res.versions and res.kind == kind:
                return res, version
        raise ValueError("the double does not serve %s %s" % (api_version, kind))

    # --------------------------------------------------------- state
    def seed(self, objects):
        """Store objects as they are (YAML text, a list, a List or a mapping with items)."""
        if isinstance(objects, str):
            docs = [d for d in yaml.safe_load_all(objects) if d]
            single = len(docs) == 1 and (isinstance(docs[0], list) or "items" in docs[0])
            objects = docs[0] if single else docs
        if isinstance(objects, dict):
            objects = objects.get("items") or []
        for obj in objects:
            res = self.find_kind(obj["apiVersion"], obj["kind"])[0]
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            if res.namespaced:
                meta.setdefault("namespace", "default")
            with self.store.lock:
                self.store.stamp_new(obj, "seed", "Update", object_fields(obj), created=meta.get("creationTimestamp"))
                self.store.objects[key(res, meta.get("namespace"), meta["name"])] = obj

    def get(self, api_version, kind, name, namespace=None):
        """The stored object or None (for tests)."""
        res, version = self.find_kind(api_version, kind)
        with self.store.lock:
            obj = self.store.objects.get(key(res, namespace, name))
            return view(obj, res, version) if obj else None

    def delete(self, api_version, kind, name, namespace=None):
        """Remove a stored object as a controller would (for tests); whether it was there."""
        res = self.find_kind(api_version, kind)[0]
        with self.store.lock:
            return self.store.objects.pop(key(res, namespace, name), None) is not None

    def list(self, api_version, kind):
        res, version = self.find_kind(api_version, kind)
        with self.store.lock:
            return [view(o, res, version) for k, o in sorted(self.store.objects.items())
                    if k[:2] == (res.group, res.plural)]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Kubernetes API test double — not a "
                                                 "Kubernetes API server (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--seed", help="YAML file of objects to start with")
    parser.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    parser.add_argument("--crds-missing", action="store_true", help="no metallb.io group")
    parser.add_argument("--webhook-failures", type=int, default=0,
                        help="answer the first N metallb.io writes with a webhook error")
    args = parser.parse_args(argv)
    double = KubeDouble()
    if args.seed:
        with open(args.seed) as handle:
            double.seed(handle.read())
    double.crds_missing = args.crds_missing
    double.webhook_failures = args.webhook_failures
    double.start(args.port)
    double.write_kubeconfig(args.kubeconfig)
    print("Kubernetes API test double at %s; kubeconfig %s" % (double.url, args.kubeconfig))
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

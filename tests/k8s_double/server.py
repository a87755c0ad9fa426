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
import base64
import copy
import datetime
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml

LOOPBACK = "127.0.0.1"

# (group, versions, plural, kind, namespaced, has_status, short names)
RESOURCES = [
    ("", ("v1",), "namespaces", "Namespace", False, True, ("ns",)),
    ("", ("v1",), "configmaps", "ConfigMap", True, False, ("cm",)),
    ("", ("v1",), "secrets", "Secret", True, False, ()),
    ("", ("v1",), "services", "Service", True, True, ("svc",)),
    ("", ("v1",), "nodes", "Node", False, True, ("no",)),
    ("", ("v1",), "pods", "Pod", True, True, ("po",)),
    ("", ("v1",), "serviceaccounts", "ServiceAccount", True, False, ("sa",)),
    ("coordination.k8s.io", ("v1",), "leases", "Lease", True, False, ()),
    ("discovery.k8s.io", ("v1",), "endpointslices", "EndpointSlice", True, False, ()),
    ("apps", ("v1",), "daemonsets", "DaemonSet", True, True, ("ds",)),
    ("apps", ("v1",), "deployments", "Deployment", True, True, ("deploy",)),
    ("rbac.authorization.k8s.io", ("v1",), "clusterroles", "ClusterRole", False, False, ()),
    ("rbac.authorization.k8s.io", ("v1",), "clusterrolebindings", "ClusterRoleBinding", False, False, ()),
    ("rbac.authorization.k8s.io", ("v1",), "roles", "Role", True, False, ()),
    ("rbac.authorization.k8s.io", ("v1",), "rolebindings", "RoleBinding", True, False, ()),
    ("metallb.io", ("v1beta1",), "ipaddresspools", "IPAddressPool", True, True, ()),
    ("metallb.io", ("v1beta1",), "l2advertisements", "L2Advertisement", True, True, ()),
    ("metallb.io", ("v1beta1",), "bgpadvertisements", "BGPAdvertisement", True, True, ()),
    ("metallb.io", ("v1beta2", "v1beta1"), "bgppeers", "BGPPeer", True, True, ()),
    ("metallb.io", ("v1beta1",), "communities", "Community", True, True, ()),
    ("metallb.io", ("v1beta1",), "bfdprofiles", "BFDProfile", True, True, ()),
]
METALLB = "metallb.io"
# metadata fields the server owns; never part of a manager's field set
_SERVER_META = ("name", "namespace", "uid", "resourceVersion", "generation",
                "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp")
WEBHOOK_MESSAGE = (
    'Internal error occurred: failed calling webhook "{kind}validationwebhook.metallb.io": '
    'failed to call webhook: Post "https://metallb-webhook-service.metallb-system.svc:443/'
    'validate-metallb-io-{version}-{kind}?timeout=10s": dial tcp 10.96.12.7:443: connect: '
    'connection refused')


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """An HTTP error answered as a metav1.Status."""

    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message

    def status(self):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


class Resource:
    """One resource type (plural) of one group."""

    def __init__(self, group, versions, plural, kind, namespaced, has_status, short_names):
        self.group = group
        self.versions = versions
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.has_status = has_status
        self.short_names = short_names

    def api_version(self, version):
        return "%s/%s" % (self.group, version) if self.group else version

    def discovery(self):
        out = [{"name": self.plural, "singularName": self.kind.lower(), "namespaced": self.namespaced,
                "kind": self.kind, "shortNames": list(self.short_names),
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch",
                          "update", "watch"]}]
        if self.has_status:
            out.append({"name": self.plural + "/status", "singularName": "", "kind": self.kind,
                        "namespaced": self.namespaced, "verbs": ["get", "patch", "update"]})
        return out


# ---------------------------------------------------------------- field sets (managedFields)

def field_paths(obj, prefix=()):
    """Leaf paths of a map; lists and scalars are leaves (atomic), as in this double's apply."""
    paths = set()
    for key, value in obj.items():
        path = prefix + (key,)
        if isinstance(value, dict) and value:
            paths |= field_paths(value, path)
        else:
            paths.add(path)
    return paths


def object_fields(obj):
    """The field set an object's writer owns: everything but identity and server metadata."""
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "status")}
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in _SERVER_META}
    body = dict(body)
    if meta:
        body["metadata"] = meta
    else:
        body.pop("metadata", None)
    return field_paths(body)


def fields_v1(paths):
    out = {}
    for path in sorted(paths):
        node = out
        for key in path:
            node = node.setdefault("f:" + key, {})
    return out


def paths_from_fields_v1(tree, prefix=()):
    paths = set()
    for key, value in tree.items():
        path = prefix + (key[2:],)
        if value:
            paths |= paths_from_fields_v1(value, path)
        else:
            paths.add(path)
    return paths


def get_path(obj, path):
    node = obj
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def delete_path(obj, path):
    """Remove a leaf and the maps it leaves empty."""
    parents = [obj]
    for key in path[:-1]:
        node = parents[-1].get(key)
        if not isinstance(node, dict):
            return
        parents.append(node)
    parents[-1].pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):
        if parents[depth]:
            break
        parents[depth - 1].pop(path[depth - 1], None)


def merge(base, patch, null_deletes=False):
    """Maps merge recursively, everything else replaces (JSON merge patch when null_deletes)."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None and null_deletes:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value, null_deletes)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", "the JSON pointer %r does not start with /" % path)
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def json_patch(obj, ops):
    """RFC 6902 add, remove, replace and test on a copy of ``obj``; ApiError 422 on any failure."""
    out = copy.deepcopy(obj)
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
    for op in ops:
        kind, parts = op.get("op"), _pointer(op.get("path", ""))
        if kind not in ("add", "remove", "replace", "test") or not parts:
            raise ApiError(422, "Invalid", "the double does not handle JSON patch operation %r" % (op,))
        parent = out
        for part in parts[:-1]:
            try:
                parent = parent[int(part)] if isinstance(parent, list) else parent[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise ApiError(422, "Invalid", "doc is missing path: %s" % op["path"])
        last = parts[-1]
        if isinstance(parent, list):
            size = len(parent) + (1 if kind == "add" else 0)
            index = size - 1 if (last == "-" and kind == "add") else (int(last) if last.isdigit() else -1)
            if not 0 <= index < size:
                raise ApiError(422, "Invalid", "doc is missing path: %s" % op["path"])
        elif not isinstance(parent, dict) or (kind != "add" and last not in parent):
            raise ApiError(422, "Invalid", "doc is missing path: %s" % op["path"])
        else:
            index = last
        if kind == "test":
            if parent[index] != op.get("value"):
                raise ApiError(422, "Invalid", "testing value %s failed: test failed" % op["path"])
        elif kind == "remove":
            del parent[index]
        elif kind == "add" and isinstance(parent, list):
            parent.insert(index, copy.deepcopy(op.get("value")))
        else:
            parent[index] = copy.deepcopy(op.get("value"))
    return out


# ---------------------------------------------------------------- selectors

def _selector_terms(text):
    """Split a label selector on commas outside parentheses."""
    terms, depth, cur = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(cur.strip())
            cur = ""
        else:
            cur += char
    if cur.strip():
        terms.append(cur.strip())
    return terms


def selector_matches(selector, labels):
    """Equality (=, ==, !=), set (in, notin) and existence (key, !key) label selectors."""
    labels = labels or {}
    for term in _selector_terms(selector or ""):
        if " notin " in term or " in " in term:
            neg = " notin " in term
            key, values = term.split(" notin " if neg else " in ", 1)
            values = {v.strip() for v in values.strip().strip("()").split(",")}
            key = key.strip()
            if neg and key in labels and labels[key] in values:
                return False
            if not neg and labels.get(key) not in values:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


# ---------------------------------------------------------------- the store

class Store:
    """Objects by (group, plural, namespace, name); thread-safe."""

    def __init__(self):
        self.lock = threading.RLock()
        self.objects = {}
        self.revision = 1000

    def next_revision(self):
        self.revision += 1
        return str(self.revision)


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
        handler = type("Handler", (_Handler,), {"double": self})
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
                self._stamp_new(obj, "seed", "Update")
                self.store.objects[self._key(res, meta.get("namespace"), meta["name"])] = obj

    def get(self, api_version, kind, name, namespace=None):
        """The stored object or None (for tests)."""
        res, version = self.find_kind(api_version, kind)
        with self.store.lock:
            obj = self.store.objects.get(self._key(res, namespace, name))
            return self._view(obj, res, version) if obj else None

    def delete(self, api_version, kind, name, namespace=None):
        """Remove a stored object as a controller would (for tests); whether it was there."""
        res = self.find_kind(api_version, kind)[0]
        with self.store.lock:
            return self.store.objects.pop(self._key(res, namespace, name), None) is not None

    def list(self, api_version, kind):
        res, version = self.find_kind(api_version, kind)
        with self.store.lock:
            return [self._view(o, res, version) for k, o in sorted(self.store.objects.items())
                    if k[:2] == (res.group, res.plural)]

    @staticmethod
    def _key(res, namespace, name):
        return (res.group, res.plural, namespace if res.namespaced else None, name)

    @staticmethod
    def _view(obj, res, version):
        out = copy.deepcopy(obj)
        out["apiVersion"] = res.api_version(version)
        out["kind"] = res.kind
        return out

    def _stamp_new(self, obj, manager, operation):
        meta = obj["metadata"]
        meta.setdefault("uid", "00000000-0000-4000-8000-%012d" % self.store.revision)
        meta.setdefault("creationTimestamp", _now())
        meta["resourceVersion"] = self.store.next_revision()
        if "spec" in obj:
            meta["generation"] = 1
        meta["managedFields"] = [self._mf_entry(obj, manager, operation, object_fields(obj))]

    @staticmethod
    def _mf_entry(obj, manager, operation, paths):
        return {"manager": manager, "operation": operation, "apiVersion": obj.get("apiVersion"),
                "time": _now(), "fieldsType": "FieldsV1", "fieldsV1": fields_v1(paths)}


# ---------------------------------------------------------------- request handling

def _body_without(obj, keys):
    return {k: v for k, v in obj.items() if k not in keys}


def _comparable(obj):
    out = copy.deepcopy(obj)
    meta = out.get("metadata", {})
    for key in ("resourceVersion", "managedFields", "generation"):
        meta.pop(key, None)
    return out


class _Handler(BaseHTTPRequestHandler):
    double = None  # set by KubeDouble.start
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # answers in one segment: no 40 ms delayed-ACK stalls
    wbufsize = 65536

    def log_message(self, *args):  # quiet
        return

    # --------------------------------------------------------- plumbing
    def _send(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            return yaml.safe_load(raw) if ctype.endswith("yaml") else json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "BadRequest", "the body could not be decoded: %s" % exc)

    def _handle(self, method):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        double = self.double
        double.requests.append((method, self.path))
        try:
            body = self._read_body()
            token = (self.headers.get("Authorization") or "")[len("Bearer "):]
            if token not in double.tokens:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            code, payload = self._route(method, url.path, query, body, token)
        except ApiError as exc:
            code, payload = exc.code, exc.status()
        except Exception as exc:  # pylint: disable=broad-except
            code, payload = 500, ApiError(500, "InternalError", "double: %r" % exc).status()
        self._send(code, payload)

    def do_GET(self):  # noqa: N802 pylint: disable=invalid-name
        self._handle("GET")

    def do_POST(self):  # noqa: N802 pylint: disable=invalid-name
        self._handle("POST")

    def do_PUT(self):  # noqa: N802 pylint: disable=invalid-name
        self._handle("PUT")

    def do_PATCH(self):  # noqa: N802 pylint: disable=invalid-name
        self._handle("PATCH")

    def do_DELETE(self):  # noqa: N802 pylint: disable=invalid-name
        self._handle("DELETE")

    # --------------------------------------------------------- routing
    def _route(self, method, path, query, body, token):
        double = self.double
        parts = [p for p in path.split("/") if p]
        if path == "/version":
            return 200, {"major": "1", "minor": "31", "gitVersion": "v1.31.4-double",
                         "platform": "linux/amd64"}
        if parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if parts == ["apis"]:
            groups = []
            for name, versions in double.groups().items():
                if not name:
                    continue
                gvs = [{"groupVersion": "%s/%s" % (name, v), "version": v} for v in versions]
                groups.append({"name": name, "versions": gvs, "preferredVersion": gvs[0]})
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return self._discovery(group, version)
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3 and double.find(group, version, rest[2]):
            namespace, rest = rest[1], rest[2:]
        res = double.find(group, version, rest[0])
        if res is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if token in double.forbidden_tokens or res.plural in double.forbidden_resources:
            verb = {"GET": "get" if len(rest) > 1 else "list", "POST": "create", "PUT": "update",
                    "PATCH": "patch", "DELETE": "delete"}[method]
            where = ' in the namespace "%s"' % namespace if namespace else " at the cluster scope"
            named = '%s "%s"' % (res.plural, rest[1]) if len(rest) > 1 else res.plural
            raise ApiError(403, "Forbidden",
                           '%s is forbidden: User "kubernetes-admin" cannot %s resource "%s" in API '
                           'group "%s"%s' % (named, verb, res.plural, res.group, where))
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub not in (None, "status") or (sub == "status" and not res.has_status):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        ctx = _Request(double, res, version, namespace, name, sub, query, body,
                       (self.headers.get("Content-Type") or "").split(";")[0].strip())
        # like the API server: a writer without fieldManager is named after its user agent
        ctx.default_manager = (self.headers.get("User-Agent") or "unknown").split("/")[0]
        return ctx.run(method)

    def _discovery(self, group, version):
        found = [r for r in self.double.resources if r.group == group and version in r.versions
                 and not (group == METALLB and self.double.crds_missing)]
        if not found:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        out = []
        for res in found:
            out.extend(res.discovery())
        gv = "%s/%s" % (group, version) if group else version
        return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                     "resources": out}


class _Request:  # pylint: disable=too-many-instance-attributes
    """One resource request, with the store locked while it runs."""

    def __init__(self, double, res, version, namespace, name, sub, query, body, ctype):
        self.double = double
        self.res = res
        self.version = version
        self.namespace = namespace
        self.name = name
        self.sub = sub
        self.query = query
        self.body = body
        self.ctype = ctype
        self.default_manager = "unknown"
        self.dry_run = query.get("dryRun") == "All"

    def run(self, method):
        if self.res.namespaced != bool(self.namespace) and (self.name or method == "POST"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if method in ("POST", "PUT", "PATCH") and self.res.group == METALLB:
            self._webhook()
        with self.double.store.lock:
            if method in ("POST", "PATCH") and self.namespace and self.double.require_namespaces and \
                    ("", "namespaces", None, self.namespace) not in self.double.store.objects:
                raise ApiError(404, "NotFound", 'namespaces "%s" not found' % self.namespace)
            if method == "GET":
                return 200, (self._get() if self.name else self._list())
            if method == "POST" and not self.name:
                return 201, self._create(self._validated(self.body))
            if method == "PUT" and self.name:
                return 200, self._replace(self._validated(self.body))
            if method == "PATCH" and self.name:
                return self._patch()
            if method == "DELETE" and self.name:
                return 200, self._delete()
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")

    # --------------------------------------------------------- helpers
    def _webhook(self):
        with self.double.store.lock:
            if self.double.webhook_failures <= 0:
                return
            self.double.webhook_failures -= 1
        raise ApiError(500, "InternalError", WEBHOOK_MESSAGE.format(
            kind=self.res.kind.lower(), version=self.version))

    def _key(self, name=None):
        return KubeDouble._key(self.res, self.namespace, name or self.name)

    def _view(self, obj):
        return KubeDouble._view(obj, self.res, self.version)

    def _not_found(self):
        group = "%s." % self.res.plural + self.res.group if self.res.group else self.res.plural
        return ApiError(404, "NotFound", '%s "%s" not found' % (group, self.name))

    def _validated(self, obj):
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the request body must be an object")
        want = self.res.api_version(self.version)
        if obj.get("apiVersion") != want or obj.get("kind") != self.res.kind:
            raise ApiError(400, "BadRequest", "the object is %s %s, the URL is for %s %s" % (
                obj.get("apiVersion"), obj.get("kind"), want, self.res.kind))
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        if not name or (self.name and name != self.name):
            raise ApiError(400, "BadRequest", "metadata.name is missing or differs from the URL")
        if self.res.namespaced and meta.get("namespace", self.namespace) != self.namespace:
            raise ApiError(400, "BadRequest", "the namespace of the object does not match the URL")
        for key, value in list((meta.get("labels") or {}).items()):
            if not isinstance(value, str) or len(value) > 63:
                raise ApiError(422, "Invalid", "metadata.labels: Invalid value: %r" % (key,))
        obj = copy.deepcopy(obj)
        obj["metadata"] = dict(meta, name=name)
        if self.res.namespaced:
            obj["metadata"]["namespace"] = self.namespace
        return obj

    def _list(self):
        selector = self.query.get("labelSelector")
        items = []
        for key, obj in sorted(self.double.store.objects.items()):
            if key[:2] != (self.res.group, self.res.plural):
                continue
            if self.namespace and key[2] != self.namespace:
                continue
            if selector and not selector_matches(selector, obj["metadata"].get("labels")):
                continue
            items.append(self._view(obj))
        return {"kind": self.res.kind + "List", "apiVersion": self.res.api_version(self.version),
                "metadata": {"resourceVersion": str(self.double.store.revision)}, "items": items}

    def _get(self):
        obj = self.double.store.objects.get(self._key())
        if obj is None:
            raise self._not_found()
        return self._view(obj)

    def _create(self, obj):
        if self._key(obj["metadata"]["name"]) in self.double.store.objects:
            raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (
                self.res.plural, obj["metadata"]["name"]))
        manager = self.query.get("fieldManager") or self.default_manager
        if self.res.has_status:
            obj.pop("status", None)
        return self._store(None, obj, manager, "Update", object_fields(obj))

    def _replace(self, obj):
        current = self.double.store.objects.get(self._key())
        if current is None:
            raise self._not_found()
        if self.sub == "status":
            obj = dict(current, status=obj.get("status"))
        elif self.res.has_status:
            obj = dict(obj, status=current.get("status"))
        meta = {k: v for k, v in current["metadata"].items() if k in _SERVER_META}
        meta.update({k: v for k, v in obj["metadata"].items() if k not in _SERVER_META})
        obj["metadata"] = meta
        manager = self.query.get("fieldManager") or self.default_manager
        changed = object_fields(obj) - object_fields(current)
        return self._store(current, obj, manager, "Update", changed)

    def _patch(self):
        current = self.double.store.objects.get(self._key())
        if self.ctype == "application/apply-patch+yaml":
            return self._apply(current)
        if self.ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json",
                              "application/json-patch+json"):
            raise ApiError(415, "UnsupportedMediaType",
                           "the double handles apply, merge, strategic merge and JSON patches only")
        if current is None:
            raise self._not_found()
        manager = self.query.get("fieldManager") or self.default_manager
        if self.ctype == "application/json-patch+json":
            new = json_patch(current, self.body)
            for key in _SERVER_META:  # the server's metadata is not the patch's to change
                if key in current["metadata"]:
                    new["metadata"][key] = current["metadata"][key]
            if self.res.has_status:  # status is written through /status only
                new.pop("status", None)
                if "status" in current:
                    new["status"] = copy.deepcopy(current["status"])
            paths = {p for p in object_fields(new) if get_path(new, p) != get_path(current, p)}
            return 200, self._store(current, new, manager, "Update", paths)
        if not isinstance(self.body, dict):
            raise ApiError(400, "BadRequest", "the patch must be an object")
        patch = self.body
        if self.sub == "status":
            patch = {"status": patch.get("status")}
        elif self.res.has_status:
            patch = _body_without(patch, ("status",))
        new = merge(current, patch, null_deletes=True)
        return 200, self._store(current, new, manager, "Update", object_fields(patch))

    def _apply(self, current):
        manager = self.query.get("fieldManager")
        if not manager:
            raise ApiError(400, "BadRequest", "PATCH, fieldManager: Required value: is required "
                                              "for apply patch")
        applied = self._validated(self.body)
        if self.res.has_status and self.sub != "status":
            applied.pop("status", None)
        paths = object_fields(applied)
        if current is None:
            return 201, self._store(None, applied, manager, "Apply", paths)
        force = self.query.get("force") == "true"
        others = [m for m in current["metadata"].get("managedFields", [])
                  if not (m["manager"] == manager and m["operation"] == "Apply")]
        conflicts = []
        for entry in others:
            owned = paths_from_fields_v1(entry.get("fieldsV1") or {})
            for path in sorted(paths & owned):
                if get_path(current, path) != get_path(applied, path):
                    conflicts.append('conflict with "%s" using %s: .%s' % (
                        entry["manager"], entry.get("apiVersion"), ".".join(path)))
        if conflicts and not force:
            raise ApiError(409, "Conflict", "Apply failed with %d conflict%s: %s" % (
                len(conflicts), "s" if len(conflicts) > 1 else "", "\n".join(conflicts)))
        mine = [m for m in current["metadata"].get("managedFields", [])
                if m["manager"] == manager and m["operation"] == "Apply"]
        before = paths_from_fields_v1(mine[0]["fieldsV1"]) if mine else set()
        owned_by_others = set()
        for entry in others:
            owned_by_others |= paths_from_fields_v1(entry.get("fieldsV1") or {})
        new = copy.deepcopy(current)
        for path in sorted(before - paths - owned_by_others, key=len, reverse=True):
            delete_path(new, path)
        new = merge(new, _body_without(applied, ("apiVersion", "kind")))
        return 200, self._store(current, new, manager, "Apply", paths, force=force)

    def _store(self, current, new, manager, operation, paths, force=False):
        new["apiVersion"] = self.res.api_version(self.version)
        new["kind"] = self.res.kind
        if self.res.kind == "Secret" and "stringData" in new:  # write-only, folded into data
            data = dict(new.get("data") or {})
            for key, value in (new.pop("stringData") or {}).items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            new["data"] = data
        store = self.double.store
        if current is None:
            new["metadata"].setdefault("uid", "00000000-0000-4000-8000-%012d" % store.revision)
            new["metadata"]["creationTimestamp"] = _now()
            new["metadata"]["resourceVersion"] = "" if self.dry_run else store.next_revision()
            if "spec" in new:
                new["metadata"]["generation"] = 1
            new["metadata"]["managedFields"] = [KubeDouble._mf_entry(new, manager, operation, paths)]
        else:
            if _comparable(current) == _comparable(new) and operation != "Apply":
                return self._view(current)
            entries, placed = [], False
            for entry in current["metadata"].get("managedFields", []):
                owned = paths_from_fields_v1(entry.get("fieldsV1") or {})
                if entry["manager"] == manager and entry["operation"] == operation:
                    if operation != "Apply":
                        paths = paths | owned
                    mine = KubeDouble._mf_entry(new, manager, operation, paths)
                    if owned == paths:
                        mine["time"] = entry["time"]
                    if paths:
                        entries.append(mine)
                    placed = True
                    continue
                if force or operation != "Apply":
                    owned -= paths
                if owned:
                    entries.append(dict(entry, fieldsV1=fields_v1(owned)))
            if not placed and paths:
                entries.append(KubeDouble._mf_entry(new, manager, operation, paths))
            new["metadata"]["managedFields"] = entries
            if _comparable(current) == _comparable(new) and entries == current["metadata"].get(
                    "managedFields"):
                return self._view(current)
            new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            if not self.dry_run:
                new["metadata"]["resourceVersion"] = store.next_revision()
            spec_changed = any(current.get(k) != new.get(k) for k in set(current) | set(new)
                               if k not in ("metadata", "status", "apiVersion", "kind"))
            if spec_changed and "generation" in current["metadata"]:
                new["metadata"]["generation"] = current["metadata"]["generation"] + 1
        if not self.dry_run:
            store.objects[self._key(new["metadata"]["name"])] = new
        return self._view(new)

    def _delete(self):
        key = self._key()
        obj = self.double.store.objects.get(key)
        if obj is None:
            raise self._not_found()
        if not self.dry_run:
            del self.double.store.objects[key]
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": self.name, "group": self.res.group, "kind": self.res.plural,
                            "uid": obj["metadata"].get("uid")}}


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

"""The double's HTTP side: routing, discovery, and each resource request against the store."""

import base64
import copy
import json
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import yaml

from .fieldsets import delete_path, fields_v1, get_path, json_patch, merge, object_fields, \
    paths_from_fields_v1, selector_matches
from .resources import METALLB, SERVER_META, WEBHOOK_MESSAGE, ApiError
from .store import key as store_key, mf_entry, view as store_view


def _body_without(obj, keys):
    return {k: v for k, v in obj.items() if k not in keys}


def _comparable(obj):
    out = copy.deepcopy(obj)
    meta = out.get("metadata", {})
    for key in ("resourceVersion", "managedFields", "generation"):
        meta.pop(key, None)
    return out


class Handler(BaseHTTPRequestHandler):
    double = None  # set by KubeDouble.start (server.py)
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

    def _dispatch(self):
        self._handle(self.command)  # the request's method, as BaseHTTPRequestHandler parsed it

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch  # noqa: N815  pylint: disable=invalid-name  # http.server's names

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
        return store_key(self.res, self.namespace, name or self.name)

    def _view(self, obj):
        return store_view(obj, self.res, self.version)

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
        meta = {k: v for k, v in current["metadata"].items() if k in SERVER_META}
        meta.update({k: v for k, v in obj["metadata"].items() if k not in SERVER_META})
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
            for key in SERVER_META:  # the server's metadata is not the patch's to change
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
            store.stamp_new(new, manager, operation, paths, dry_run=self.dry_run)
        else:
            if _comparable(current) == _comparable(new) and operation != "Apply":
                return self._view(current)
            entries, placed = [], False
            for entry in current["metadata"].get("managedFields", []):
                owned = paths_from_fields_v1(entry.get("fieldsV1") or {})
                if entry["manager"] == manager and entry["operation"] == operation:
                    if operation != "Apply":
                        paths = paths | owned
                    mine = mf_entry(new, manager, operation, paths)
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
                entries.append(mf_entry(new, manager, operation, paths))
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

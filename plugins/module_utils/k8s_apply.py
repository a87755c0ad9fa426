# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a set of objects with server-side apply, and prune what left the set.

The decisions are plain functions over dicts (``prepare``, ``order_key``, ``prune_plan``,
``normalize``, ``object_diff``) so they are tested without a server; ``apply_set`` runs them
against a ``k8s_client.Api``.

Ownership: every object applied here carries ``app.kubernetes.io/managed-by: baremetal.vip``
and ``baremetal.vip/cluster: <set>`` (the labels the render roles give every cluster object; the
set is the cluster's name). Pruning lists only objects carrying both labels, of the kinds it is
told to prune, and deletes those not in the desired set. Nothing else is deleted, and
Namespaces are never pruned (deleting one deletes everything in it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import json
import time

from ansible_collections.baremetal.vip.plugins.module_utils.errors import K8sError

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "baremetal.vip"
SET_LABEL = "baremetal.vip/cluster"  # the render roles set it to the cluster name
FIELD_MANAGER = "baremetal.vip"
METALLB_GROUP = "metallb.io"
NEVER_PRUNED = ("Namespace", "CustomResourceDefinition")
MASK = "********"

# Apply order: RBAC -> workloads -> ConfigMaps/Secrets -> MetalLB resources (after the webhook).
_RANK = {
    "Namespace": 0, "CustomResourceDefinition": 1,
    "ServiceAccount": 2, "ClusterRole": 2, "Role": 2, "ClusterRoleBinding": 3, "RoleBinding": 3,
    "DaemonSet": 4, "Deployment": 4, "StatefulSet": 4,
    "ConfigMap": 5, "Secret": 5,
    "IPAddressPool": 7, "BFDProfile": 7, "Community": 7,
    "BGPPeer": 8, "L2Advertisement": 9, "BGPAdvertisement": 9,
}
_DEFAULT_RANK = 6


def group_of(api_version):
    return api_version.rpartition("/")[0] if "/" in (api_version or "") else ""


def identity(obj):
    """What names an object across versions of its group: (group, kind, namespace, name)."""
    meta = obj.get("metadata") or {}
    return (group_of(obj.get("apiVersion")), obj.get("kind"), meta.get("namespace") or None,
            meta.get("name"))


def describe(obj):
    meta = obj.get("metadata") or {}
    where = "%s/%s" % (meta["namespace"], meta.get("name")) if meta.get("namespace") else meta.get("name")
    return "%s %s %s" % (obj.get("apiVersion"), obj.get("kind"), where)


def order_key(obj):
    return _RANK.get(obj.get("kind"), _DEFAULT_RANK)


def is_metallb(obj):
    return group_of(obj.get("apiVersion")) == METALLB_GROUP


def set_selector(set_name):
    return "%s=%s,%s=%s" % (MANAGED_BY_LABEL, MANAGED_BY, SET_LABEL, set_name)


def owned_by_set(obj, set_name):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(SET_LABEL) == set_name


def prepare(objects, set_name, namespace=None, secret_string_data=None):
    """The desired objects, labelled, defaulted and in apply order; raises ValueError listing
    every malformed or duplicate object at once."""
    errors, out, seen = [], [], {}
    for index, obj in enumerate(objects or []):
        if not isinstance(obj, dict):
            errors.append("objects[%d] is not a mapping" % index)
            continue
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {}) or {}
        obj["metadata"] = meta
        missing = [k for k, v in (("apiVersion", obj.get("apiVersion")), ("kind", obj.get("kind")),
                                  ("metadata.name", meta.get("name"))) if not v]
        if missing:
            errors.append("objects[%d] has no %s" % (index, ", ".join(missing)))
            continue
        if namespace and not meta.get("namespace") and obj["kind"] not in (
                "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Node"):
            meta["namespace"] = namespace
        key = identity(obj)
        if key in seen:
            errors.append("objects[%d] (%s) repeats objects[%d]" % (index, describe(obj), seen[key]))
            continue
        seen[key] = index
        labels = dict(meta.get("labels") or {})
        labels[MANAGED_BY_LABEL] = MANAGED_BY
        labels[SET_LABEL] = set_name
        meta["labels"] = labels
        if obj["kind"] == "Secret" and secret_string_data:
            ref = "%s/%s" % (meta.get("namespace"), meta["name"])
            if ref in secret_string_data:
                obj["stringData"] = dict(obj.get("stringData") or {}, **secret_string_data[ref])
        out.append(obj)
    if errors:
        raise ValueError("; ".join(errors))
    return sorted(out, key=order_key)


def split_secret_values(objects):
    """``objects`` with every Secret reduced to apiVersion, kind, metadata and type (default Opaque), and the
    values taken out of them by ``<namespace>/<name>`` (``data`` decoded from base64, ``stringData`` winning),
    as k8s_apply_set's secret_string_data wants them: {"objects": [...], "secret_values": {...}}.
    Raises ValueError naming the Secret and key whose data is not base64, never the value."""
    out, values = [], {}
    for obj in objects or []:
        if obj.get("kind") != "Secret":
            out.append(obj)
            continue
        meta = obj.get("metadata") or {}
        out.append({"apiVersion": obj.get("apiVersion"), "kind": "Secret", "metadata": obj.get("metadata"),
                    "type": obj.get("type", "Opaque")})
        ref = "%s/%s" % (meta.get("namespace", "default"), meta.get("name"))
        decoded = {}
        for key, value in (obj.get("data") or {}).items():
            try:
                decoded[key] = base64.b64decode(str(value).encode("utf-8", "surrogateescape")).decode(
                    "utf-8", "surrogateescape")
            except (ValueError, TypeError):
                raise ValueError("Secret %s: data.%s is not base64" % (ref, key)) from None
        decoded.update(obj.get("stringData") or {})
        values[ref] = decoded
    return {"objects": out, "secret_values": values}


def prune_plan(desired, live, set_name):
    """The live objects to delete: carrying this set's labels and not desired (never a
    Namespace). ``live`` is every object listed with the set's label selector."""
    wanted = set(identity(o) for o in desired)
    out = [o for o in live
           if owned_by_set(o, set_name) and o.get("kind") not in NEVER_PRUNED and identity(o) not in wanted]
    return sorted(out, key=lambda o: (-order_key(o), identity(o)))


def prune_kinds(desired, extra):
    """(apiVersion, kind) pairs to look for prunable objects in: the desired kinds plus extra."""
    kinds = []
    for pair in [(o["apiVersion"], o["kind"]) for o in desired] + [
            (k["apiVersion"], k["kind"]) for k in extra or []]:
        if pair[1] not in NEVER_PRUNED and pair[1] not in [known[1] for known in kinds]:
            kinds.append(pair)
    return kinds


_SERVER_FIELDS = ("resourceVersion", "uid", "managedFields", "generation", "creationTimestamp",
                  "selfLink")


def normalize(obj, mask_secrets=False):
    """An object as compared and shown in a diff: without server bookkeeping and status."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for key in _SERVER_FIELDS:
        meta.pop(key, None)
    if out.get("kind") == "Secret":
        if out.get("stringData"):  # the API folds stringData into data
            data = dict(out.get("data") or {})
            data.update(out.pop("stringData"))
            out["data"] = data
        if mask_secrets:
            out["data"] = dict((k, MASK) for k in out.get("data") or {})
    return out


def _secret_equal(live, applied):
    """Secrets compare by value whatever the encoding (data is base64, stringData is not)."""
    def decoded(obj):
        values = {}
        for key, value in ((obj or {}).get("data") or {}).items():
            try:
                values[key] = base64.b64decode(value).decode("utf-8", "replace")
            except Exception:  # pylint: disable=broad-except
                values[key] = value
        values.update((obj or {}).get("stringData") or {})
        return values

    return decoded(live) == decoded(applied)


def same(live, result):
    if live is None or result is None:
        return live is result
    a, b = normalize(live), normalize(result)
    if a.get("kind") == "Secret":
        if not _secret_equal(live, result):
            return False
        a.pop("data", None)
        b.pop("data", None)
    return a == b


def object_diff(before, after):
    """One entry of Ansible's diff list (Secret values masked)."""
    ident = describe(after or before)

    def text(obj):
        return json.dumps(normalize(obj, mask_secrets=True), indent=2, sort_keys=True) + "\n" if obj else ""

    return dict(before_header=ident if before else "(absent)", after_header=ident if after else "(absent)",
                before=text(before), after=text(after))


class Sleeper:
    """The clock and sleep of the webhook wait (replaced in tests)."""

    def __init__(self, clock=None, sleep=None):
        self.clock = clock or time.monotonic
        self.sleep = sleep or time.sleep


def _apply_one(api, obj, opts, deadline_state, sleeper):
    """Apply one object; MetalLB objects wait for the webhook until the shared deadline."""
    while True:
        try:
            return api.apply(obj, opts["field_manager"], force=opts["force"], dry_run=opts["check_mode"])
        except K8sError as exc:
            if not (exc.webhook_not_ready and is_metallb(obj)):
                raise
            if deadline_state.get("deadline") is None:
                deadline_state["deadline"] = sleeper.clock() + opts["webhook_timeout"]
            remaining = deadline_state["deadline"] - sleeper.clock()
            if remaining <= 0:
                raise K8sError(
                    "the MetalLB webhook was not ready within %ss: %s; is the MetalLB controller "
                    "running and its webhook Service backed (namespace metallb-system)?" % (
                        opts["webhook_timeout"], exc.msg), status=exc.status, webhook_not_ready=True)
            deadline_state["waited"] = deadline_state.get("waited", 0) + 1
            sleeper.sleep(min(opts["retry_delay"], max(remaining, 0)))


def apply_set(api, objects, set_name, check_mode=False, namespace=None, extra_prune_kinds=None,
              prune=True, force=True, field_manager=FIELD_MANAGER, webhook_timeout=120,
              retry_delay=2.0, secret_string_data=None, sleeper=None):
    """Apply ``objects`` in order, then prune. Returns changed, applied, pruned, diff, and
    webhook_retries. Check mode sends every write as a server-side dry run."""
    desired = prepare(objects, set_name, namespace, secret_string_data)
    opts = dict(field_manager=field_manager, force=force, check_mode=check_mode,
                webhook_timeout=webhook_timeout, retry_delay=retry_delay)
    sleeper = sleeper or Sleeper()
    state, applied, pruned, diff = {}, [], [], []
    creating_namespaces = set()
    for obj in desired:
        meta = obj["metadata"]
        live = api.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        try:
            result = _apply_one(api, obj, opts, state, sleeper)
        except K8sError as exc:
            # a dry run cannot create objects in a namespace this same run would create
            if not (check_mode and exc.status == 404 and meta.get("namespace") in creating_namespaces):
                raise
            result = obj
        if obj["kind"] == "Namespace" and live is None:
            creating_namespaces.add(meta["name"])
        action = "created" if live is None else ("unchanged" if same(live, result) else "configured")
        applied.append(dict(apiVersion=obj["apiVersion"], kind=obj["kind"], name=meta["name"],
                            namespace=meta.get("namespace"), action=action))
        if action != "unchanged":
            diff.append(object_diff(live, result))
    if prune:
        live = []
        for api_version, kind in prune_kinds(desired, extra_prune_kinds):
            try:
                live.extend(api.list(api_version, kind, label_selector=set_selector(set_name)))
            except K8sError as exc:
                if not exc.not_served:  # a kind the API does not serve has nothing to prune
                    raise
        for obj in prune_plan(desired, live, set_name):
            meta = obj["metadata"]
            api.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"),
                       dry_run=check_mode)
            pruned.append(dict(apiVersion=obj["apiVersion"], kind=obj["kind"], name=meta["name"],
                               namespace=meta.get("namespace"), action="deleted"))
            diff.append(object_diff(obj, None))
    changed = bool(pruned) or any(a["action"] != "unchanged" for a in applied)
    return dict(changed=changed, applied=applied, pruned=pruned, diff=diff,
                webhook_retries=state.get("waited", 0))


# ---------------------------------------------------------------- flags of a workload's container

JSON_PATCH = "application/json-patch+json"
_POD_SPEC = "/spec/template/spec"


def flag_name(flag):
    """``--cleanup-ipvs=true`` -> ``--cleanup-ipvs``."""
    return flag.split("=", 1)[0]


def _has_flag(argv, name):
    return any(item == name or item.startswith(name + "=") for item in argv or [])


def container_index(workload, container):
    """Index of the named container in the pod template (the first when none is named), or None."""
    containers = ((((workload or {}).get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    for index, item in enumerate(containers):
        if container is None or item.get("name") == container:
            return index
    return None


def container_flags_patch(workload, flags, container=None):
    """JSON patch (RFC 6902) adding to a pod template's container each flag whose name it has in
    neither ``command`` nor ``args``, whatever the value there (a value set by hand is the
    user's choice); None when nothing is missing.

    Flags go to ``command`` when the container has one (kubeadm's kube-proxy), else to
    ``args``. The patch starts with ``test`` operations on the container's name and on the very
    list it appends to, as read: if anyone changes that list between the read and the write, the
    API server refuses the whole patch (HTTP 422) instead of adding a flag twice or to the wrong
    container. Unrelated writes (status, annotations) do not make it fail, as a resourceVersion
    precondition would on a busy DaemonSet.
    """
    index = container_index(workload, container)
    if index is None:
        raise ValueError("%s has no container %s" % (describe(workload), container or "at all"))
    spec = workload["spec"]["template"]["spec"]["containers"][index]
    argv = list(spec.get("command") or []) + list(spec.get("args") or [])
    missing = []
    for flag in flags:
        if not _has_flag(argv, flag_name(flag)) and flag_name(flag) not in [flag_name(m) for m in missing]:
            missing.append(flag)
    if not missing:
        return None
    field = "command" if spec.get("command") else "args"
    base = "%s/containers/%d" % (_POD_SPEC, index)
    patch = [{"op": "test", "path": base + "/name", "value": spec.get("name")}]
    if spec.get(field):
        patch.append({"op": "test", "path": "%s/%s" % (base, field), "value": list(spec[field])})
        patch.extend({"op": "add", "path": "%s/%s/-" % (base, field), "value": flag} for flag in missing)
    else:
        patch.append({"op": "add", "path": "%s/%s" % (base, field), "value": list(missing)})
    return patch


def ensure_container_flags(api, target, flags, check_mode=False, field_manager=FIELD_MANAGER):
    """Add the flags a workload's container lacks (``target``: apiVersion, kind, name, namespace,
    container). Returns changed, added (the flags added), found (False: no such workload, left
    alone) and diff. Check mode patches with a server-side dry run."""
    live = api.get(target["apiVersion"], target["kind"], target["name"], target.get("namespace"))
    if live is None:
        return dict(changed=False, added=[], found=False, diff=[])
    try:
        patch = container_flags_patch(live, flags, target.get("container"))
    except ValueError as exc:
        raise K8sError("adding %s: %s" % (" ".join(flags), exc))
    if patch is None:
        return dict(changed=False, added=[], found=True, diff=[])
    added = []
    for op in patch:
        if op["op"] == "add":
            added.extend(op["value"] if isinstance(op["value"], list) else [op["value"]])
    try:
        result = api.patch(target["apiVersion"], target["kind"], target["name"], target.get("namespace"), patch,
                           field_manager, dry_run=check_mode, content_type=JSON_PATCH)
    except K8sError as exc:
        if exc.status == 422:  # a test operation failed: someone changed the container meanwhile
            raise K8sError("adding %s to %s: %s; the container changed since it was read: run again" % (
                " ".join(added), describe(live), exc.msg), status=exc.status)
        raise
    return dict(changed=True, added=added, found=True, diff=[object_diff(live, result)])

"""Field sets (managedFields), merge and JSON patches, label selectors: the double's object maths."""

import copy

from .resources import SERVER_META, ApiError


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
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in SERVER_META}
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

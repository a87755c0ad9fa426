"""The double's store: objects by (group, plural, namespace, name), as the API shows and stamps them."""

import copy
import threading

from .fieldsets import fields_v1
from .resources import now


class Store:
    """Objects by (group, plural, namespace, name); thread-safe."""

    def __init__(self):
        self.lock = threading.RLock()
        self.objects = {}
        self.revision = 1000

    def next_revision(self):
        self.revision += 1
        return str(self.revision)

    def stamp_new(self, obj, manager, operation, paths, created=None, dry_run=False):
        """Write the server's metadata into a new object: uid, creation time, version, managedFields."""
        meta = obj["metadata"]
        meta.setdefault("uid", "00000000-0000-4000-8000-%012d" % self.revision)
        meta["creationTimestamp"] = created or now()
        meta["resourceVersion"] = "" if dry_run else self.next_revision()
        if "spec" in obj:
            meta["generation"] = 1
        meta["managedFields"] = [mf_entry(obj, manager, operation, paths)]


def key(res, namespace, name):
    return (res.group, res.plural, namespace if res.namespaced else None, name)


def view(obj, res, version):
    out = copy.deepcopy(obj)
    out["apiVersion"] = res.api_version(version)
    out["kind"] = res.kind
    return out


def mf_entry(obj, manager, operation, paths):
    return {"manager": manager, "operation": operation, "apiVersion": obj.get("apiVersion"),
            "time": now(), "fieldsType": "FieldsV1", "fieldsV1": fields_v1(paths)}

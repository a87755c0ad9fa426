"""Validators for rendered objects: kubernetes-validate for built-in kinds, the MetalLB CRDs for metallb.io."""
import gzip
import os

import jsonschema
import kubernetes_validate
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CRD_DIR = os.path.join(HERE, "..", "data", "metallb-crds")
# kubernetes-validate ships schemas for these minor versions only; older or newer clusters are
# validated against the nearest one it has (documented in docs/roles.md).
_VERSIONS = sorted(v for v in kubernetes_validate.utils.all_versions())


def _minor(version):
    major, minor = str(version).lstrip("v").split(".")[:2]
    return int(major), int(minor)


def schema_version(k8s_version):
    """The kubernetes-validate schema version used for a cluster of ``k8s_version``."""
    wanted = _minor(k8s_version)
    known = sorted(_VERSIONS, key=_minor)
    best = known[0]
    for version in known:
        if _minor(version) <= wanted:
            best = version
    return best


def _load_crds():
    schemas = {}
    for name in sorted(os.listdir(CRD_DIR)):
        if not name.endswith(".yaml.gz"):
            continue
        with gzip.open(os.path.join(CRD_DIR, name), "rt", encoding="utf-8") as handle:
            crd = yaml.safe_load(handle)
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[("%s/%s" % (crd["spec"]["group"], version["name"]), kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


CRDS = _load_crds()


def _no_extra(schema):
    """The CRD schema with additionalProperties: false wherever properties are listed (structural, pruning)."""
    if isinstance(schema, dict):
        out = {k: _no_extra(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_no_extra(v) for v in schema]
    return schema


def validate(obj, k8s_version):
    """Validate one rendered object; returns how ("kubernetes-validate 1.31" or "crd ...")."""
    key = (obj["apiVersion"], obj["kind"])
    if obj["apiVersion"].startswith("metallb.io/"):
        assert key in CRDS, "no MetalLB CRD schema for %s %s" % key
        schema = _no_extra(CRDS[key])
        # metadata is checked by the API server, not the CRD schema
        schema["properties"]["metadata"] = {"type": "object"}
        jsonschema.validate(obj, schema)
        return "crd %s %s" % key
    version = schema_version(k8s_version)
    kubernetes_validate.validate(obj, version, strict=True)
    return "kubernetes-validate %s" % version

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talking to the Kubernetes API: one connection object and errors a user can act on.

Built on the official ``kubernetes`` client's dynamic client, as kubernetes.core is. Every
failure becomes a ``K8sError`` whose message says what was being done, against which API
address, and what to do about the usual causes (unreachable API, kubeadm >= 1.29 admin.conf
without rights, MetalLB CRDs missing). Messages never contain the kubeconfig's secrets: every
token, password and key found in it is masked out of any text this module produces.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import tempfile
import traceback

from ansible.module_utils.six.moves.urllib.parse import urlencode

from ansible_collections.baremetal.vip.plugins.module_utils.errors import K8sError

try:
    import yaml
    from kubernetes import client as k8s_api
    from kubernetes import config as k8s_config
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic import exceptions as dyn_exc
    from kubernetes.dynamic.discovery import LazyDiscoverer
    from urllib3 import exceptions as urllib3_exc
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None

METALLB_GROUP = "metallb.io"
FORBIDDEN_HINT = (
    "The kubeconfig's user lacks the rights for this. With kubeadm >= 1.29, "
    "/etc/kubernetes/admin.conf (group kubeadm:cluster-admins) has rights only once the "
    "ClusterRoleBinding kubeadm:cluster-admins exists (kubeadm init creates it); until then, or to "
    "repair it, use /etc/kubernetes/super-admin.conf on the first control-plane node.")
CRDS_HINT = ("the MetalLB CRDs are not installed (or are from a MetalLB release without this "
             "version): install MetalLB 0.13 or later (its CRDs and controller) before applying "
             "MetalLB resources")
_SECRET_KEYS = ("token", "password", "client-key-data", "client-key", "id-token", "refresh-token",
                "access-token", "secret")

# Arguments shared by every module of this collection that talks to the API.
CONNECTION_ARGS = dict(
    kubeconfig=dict(type="path", required=True),
    context=dict(type="str"),
    request_timeout=dict(type="int", default=15),
)


def kubeconfig_secrets(path):
    """Every secret value in a kubeconfig (to mask them out of messages), longest first."""
    try:
        with open(path) as handle:
            data = yaml.safe_load(handle)
    except Exception:  # pylint: disable=broad-except
        return []
    found = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and key in _SECRET_KEYS and len(value) >= 4:
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return sorted(found, key=len, reverse=True)


def mask(text, secrets):
    text = str(text)
    for value in secrets:
        text = text.replace(value, "********")
    return text


def status_message(exc):
    """The server's own message of an API error (its metav1.Status), else the reason."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        message = json.loads(body).get("message")
    except Exception:  # pylint: disable=broad-except
        message = None
    return message or getattr(exc, "reason", None) or str(exc)


def is_webhook_not_ready(exc):
    """An admission webhook that cannot be called yet (MetalLB's, while it starts)."""
    status = getattr(exc, "status", None)
    text = status_message(exc) if status else str(exc)
    return status in (500, 502, 503, 504) and (
        "failed calling webhook" in text or "no endpoints available" in text
        or "connection refused" in text)


def explain(exc, doing, host, secrets=()):
    """A K8sError for any exception raised while ``doing`` something against ``host``."""
    if isinstance(exc, K8sError):
        return exc
    status = getattr(exc, "status", None)
    if HAS_KUBERNETES and isinstance(exc, (urllib3_exc.HTTPError, OSError)) and not status:
        reason = getattr(exc, "reason", None) or exc
        msg = "cannot reach the Kubernetes API at %s while %s: %s" % (host, doing, reason)
    elif status == 403:
        msg = "%s: forbidden (HTTP 403): %s. %s" % (doing, status_message(exc), FORBIDDEN_HINT)
    elif status == 401:
        msg = ("%s: the API at %s rejected the kubeconfig's credentials (HTTP 401 Unauthorized); "
               "is the kubeconfig for this cluster and still valid?" % (doing, host))
    elif status:
        msg = "%s failed: HTTP %s: %s" % (doing, status, status_message(exc))
    else:
        msg = "%s failed: %s" % (doing, exc)
    return K8sError(mask(msg, secrets), status=status, webhook_not_ready=is_webhook_not_ready(exc))


class Api:
    """A connection to one cluster through a kubeconfig (and optional context)."""

    def __init__(self, kubeconfig, context=None, request_timeout=15):
        if not HAS_KUBERNETES:
            raise K8sError("the Python library 'kubernetes' is required")
        self.secrets = kubeconfig_secrets(kubeconfig) if kubeconfig else []
        self.timeout = request_timeout
        self.host = "(unknown)"
        if not kubeconfig or not os.path.isfile(kubeconfig):
            raise K8sError("the kubeconfig %s does not exist or is not a file" % kubeconfig)
        configuration = k8s_api.Configuration()
        try:
            k8s_config.load_kube_config(config_file=kubeconfig, context=context,
                                        client_configuration=configuration, persist_config=False)
        except Exception as exc:  # pylint: disable=broad-except
            raise K8sError(mask("loading the kubeconfig %s%s failed: %s" % (
                kubeconfig, " (context %s)" % context if context else "", exc), self.secrets))
        self.host = configuration.host
        self._cache_dir = tempfile.mkdtemp(prefix="baremetal-vip-k8s-")
        try:
            # lazy: the resources of a group are fetched when first used, as kubernetes.core does
            self.client = DynamicClient(k8s_api.ApiClient(configuration),
                                        cache_file=os.path.join(self._cache_dir, "discovery.json"),
                                        discoverer=LazyDiscoverer)
        except Exception as exc:  # pylint: disable=broad-except
            self.close()
            raise self.error(exc, "discovering the API of %s" % self.host)

    def close(self):
        shutil.rmtree(self._cache_dir, ignore_errors=True)

    def error(self, exc, doing):
        return explain(exc, doing, self.host, self.secrets)

    # ------------------------------------------------------------------ resources
    def resource(self, api_version, kind, doing):
        """The dynamic resource for apiVersion/kind, or a K8sError naming what is missing."""
        try:
            return self.client.resources.get(api_version=api_version, kind=kind)
        except Exception as exc:  # pylint: disable=broad-except
            if HAS_KUBERNETES and isinstance(exc, (dyn_exc.ResourceNotFoundError,
                                                   dyn_exc.ResourceNotUniqueError)):
                msg = "%s: the API at %s does not serve %s %s" % (doing, self.host, api_version, kind)
                if api_version.split("/")[0] == METALLB_GROUP:
                    msg += "; " + CRDS_HINT
                raise K8sError(mask(msg, self.secrets), not_served=True)
            raise self.error(exc, doing)

    def has_group(self, group):
        """Whether discovery lists an API group (e.g. metallb.io)."""
        try:
            return any(g == group for g in self.client.resources.api_groups)
        except Exception as exc:  # pylint: disable=broad-except
            raise self.error(exc, "listing the API groups of %s" % self.host)

    def _call(self, doing, func, *args, **kwargs):
        """Run one request; a 404 for the object itself is None (get, delete)."""
        kwargs["_request_timeout"] = self.timeout
        try:
            result = func(*args, **kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            if getattr(exc, "status", None) == 404:
                if status_message(exc) == "the server could not find the requested resource":
                    msg = "%s: HTTP 404, the API at %s does not serve this kind" % (doing, self.host)
                    if " %s/" % METALLB_GROUP in doing:
                        msg += "; " + CRDS_HINT
                    raise K8sError(mask(msg, self.secrets), status=404, not_served=True)
                if doing.startswith(("get ", "delete ")):
                    return None
            raise self.error(exc, doing)
        return result.to_dict() if hasattr(result, "to_dict") else result

    @staticmethod
    def describe(api_version, kind, name=None, namespace=None):
        where = "%s/%s" % (namespace, name) if namespace else name
        return "%s %s%s" % (api_version, kind, " " + where if where else "")

    def get(self, api_version, kind, name, namespace=None):
        """One object as a dict, or None when it does not exist."""
        doing = "get " + self.describe(api_version, kind, name, namespace)
        res = self.resource(api_version, kind, doing)
        return self._call(doing, res.get, name=name, namespace=namespace)

    def list(self, api_version, kind, namespace=None, label_selector=None):
        """Objects of a kind (all namespaces unless one is given) as dicts."""
        doing = "list %s%s%s" % (self.describe(api_version, kind),
                                 " in " + namespace if namespace else "",
                                 " with labels " + label_selector if label_selector else "")
        res = self.resource(api_version, kind, doing)
        found = self._call(doing, res.get, namespace=namespace, label_selector=label_selector)
        items = found.get("items") or []
        for item in items:  # list items come without apiVersion/kind
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def apply(self, obj, field_manager, force=False, dry_run=False):
        """Server-side apply of one object; returns the object as stored (or would be)."""
        meta = obj.get("metadata") or {}
        doing = "apply %s" % self.describe(obj.get("apiVersion"), obj.get("kind"), meta.get("name"),
                                           meta.get("namespace"))
        res = self.resource(obj.get("apiVersion"), obj.get("kind"), doing)
        # fieldValidation=Strict, as kubectl sends it: a field the schema (or a CRD's openAPIV3Schema)
        # lacks is refused (HTTP 422) instead of dropped with a warning (the server's default, Warn).
        # The dynamic client has no parameter for it, so the query is written here.
        query = [("fieldManager", field_manager), ("fieldValidation", "Strict")]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        path = "%s?%s" % (res.path(name=meta.get("name"), namespace=meta.get("namespace")), urlencode(query))
        return self._call(doing, self.client.request, "patch", path, body=obj,
                          content_type="application/apply-patch+yaml")

    def patch(self, api_version, kind, name, namespace, patch, field_manager, dry_run=False,
              content_type="application/strategic-merge-patch+json"):
        doing = "patch " + self.describe(api_version, kind, name, namespace)
        res = self.resource(api_version, kind, doing)
        kwargs = dict(body=patch, name=name, namespace=namespace, field_manager=field_manager,
                      content_type=content_type)
        if dry_run:
            kwargs["dry_run"] = "All"
        return self._call(doing, res.patch, **kwargs)

    def delete(self, api_version, kind, name, namespace=None, dry_run=False):
        doing = "delete " + self.describe(api_version, kind, name, namespace)
        res = self.resource(api_version, kind, doing)
        kwargs = dict(name=name, namespace=namespace)
        if dry_run:
            kwargs["dry_run"] = "All"
        return self._call(doing, res.delete, **kwargs)


def connect(params):
    """An Api from a module's CONNECTION_ARGS parameters."""
    return Api(params["kubeconfig"], params.get("context"), params.get("request_timeout") or 15)

"""The Kubernetes API test double's vocabulary: the resource types it serves, its errors, its clock."""

import datetime
from typing import NamedTuple

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
SERVER_META = ("name", "namespace", "uid", "resourceVersion", "generation",
               "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp")
WEBHOOK_MESSAGE = (
    'Internal error occurred: failed calling webhook "{kind}validationwebhook.metallb.io": '
    'failed to call webhook: Post "https://metallb-webhook-service.metallb-system.svc:443/'
    'validate-metallb-io-{version}-{kind}?timeout=10s": dial tcp 10.96.12.7:443: connect: '
    'connection refused')


def now():
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


class Resource(NamedTuple):
    """One resource type (plural) of one group."""

    group: str
    versions: tuple
    plural: str
    kind: str
    namespaced: bool
    has_status: bool
    short_names: tuple

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

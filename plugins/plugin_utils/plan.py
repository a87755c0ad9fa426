# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan: every rule of docs/plan.md in one place.

Pure Python, dicts in and dicts out. ``build_plan(cluster_vars, hosts, groups)`` checks the
inventory and returns ``{"plan": dict or None, "errors": [str], "warnings": [str]}``.
``plan`` is None whenever ``errors`` is not empty.

The schema of the ``vip_*`` variables is data (``SPEC`` and ``HOST_SPEC``): one table drives
type checks, unknown-key errors and defaults.
"""

from __future__ import annotations

import copy
import difflib
import gc
import re

try:
    import netaddr
except ImportError:  # pragma: no cover - exercised by the ansible-test import sanity test
    netaddr = None


SCHEMA_VERSION = 1

CLUSTER_VARS = ("vip_cluster", "vip_kube_vip", "vip_control_plane", "vip_services", "vip_bgp", "vip_kube_proxy")
HOST_VARS = ("vip_node_ip", "vip_node_name", "vip_interface", "vip_bgp_peers")
CONTROL_PLANE_GROUP = "kube_control_plane"
NODE_GROUP = "kube_node"

_SELECTORS = {"type": "raw", "default": []}

PEER_OPTIONS = {
    "address": {"type": "str", "required": True},
    "as": {"type": "int", "required": True, "min": 1, "max": 4294967295},
    "password": {"type": "str", "default": None, "secret": True},
    "multihop": {"type": "bool", "default": False},
    "port": {"type": "int", "default": 179, "min": 1, "max": 65535},
    "node_selectors": _SELECTORS,
}

# One spec per cluster variable. Keys of an entry: type (str|int|bool|list|dict|raw|version|
# auto_bool|auto_list), required, default, choices, min, max, options (dict), elements
# (type of list items; "dict" items use options), secret (never echo the value).
SPEC = {
    "vip_cluster": {"type": "dict", "required": True, "options": {
        "name": {"type": "str", "default": "default"},
        "distro": {"type": "str", "required": True, "choices": ["kubeadm", "k3s", "rke2"]},
        "kubernetes_version": {"type": "version", "required": True},
        "node_cidrs": {"type": "list", "elements": "str", "required": True},
        "pod_cidrs": {"type": "list", "elements": "str", "default": []},
        "service_cidrs": {"type": "list", "elements": "str", "default": []},
    }},
    "vip_kube_vip": {"type": "dict", "required": True, "options": {
        "version": {"type": "version", "required": True},
        "image": {"type": "str", "default": "ghcr.io/kube-vip/kube-vip"},
        "cloud_provider_version": {"type": "version", "default": "0.0.12"},
        "cloud_provider_image": {"type": "str", "default": "ghcr.io/kube-vip/kube-vip-cloud-provider"},
        "prometheus_port": {"type": "int", "default": 2112, "min": 0, "max": 65535},
    }},
    "vip_control_plane": {"type": "dict", "default": None, "options": {
        "address": {"type": "str", "required": True},
        "port": {"type": "int", "default": 6443, "min": 1, "max": 65535},
        "interface": {"type": "str", "default": None},
        "mode": {"type": "str", "default": "arp", "choices": ["arp", "bgp", "routing_table"]},
        "deployment": {"type": "str", "default": "static_pod", "choices": ["static_pod", "daemonset"]},
        "leader_election": {"type": "dict", "default": {}, "options": {
            "profile": {"type": "str", "default": "default", "choices": ["default", "partition_tolerant"]},
            "lease_duration": {"type": "int", "default": None},
            "renew_deadline": {"type": "int", "default": None},
            "retry_period": {"type": "int", "default": None},
            "lease_name": {"type": "str", "default": "plndr-cp-lock"},
        }},
        "routing_table": {"type": "dict", "default": {}, "options": {
            "table": {"type": "int", "default": 198},
            "protocol": {"type": "int", "default": 248},
            "clean": {"type": "bool", "default": False},
        }},
        "load_balancer": {"type": "dict", "default": {}, "options": {
            "enabled": {"type": "bool", "default": False},
            "port": {"type": "int", "default": 6443, "min": 1, "max": 65535},
            "forward_method": {"type": "str", "default": "local",
                               "choices": ["local", "masquerade", "tunnel", "directroute", "bypass"]},
        }},
    }},
    "vip_services": {"type": "dict", "default": {}, "options": {
        "provider": {"type": "str", "default": "none", "choices": ["none", "kube_vip", "metallb"]},
        "load_balancer_class": {"type": "str", "default": None},
        "local_traffic": {"type": "bool", "default": False},
        "placement": {"type": "str", "default": "all_nodes", "choices": ["all_nodes", "control_plane"]},
        "cloud_provider": {"type": "bool", "default": True},
        "metallb_namespace": {"type": "str", "default": "metallb-system"},
        "metallb_bgp_mode": {"type": "str", "default": "native", "choices": ["native", "frr", "frr-k8s"]},
        "pools": {"type": "list", "elements": "dict", "default": [], "options": {
            "name": {"type": "str", "required": True},
            "addresses": {"type": "list", "elements": "str", "required": True},
            "namespace": {"type": "str", "default": None},
            # default: bgp for kube-vip Services when the control plane is bgp, else l2 (see pools())
            "advertisement": {"type": "str", "default": None, "choices": ["l2", "bgp"]},
            "interfaces": {"type": "list", "elements": "str", "default": []},
            "node_selectors": _SELECTORS,
            "auto_assign": {"type": "bool", "default": True},
        }},
    }},
    "vip_bgp": {"type": "dict", "default": None, "options": {
        "local_as": {"type": "int", "default": 65000, "min": 1, "max": 4294967295},
        "router_id": {"type": "str", "default": None},
        "source_address": {"type": "str", "default": None},
        "source_interface": {"type": "str", "default": None},
        "hold_time": {"type": "int", "default": 30, "min": 0, "max": 65535},
        "keepalive_interval": {"type": "int", "default": 10, "min": 0, "max": 65535},
        "peers": {"type": "list", "elements": "dict", "default": [], "options": PEER_OPTIONS},
    }},
    "vip_kube_proxy": {"type": "dict", "default": {}, "options": {
        "mode": {"type": "str", "default": "iptables", "choices": ["iptables", "ipvs", "nftables", "none"]},
        "strict_arp": {"type": "auto_bool", "default": "auto"},
        "exclude_cidrs": {"type": "auto_list", "default": "auto"},
        "cleanup_ipvs": {"type": "bool", "default": False},
        "manage": {"type": "bool", "default": True},
    }},
}

HOST_SPEC = {
    "vip_node_ip": {"type": "str", "default": None},
    "vip_node_name": {"type": "str", "default": None},
    "vip_interface": {"type": "str", "default": None},
    "vip_bgp_peers": {"type": "list", "elements": "dict", "default": None, "options": PEER_OPTIONS},
}

LEADER_ELECTION_PROFILES = {
    "default": {"lease_duration": 15, "renew_deadline": 10, "retry_period": 2},
    "partition_tolerant": {"lease_duration": 30, "renew_deadline": 20, "retry_period": 5},
}

DISTRO_PATHS = {
    "kubeadm": {"static_pod_dir": "/etc/kubernetes/manifests", "auto_deploy_dir": None,
                "kubeconfig": "/etc/kubernetes/admin.conf"},
    "k3s": {"static_pod_dir": "/var/lib/rancher/k3s/agent/pod-manifests",
            "auto_deploy_dir": "/var/lib/rancher/k3s/server/manifests", "kubeconfig": "/etc/rancher/k3s/k3s.yaml"},
    "rke2": {"static_pod_dir": "/var/lib/rancher/rke2/agent/pod-manifests",
             "auto_deploy_dir": "/var/lib/rancher/rke2/server/manifests", "kubeconfig": "/etc/rancher/rke2/rke2.yaml"},
}
SUPER_ADMIN_KUBECONFIG = "/etc/kubernetes/super-admin.conf"

# kube-controller-manager's node CIDR mask size per family: (its default, address bits), and the widest gap
# kubeadm lets a pod subnet and that mask be apart (kubernetes v1.31.0, cmd/kubeadm/app/apis/kubeadm/validation/
# validation.go getClusterNodeMask and ValidatePodSubnetNodeMask; cmd/kubeadm/app/constants/constants.go
# PodSubnetNodeMaskMaxDiff)
NODE_CIDR_MASKS = {"ipv4": (24, 32), "ipv6": (64, 128)}
POD_SUBNET_NODE_MASK_MAX_DIFF = 16

# kube-vip releases: every rule or rendering that depends on the release reads this table.
# A fact holds for releases in [first, until) (None: open end); each names the upstream source.
KUBE_VIP_LOWEST = (0, 8, 0)  # vip_nodename is read from v0.8.0 (pkg/kubevip/config_environment.go)
KUBE_VIP_RELEASES = {
    # the prefix length is read from vip_subnet; vip_cidr before (pkg/kubevip/config_environment.go v0.9.0)
    "vip_subnet": ((0, 9, 0), None),
    # EndpointSlices need enable_endpointslices before 1.0.0 (the default from v1.0.0)
    "enable_endpointslices_env": (None, (1, 0, 0)),
    # bgp_peers' fifth field is the peer port (pkg/bgp/peers.go v0.8.10); v0.8.9 ignores it
    "bgp_peer_port": ((0, 8, 10), None),
    # each bgp_peers entry is split at '/' for MP-BGP options (pkg/bgp/peers.go v0.8.10 ..
    # pkg/kubevip/config_bgp.go v1.2.1; v1.2.2 reads them from the sixth ':' field)
    "bgp_peer_slash_options": ((0, 8, 10), (1, 2, 2)),
    # the manifest generator drops every other capability (pkg/kubevip/config_generator.go v0.8.10)
    "drop_all_capabilities": ((0, 8, 10), None),
    # vip_cleanroutingtable deletes every route about 7 s after start (kube-vip #1678, fixed in v1.2.3)
    "clean_routes_deletes_all": ((1, 2, 0), (1, 2, 3)),
    # the client reads k8s_config_file (default admin.conf) before the kubernetes:<port> rewrite,
    # so the control-plane instance elects through its own VIP (pkg/manager/manager.go v1.2.2,
    # kube-vip #1654; v1.2.3 skips admin.conf there)
    "client_through_vip": ((1, 2, 2), (1, 2, 3)),
}

RESERVED_ROUTE_TABLES = (0, 253, 254, 255)
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
HOSTNAME_LABEL = "kubernetes.io/hostname"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
# kubeadm's mark-control-plane phase sets it (cmd/kubeadm/app/constants/constants.go v1.31.0)
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
SERVICES_LEASE = "plndr-svcs-lock"
METALLB_MAX_PORT = 16384  # BGPPeer peerPort maximum (api/v1beta2/bgppeer_types.go, MetalLB v0.16.1)
# kube-vip-cloud-provider's class when KUBEVIP_CUSTOM_LOADBALANCERCLASS_NAME is unset (pkg/provider/provider.go v0.0.12)
KUBE_VIP_DEFAULT_CLASS = "kube-vip.io/kube-vip-class"
SUMMARY_POOLS = 5

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.+-]*)?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_BOOL_STRINGS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


class MissingLibraryError(ImportError):
    """netaddr is not installed on the controller."""


def require_netaddr():
    """Raise MissingLibraryError with an actionable message when netaddr is absent."""
    if netaddr is None:
        raise MissingLibraryError(
            "baremetal.vip needs the Python library netaddr on the Ansible controller "
            "(pip install 'netaddr>=1.3.0' in the environment that runs ansible-playbook)")


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------

def closest_name(name, valid):
    """The valid name closest to ``name`` (difflib), or None."""
    found = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.5)
    return found[0] if found else None


def _unknown_key_message(path, key, valid):
    best = closest_name(key, valid)
    hint = "did you mean '%s'? " % best if best else ""
    return "%s: unknown key '%s'; %s(valid keys: %s)" % (path, key, hint, ", ".join(sorted(valid)))


def _show(value, spec):
    return "(value hidden)" if spec.get("secret") else repr(value)


def parse_version(value):
    """'1.31', 'v1.31.4', '1.31.4', 'v1.31.4+k3s1' -> (1, 31, 4). Raises ValueError."""
    match = _VERSION.match(str(value).strip())
    if not match:
        raise ValueError("not a version like 1.31 or v1.31.4")
    return tuple(int(part or 0) for part in match.groups())


def kube_vip_has(version, fact):
    """True when kube-vip ``version`` (a tuple) lies in the release range of KUBE_VIP_RELEASES[fact]."""
    first, until = KUBE_VIP_RELEASES[fact]
    return version is not None and (first is None or version >= first) and (until is None or version < until)


def format_version(parts):
    """(1, 31, 4) -> '1.31.4'."""
    return "%d.%d.%d" % tuple(parts)


def family_of(version):
    """4 -> 'ipv4', 6 -> 'ipv6'."""
    return "ipv4" if version == 4 else "ipv6"


def parse_ip(text):
    """A single IPv4/IPv6 address (no prefix). Raises ValueError."""
    if not isinstance(text, str) or "/" in text:
        raise ValueError("not a single IP address")
    text = text.strip()
    try:
        return netaddr.IPAddress(text, 6 if ":" in text else 4)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValueError("not an IP address") from None


def parse_prefix(text, allow_host=False):
    """'addr/len' -> (IPAddress, prefixlen, first, last) without building an IPNetwork (fast for IPv6).

    The address must be the network address (no host bits). With allow_host, a bare address is
    its /32 or /128. Raises ValueError.
    """
    if not isinstance(text, str):
        raise ValueError("not a CIDR string")
    addr, sep, plen_text = text.strip().partition("/")
    if not sep and not allow_host:
        raise ValueError("not a CIDR (expected address/prefix)")
    ip = parse_ip(addr.strip())
    bits = 32 if ip.version == 4 else 128
    if not sep:
        plen = bits
    elif plen_text.strip().isdigit() and int(plen_text) <= bits:
        plen = int(plen_text)
    else:
        raise ValueError("has an invalid prefix length (0..%d)" % bits)
    value = int(ip)
    hostmask = (1 << (bits - plen)) - 1
    if value & hostmask:
        raise ValueError("has host bits set (did you mean %s/%d?)" % (netaddr.IPAddress(value & ~hostmask, ip.version), plen))
    return ip, plen, value, value | hostmask


def parse_cidr(text, allow_host=False):
    """A netaddr.IPNetwork in CIDR form with no host bits (see parse_prefix). Raises ValueError."""
    ip, plen, _first, _last = parse_prefix(text, allow_host)
    return netaddr.IPNetwork("%s/%d" % (ip, plen))


def parse_pool_entry(text):
    """A pool entry: CIDR, single address, or 'first-last'. Returns (normalized, family, first, last, cidrs)."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    text = text.strip()
    if "-" in text:
        first_text, _sep, last_text = text.partition("-")
        first, last = parse_ip(first_text.strip()), parse_ip(last_text.strip())
        if first.version != last.version:
            raise ValueError("mixes IPv4 and IPv6")
        if first > last:
            raise ValueError("first address is after the last")
        cidrs = [str(c) for c in netaddr.iprange_to_cidrs(first, last)]
        return "%s-%s" % (first, last), first.version, int(first), int(last), cidrs
    ip, plen, first, last = parse_prefix(text, allow_host=True)
    norm = "%s/%d" % (ip, plen)
    return norm, ip.version, first, last, [norm]


def find_overlaps(intervals):
    """Overlapping pairs among ``intervals`` = [(family, first, last, label), ...].

    One sort, then a sweep that keeps the interval reaching furthest so far: O(n log n).
    Each interval that overlaps any other appears in at least one returned pair; the pairs are
    (later, earlier) by start address.
    """
    order = sorted(range(len(intervals)), key=lambda i: (intervals[i][0], intervals[i][1], intervals[i][2]))
    pairs = []
    holder = None
    for idx in order:
        fam, first, last = intervals[idx][0], intervals[idx][1], intervals[idx][2]
        if holder is not None and intervals[holder][0] == fam and first <= intervals[holder][2]:
            pairs.append((idx, holder))
            if last > intervals[holder][2]:
                holder = idx
        else:
            holder = idx
    return pairs


def merge_cidrs(entries):
    """The sorted, merged CIDR cover of ``entries`` = [(family, first, last, cidrs), ...] (like cidr_merge)."""
    result = []
    run = []
    run_last = None

    def flush():
        if len(run) == 1:
            result.extend(run[0][3])
        elif run:
            fam, first = run[0][0], run[0][1]
            cls = netaddr.IPAddress
            result.extend(str(c) for c in netaddr.iprange_to_cidrs(cls(first, fam), cls(run_last, fam)))

    for entry in sorted(entries, key=lambda e: (e[0], e[1], e[2])):
        if run and entry[0] == run[0][0] and entry[1] <= run_last + 1:
            run.append(entry)
            run_last = max(run_last, entry[2])
            continue
        flush()
        run, run_last = [entry], entry[2]
    flush()
    return result


def normalize_selectors(value, path, errors):
    """node_selectors: a list of LabelSelectors, or one dict of labels -> [{matchLabels: {...}}]."""
    if value is None or value == [] or value == {}:
        return []
    if isinstance(value, dict):
        if set(value) <= {"matchLabels", "matchExpressions"}:
            value = [value]
        else:
            value = [{"matchLabels": value}]
    if not isinstance(value, list):
        errors.append("%s must be a list of LabelSelectors or a dict of labels, got %r" % (path, value))
        return []
    result = []
    for i, sel in enumerate(value):
        spath = "%s[%d]" % (path, i)
        if not isinstance(sel, dict):
            errors.append("%s must be a LabelSelector dict (matchLabels/matchExpressions), got %r" % (spath, sel))
            continue
        out = {}
        for key in sel:
            if key not in ("matchLabels", "matchExpressions"):
                errors.append(_unknown_key_message(spath, key, ("matchLabels", "matchExpressions")))
        labels = sel.get("matchLabels")
        if labels is not None:
            if not isinstance(labels, dict):
                errors.append("%s.matchLabels must be a dict of label: value, got %r" % (spath, labels))
            else:
                out["matchLabels"] = {str(k): _label_text(v) for k, v in labels.items()}
                for key, value in out["matchLabels"].items():
                    _check_label(key, value, "%s.matchLabels" % spath, errors)
        exprs = sel.get("matchExpressions")
        if exprs is not None:
            out_exprs = _normalize_expressions(exprs, spath + ".matchExpressions", errors)
            if out_exprs:
                out["matchExpressions"] = out_exprs
        if out:
            if out in result:
                errors.append("%s repeats %s[%d]: MetalLB refuses duplicate selectors" % (spath, path, result.index(out)))
            result.append(out)
    return result


def _label_text(value):
    """A label value as text; YAML booleans as Kubernetes writes them (true, not True)."""
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _check_label(key, value, path, errors):
    """Label key (optional DNS subdomain prefix '/' name) and value syntax (k8s.io/apimachinery validation)."""
    prefix, _sep, name = key.rpartition("/")
    if (prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix))) or not _LABEL_NAME.match(name) or len(name) > 63:
        errors.append("%s: %r is not a valid label key (optional DNS subdomain prefix and '/', then at most 63 of "
                      "letters, digits, '-', '_', '.', beginning and ending alphanumeric)" % (path, key))
    if value is not None and value != "" and (not _LABEL_NAME.match(value) or len(value) > 63):
        errors.append("%s: the value %r of %s is not a valid label value (at most 63 of letters, digits, '-', '_', "
                      "'.', beginning and ending alphanumeric)" % (path, value, key))


def _normalize_expressions(exprs, path, errors):
    if not isinstance(exprs, list):
        errors.append("%s must be a list, got %r" % (path, exprs))
        return []
    out = []
    for j, expr in enumerate(exprs):
        epath = "%s[%d]" % (path, j)
        if not isinstance(expr, dict):
            errors.append("%s must be a dict with key, operator, values, got %r" % (epath, expr))
            continue
        for key in expr:
            if key not in ("key", "operator", "values"):
                errors.append(_unknown_key_message(epath, key, ("key", "operator", "values")))
        operator = expr.get("operator")
        if operator not in SELECTOR_OPERATORS:
            errors.append("%s.operator is %r; expected one of %s" % (epath, operator, ", ".join(SELECTOR_OPERATORS)))
            continue
        values = expr.get("values") or []
        if not isinstance(values, list):
            errors.append("%s.values must be a list, got %r" % (epath, values))
            continue
        if operator in ("In", "NotIn") and not values:
            errors.append("%s: operator %s needs a non-empty values list" % (epath, operator))
        if operator in ("Exists", "DoesNotExist") and values:
            errors.append("%s: operator %s takes no values, got %r" % (epath, operator, values))
        item = {"key": str(expr.get("key", "")), "operator": operator}
        if not item["key"]:
            errors.append("%s.key is required" % epath)
        else:
            _check_label(item["key"], None, epath, errors)
        if values:
            item["values"] = [_label_text(v) for v in values]
            for value in item["values"]:
                _check_label(item["key"], value, epath, errors)
            if len(set(item["values"])) != len(item["values"]):
                errors.append("%s.values %r repeat a value: MetalLB refuses duplicate values" % (epath, item["values"]))
        if _same_expression(item, out):
            errors.append("%s repeats an expression of %s: MetalLB refuses duplicate match expressions" % (epath, path))
        out.append(item)
    return out


def _same_expression(expr, exprs):
    """True when ``exprs`` holds ``expr`` (values compared as sets, as MetalLB sorts them first)."""
    def key(e):
        return e["key"], e["operator"], tuple(sorted(e.get("values", [])))
    return any(key(e) == key(expr) for e in exprs)


def selectors_match(selectors, labels):
    """True/False when ``selectors`` (OR of LabelSelectors) can be decided from ``labels``; None if not."""
    if not selectors:
        return True
    undecided = False
    for sel in selectors:
        result = _selector_match(sel, labels)
        if result is True:
            return True
        if result is None:
            undecided = True
    return None if undecided else False


def _selector_match(sel, labels):
    for key, value in sel.get("matchLabels", {}).items():
        if key not in labels:
            return False if key in (HOSTNAME_LABEL, CONTROL_PLANE_LABEL) else None
        if labels[key] != value:
            return False
    for expr in sel.get("matchExpressions", []):
        key, operator = expr["key"], expr["operator"]
        if key not in labels:
            if operator in ("DoesNotExist", "NotIn") and key in (HOSTNAME_LABEL, CONTROL_PLANE_LABEL):
                continue
            if operator == "Exists" and key in (HOSTNAME_LABEL, CONTROL_PLANE_LABEL):
                return False
            if operator == "In" and key in (HOSTNAME_LABEL, CONTROL_PLANE_LABEL):
                return False
            return None
        value = labels[key]
        ok = {"In": value in expr.get("values", []), "NotIn": value not in expr.get("values", []),
              "Exists": True, "DoesNotExist": False}[operator]
        if not ok:
            return False
    return True


# --------------------------------------------------------------------------------------------
# schema: one spec for types, unknown keys and defaults
# --------------------------------------------------------------------------------------------

def normalize(value, spec, path, errors):
    """Check ``value`` against ``spec``; return it with defaults filled in and types coerced."""
    if value is None:
        if spec.get("required"):
            errors.append("%s is required" % path)
            return None
        default = spec.get("default")
        if spec["type"] == "dict" and default is not None and "options" in spec:
            value = {}
        elif isinstance(default, (list, dict)):
            return copy.deepcopy(default) if default else type(default)()
        else:
            return default
    checker = _TYPE_CHECKERS[spec["type"]]
    return checker(value, spec, path, errors)


def _check_dict(value, spec, path, errors):
    if not isinstance(value, dict):
        errors.append("%s must be a dict, got %s %s" % (path, type(value).__name__, _show(value, spec)))
        return None
    options = spec.get("options")
    if options is None:
        return value
    for key in value:
        if key not in options:
            errors.append(_unknown_key_message(path, key, options))
    return {key: normalize(value.get(key), sub, "%s.%s" % (path, key), errors) for key, sub in options.items()}


def _check_list(value, spec, path, errors):
    elements = spec.get("elements")
    if isinstance(value, str) and elements == "str":
        value = [value]
    if not isinstance(value, (list, tuple)):
        errors.append("%s must be a list, got %s %s" % (path, type(value).__name__, _show(value, spec)))
        return None
    if elements is None:
        return list(value)
    item_spec = {"type": elements, "options": spec.get("options"), "secret": spec.get("secret")}
    out = []
    for i, item in enumerate(value):
        ipath = "%s[%d]" % (path, i)
        if item is None:
            errors.append("%s is empty" % ipath)
            continue
        out.append(normalize(item, item_spec, ipath, errors))
    return out


def _check_str(value, spec, path, errors):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        errors.append("%s must be a string, got %s %s" % (path, type(value).__name__, _show(value, spec)))
        return None
    value = str(value)
    choices = spec.get("choices")
    if choices and value not in choices:
        best = closest_name(value, choices)
        hint = " (did you mean '%s'?)" % best if best else ""
        errors.append("%s is %s; expected one of %s%s" % (path, _show(value, spec), ", ".join(choices), hint))
        return None
    return value


def _check_int(value, spec, path, errors):
    if isinstance(value, str) and re.match(r"^\s*\d+\s*$", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append("%s must be an integer, got %s %s" % (path, type(value).__name__, _show(value, spec)))
        return None
    low, high = spec.get("min"), spec.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        errors.append("%s is %s; expected %s..%s" % (path, _show(value, spec), low, high))
        return None
    return value


def _check_bool(value, spec, path, errors):
    if isinstance(value, str) and value.strip().lower() in _BOOL_STRINGS:
        return _BOOL_STRINGS[value.strip().lower()]
    if not isinstance(value, bool):
        errors.append("%s must be true or false, got %s %s" % (path, type(value).__name__, _show(value, spec)))
        return None
    return value


def _check_version(value, spec, path, errors):
    if isinstance(value, bool) or not isinstance(value, str):
        errors.append("%s must be a quoted string like \"1.31\" or \"v1.31.4\", got %s %r (YAML reads 1.30 as 1.3: quote it)"
                      % (path, type(value).__name__, value))
        return None
    try:
        return format_version(parse_version(value))
    except ValueError as exc:
        errors.append("%s is %r: %s" % (path, value, exc))
        return None


def _check_auto_bool(value, spec, path, errors):
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, str) and value.strip().lower() in _BOOL_STRINGS:
        return _BOOL_STRINGS[value.strip().lower()]
    if isinstance(value, bool):
        return value
    errors.append("%s must be auto, true or false, got %r" % (path, value))
    return None


def _check_auto_list(value, spec, path, errors):
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    return _check_list(value, {"type": "list", "elements": "str"}, path, errors)


def _check_raw(value, spec, path, errors):
    return value


_TYPE_CHECKERS = {
    "dict": _check_dict, "list": _check_list, "str": _check_str, "int": _check_int, "bool": _check_bool,
    "version": _check_version, "auto_bool": _check_auto_bool, "auto_list": _check_auto_list, "raw": _check_raw,
}


def given(raw, *keys):
    """True when the user set ``raw[k1][k2]...`` to something other than None."""
    cur = raw
    for key in keys:
        if not isinstance(cur, dict) or cur.get(key) is None:
            return False
        cur = cur[key]
    return True


# --------------------------------------------------------------------------------------------
# the builder
# --------------------------------------------------------------------------------------------

class _Builder(object):
    """Holds the inputs, the errors and warnings while the plan is assembled."""

    def __init__(self, cluster_vars, hosts, groups):
        self.raw = {name: (cluster_vars or {}).get(name) for name in CLUSTER_VARS}
        self.raw_hosts = hosts or {}
        self.groups = groups or {}
        self.errors = []
        self.warnings = []
        self.intervals = []  # (family, first, last, label) for the overlap sweep
        self.cfg = {}
        self.node_nets = []
        self.pod_nets = []
        self.families = []
        self.k8s = None
        self.kv_version = None
        self.cp_ip = None
        self.service_pools = []
        self.pool_entries = []  # (family, first, last, cidrs) of every pool entry, for owned_cidrs
        self.services_hosts = []

    def error(self, msg):
        self.errors.append(msg)

    def warn(self, msg):
        self.warnings.append(msg)

    # -- inputs ------------------------------------------------------------------------------
    def run(self):
        cfg = {name: normalize(self.raw[name], SPEC[name], name, self.errors) for name in CLUSTER_VARS}
        self.cfg = cfg
        cluster = self.cluster(cfg["vip_cluster"])
        kube_vip = self.kube_vip(cfg["vip_kube_vip"])
        nodes = self.nodes(cluster)
        if cluster is not None:
            cluster["node_cidr_mask_sizes"] = self.node_cidr_mask_sizes(cluster, len(nodes))
        control_plane = self.control_plane(cfg["vip_control_plane"], cluster, kube_vip, nodes)
        services = self.services(cfg["vip_services"], cluster, control_plane, nodes)
        bgp = self.bgp(cfg["vip_bgp"], control_plane, services, nodes)
        kube_proxy = self.kube_proxy(cfg["vip_kube_proxy"], cluster, control_plane, services, nodes)
        self.overlaps()
        if self.errors:
            return None
        plan = {
            "schema": SCHEMA_VERSION,
            "cluster": cluster,
            "kube_vip": kube_vip,
            "control_plane": control_plane,
            "services": services,
            "bgp": bgp,
            "kube_proxy": kube_proxy,
            "nodes": self.nodes_out(nodes, control_plane),
            "owned": self.owned(control_plane, services),
            "warnings": list(self.warnings),
        }
        plan["summary"] = self.summary(plan)
        return plan

    # -- cluster -----------------------------------------------------------------------------
    def cidr_list(self, values, path):
        nets = []
        for i, text in enumerate(values or []):
            try:
                nets.append(parse_cidr(text))
            except ValueError as exc:
                self.error("%s[%d] (%s) %s" % (path, i, text, exc))
        return nets

    def cluster(self, cfg):
        if not cfg:
            return None
        self.node_nets = self.cidr_list(cfg["node_cidrs"], "vip_cluster.node_cidrs")
        if cfg["node_cidrs"] is not None and not cfg["node_cidrs"]:
            self.error("vip_cluster.node_cidrs must list at least one CIDR")
        pod_nets = self.cidr_list(cfg["pod_cidrs"], "vip_cluster.pod_cidrs")
        self.pod_nets = pod_nets
        svc_nets = self.cidr_list(cfg["service_cidrs"], "vip_cluster.service_cidrs")
        for name, nets in (("pod_cidrs", pod_nets), ("service_cidrs", svc_nets)):
            for i, net in enumerate(nets):
                self.intervals.append((net.version, net.first, net.last, "vip_cluster.%s[%d] (%s)" % (name, i, net.cidr)))
        version = cfg["kubernetes_version"]
        self.k8s = parse_version(version) if version else None
        distro = cfg["distro"]
        paths = dict(DISTRO_PATHS.get(distro) or DISTRO_PATHS["kubeadm"])
        paths["super_admin_kubeconfig"] = SUPER_ADMIN_KUBECONFIG if self.needs_super_admin(distro) else None
        self.families = sorted({family_of(n.version) for n in self.node_nets})
        name = cfg["name"]
        if name is not None and (not _DNS1123_LABEL.match(name) or len(name) > 63):
            self.error("vip_cluster.name (%s) must be a DNS-1123 label (it becomes the baremetal.vip/cluster label): "
                       "lowercase letters, digits and '-', at most 63" % name)
        return {
            "name": name,
            "distro": distro,
            "kubernetes_version": version,
            "node_cidrs": [str(n.cidr) for n in self.node_nets],
            "pod_cidrs": [str(n.cidr) for n in pod_nets],
            "service_cidrs": [str(n.cidr) for n in svc_nets],
            "families": self.families,
            "paths": paths,
            "kubeadm_api_version": self.kubeadm_api_version(distro),
        }

    def kubeadm_api_version(self, distro):
        """apiVersion of kubeadm's configuration (v1beta2 1.15-1.21, v1beta3 1.22-1.30, v1beta4 from 1.31)."""
        if distro != "kubeadm" or self.k8s is None:
            return None
        if self.k8s[:2] >= (1, 31):
            return "kubeadm.k8s.io/v1beta4"
        if self.k8s[:2] >= (1, 22):
            return "kubeadm.k8s.io/v1beta3"
        return "kubeadm.k8s.io/v1beta2"

    def node_cidr_mask_sizes(self, cluster, node_count):
        """kube-controller-manager's node CIDR mask size per family where kubeadm's default does not fit the pod CIDR.

        kubeadm refuses a pod subnet narrower than the node mask (24 for IPv4, 64 for IPv6 unless
        node-cidr-mask-size-ipv4/ipv6 say otherwise) or more than 16 bits wider than it (kubernetes v1.31.0,
        cmd/kubeadm/app/apis/kubeadm/validation/validation.go ValidatePodSubnetNodeMask); and every node needs a node
        CIDR of its own. Where the default does not give every node of the plan one (or is more than 16 bits
        away), the mask is pod prefix + ceil(log2(nodes)), at most the address length and pod prefix + 16;
        a pod CIDR that cannot hold one node CIDR per node is refused. kubeadm only: the collection writes these
        into the kubeadm init configuration (ClusterConfiguration.controllerManager.extraArgs).
        """
        out = {}
        if cluster["distro"] != "kubeadm":
            return out
        count = max(node_count, 1)
        share = (count - 1).bit_length()  # ceil(log2(count))
        for i, net in enumerate(self.pod_nets):
            family = family_of(net.version)
            default, bits = NODE_CIDR_MASKS[family]
            prefix = net.prefixlen
            widest = min(bits, prefix + POD_SUBNET_NODE_MASK_MAX_DIFF)
            mask = min(max(min(default, widest), prefix + share), widest)
            if (1 << (mask - prefix)) < count:
                self.error("vip_cluster.pod_cidrs[%d] (%s) is too small for the plan's %d nodes: kube-controller-manager "
                           "gives every node a node CIDR of its own, and a /%d splits into at most %d (/%d each); "
                           "use a /%d or wider"
                           % (i, net.cidr, count, prefix, 1 << (mask - prefix), mask, bits - share))
                continue
            if mask != default:
                out[family] = mask
        return out

    def needs_super_admin(self, distro):
        return distro == "kubeadm" and self.k8s is not None and self.k8s[:2] >= (1, 29)

    def kube_vip(self, cfg):
        if not cfg:
            self.kv_version = None
            return None
        version = cfg["version"]
        self.kv_version = parse_version(version) if version else None
        kv = self.kv_version or (0, 0, 0)
        if self.kv_version is not None and kv < KUBE_VIP_LOWEST:
            self.error("vip_kube_vip.version (%s) is older than %s, the lowest kube-vip release baremetal.vip supports: "
                       "older releases ignore vip_nodename and others of the settings rendered (vip_routingprotocol, "
                       "bgp_hold_time, enable_endpointslices)" % (version, format_version(KUBE_VIP_LOWEST)))
        cp_version = cfg["cloud_provider_version"]
        port = cfg["prometheus_port"]
        for key, version_key in (("image", "version"), ("cloud_provider_image", "cloud_provider_version")):
            repo = cfg[key] or ""
            if "@" in repo or ":" in repo.rsplit("/", 1)[-1]:
                self.error("vip_kube_vip.%s (%s) must be a repository without tag or digest: the tag is v<%s>"
                           % (key, repo, version_key))
        return {
            "version": version,
            "image": "%s:v%s" % (cfg["image"], version),
            "subnet_env": "vip_subnet" if kube_vip_has(kv, "vip_subnet") else "vip_cidr",
            "endpointslices_env": "enable_endpointslices" if kube_vip_has(kv, "enable_endpointslices_env") else None,
            "drop_all_capabilities": kube_vip_has(kv, "drop_all_capabilities"),
            "cloud_provider_image": "%s:v%s" % (cfg["cloud_provider_image"], cp_version),
            "prometheus_server": ":%d" % port if port else "",
        }

    # -- nodes -------------------------------------------------------------------------------
    def nodes(self, cluster):
        order, seen = [], set()
        cp_hosts = list(self.groups.get(CONTROL_PLANE_GROUP) or [])
        worker_hosts = list(self.groups.get(NODE_GROUP) or [])
        for host in cp_hosts + worker_hosts:
            if host not in seen:
                seen.add(host)
                order.append(host)
        self.host_var_typos(order)
        if not order:
            self.error("no hosts: the inventory groups %s and %s are both empty" % (CONTROL_PLANE_GROUP, NODE_GROUP))
        cp_set, worker_set = set(cp_hosts), set(worker_hosts)
        nodes = {}
        ips, names = {}, {}
        node_nets = self.node_nets
        for host in order:
            hv = self.raw_hosts.get(host) or {}
            path = "hostvars[%s]" % host
            cfg = {key: normalize(hv.get(key), HOST_SPEC[key], "%s.%s" % (path, key), self.errors) for key in HOST_SPEC}
            source = "vip_node_ip" if cfg["vip_node_ip"] else "ansible_host" if hv.get("ansible_host") else "inventory_hostname"
            ip_text = cfg["vip_node_ip"] or hv.get("ansible_host") or host
            ip = None
            try:
                ip = parse_ip(str(ip_text))
            except ValueError:
                hint = "" if source == "vip_node_ip" else "; set vip_node_ip to the node's cluster address"
                self.error("%s.%s (%s) is not an IP address%s" % (path, source, ip_text, hint))
            if ip is not None:
                label = "%s.%s (%s)" % (path, source, ip)
                if str(ip) in ips:
                    self.error("%s is also the address of %s" % (label, ips[str(ip)]))
                else:
                    ips[str(ip)] = label
                    self.intervals.append((ip.version, int(ip), int(ip), label))
                if node_nets and not any(ip in net for net in node_nets):
                    self.error("%s is outside every vip_cluster.node_cidrs (%s)"
                               % (label, ", ".join(str(n.cidr) for n in node_nets)))
            node_name = cfg["vip_node_name"] or host
            if node_name in names:
                self.error("%s.vip_node_name (%s) is also the node name of %s" % (path, node_name, names[node_name]))
            names[node_name] = host
            peers = None
            if cfg["vip_bgp_peers"] is not None:
                peers = self.peers(cfg["vip_bgp_peers"], "%s.vip_bgp_peers" % path, node_name)
            nodes[host] = {
                "node_name": node_name,
                "ip": ip,
                "node_ip": str(ip) if ip is not None else None,
                "interface": cfg["vip_interface"],
                "control_plane": host in cp_set,
                "worker": host in worker_set,
                "own_peers": peers,
            }
        return nodes

    def host_var_typos(self, order):
        """Warn once per variable name that looks like a misspelt baremetal.vip variable."""
        known = set(HOST_VARS) | set(CLUSTER_VARS) | {"vip_plan"}
        seen = {}
        for host in order:
            for key in self.raw_hosts.get(host) or {}:
                if isinstance(key, str) and key.startswith("vip_") and key not in known and key not in seen:
                    best = difflib.get_close_matches(key, sorted(known - {"vip_plan"}), n=1, cutoff=0.8)
                    seen[key] = best[0] if best else None
                    if best:
                        self.warn("hostvars[%s].%s is not a baremetal.vip variable and is ignored; did you mean %s?"
                                  % (host, key, best[0]))

    def nodes_out(self, nodes, control_plane):
        super_host = control_plane["super_admin_host"] if control_plane else None
        out = {}
        for host, node in nodes.items():
            out[host] = {
                "node_name": node["node_name"],
                "node_ip": node["node_ip"],
                "interface": node["effective_interface"],
                "control_plane": node["control_plane"],
                "worker": node["worker"],
                "super_admin": host == super_host,
                "bgp_router_id": node.get("bgp_router_id"),
                "bgp_peers": node.get("bgp_peers", []),
            }
        return out

    # -- control plane -----------------------------------------------------------------------
    def control_plane(self, cfg, cluster, kube_vip, nodes):
        default_if = cfg["interface"] if cfg else None
        self.check_ifname(default_if, "vip_control_plane.interface")
        for host, node in nodes.items():
            self.check_ifname(node["interface"], "hostvars[%s].vip_interface" % host)
            node["effective_interface"] = node["interface"] or default_if
        if not cfg:
            self.cp_ip = None
            return None
        path = "vip_control_plane"
        ip = None
        try:
            ip = parse_ip(cfg["address"]) if cfg["address"] is not None else None
        except ValueError:
            self.error("%s.address (%s) must be one IPv4 or IPv6 host address, without a prefix" % (path, cfg["address"]))
        self.cp_ip = ip
        mode = cfg["mode"]
        if ip is not None:
            label = "%s.address (%s)" % (path, ip)
            self.intervals.append((ip.version, int(ip), int(ip), label))
            node_nets = self.node_nets
            inside = [n for n in node_nets if ip in n]
            if mode == "arp" and node_nets and not inside:
                self.error("%s is outside every vip_cluster.node_cidrs (%s); mode arp needs the VIP on the node subnet"
                           % (label, ", ".join(str(n.cidr) for n in node_nets)))
            for net in inside:
                if ip.version == 4 and net.prefixlen < 31 and (ip == net.network or ip == net.broadcast):
                    self.error("%s is the network or broadcast address of vip_cluster.node_cidrs entry %s" % (label, net.cidr))
            if self.families and family_of(ip.version) not in self.families:
                self.error("%s is %s but vip_cluster.node_cidrs has only %s" % (label, family_of(ip.version), ", ".join(self.families)))
        cp_hosts = [h for h, n in nodes.items() if n["control_plane"]]
        if not cp_hosts:
            self.error("vip_control_plane is set but the group %s is empty" % CONTROL_PLANE_GROUP)
        self.require_interfaces(nodes, cp_hosts, "the control-plane VIP")
        election = self.leader_election(cfg["leader_election"], path + ".leader_election")
        rt = cfg["routing_table"] or {}
        self.routing_table_rules(rt, mode, path + ".routing_table")
        lb = cfg["load_balancer"] or {}
        if cfg["deployment"] == "daemonset" and cluster and cluster["distro"] == "kubeadm":
            self.warn("%s.deployment is daemonset on kubeadm: the VIP exists only once the cluster runs, so kubeadm init "
                      "cannot use it as controlPlaneEndpoint; static_pod is the usual choice" % path)
        super_host = cp_hosts[0] if cp_hosts and cluster and self.needs_super_admin(cluster["distro"]) else None
        prefix = 32 if ip is None or ip.version == 4 else 128
        daemonset_interface = self.one_interface(nodes, cp_hosts, "the control-plane DaemonSet (vip_control_plane."
                                                 "deployment daemonset)") if cfg["deployment"] == "daemonset" else None
        kubernetes_addr = None
        if cfg["deployment"] == "static_pod" and kube_vip_has(self.kv_version, "client_through_vip"):
            # kube-vip #1654: point the static pod's client at the local API server (hostAliases
            # maps kubernetes to 127.0.0.1), as releases before 1.2.2 did by themselves.
            kubernetes_addr = "kubernetes:%d" % cfg["port"]
        return {
            "address": str(ip) if ip is not None else None,
            "family": family_of(ip.version) if ip is not None else None,
            "prefix": prefix,
            "cidr": "%s/%d" % (ip, prefix) if ip is not None else None,
            "port": cfg["port"],
            "interface": cfg["interface"],
            "daemonset_interface": daemonset_interface,
            "kubernetes_addr": kubernetes_addr,
            "mode": mode,
            "deployment": cfg["deployment"],
            "cp_enable": True,
            "svc_enable": False,
            "leader_election": election,
            "routing_table": {"table": rt.get("table"), "protocol": rt.get("protocol"), "clean": rt.get("clean")},
            "load_balancer": {"enabled": lb.get("enabled"), "port": lb.get("port"), "forward_method": lb.get("forward_method")},
            "privileged": lb.get("forward_method") == "masquerade",
            "super_admin_host": super_host,
        }

    def check_ifname(self, name, path):
        """Linux interface names: 1-15 characters, no '/', ':' or white space, not '.' or '..'."""
        if name is None:
            return
        if not 0 < len(name) <= 15 or name in (".", "..") or re.search(r"[/:\s]", name):
            self.error("%s (%r) is not a valid Linux interface name (1-15 characters, no '/', ':' or spaces)" % (path, name))

    def require_interfaces(self, nodes, hosts, what):
        missing = [h for h in hosts if not nodes[h]["effective_interface"]]
        if missing:
            self.error("no interface for %s on %s: set vip_control_plane.interface, or vip_interface on each host"
                       % (what, ", ".join(missing)))

    def one_interface(self, nodes, hosts, what):
        """The interface of a DaemonSet running on ``hosts`` (one setting for all): the hosts' common
        interface, or "" (kube-vip auto-detects it) with a warning naming each host's interface."""
        by_interface = {}
        for host in hosts:
            if nodes[host]["effective_interface"]:
                by_interface.setdefault(nodes[host]["effective_interface"], []).append(host)
        if len(by_interface) > 1:
            self.warn("hosts running %s use different interfaces (%s): the DaemonSet has one setting and kube-vip will "
                      "auto-detect the interface on every node" % (what, "; ".join(
                          "%s: %s" % (", ".join(h), name) for name, h in sorted(by_interface.items()))))
        return next(iter(by_interface)) if len(by_interface) == 1 else ""

    def leader_election(self, cfg, path):
        cfg = cfg or {}
        profile = cfg.get("profile") or "default"
        values = dict(LEADER_ELECTION_PROFILES.get(profile, LEADER_ELECTION_PROFILES["default"]))
        for key in ("lease_duration", "renew_deadline", "retry_period"):
            if cfg.get(key) is not None:
                if cfg[key] <= 0:
                    self.error("%s.%s is %d; it must be a positive number of seconds" % (path, key, cfg[key]))
                values[key] = cfg[key]
        dur, renew, retry = values["lease_duration"], values["renew_deadline"], values["retry_period"]
        if dur > 0 and renew > 0 and retry > 0:
            if not dur > renew:
                self.error("%s: lease_duration (%d) must be greater than renew_deadline (%d)" % (path, dur, renew))
            if not renew > 1.2 * retry:
                self.error("%s: renew_deadline (%d) must be greater than 1.2 x retry_period (%d x 1.2 = %s)"
                           % (path, renew, retry, round(1.2 * retry, 2)))
        lease = cfg.get("lease_name") or "plndr-cp-lock"
        if not _DNS1123_SUBDOMAIN.match(lease) or len(lease) > 253:
            self.error("%s.lease_name (%s) is not a valid Lease name (lowercase DNS-1123 subdomain)" % (path, lease))
        if lease == SERVICES_LEASE:
            self.error("%s.lease_name (%s) is the lease of kube-vip's services instance; choose another" % (path, lease))
        return {"profile": profile, "lease_name": lease, "lease_namespace": "kube-system",
                "lease_duration": dur, "renew_deadline": renew, "retry_period": retry}

    def routing_table_rules(self, rt, mode, path):
        table, protocol, clean = rt.get("table"), rt.get("protocol"), rt.get("clean")
        if table is not None and (table in RESERVED_ROUTE_TABLES or not 0 < table <= 4294967295):
            self.error("%s.table is %d; use a table in 1..4294967295 other than 253 (default), 254 (main), 255 (local)"
                       % (path, table))
        if protocol is not None and not 5 <= protocol <= 255:
            self.error("%s.protocol is %d; use 5..255 (0-4 are reserved by the kernel: unspec, redirect, kernel, boot, static)"
                       % (path, protocol))
        kv = self.kv_version
        if clean and kube_vip_has(kv, "clean_routes_deletes_all"):
            self.error("%s.clean is true with vip_kube_vip.version %s: kube-vip 1.2.0-1.2.2 deletes every route about 7 s "
                       "after start (kube-vip #1678, fixed in 1.2.3); upgrade kube-vip or set clean: false"
                       % (path, format_version(kv)))
        if clean and mode != "routing_table":
            self.warn("%s.clean is true but vip_control_plane.mode is %s: it only acts in routing_table mode" % (path, mode))

    # -- services ----------------------------------------------------------------------------
    def services(self, cfg, cluster, control_plane, nodes):
        cfg = cfg or {}
        raw = self.raw["vip_services"] or {}
        provider = cfg.get("provider") or "none"
        path = "vip_services"
        pools = self.pools(cfg.get("pools") or [], provider, control_plane)
        lb_class = cfg.get("load_balancer_class")
        if provider != "kube_vip":
            for key in ("placement", "cloud_provider"):
                if given(raw, key):
                    self.warn("%s.%s applies only to provider kube_vip (provider is %s); ignored" % (path, key, provider))
        for key in ("metallb_namespace", "metallb_bgp_mode"):
            if provider != "metallb" and given(raw, key):
                self.warn("%s.%s applies only to provider metallb (provider is %s); ignored" % (path, key, provider))
        if provider == "none":
            if pools:
                self.warn("%s.pools lists %d pool(s) but provider is none: nothing will serve them" % (path, len(pools)))
            if cfg.get("local_traffic") or lb_class:
                self.warn("%s.local_traffic / load_balancer_class are ignored: provider is none" % path)
            pools = []
        if lb_class is not None and not re.match(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                                                 r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", lb_class):
            self.error("%s.load_balancer_class (%s) is not a valid class name like kube-vip.io/kube-vip-class" % (path, lb_class))
        self.service_pools = pools
        result = {
            "provider": provider,
            "load_balancer_class": lb_class,
            "local_traffic": bool(cfg.get("local_traffic")) and provider != "none",
            "pools": [p["out"] for p in pools],
            "owned_cidrs": merge_cidrs(self.pool_entries),
            "kube_vip": None,
            "metallb": None,
            # k3s's ServiceLB (Klipper) answers every LoadBalancer Service too (k3s-io/k3s #2323): off on k3s servers
            # when kube-vip or MetalLB serves them (RKE2 runs it only with enable-servicelb)
            "disable_servicelb": (cluster or {}).get("distro") == "k3s" and provider in ("kube_vip", "metallb"),
        }
        if provider == "kube_vip":
            result["kube_vip"] = self.services_kube_vip(cfg, raw, pools, control_plane, nodes)
        elif provider == "metallb":
            namespace = cfg.get("metallb_namespace")
            if namespace is not None and (not _DNS1123_LABEL.match(namespace) or len(namespace) > 63):
                self.error("%s.metallb_namespace (%s) is not a valid namespace name (DNS-1123 label)" % (path, namespace))
            if not pools:
                self.warn("%s.provider is metallb but no pools are listed: MetalLB will assign nothing" % path)
            if lb_class is not None:
                self.warn("%s.load_balancer_class (%s) is not rendered for MetalLB: MetalLB takes its class from the "
                          "--lb-class argument of its controller and speaker (Helm value loadBalancerClass), which "
                          "baremetal.vip does not install; set it there" % (path, lb_class))
            self.metallb_exclude_label(cluster, pools, nodes)
            result["metallb"] = {"namespace": cfg.get("metallb_namespace"), "load_balancer_class": lb_class,
                                 "bgp_mode": cfg.get("metallb_bgp_mode"), "keepalive_time": None, "bgp_peers": []}
        return result

    def metallb_exclude_label(self, cluster, pools, nodes):
        """kubeadm labels control-plane nodes exclude-from-external-load-balancers; MetalLB >= 0.14 skips them:
        warn about pools only control-plane nodes can announce."""
        if not cluster or cluster["distro"] != "kubeadm":
            return
        cps = [n["node_name"] for n in nodes.values() if n["control_plane"]]
        workers = [n["node_name"] for n in nodes.values() if not n["control_plane"]]

        def can_announce(pool, names, control_plane):
            labels = {CONTROL_PLANE_LABEL: ""} if control_plane else {}
            return any(selectors_match(pool["node_selectors"], dict(labels, **{HOSTNAME_LABEL: name})) is not False
                       for name in names)

        names = [p["out"]["name"] for p in pools
                 if can_announce(p["out"], cps, True) and not can_announce(p["out"], workers, False)]
        if names:
            self.warn("MetalLB pools %s can be announced only from control-plane nodes (%s), which kubeadm labels %s; "
                      "MetalLB >= 0.14 announces nothing from such nodes (metallb #2274): run MetalLB's speaker with "
                      "--ignore-exclude-lb (Helm value speaker.ignoreExcludeLB, MetalLB >= 0.14.4) or remove the label"
                      % (", ".join(names[:SUMMARY_POOLS]) + (", ..." if len(names) > SUMMARY_POOLS else ""),
                         ", ".join(cps), EXCLUDE_LB_LABEL))

    def pools(self, pools, provider, control_plane=None):
        out, names = [], {}
        families = self.families
        node_nets = self.node_nets
        # kube-vip's services DaemonSet runs one mode: with a BGP control plane (often on lo, where
        # ARP cannot answer) its pools default to bgp; MetalLB and everything else default to l2.
        default_advert = "bgp" if provider == "kube_vip" and control_plane and control_plane["mode"] == "bgp" else "l2"
        for i, pool in enumerate(pools):
            if not pool:
                continue
            pool = dict(pool, advertisement=pool["advertisement"] or default_advert)
            path = "vip_services.pools[%d]" % i
            name = pool["name"]
            if name is not None:
                if provider == "metallb":
                    # MetalLB pools are objects: a DNS-1123 subdomain (IPAddressPool metadata.name)
                    if not _DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
                        self.error("%s.name (%s) must be a DNS-1123 subdomain (it names MetalLB's IPAddressPool): "
                                   "lowercase letters, digits, '-' and '.', at most 253" % (path, name))
                elif not _DNS1123_LABEL.match(name) or len(name) > 63:
                    self.error("%s.name (%s) must be a DNS-1123 label: lowercase letters, digits and '-', at most 63" % (path, name))
                if name in names:
                    self.error("%s.name (%s) is also the name of vip_services.pools[%d]" % (path, name, names[name]))
                names[name] = i
            addresses, cidrs, fams = [], [], set()
            l2_outside = []
            for j, text in enumerate(pool["addresses"] or []):
                try:
                    norm, version, first, last, entry_cidrs = parse_pool_entry(text)
                except ValueError as exc:
                    self.error("%s.addresses[%d] (%s) %s; use a CIDR or first-last" % (path, j, text, exc))
                    continue
                if version == 6 and first >> 32 == 0xFFFF:
                    self.error("%s.addresses[%d] (%s) is in ::ffff:0:0/96, IPv4-mapped IPv6 addresses: MetalLB and "
                               "the kernel read them as IPv4 (%s); write the IPv4 form"
                               % (path, j, norm, "-".join(str(netaddr.IPAddress(a & 0xFFFFFFFF, 4)) for a in (first, last))))
                    continue
                addresses.append(norm)
                cidrs.extend(entry_cidrs)
                if provider != "none":
                    self.pool_entries.append((version, first, last, entry_cidrs))
                fams.add(version)
                self.intervals.append((version, first, last, "%s (%s, %s)" % (path, name, norm)))
                if pool["advertisement"] == "l2" and node_nets and not any(
                        n.version == version and n.first <= first and last <= n.last for n in node_nets):
                    l2_outside.append(norm)
            if pool["addresses"] is not None and not pool["addresses"]:
                self.error("%s.addresses (%s) is empty" % (path, name))
            if len(fams) > 1 and provider != "metallb":
                # MetalLB serves RequireDualStack/PreferDualStack Services from one pool holding both
                # families (IPAddressPool addresses, api/v1beta1 v0.16.1); kube-vip-cloud-provider
                # takes one pool per namespace and family.
                self.error("%s (%s) mixes IPv4 and IPv6 addresses (%s); use one pool per family" % (path, name, ", ".join(addresses)))
            family = family_of(fams.pop()) if len(fams) == 1 else "dual" if fams else None
            for fam in ([family] if family != "dual" else ["ipv4", "ipv6"]):
                if fam and families and fam not in families:
                    self.error("%s (%s) is %s but vip_cluster.node_cidrs has only %s" % (path, name, fam, ", ".join(families)))
            if l2_outside:
                self.warn("%s (%s) advertises %s over l2 but it is outside every vip_cluster.node_cidrs: ARP/NDP "
                          "answers will not reach clients" % (path, name, ", ".join(l2_outside)))
            selectors = normalize_selectors(pool["node_selectors"], path + ".node_selectors", self.errors)
            if pool["namespace"] is not None:
                if provider != "kube_vip":
                    self.error("%s.namespace (%s) applies only to provider kube_vip (provider is %s)" % (path, pool["namespace"], provider))
                elif not _DNS1123_LABEL.match(pool["namespace"]):
                    self.error("%s.namespace (%s) is not a valid namespace name" % (path, pool["namespace"]))
            for j, ifname in enumerate(pool["interfaces"] or []):
                self.check_ifname(ifname, "%s.interfaces[%d]" % (path, j))
            if pool["interfaces"] and pool["advertisement"] != "l2":
                self.error("%s.interfaces (%s) applies only to advertisement l2" % (path, ", ".join(pool["interfaces"])))
            if provider == "kube_vip":
                if selectors:
                    self.error("%s.node_selectors applies only to provider metallb; kube-vip places service VIPs by "
                               "vip_services.placement" % path)
                if not pool["auto_assign"]:
                    self.error("%s.auto_assign false applies only to provider metallb; kube-vip-cloud-provider always "
                               "assigns from its pools" % path)
                if len(pool["interfaces"]) > 1:
                    self.error("%s.interfaces (%s): kube-vip takes one interface per pool" % (path, ", ".join(pool["interfaces"])))
            out.append({"index": i, "out": {
                "name": name,
                "family": family,
                "addresses": addresses,
                "cidrs": cidrs,
                "namespace": pool["namespace"],
                "advertisement": pool["advertisement"],
                "interfaces": list(pool["interfaces"]),
                "node_selectors": selectors,
                "auto_assign": pool["auto_assign"],
            }})
        return out

    def services_kube_vip(self, cfg, raw, pools, control_plane, nodes):
        path = "vip_services"
        adverts = sorted({p["out"]["advertisement"] for p in pools})
        if len(adverts) > 1:
            detail = "; ".join("%s: %s" % (p["out"]["name"], p["out"]["advertisement"]) for p in pools[:10])
            self.error("%s.pools mix advertisements (%s): one kube-vip services DaemonSet runs one mode, so every pool must "
                       "be l2 or every pool bgp" % (path, detail))
        if adverts == ["bgp"]:
            mode = "bgp"
        elif adverts == ["l2"]:
            mode = "arp"
        else:
            mode = "bgp" if control_plane and control_plane["mode"] == "bgp" else "arp"
        placement = cfg.get("placement") or "all_nodes"
        local = bool(cfg.get("local_traffic"))
        if local and placement != "all_nodes":
            self.warn("%s.placement is %s but local_traffic is true: the services DaemonSet runs on all nodes so every "
                      "node with endpoints can announce" % (path, placement))
            placement = "all_nodes"
        if placement == "all_nodes":
            # every node that runs workloads (kube_node); control-plane-only nodes announce no Service (kubeadm
            # labels them node.kubernetes.io/exclude-from-external-load-balancers), unless there is no worker
            hosts = [h for h, n in nodes.items() if n["worker"]] or list(nodes)
        else:
            hosts = [h for h, n in nodes.items() if n["control_plane"]]
        self.services_hosts = hosts
        self.require_interfaces(nodes, hosts, "kube-vip services")
        interface = self.one_interface(nodes, hosts, "kube-vip services")
        if mode == "arp" and interface == "lo":
            self.error("%s.pools use advertisement l2 but the kube-vip services DaemonSet would answer ARP on lo (the "
                       "interface of %s), which never answers ARP: use advertisement bgp, or set vip_interface on those "
                       "hosts" % (path, ", ".join(hosts)))
        cloud = bool(cfg.get("cloud_provider"))
        configmap = {}
        for p in pools:
            pool = p["out"]
            scope = pool["namespace"] or "global"
            # kube-vip-cloud-provider takes the first of cidr-<ns>, cidr-global, range-<ns>,
            # range-global that exists: every entry goes in as its exact CIDR cover, so a range can
            # neither hide behind a CIDR key nor be dropped next to one (same addresses either way).
            key = "cidr-" + scope
            configmap[key] = ",".join(([configmap[key]] if key in configmap else []) + pool["cidrs"])
            if pool["interfaces"]:
                key = "interface-" + scope
                if key in configmap and configmap[key] != pool["interfaces"][0]:
                    self.error("%s.pools[%d].interfaces (%s) conflicts with interface %s of another %s pool: "
                               "kube-vip-cloud-provider has one interface per namespace"
                               % (path, p["index"], pool["interfaces"][0], configmap[key], scope))
                configmap[key] = pool["interfaces"][0]
        if cloud and not pools:
            self.warn("%s.cloud_provider is true but no pools are listed: kube-vip-cloud-provider has nothing to assign" % path)
        lb_class = cfg.get("load_balancer_class")
        # Both kube-vip instances use hostNetwork: on a control-plane node they need distinct metrics ports.
        port = (self.cfg.get("vip_kube_vip") or {}).get("prometheus_port") or 0
        shares_host = bool(control_plane) and any(nodes[h]["control_plane"] for h in hosts)
        metrics = ":%d" % ((port + 1 if port < 65535 else port - 1) if shares_host else port) if port else ""
        return {
            "daemonset_name": "kube-vip-ds",
            "namespace": "kube-system",
            "service_account": "kube-vip",
            "cluster_role": "system:kube-vip-role",
            "cluster_role_binding": "system:kube-vip-binding",
            "lease_name": SERVICES_LEASE,
            "svc_election": local,
            "placement": placement,
            "hosts": sorted(hosts),
            "mode": mode,
            "interface": interface,
            "lb_class_only": lb_class is not None,
            "lb_class_name": lb_class,
            "cloud_provider": {"enabled": cloud, "configmap": configmap, "load_balancer_class": lb_class,
                               "custom_class": lb_class if lb_class not in (None, KUBE_VIP_DEFAULT_CLASS) else None},
            "prometheus_server": metrics,
        }

    # -- BGP ---------------------------------------------------------------------------------
    def peers(self, peers, path, node_name=None):
        out, seen = [], {}
        for i, peer in enumerate(peers):
            if not peer:
                continue
            ppath = "%s[%d]" % (path, i)
            try:
                ip = parse_ip(peer["address"]) if peer["address"] is not None else None
            except ValueError:
                self.error("%s.address (%s) is not an IP address" % (ppath, peer["address"]))
                ip = None
            if ip is not None and str(ip) in seen:
                self.error("%s.address (%s) is listed twice (also %s[%d])" % (ppath, ip, path, seen[str(ip)]))
            if ip is not None:
                seen[str(ip)] = i
            # IPv6 in full (every group, leading zeros): ':' -> '-' of the compressed form is not
            # one-to-one (2001:db8::1 and 2001:db8:1:: would both give 2001-db8-1).
            text = ip.format(netaddr.ipv6_verbose) if ip is not None and ip.version == 6 else ip if ip is not None else peer["address"]
            token = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
            if node_name:
                node_token = re.sub(r"[^a-z0-9.]+", "-", node_name.lower()).strip("-.")
                name = "peer-%s-%s" % (node_token, token)
            else:
                name = "peer-%s" % token
            selectors = normalize_selectors(peer["node_selectors"], ppath + ".node_selectors", self.errors)
            has_password = bool(peer["password"])
            out.append({
                "address": str(ip) if ip is not None else None,
                "as": peer["as"],
                "port": peer["port"],
                "multihop": peer["multihop"],
                "node_selectors": selectors,
                "has_password": has_password,
                "password_secret": {"name": "vip-bgp-" + name, "key": "password"} if has_password else None,
                "_name": name,
                "_node": node_name,
                "_path": ppath,
                # kube-vip passes peers as "address:AS:password:multihop:port,..." (bgp_peers): a ':' or
                # ',' inside the password would be read as a separator, and so would '/' where the
                # release splits each entry at '/' for MP-BGP options.
                "_kube_vip_unsafe": has_password and any(c in str(peer["password"]) for c in self.kube_vip_separators()),
            })
        return out

    def kube_vip_separators(self):
        """The characters kube-vip's bgp_peers format reads as separators in this release."""
        return ":,/" if kube_vip_has(self.kv_version, "bgp_peer_slash_options") else ":,"

    def kube_vip_peer_rules(self, peer, host, reported):
        """Errors for a peer kube-vip speaks BGP to from ``host`` (each peer reported once)."""
        if peer["_path"] in reported:
            return
        reported.add(peer["_path"])
        if peer["_kube_vip_unsafe"]:
            if "/" in self.kube_vip_separators():
                chars = "':', ',' or '/'"
                layout = "address:AS:password:multihop:port/options of kube-vip 0.8.10-1.2.1"
            else:
                chars, layout = "':' or ','", "address:AS:password:multihop"
            self.error("%s.password contains %s (value hidden), which kube-vip's bgp_peers format (%s) cannot carry; "
                       "kube-vip speaks BGP to this peer from %s" % (peer["_path"], chars, layout, host))
        if peer["port"] != 179 and not kube_vip_has(self.kv_version, "bgp_peer_port"):
            self.error("%s.port is %d but kube-vip %s has no peer port (bgp_peers reads a port from 0.8.10 on) and "
                       "would dial 179; kube-vip speaks BGP to this peer from %s"
                       % (peer["_path"], peer["port"], format_version(self.kv_version), host))

    def bgp(self, cfg, control_plane, services, nodes):
        cp_bgp = bool(control_plane and control_plane["mode"] == "bgp")
        kv_services = services["kube_vip"] if services else None
        kv_bgp = bool(kv_services and (kv_services["mode"] == "bgp" or any(
            p["advertisement"] == "bgp" for p in services["pools"])))
        metallb_bgp = bool(services and services["provider"] == "metallb"
                           and any(p["advertisement"] == "bgp" for p in services["pools"]))
        used = cp_bgp or kv_bgp or metallb_bgp
        host_peer_hosts = [h for h, n in nodes.items() if n["own_peers"] is not None]
        if not used:
            if cfg:
                self.warn("vip_bgp is set but nothing uses BGP (vip_control_plane.mode, pool advertisements); ignored")
            if host_peer_hosts:
                self.warn("vip_bgp_peers is set on %s but nothing uses BGP; ignored" % ", ".join(host_peer_hosts))
            for node in nodes.values():
                node["bgp_peers"] = []
                node["bgp_router_id"] = None
            return None
        users = []
        if cp_bgp:
            users.append("vip_control_plane.mode is bgp")
        if kv_bgp:
            users.append("kube-vip services pools use advertisement bgp")
        if metallb_bgp:
            users.append("MetalLB pools use advertisement bgp")
        if not cfg:
            self.error("vip_bgp is required: %s" % "; ".join(users))
            return None
        path = "vip_bgp"
        router_id = None
        if cfg["router_id"] is not None:
            try:
                rid = parse_ip(cfg["router_id"])
                if rid.version != 4:
                    raise ValueError
                router_id = str(rid)
            except ValueError:
                self.error("%s.router_id (%s) must be an IPv4 address (BGP router ids are 32-bit)" % (path, cfg["router_id"]))
        source_address = None
        if cfg["source_address"] is not None:
            try:
                source_address = str(parse_ip(cfg["source_address"]))
            except ValueError:
                self.error("%s.source_address (%s) is not an IP address" % (path, cfg["source_address"]))
        if cfg["source_address"] is not None and cfg["source_interface"] is not None:
            self.error("%s.source_address (%s) and %s.source_interface (%s) exclude each other; set one"
                       % (path, cfg["source_address"], path, cfg["source_interface"]))
        hold, keepalive = cfg["hold_time"], cfg["keepalive_interval"]
        if hold is not None and 0 < hold < 3:
            self.error("%s.hold_time is %d; BGP allows 0 or at least 3 seconds" % (path, hold))
        if hold and keepalive is not None and keepalive >= hold:
            self.error("%s.keepalive_interval (%d) must be less than hold_time (%d)" % (path, keepalive, hold))
        global_peers = self.peers(cfg["peers"] or [], path + ".peers")
        kube_vip_hosts = set()
        if cp_bgp:
            kube_vip_hosts.update(h for h, n in nodes.items() if n["control_plane"])
        if kv_bgp:
            kube_vip_hosts.update(self.services_hosts)
        undecided = set()
        unsafe_reported = set()
        for host, node in nodes.items():
            labels = {HOSTNAME_LABEL: node["node_name"]}
            if node["control_plane"]:
                labels[CONTROL_PLANE_LABEL] = ""
            if node["own_peers"] is not None:
                effective = node["own_peers"]
            else:
                effective = []
                for peer in global_peers:
                    match = selectors_match(peer["node_selectors"], labels)
                    if match is None:
                        undecided.add(peer["address"])
                    if match is not False:
                        effective.append(peer)
            node["bgp_peers"] = [_public_peer(p) for p in effective]
            if host in kube_vip_hosts:
                for peer in effective:
                    self.kube_vip_peer_rules(peer, host, unsafe_reported)
            rid = router_id
            if rid is None and node["ip"] is not None and node["ip"].version == 4:
                rid = str(node["ip"])
            node["bgp_router_id"] = rid
            if host in kube_vip_hosts:
                if not effective:
                    self.error("hostvars[%s]: no BGP peer for kube-vip (%s): add vip_bgp.peers or vip_bgp_peers on the host"
                               % (host, "; ".join(users)))
                if rid is None:
                    self.error("hostvars[%s]: no BGP router id: vip_node_ip (%s) is not IPv4; set vip_bgp.router_id"
                               % (host, node["node_ip"]))
        self.bgp_speaker_conflicts(nodes, cp_bgp, kv_bgp, metallb_bgp, global_peers)
        if kv_bgp:
            global_addresses = sorted(p["address"] for p in global_peers if p["address"])
            own = [h for h in self.services_hosts if nodes[h]["own_peers"] is not None
                   and sorted(p["address"] for p in nodes[h]["own_peers"] if p["address"]) != global_addresses]
            if own:
                self.warn("vip_bgp_peers of %s cannot reach the kube-vip services DaemonSet: it has one configuration "
                          "for every node and peers with vip_bgp.peers (%s) there too; per-host peers apply to the "
                          "control-plane instance and MetalLB only" % (", ".join(own), ", ".join(global_addresses) or "none"))
        if undecided and kube_vip_hosts:
            self.warn("vip_bgp.peers %s: node_selectors use labels other than %s and %s; kube-vip cannot evaluate them "
                      "and peers with every node" % (", ".join(sorted(undecided)), HOSTNAME_LABEL, CONTROL_PLANE_LABEL))
        if router_id is not None and len(kube_vip_hosts) > 1:
            self.warn("vip_bgp.router_id (%s) is shared by %d kube-vip nodes; routers may reject duplicate router ids: "
                      "leave it unset to use each node's IPv4 address" % (router_id, len(kube_vip_hosts)))
        if metallb_bgp and not global_peers and not any(n["own_peers"] for n in nodes.values()):
            self.error("MetalLB pools use advertisement bgp but no peer is configured: add vip_bgp.peers or vip_bgp_peers")
        if metallb_bgp:
            self.metallb_bgp_rules(cfg, services, global_peers, nodes)
            services["metallb"]["bgp_peers"] = self.metallb_peers(global_peers, nodes)
        elif services and services["metallb"] is not None:
            services["metallb"]["bgp_peers"] = []
        return {
            "local_as": cfg["local_as"],
            "router_id": router_id,
            "source_address": source_address,
            "source_interface": cfg["source_interface"],
            "hold_time": hold,
            "keepalive_interval": keepalive,
            "peers": [_public_peer(p) for p in global_peers],
        }

    def bgp_speaker_conflicts(self, nodes, cp_bgp, kv_bgp, metallb_bgp, global_peers):
        """Warn where one node would run two BGP speakers towards the same peer address."""
        services_hosts = set(self.services_hosts)
        global_addresses = {p["address"] for p in global_peers if p["address"]}
        clashes = {}
        for host, node in nodes.items():
            own = {p["address"] for p in node.get("bgp_peers", []) if p["address"]}
            speakers = []
            if cp_bgp and node["control_plane"]:
                speakers.append(("kube-vip control plane", own))
            if kv_bgp and host in services_hosts:
                speakers.append(("kube-vip services", global_addresses))  # one DaemonSet configuration
            if metallb_bgp:
                speakers.append(("MetalLB", own))
            for i, (name_a, peers_a) in enumerate(speakers):
                for name_b, peers_b in speakers[i + 1:]:
                    shared = tuple(sorted(peers_a & peers_b))
                    if shared:
                        clashes.setdefault((name_a, name_b, shared), []).append(host)
        for (name_a, name_b, shared), hosts in clashes.items():
            self.warn("%s and %s would each open a BGP session from %s to %s: a router keeps one session per neighbour "
                      "address, so these sessions will collide unless the peers accept them from distinct source "
                      "addresses" % (name_a, name_b, ", ".join(hosts), ", ".join(shared)))

    def metallb_bgp_rules(self, cfg, services, global_peers, nodes):
        """What MetalLB's webhook denies in what we render (internal/config, MetalLB v0.16.1)."""
        path = "vip_bgp"
        mode = services["metallb"]["bgp_mode"]
        hold, keepalive = cfg["hold_time"], cfg["keepalive_interval"]
        if mode == "native":
            # DiscardFRROnly: keepaliveTime and IPv6 BGP pools are FRR-only (internal/config/validation.go)
            six = ["%s (%s)" % (p["name"], p["family"]) for p in services["pools"]
                   if p["advertisement"] == "bgp" and p["family"] in ("ipv6", "dual")]
            if six:
                self.error("vip_services.pools %s advertise IPv6 over BGP but MetalLB's native BGP mode "
                           "(vip_services.metallb_bgp_mode native) announces IPv4 only: use frr or frr-k8s"
                           % ", ".join(six))
            if given(self.raw["vip_bgp"], "keepalive_interval") and hold is not None and keepalive != hold // 3:
                self.warn("%s.keepalive_interval (%s) is not rendered for MetalLB's native BGP mode, which refuses "
                          "keepaliveTime and derives it from hold_time (%s / 3 = %s)" % (path, keepalive, hold, hold // 3))
        else:
            services["metallb"]["keepalive_time"] = keepalive
            if hold == 0 and keepalive:
                self.error("%s.keepalive_interval (%d) must be 0 when hold_time is 0: MetalLB refuses a keepaliveTime "
                           "above holdTime" % (path, keepalive))
        if cfg["source_interface"] is not None:
            self.warn("%s.source_interface (%s) is not rendered for MetalLB: a BGPPeer has sourceAddress only; set "
                      "vip_bgp.source_address for MetalLB" % (path, cfg["source_interface"]))
        peers = list(global_peers) + [p for n in nodes.values() for p in n["own_peers"] or []]
        for peer in peers:
            if peer["port"] > METALLB_MAX_PORT:
                self.error("%s.port is %d; MetalLB's BGPPeer peerPort allows 1..%d" % (peer["_path"], peer["port"], METALLB_MAX_PORT))
            if peer["multihop"] and peer["as"] == cfg["local_as"]:
                self.error("%s.multihop is true but AS %d is vip_bgp.local_as (iBGP): MetalLB refuses ebgpMultiHop "
                           "for an iBGP peer" % (peer["_path"], peer["as"]))

    def metallb_peers(self, global_peers, nodes):
        own_hosts = [n["node_name"] for n in nodes.values() if n["own_peers"] is not None]
        exclude = {"key": HOSTNAME_LABEL, "operator": "NotIn", "values": own_hosts}
        result = []
        for peer in global_peers:
            selectors = copy.deepcopy(peer["node_selectors"])
            if own_hosts:
                if selectors:
                    for sel in selectors:
                        exprs = sel.setdefault("matchExpressions", [])
                        if not _same_expression(exclude, exprs):  # the user may have written it already
                            exprs.append(copy.deepcopy(exclude))
                else:
                    selectors = [{"matchExpressions": [dict(exclude)]}]
            result.append(_metallb_peer(peer, selectors))
        for node in nodes.values():
            for peer in node["own_peers"] or []:
                host_label = {HOSTNAME_LABEL: node["node_name"]}
                selectors = copy.deepcopy(peer["node_selectors"])
                if selectors:
                    for sel in selectors:
                        sel.setdefault("matchLabels", {}).update(host_label)
                else:
                    selectors = [{"matchLabels": host_label}]
                result.append(_metallb_peer(peer, selectors))
        names = {}
        for peer in result:
            if peer["name"] in names:
                self.error("MetalLB BGPPeer name %s is made from both %s and %s: the second would overwrite the first; "
                           "rename a node (vip_node_name)" % (peer["name"], names[peer["name"]], peer["path"]))
            names.setdefault(peer["name"], peer["path"])
        for peer in result:
            del peer["path"]
        return result

    # -- kube-proxy --------------------------------------------------------------------------
    def kube_proxy(self, cfg, cluster, control_plane, services, nodes):
        if not cfg:
            return None
        raw = self.raw["vip_kube_proxy"] or {}
        path = "vip_kube_proxy"
        mode = cfg["mode"]
        k8s = self.k8s
        k8s_text = format_version(k8s) if k8s else "?"
        lb = bool(control_plane and control_plane["load_balancer"]["enabled"])
        vip_cidr = control_plane["cidr"] if control_plane else None
        arp_vips = []
        if control_plane and control_plane["mode"] == "arp" and control_plane["address"]:
            arp_vips.append("the control-plane VIP %s (vip_control_plane.mode arp)" % control_plane["address"])
        if services and services["provider"] in ("kube_vip", "metallb"):
            l2 = [p["name"] for p in services["pools"] if p["advertisement"] == "l2"]
            if l2:
                arp_vips.append("%s l2 pools (%s)" % (services["provider"], ", ".join(l2[:SUMMARY_POOLS]) + (", ..." if len(l2) > SUMMARY_POOLS else "")))
        ipvs = mode == "ipvs"
        # strictARP
        strict = cfg["strict_arp"]
        if strict == "auto":
            strict = bool(ipvs and arp_vips)
        elif strict is False and ipvs and arp_vips:
            self.error("%s.strict_arp is false but %s.mode is ipvs and ARP answers %s: kube-proxy's kube-ipvs0 would "
                       "answer ARP for it too; set strict_arp: true or auto" % (path, path, " and ".join(arp_vips)))
        # excludeCIDRs
        exclude = cfg["exclude_cidrs"]
        if exclude == "auto":
            exclude = [vip_cidr] if ipvs and lb and vip_cidr else []
        else:
            nets = self.cidr_list(exclude, path + ".exclude_cidrs")
            exclude = [str(n.cidr) for n in nets]
            if exclude and not ipvs:
                self.warn("%s.exclude_cidrs is only used by kube-proxy mode ipvs (mode is %s)" % (path, mode))
            if ipvs and lb and self.cp_ip is not None and not any(self.cp_ip in n for n in nets):
                self.error("%s.exclude_cidrs (%s) misses the control-plane VIP %s: with load_balancer.enabled and mode ipvs "
                           "kube-proxy deletes kube-vip's IPVS service (kube-vip #454); add %s or use auto"
                           % (path, ", ".join(exclude) or "empty", control_plane["address"], vip_cidr))
        # versions
        cleanup = cfg["cleanup_ipvs"]
        if cleanup and k8s and k8s[:2] >= (1, 21):
            self.error("%s.cleanup_ipvs is true but Kubernetes is %s: the --cleanup-ipvs flag was removed in 1.21 "
                       "(kubernetes PR #97336) and kube-proxy would refuse to start; use exclude_cidrs to keep "
                       "kube-vip's IPVS service out of kube-proxy's hands" % (path, k8s_text))
            cleanup = False
        if mode == "nftables" and k8s and k8s[:2] < (1, 29):
            self.error("%s.mode is nftables but Kubernetes is %s: the nftables proxy mode exists from 1.29" % (path, k8s_text))
        elif mode == "nftables" and k8s and k8s[:2] < (1, 31):
            self.error("%s.mode is nftables but Kubernetes is %s: before 1.31 the mode needs the NFTablesProxyMode "
                       "feature gate (alpha, off by default in 1.29-1.30); use Kubernetes 1.31 or later, or another mode"
                       % (path, k8s_text))
        if ipvs and k8s and k8s[:2] >= (1, 35):
            self.warn("%s.mode ipvs is deprecated from Kubernetes 1.35 (KEP-5495; cluster is %s): plan a move to nftables"
                      % (path, k8s_text))
        if ipvs and exclude and k8s and k8s[:2] in ((1, 34), (1, 35)):
            self.warn("%s.exclude_cidrs (%s) is reported ignored by kube-proxy in Kubernetes 1.34/1.35 (kubernetes #134147; "
                      "cluster is %s): check kube-vip's IPVS service survives" % (path, ", ".join(exclude), k8s_text))
        if strict and ipvs:
            lo_hosts = self.bgp_on_lo(control_plane, services, nodes)
            if lo_hosts:
                self.warn("%s.strict_arp is on and BGP VIPs sit on lo on %s: strictARP can make such VIPs unreachable "
                          "(kube-vip #1114)" % (path, ", ".join(lo_hosts[:5])))
        manage = bool(cfg["manage"])
        if mode == "none":
            if given(raw, "strict_arp") and strict is True:
                self.warn("%s.strict_arp is true but mode is none (no kube-proxy); ignored" % path)
            strict, exclude, manage = False, [], False
        return {"manage": manage, "mode": mode, "strict_arp": bool(strict), "exclude_cidrs": exclude,
                "cleanup_ipvs": bool(cleanup)}

    def bgp_on_lo(self, control_plane, services, nodes):
        hosts = []
        if control_plane and control_plane["mode"] == "bgp":
            hosts.extend(h for h, n in nodes.items() if n["control_plane"] and n["effective_interface"] == "lo")
        kv = services["kube_vip"] if services else None
        if kv and kv["mode"] == "bgp":
            hosts.extend(h for h in self.services_hosts if nodes[h]["effective_interface"] == "lo" and h not in hosts)
        return hosts

    # -- overlaps ----------------------------------------------------------------------------
    def overlaps(self):
        intervals = self.intervals
        for later, earlier in find_overlaps(intervals):
            self.error("%s overlaps %s" % (intervals[later][3], intervals[earlier][3]))

    # -- owned & summary ---------------------------------------------------------------------
    def owned(self, control_plane, services):
        addresses, service_addresses = [], []
        if control_plane:
            addresses.append(control_plane["cidr"])
        if services:
            service_addresses = list(services["owned_cidrs"])
            if services["provider"] == "kube_vip":
                addresses.extend(service_addresses)
        rt = control_plane["routing_table"] if control_plane else {"table": 198, "protocol": 248}
        ipvs = []
        if control_plane and control_plane["load_balancer"]["enabled"]:
            ipvs.append({"address": control_plane["address"], "port": control_plane["load_balancer"]["port"], "protocol": "tcp"})
        return {"addresses": addresses, "service_addresses": service_addresses, "route_table": rt["table"],
                "route_protocol": rt["protocol"], "ipvs_services": ipvs}

    def summary(self, plan):
        cluster, nodes = plan["cluster"], plan["nodes"]
        cps = sum(1 for n in nodes.values() if n["control_plane"])
        workers = sum(1 for n in nodes.values() if not n["control_plane"])
        lines = ["%s %s (%s), kube-vip %s, %d node%s (%d control plane, %d worker%s)"
                 % (cluster["distro"], cluster["kubernetes_version"], "+".join(cluster["families"]),
                    plan["kube_vip"]["version"], len(nodes), "" if len(nodes) == 1 else "s", cps, workers,
                    "" if workers == 1 else "s")]
        cp = plan["control_plane"]
        if cp:
            line = "control-plane VIP %s:%d, mode %s on %s, %s" % (
                cp["address"], cp["port"], cp["mode"], cp["interface"] or "per-host interfaces", cp["deployment"])
            if cp["load_balancer"]["enabled"]:
                line += ", IPVS load balancer on port %d (%s)" % (cp["load_balancer"]["port"], cp["load_balancer"]["forward_method"])
            if cp["super_admin_host"]:
                line += ", super-admin.conf on %s during init" % cp["super_admin_host"]
            lines.append(line)
        else:
            lines.append("no control-plane VIP")
        svc = plan["services"]
        if svc["provider"] == "none":
            lines.append("no Service load balancer")
        else:
            pools = svc["pools"]
            shown = ", ".join("%s %s %s" % (p["name"], _first_addresses(p["addresses"]), p["advertisement"])
                              for p in pools[:SUMMARY_POOLS])
            if len(pools) > SUMMARY_POOLS:
                shown += ", ... (%d more)" % (len(pools) - SUMMARY_POOLS)
            line = "services: %s, %d pool(s)%s" % (svc["provider"], len(pools), ": " + shown if pools else "")
            if svc["kube_vip"]:
                kv = svc["kube_vip"]
                line += "; DaemonSet mode %s on %s%s" % (kv["mode"], kv["placement"], ", svc_election" if kv["svc_election"] else "")
            lines.append(line)
        if plan["bgp"]:
            bgp = plan["bgp"]
            own = sum(1 for n in nodes.values() for p in n["bgp_peers"] if p not in bgp["peers"])
            lines.append("BGP AS %d, %d peer(s)%s" % (bgp["local_as"], len(bgp["peers"]),
                                                      ", %d per-host peer(s)" % own if own else ""))
        kp = plan["kube_proxy"]
        if kp:
            if kp["mode"] == "none":
                lines.append("kube-proxy: none (not managed)")
            else:
                lines.append("kube-proxy %s: strictARP %s, excludeCIDRs [%s]%s" % (
                    kp["mode"], str(kp["strict_arp"]).lower(), ", ".join(kp["exclude_cidrs"]), "" if kp["manage"] else " (not managed)"))
        if plan["warnings"]:
            lines.append("%d warning(s)" % len(plan["warnings"]))
        return lines


def _first_addresses(addresses):
    return ",".join(addresses[:2]) + (",..." if len(addresses) > 2 else "")


def _public_peer(peer):
    return {key: copy.deepcopy(value) for key, value in peer.items() if not key.startswith("_")}


def _metallb_peer(peer, selectors):
    return {
        "path": peer["_path"],
        "name": peer["_name"],
        "address": peer["address"],
        "as": peer["as"],
        "port": peer["port"],
        "multihop": peer["multihop"],
        "node_selectors": selectors,
        "password_secret": peer["password_secret"],
    }


def build_plan(cluster_vars, hosts, groups):
    """Check the inventory and build ``vip_plan``.

    cluster_vars: {"vip_cluster": ..., "vip_kube_vip": ..., ...} (missing keys are absent variables)
    hosts: {inventory_hostname: {"ansible_host": ..., "vip_node_ip": ..., ...}}
    groups: {"kube_control_plane": [...], "kube_node": [...]} (inventory order)

    Returns {"plan": dict or None, "errors": [...], "warnings": [...]}.
    """
    require_netaddr()
    builder = _Builder(cluster_vars, hosts, groups)
    # Large inventories allocate many small objects that all stay alive until the end: the
    # cyclic collector only costs time here (about 40 % at 100,000 pools).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        plan = builder.run()
    except Exception as exc:  # pylint: disable=broad-except
        # A rule tripped over input an earlier check already rejected: report what was found.
        if not builder.errors:
            raise
        builder.error("(further checks skipped after the errors above: %s: %s)" % (type(exc).__name__, exc))
        plan = None
    finally:
        if gc_was_enabled:
            gc.enable()
    return {"plan": plan, "errors": list(builder.errors), "warnings": list(builder.warnings)}

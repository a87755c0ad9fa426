# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build every object of the VIP layer from ``vip_plan``: pure functions, dicts in, dicts out.

Nothing here decides anything the plan decides: each function reads the plan and lays its
values out in the shape kube-vip, MetalLB, kube-proxy or the host expects. ``dump`` writes the
objects as YAML with a fixed key order and layout, so two runs give the same bytes.

This module: the shared layout (labels, YAML/JSON dump), BGP passwords and kube-vip's objects;
MetalLB's objects are in ``render_metallb``, kube-proxy's and the hosts' settings in ``render_node``.
"""
from __future__ import annotations

import ipaddress
import json

import yaml

MANAGED_BY = "baremetal.vip"
CLUSTER_LABEL = "baremetal.vip/cluster"
NAMESPACE = "kube-system"
CP_TOLERATIONS = [
    {"effect": "NoSchedule", "operator": "Exists"},
    {"effect": "NoExecute", "operator": "Exists"},
]
# The rules kube-vip's own `manifest rbac` grants (see kube-vip-facts.md), nothing more.
KUBE_VIP_RULES = [
    {"apiGroups": [""], "resources": ["services/status"], "verbs": ["update"]},
    {"apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["list", "get", "watch", "update"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "get", "watch", "update", "patch"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["list", "get", "watch", "update", "create"]},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "get", "watch", "update"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
]
CLOUD_PROVIDER_RULES = [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "list", "watch", "create", "update"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "create", "update"]},
    {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch", "update", "patch"]},
    {"apiGroups": [""], "resources": ["services/status"], "verbs": ["update", "patch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
]


class RenderError(Exception):
    """The plan (or a password lookup) does not allow rendering: names what and where."""


def plain(value):
    """Return ``value`` as plain dict/list/str/int/bool/None (Ansible hands over tagged types)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return bool(value) if value is not None else None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


class _Dumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
    """SafeDumper that indents block sequences under their key (kubectl style)."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _str_representer(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def dump(objects):
    """YAML of one object or a list of objects (documents separated by ``---``), byte-stable."""
    if isinstance(objects, dict):
        objects = [objects]
    docs = [yaml.dump(plain(o), Dumper=_Dumper, default_flow_style=False, sort_keys=False,
                      width=4096, allow_unicode=True, explicit_start=True) for o in objects]
    return "".join(docs)


def dump_json(obj):
    """JSON with sorted keys and a final newline."""
    return json.dumps(plain(obj), indent=2, sort_keys=True) + "\n"


def labels(cluster, component, name="kube-vip"):
    """The labels every rendered cluster object carries (pruning selects on the first two)."""
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        CLUSTER_LABEL: str(cluster),
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
    }


def meta(name, cluster, component, namespace=None, app=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = labels(cluster, component, app or name)
    return meta


def _env(name, value):
    """One env entry; booleans as true/false. None is a plan/render mismatch, never the text 'None'."""
    if value is None:
        raise RenderError("environment variable %s has no value in the plan" % name)
    return {"name": name, "value": str(value).lower() if isinstance(value, bool) else str(value)}


def _metrics_env(server):
    """prometheus_server when metrics are on; kube-vip skips an empty value (see _args)."""
    return [_env("prometheus_server", server)] if server else []


def _args(server):
    """kube-vip's arguments: an empty prometheus_server env is skipped (the :2112 default stays), so
    disabled metrics are the argument --prometheusHTTPServer "" (cmd/kube-vip.go)."""
    return ["manager"] if server else ["manager", "--prometheusHTTPServer", ""]


def _field_env(name, path):
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


# ---------------------------------------------------------------- BGP passwords


def _norm_ip(addr):
    try:
        return str(ipaddress.ip_address(str(addr)))
    except ValueError:
        return str(addr)


def password_map(peer_lists):
    """Map peer address → password from inventory peer lists; the first list naming a peer wins."""
    found = {}
    for peers in peer_lists or []:
        for peer in peers or []:
            if not isinstance(peer, dict) or peer.get("address") is None:
                continue
            key = _norm_ip(peer["address"])
            if key not in found and peer.get("password") not in (None, ""):
                found[key] = str(peer["password"])
    return found


def peer_password(peer, passwords, where):
    if not peer.get("has_password"):
        return ""
    key = _norm_ip(peer["address"])
    if key not in (passwords or {}):
        raise RenderError("%s: BGP peer %s has a password in the plan but none was found in "
                          "vip_bgp_peers / vip_bgp.peers" % (where, peer["address"]))
    return passwords[key]


def kube_vip_bgp_peers(peers, passwords, where):
    """kube-vip's ``bgp_peers`` value: ``address:AS:password:multihop[:port]``, IPv6 in brackets."""
    out = []
    for peer in peers:
        addr = str(peer["address"])
        if ":" in addr:
            addr = "[%s]" % addr
        item = "%s:%s:%s:%s" % (addr, peer["as"], peer_password(peer, passwords, where),
                                str(bool(peer.get("multihop"))).lower())
        if int(peer.get("port", 179)) != 179:
            item += ":%s" % peer["port"]
        out.append(item)
    return ",".join(out)


def has_password(peers):
    """True when any of ``peers`` (plan shape) carries a password."""
    return any(p.get("has_password") for p in peers or [])


# ---------------------------------------------------------------- kube-vip


def _subnet_env(plan, prefix):
    return _env(plan["kube_vip"]["subnet_env"], prefix)


def _leader_env(election, namespace_env):
    return [
        _env("vip_leaderelection", True),
        _env("vip_leasename", election["lease_name"]),
        _env(namespace_env, election["lease_namespace"]),
        _env("vip_leaseduration", election["lease_duration"]),
        _env("vip_renewdeadline", election["renew_deadline"]),
        _env("vip_retryperiod", election["retry_period"]),
    ]


def _bgp_env(plan, peers, router_id_env, passwords, where, secret_ref=None):
    bgp = plan["bgp"]
    env = [_env("bgp_enable", True), router_id_env, _env("bgp_as", bgp["local_as"])]
    if secret_ref:
        env.append({"name": "bgp_peers", "valueFrom": {"secretKeyRef": secret_ref}})
    else:
        env.append(_env("bgp_peers", kube_vip_bgp_peers(peers, passwords, where)))
    if bgp.get("source_address"):
        env.append(_env("bgp_sourceip", bgp["source_address"]))
    if bgp.get("source_interface"):
        env.append(_env("bgp_sourceif", bgp["source_interface"]))
    env.append(_env("bgp_hold_time", bgp["hold_time"]))
    env.append(_env("bgp_keepalive_interval", bgp["keepalive_interval"]))
    return env


def control_plane_env(plan, host=None, passwords=None, secret_ref=None):
    """Environment of the control-plane kube-vip (``host`` None: the DaemonSet variant)."""
    cp = plan["control_plane"]
    node = plan["nodes"][host] if host else None
    # The DaemonSet has one setting: the plan's daemonset_interface ("" = kube-vip auto-detects).
    interface = node["interface"] if node else cp["daemonset_interface"]
    env = [
        _env("vip_arp", cp["mode"] == "arp"),
        _env("port", cp["port"]),
        _field_env("vip_nodename", "spec.nodeName"),
    ]
    if interface:
        env.append(_env("vip_interface", interface))
    env += [
        _subnet_env(plan, cp["prefix"]),
        _env("cp_enable", cp["cp_enable"]),
        _env("svc_enable", cp["svc_enable"]),
    ]
    if node and cp["kubernetes_addr"]:
        env.append(_env("kubernetes_addr", cp["kubernetes_addr"]))
    env += _leader_env(cp["leader_election"], "cp_namespace")
    if cp["mode"] == "bgp":
        if node:
            router_id = _env("bgp_routerid", node["bgp_router_id"])
            peers = node["bgp_peers"]
        else:
            router_id = _bgp_router_id_env(plan)
            peers = plan["bgp"]["peers"]
        env += _bgp_env(plan, peers, router_id, passwords, "kube-vip control plane on %s" % (host or "DaemonSet"),
                        secret_ref)
    if cp["mode"] == "routing_table":
        rt = cp["routing_table"]
        env += [_env("vip_routingtable", True), _env("vip_routingtableid", rt["table"]),
                _env("vip_routingprotocol", rt["protocol"]), _env("vip_cleanroutingtable", rt["clean"])]
    lb = cp["load_balancer"]
    if lb["enabled"]:
        env += [_env("lb_enable", True), _env("lb_port", lb["port"]), _env("lb_fwdmethod", lb["forward_method"])]
    env.append(_env("address", cp["address"]))
    return env + _metrics_env(plan["kube_vip"]["prometheus_server"])


def _bgp_router_id_env(plan):
    if plan["bgp"].get("router_id"):
        return _env("bgp_routerid", plan["bgp"]["router_id"])
    return _field_env("bgp_routerid", "status.hostIP")


def _container(plan, env, metrics, privileged=False, mounts=None):
    caps = {"add": ["NET_ADMIN", "NET_RAW"]}
    security = {"capabilities": caps}
    if privileged:
        security["privileged"] = True
    elif plan["kube_vip"]["drop_all_capabilities"]:
        caps["drop"] = ["ALL"]
    container = {
        "name": "kube-vip",
        "image": plan["kube_vip"]["image"],
        "imagePullPolicy": "IfNotPresent",
        "args": _args(metrics),
        "env": env,
        "securityContext": security,
    }
    if mounts:
        container["volumeMounts"] = mounts
    return container


def kube_vip_static_pod(plan, host, cluster, use_super_admin=False, passwords=None):
    """The control-plane kube-vip static pod for inventory host ``host``."""
    plan = plain(plan)
    cp = plan["control_plane"]
    node = plan["nodes"][host]
    paths = plan["cluster"]["paths"]
    kubeconfig = paths["kubeconfig"]
    if use_super_admin and node.get("super_admin"):
        kubeconfig = paths["super_admin_kubeconfig"]
    mount = {"name": "kubeconfig", "mountPath": "/etc/kubernetes/admin.conf"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("kube-vip", cluster, "control-plane", NAMESPACE),
        "spec": {
            "containers": [_container(plan, control_plane_env(plan, host, passwords), plan["kube_vip"]["prometheus_server"],
                                      cp["privileged"], [mount])],
            "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["kubernetes"]}],
            "hostNetwork": True,
            "volumes": [{"name": "kubeconfig", "hostPath": {"path": kubeconfig, "type": "File"}}],
        },
    }


def _rbac(names, cluster, component, rules, namespace=NAMESPACE):
    sa, role, binding = names
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(sa, cluster, component, namespace, "kube-vip")},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": meta(role, cluster, component, app="kube-vip"), "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": meta(binding, cluster, component, app="kube-vip"),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
         "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}]},
    ]


def _hostname_affinity(names):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": names}]}]}}}


def _control_plane_affinity(plan):
    return _hostname_affinity([n["node_name"] for n in plan["nodes"].values() if n["control_plane"]])


def _services_affinity(plan, hosts):
    """The services DaemonSet's nodes (the plan's services hosts) when they are not every node of the plan."""
    if set(hosts) == set(plan["nodes"]):
        return None
    return _hostname_affinity([plan["nodes"][h]["node_name"] for h in sorted(hosts)])


def _daemonset(name, cluster, component, sa, container, affinity=None, namespace=NAMESPACE):
    selector = {"app.kubernetes.io/name": name, CLUSTER_LABEL: str(cluster)}
    spec = {"serviceAccountName": sa, "hostNetwork": True}
    if affinity:
        spec["affinity"] = affinity
    spec["tolerations"] = CP_TOLERATIONS
    spec["containers"] = [container]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta(name, cluster, component, namespace),
        "spec": {
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": labels(cluster, component, name)}, "spec": spec},
        },
    }


def _bgp_secret(name, cluster, component, peers_value, namespace=NAMESPACE):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name, cluster, component, namespace, "kube-vip"),
            "type": "Opaque", "stringData": {"bgp_peers": peers_value}}


def kube_vip_control_plane_daemonset(plan, cluster, names, passwords=None):
    """The control-plane kube-vip as a DaemonSet pinned to the control-plane nodes, with RBAC.

    ``names``: dict with daemonset, service_account, cluster_role, cluster_role_binding, bgp_secret.
    In BGP mode the peers (with passwords) go to a Secret read through ``secretKeyRef``.
    """
    plan = plain(plan)
    cp = plan["control_plane"]
    objects = _rbac((names["service_account"], names["cluster_role"], names["cluster_role_binding"]),
                    cluster, "control-plane", KUBE_VIP_RULES)
    ref = None
    if cp["mode"] == "bgp":
        ref = {"name": names["bgp_secret"], "key": "bgp_peers"}
        objects.append(_bgp_secret(names["bgp_secret"], cluster, "control-plane",
                                   kube_vip_bgp_peers(plan["bgp"]["peers"], passwords, "kube-vip control-plane DaemonSet")))
    container = _container(plan, control_plane_env(plan, None, passwords, ref), plan["kube_vip"]["prometheus_server"],
                           cp["privileged"])
    objects.append(_daemonset(names["daemonset"], cluster, "control-plane", names["service_account"], container,
                              _control_plane_affinity(plan)))
    return objects


def services_env(plan, secret_ref=None, passwords=None):
    """Environment of the services kube-vip (``cp_enable`` false, ``svc_enable`` true)."""
    kv = plan["services"]["kube_vip"]
    env = [_env("vip_arp", kv["mode"] == "arp"), _field_env("vip_nodename", "spec.nodeName")]
    if kv.get("interface"):
        # vip_interface too: without it kube-vip looks for the default route's interface at start and exits
        # when a node has no default route (kube-vip v1.0.0, cmd/kube-vip.go, "detecting interface")
        env += [_env("vip_interface", kv["interface"]), _env("vip_servicesinterface", kv["interface"])]
    env += [_env("cp_enable", False), _env("svc_enable", True), _env("svc_leasename", kv["lease_name"]),
            _env("svc_election", kv["svc_election"]), _env("vip_leaderelection", True)]
    cp = plan.get("control_plane")
    if cp:
        election = cp["leader_election"]
        env += [_env("vip_leaseduration", election["lease_duration"]), _env("vip_renewdeadline", election["renew_deadline"]),
                _env("vip_retryperiod", election["retry_period"])]
    if kv["lb_class_only"]:
        env += [_env("lb_class_only", True), _env("lb_class_name", kv["lb_class_name"])]
    if kv["mode"] == "bgp":
        env += _bgp_env(plan, plan["bgp"]["peers"], _bgp_router_id_env(plan), passwords, "kube-vip services", secret_ref)
    if plan["kube_vip"].get("endpointslices_env"):
        env.append(_env(plan["kube_vip"]["endpointslices_env"], True))
    return env + _metrics_env(kv["prometheus_server"])


def kube_vip_services(plan, cluster, bgp_secret="kube-vip-services-bgp", passwords=None):
    """ServiceAccount, ClusterRole, binding, (BGP Secret) and the services DaemonSet."""
    plan = plain(plan)
    kv = plan["services"]["kube_vip"]
    ns = kv["namespace"]
    objects = _rbac((kv["service_account"], kv["cluster_role"], kv["cluster_role_binding"]), cluster, "services",
                    KUBE_VIP_RULES, ns)
    ref = None
    if kv["mode"] == "bgp":
        ref = {"name": bgp_secret, "key": "bgp_peers"}
        objects.append(_bgp_secret(bgp_secret, cluster, "services",
                                   kube_vip_bgp_peers(plan["bgp"]["peers"], passwords, "kube-vip services DaemonSet"), ns))
    container = _container(plan, services_env(plan, ref, passwords), kv["prometheus_server"])
    affinity = _services_affinity(plan, kv["hosts"])
    objects.append(_daemonset(kv["daemonset_name"], cluster, "services", kv["service_account"], container, affinity, ns))
    return objects


def _cloud_provider_env(cloud):
    """With a load balancer class, kube-vip-cloud-provider serves only that class (and kube-vip-class unless named)."""
    env = []
    if cloud["load_balancer_class"]:
        env.append(_env("KUBEVIP_ENABLE_LOADBALANCERCLASS", True))
    if cloud["custom_class"]:
        env.append(_env("KUBEVIP_CUSTOM_LOADBALANCERCLASS_NAME", cloud["custom_class"]))
    return {"env": env} if env else {}


def kube_vip_cloud_provider(plan, cluster, deployment=True):
    """ConfigMap ``kubevip`` and (``deployment``) the kube-vip-cloud-provider with its RBAC."""
    plan = plain(plan)
    cloud = plan["services"]["kube_vip"]["cloud_provider"]
    data = {k: str(v) for k, v in sorted(cloud["configmap"].items())}
    objects = [{"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": meta("kubevip", cluster, "cloud-provider", NAMESPACE, "kube-vip-cloud-provider"), "data": data}]
    if not deployment:
        return objects
    sa = "kube-vip-cloud-controller"
    objects += _rbac((sa, "system:kube-vip-cloud-controller-role", "system:kube-vip-cloud-controller-binding"),
                     cluster, "cloud-provider", CLOUD_PROVIDER_RULES)
    for obj in objects[1:]:
        obj["metadata"]["labels"]["app.kubernetes.io/name"] = "kube-vip-cloud-provider"
    name = "kube-vip-cloud-provider"
    selector = {"app.kubernetes.io/name": name, CLUSTER_LABEL: str(cluster)}
    objects.append({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, cluster, "cloud-provider", NAMESPACE),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels(cluster, "cloud-provider", name)},
                "spec": {
                    "serviceAccountName": sa,
                    "affinity": _control_plane_affinity(plan),
                    "tolerations": CP_TOLERATIONS,
                    "containers": [{
                        "name": name,
                        "image": plan["kube_vip"]["cloud_provider_image"],
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["/kube-vip-cloud-provider", "--leader-elect-resource-name=kube-vip-cloud-controller"],
                        **_cloud_provider_env(cloud),
                        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    }],
                },
            },
        },
    })
    return objects

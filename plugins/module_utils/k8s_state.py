# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The live VIP state of a cluster, read from the Kubernetes API (read-only).

``summarize_*`` functions turn API objects (plain dicts) into the small records
``baremetal.vip.cluster_info`` returns; they need no server and are unit-tested directly.
``gather()`` reads the objects through a ``k8s_client.Api`` and puts the records together.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.baremetal.vip.plugins.module_utils.constants import KUBE_VIP_MODE_ENV
from ansible_collections.baremetal.vip.plugins.module_utils.errors import K8sError

try:
    import yaml
except ImportError:  # yaml comes with ansible-core; guarded for the sanity import test
    yaml = None

KUBE_VIP_ANNOTATION_PREFIX = "kube-vip.io/"
LEASE_NAME_ANNOTATION = "kube-vip.io/leaseName"
LB_IPS_ANNOTATION = "kube-vip.io/loadbalancerIPs"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # the label tying an EndpointSlice to its Service
# k3s/RKE2 ServiceLB (Klipper) labels its DaemonSets and pods svccontroller.<program>.cattle.io/svcname and
# .../svcnamespace, program k3s or rke2 (k3s-io/k3s pkg/cloudprovider/servicelb.go, klipper-lb v0.4.9)
SERVICE_LB_PROGRAMS = ("k3s", "rke2")

DEFAULTS = dict(
    lease_namespace="kube-system",
    control_plane_lease="plndr-cp-lock",
    services_lease="plndr-svcs-lock",
    services_lease_namespace=None,  # None: lease_namespace
    daemonset_name="kube-vip-ds",
    daemonset_namespace="kube-system",
    kube_proxy_configmap="kube-proxy",
    kube_proxy_namespace="kube-system",
)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_time(text):
    """An RFC 3339 time of the API (Time or MicroTime) as an aware datetime; None if unset."""
    if not text:
        return None
    if isinstance(text, datetime.datetime):
        return text if text.tzinfo else text.replace(tzinfo=datetime.timezone.utc)
    text = str(text).replace("Z", "+00:00")
    head, sep, rest = text.partition(".")
    if sep:  # at most microseconds for fromisoformat
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits):]
        text = "%s.%s%s" % (head, (digits + "000000")[:6], zone)
    parsed = datetime.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def summarize_lease(lease, name, namespace, now):
    """Holder, renew time and age of one Lease (``present: false`` when it does not exist)."""
    out = dict(name=name, namespace=namespace, present=lease is not None, holder=None,
               renew_time=None, renew_age_seconds=None, lease_duration_seconds=None,
               expired=None, transitions=None)
    if lease is None:
        return out
    spec = lease.get("spec") or {}
    renew = parse_time(spec.get("renewTime") or spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    out.update(holder=spec.get("holderIdentity") or None,
               lease_duration_seconds=duration,
               transitions=spec.get("leaseTransitions"))
    if renew is not None:
        age = round((now - renew).total_seconds(), 1)
        out.update(renew_time=renew.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), renew_age_seconds=age,
                   expired=bool(duration) and age > duration)
    return out


def service_lease_name(service):
    """The per-service lease kube-vip uses with svc_election: annotation or kubevip-<name>."""
    meta = service.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return annotations.get(LEASE_NAME_ANNOTATION) or "kubevip-%s" % meta.get("name")


def _split_ips(text):
    return [ip.strip() for ip in (text or "").split(",") if ip.strip()]


def summarize_service(service):
    """A LoadBalancer Service: the addresses it asked for and got, and who may handle it."""
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    annotations = meta.get("annotations") or {}
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    requested = []
    if spec.get("loadBalancerIP"):
        requested.append(spec["loadBalancerIP"])
    for ip in _split_ips(annotations.get(LB_IPS_ANNOTATION)):
        if ip not in requested:
            requested.append(ip)
    return dict(
        namespace=meta.get("namespace"),
        name=meta.get("name"),
        load_balancer_class=spec.get("loadBalancerClass"),
        external_traffic_policy=spec.get("externalTrafficPolicy") or "Cluster",
        ingress_ips=[i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")],
        requested_ips=requested,
        ports=[dict(port=p.get("port"), protocol=p.get("protocol", "TCP")) for p in spec.get("ports") or []],
        kube_vip_annotations=dict((k, v) for k, v in sorted(annotations.items())
                                  if k.startswith(KUBE_VIP_ANNOTATION_PREFIX)),
        lease_name=service_lease_name(service),
    )


def summarize_endpoints(slices):
    """The endpoints of a Service's EndpointSlices: ``node`` (nodeName), ``ready``, ``serving``, ``terminating``
    and ``addresses``, sorted by node. ``conditions.ready`` left unset counts as ready, as the API documents."""
    out = []
    for item in slices or []:
        for endpoint in item.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            ready = conditions.get("ready") is not False
            out.append(dict(node=endpoint.get("nodeName"), ready=ready,
                            serving=conditions.get("serving", ready) is not False,
                            terminating=conditions.get("terminating") is True,
                            addresses=list(endpoint.get("addresses") or [])))
    return sorted(out, key=lambda e: (e["node"] or "", e["addresses"]))


def read_endpoints(api, service):
    """(endpoints, error) of a Service's EndpointSlices (label kubernetes.io/service-name in its namespace).
    A kubeconfig without ``list`` on EndpointSlices, or an API without discovery.k8s.io/v1, gives
    (None, the reason): the endpoints are then unknown, which the caller reports, not a failure to read the rest."""
    try:
        slices = api.list("discovery.k8s.io/v1", "EndpointSlice", namespace=service["namespace"],
                          label_selector="%s=%s" % (SERVICE_NAME_LABEL, service["name"]))
    except K8sError as exc:
        if exc.status == 403 or exc.not_served:
            return None, exc.msg
        raise
    return summarize_endpoints(slices), None


def summarize_kube_proxy(configmap, name=DEFAULTS["kube_proxy_configmap"], namespace=DEFAULTS["kube_proxy_namespace"]):
    """The live kube-proxy settings that matter for VIPs (ConfigMap key config.conf)."""
    out = dict(name=name, namespace=namespace, present=configmap is not None, mode=None, strict_arp=None,
               exclude_cidrs=[], parse_error=None)
    if configmap is None:
        return out
    text = (configmap.get("data") or {}).get("config.conf")
    if text is None:
        out["parse_error"] = "the ConfigMap has no key config.conf"
        return out
    try:
        config = yaml.safe_load(text) or {}
        if not isinstance(config, dict):
            raise ValueError("config.conf is not a mapping")
    except Exception as exc:  # pylint: disable=broad-except
        out["parse_error"] = "config.conf does not parse: %s" % exc
        return out
    ipvs = config.get("ipvs") or {}
    out.update(mode=config.get("mode") or "", strict_arp=bool(ipvs.get("strictARP", False)),
               exclude_cidrs=list(ipvs.get("excludeCIDRs") or []))
    return out


def summarize_node(node):
    meta = node.get("metadata") or {}
    status = node.get("status") or {}
    labels = meta.get("labels") or {}
    addresses = [dict(type=a.get("type"), address=a.get("address")) for a in status.get("addresses") or []]
    ready = [c.get("status") == "True" for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    return dict(
        name=meta.get("name"),
        addresses=addresses,
        internal_ips=[a["address"] for a in addresses if a["type"] == "InternalIP"],
        roles=sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")),
        ready=ready[0] if ready else None,
        has_vip_label=labels.get("kube-vip.io/has-ip"),
    )


def _pod_ready(pod):
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def kube_vip_pods(pods, daemonset):
    """kube-vip pods: those the DaemonSet owns (by ownerReference, or by its selector's labels
    when the API gave no owner) and static pods (mirror pods named kube-vip-<node>)."""
    out = []
    ds_meta = (daemonset or {}).get("metadata") or {}
    match = (((daemonset or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        owners = meta.get("ownerReferences") or []
        labels = meta.get("labels") or {}
        source = None
        if daemonset and any(o.get("kind") == "DaemonSet" and o.get("name") == ds_meta.get("name")
                             for o in owners):
            source = "daemonset"
        elif daemonset and not owners and match and all(labels.get(k) == v for k, v in match.items()):
            source = "daemonset"
        elif any(o.get("kind") == "Node" for o in owners) and meta.get("name", "").startswith("kube-vip-"):
            source = "static_pod"
        if source:
            out.append(dict(name=meta.get("name"), namespace=meta.get("namespace"), source=source,
                            node=(pod.get("spec") or {}).get("nodeName"),
                            phase=(pod.get("status") or {}).get("phase"), ready=_pod_ready(pod),
                            image=[c.get("image") for c in (pod.get("spec") or {}).get("containers") or []]))
    return sorted(out, key=lambda p: (p["node"] or "", p["name"]))


def service_lb_pods(pods, namespace):
    """ServiceLB (k3s/RKE2's Klipper) in ``namespace``: per Service it serves, its pods and their nodes.

    ServiceLB runs one DaemonSet ``svclb-<service>-<uid>`` per LoadBalancer Service in its namespace
    (kube-system unless k3s runs with --servicelb-namespace); its pods carry the Service's name and namespace in
    the labels ``svccontroller.<k3s|rke2>.cattle.io/svcname`` and ``svcnamespace``."""
    found = {}
    for pod in pods or []:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        for program in SERVICE_LB_PROGRAMS:
            name = labels.get("svccontroller.%s.cattle.io/svcname" % program)
            if not name:
                continue
            service = "%s/%s" % (labels.get("svccontroller.%s.cattle.io/svcnamespace" % program) or "?", name)
            entry = found.setdefault(service, dict(service=service, program=program, pods=[], nodes=[]))
            entry["pods"].append(meta.get("name"))
            node = (pod.get("spec") or {}).get("nodeName")
            if node and node not in entry["nodes"]:
                entry["nodes"].append(node)
    services = [dict(found[key], pods=sorted(found[key]["pods"]), nodes=sorted(found[key]["nodes"])) for key in sorted(found)]
    return dict(namespace=namespace, services=services)


def mode_env(pod_spec):
    """{name: value} of the kube-vip container's env variables that choose its mode (constants.KUBE_VIP_MODE_ENV),
    as set in the pod template (the container named kube-vip, else the first); a value from elsewhere
    (valueFrom) reads "(valueFrom)". No other variable is returned (bgp_peers holds passwords)."""
    containers = (pod_spec or {}).get("containers") or []
    chosen = [c for c in containers if c.get("name") == "kube-vip"] or containers[:1]
    out = {}
    for item in (chosen[0].get("env") or []) if chosen else []:
        if item.get("name") in KUBE_VIP_MODE_ENV:
            out[item["name"]] = "(valueFrom)" if "valueFrom" in item else str(item.get("value", ""))
    return out


def summarize_daemonset(daemonset, name, namespace):
    """The DaemonSet's pod counts, images and placement (nodeSelector, affinity) as the API has them; its
    generation next to the status's observedGeneration and updatedNumberScheduled (the rollout's progress: a
    DaemonSet controller that never observed the generation is absent or stopped)."""
    status = (daemonset or {}).get("status") or {}
    pod = (((daemonset or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    return dict(name=name, namespace=namespace, present=daemonset is not None,
                desired=status.get("desiredNumberScheduled"), ready=status.get("numberReady"),
                image=[c.get("image") for c in pod.get("containers") or []],
                node_selector=dict(pod.get("nodeSelector") or {}), affinity=pod.get("affinity") or None,
                generation=((daemonset or {}).get("metadata") or {}).get("generation"),
                observed_generation=status.get("observedGeneration"), updated=status.get("updatedNumberScheduled"),
                env=mode_env(pod) if daemonset is not None else None)


def summarize_metallb(pools, l2_ads, bgp_ads):
    """MetalLB's pools with the advertisements that name them (by ipAddressPools)."""
    out = []
    for pool in pools:
        meta, spec = pool.get("metadata") or {}, pool.get("spec") or {}
        ads = []
        for kind, items in (("l2", l2_ads), ("bgp", bgp_ads)):
            for adv in items:
                adv_meta, adv_spec = adv.get("metadata") or {}, adv.get("spec") or {}
                names = adv_spec.get("ipAddressPools")
                selected = not names and not adv_spec.get("ipAddressPoolSelectors")
                if adv_meta.get("namespace") == meta.get("namespace") and (selected or meta.get("name") in (names or [])):
                    ads.append(dict(kind=kind, name=adv_meta.get("name")))
        out.append(dict(namespace=meta.get("namespace"), name=meta.get("name"),
                        addresses=list(spec.get("addresses") or []),
                        auto_assign=spec.get("autoAssign", True), advertisements=ads,
                        labels=dict((meta.get("labels") or {}))))
    return sorted(out, key=lambda p: (p["namespace"] or "", p["name"]))


def gather_metallb(api):
    """MetalLB's pools, or ``installed: false`` when the API has no metallb.io group."""
    if not api.has_group("metallb.io"):
        return dict(installed=False, pools=[])
    pools = api.list("metallb.io/v1beta1", "IPAddressPool")
    l2_ads = api.list("metallb.io/v1beta1", "L2Advertisement")
    bgp_ads = api.list("metallb.io/v1beta1", "BGPAdvertisement")
    return dict(installed=True, pools=summarize_metallb(pools, l2_ads, bgp_ads))


def gather(api, options=None, now=None):
    """Everything cluster_info returns, read through ``api`` (a k8s_client.Api)."""
    opts = dict(DEFAULTS)
    opts.update(dict((k, v) for k, v in (options or {}).items() if v is not None))
    now = now or utcnow()
    leases = dict(((lease["metadata"].get("namespace"), lease["metadata"]["name"]), lease)
                  for lease in api.list("coordination.k8s.io/v1", "Lease"))
    services = [summarize_service(s) for s in api.list("v1", "Service")
                if (s.get("spec") or {}).get("type") == "LoadBalancer"]
    for svc in services:
        key = (svc["namespace"], svc["lease_name"])
        svc["lease"] = summarize_lease(leases.get(key), key[1], key[0], now)
        svc["endpoints"], svc["endpoints_error"] = read_endpoints(api, svc)
    ns = opts["lease_namespace"]
    svc_ns = opts.get("services_lease_namespace") or ns
    ds_name, ds_ns = opts["daemonset_name"], opts["daemonset_namespace"]
    daemonset = api.get("apps/v1", "DaemonSet", ds_name, ds_ns)
    pods = api.list("v1", "Pod", namespace=ds_ns)
    kube_proxy = api.get("v1", "ConfigMap", opts["kube_proxy_configmap"], opts["kube_proxy_namespace"])
    return dict(
        api=dict(host=api.host),
        leases=dict(
            control_plane=summarize_lease(leases.get((ns, opts["control_plane_lease"])),
                                          opts["control_plane_lease"], ns, now),
            services=summarize_lease(leases.get((svc_ns, opts["services_lease"])),
                                     opts["services_lease"], svc_ns, now),
        ),
        services=sorted(services, key=lambda s: (s["namespace"], s["name"])),
        kube_proxy=summarize_kube_proxy(kube_proxy, opts["kube_proxy_configmap"], opts["kube_proxy_namespace"]),
        nodes=[summarize_node(n) for n in api.list("v1", "Node")],
        kube_vip=dict(daemonset=summarize_daemonset(daemonset, ds_name, ds_ns),
                      pods=kube_vip_pods(pods, daemonset)),
        service_lb=service_lb_pods(pods, ds_ns),
        metallb=gather_metallb(api),
    )

"""Seed objects for the Kubernetes API tests."""
import datetime


def rfc3339(delta_seconds=0.0):
    """A MicroTime ``delta_seconds`` ago."""
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=delta_seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease(name, namespace, holder, age, duration=15):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"holderIdentity": holder, "renewTime": rfc3339(age),
                     "leaseDurationSeconds": duration, "leaseTransitions": 3}}


KUBE_PROXY_CONF = """apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
ipvs:
  strictARP: true
  excludeCIDRs:
  - 192.0.2.10/32
  scheduler: ""
"""


def cluster_seed():
    """A kubeadm cluster with kube-vip: leases, LB Services, kube-proxy, nodes, kube-vip pods."""
    ds_uid = "11111111-2222-4333-8444-555555555555"
    objects = [
        lease("plndr-cp-lock", "kube-system", "cp1", 1.0),
        lease("plndr-svcs-lock", "kube-system", "w1", 40.0),
        lease("kubevip-web", "default", "w1", 2.0),
        lease("custom-lease", "shop", "cp1", 3.0),
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "web", "namespace": "default",
                      "annotations": {"kube-vip.io/loadbalancerIPs": "198.51.100.5,2001:db8::5",
                                      "other.io/x": "y"}},
         "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                  "loadBalancerClass": "kube-vip.io/kube-vip-class",
                  "ports": [{"port": 80, "protocol": "TCP"}]},
         "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.5"}]}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "api", "namespace": "shop",
                      "annotations": {"kube-vip.io/leaseName": "custom-lease"}},
         "spec": {"type": "LoadBalancer", "loadBalancerIP": "198.51.100.9",
                  "ports": [{"port": 443}]}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "internal", "namespace": "default"},
         "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
         "data": {"config.conf": KUBE_PROXY_CONF, "kubeconfig.conf": "x"}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet",
         "metadata": {"name": "kube-vip-ds", "namespace": "kube-system", "uid": ds_uid},
         "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "kube-vip-ds"}},
                  "template": {"metadata": {"labels": {"app.kubernetes.io/name": "kube-vip-ds"}},
                               "spec": {"containers": [{"name": "kube-vip",
                                                        "image": "ghcr.io/kube-vip/kube-vip:v1.0.3"}]}}},
         "status": {"desiredNumberScheduled": 2, "numberReady": 1}},
    ]
    for name, ip, role in (("cp1", "192.0.2.11", "control-plane"), ("w1", "192.0.2.21", None)):
        labels = {"node-role.kubernetes.io/%s" % role: ""} if role else {}
        objects.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
                        "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                                 {"type": "Hostname", "address": name}],
                                   "conditions": [{"type": "Ready", "status": "True"}]}})
    for node, ready in (("w1", "True"), ("cp1", "False")):
        objects.append({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "kube-vip-ds-%s" % node, "namespace": "kube-system",
                                     "labels": {"app.kubernetes.io/name": "kube-vip-ds"},
                                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                                          "name": "kube-vip-ds", "uid": ds_uid}]},
                        "spec": {"nodeName": node},
                        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}]}})
    objects.append({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "kube-vip-cp1", "namespace": "kube-system",
                                 "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "cp1"}]},
                    "spec": {"nodeName": "cp1"}, "status": {"phase": "Running"}})
    objects.append({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "coredns-1", "namespace": "kube-system",
                                 "labels": {"k8s-app": "kube-dns"}},
                    "spec": {"nodeName": "cp1"}, "status": {"phase": "Running"}})
    return objects


def kube_proxy_daemonset(command=None, args=None, extra_container=False):
    """kube-system/kube-proxy as kubeadm creates it (command form unless told otherwise)."""
    container = {"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.20.15"}
    if command is not None:
        container["command"] = list(command)
    if args is not None:
        container["args"] = list(args)
    containers = ([{"name": "sidecar", "image": "registry.example.org/sidecar:1"}] if extra_container else []) + [container]
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                     "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                                  "spec": {"containers": containers}}},
            "status": {"numberReady": 3}}


KUBEADM_PROXY_COMMAND = ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                         "--hostname-override=$(NODE_NAME)"]

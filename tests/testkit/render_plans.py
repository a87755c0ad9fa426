"""Hand-built plans in the shape of docs/plan.md, for tests that must not depend on lb_plan."""
import copy

_PATHS = {
    "kubeadm": {"static_pod_dir": "/etc/kubernetes/manifests", "auto_deploy_dir": None,
                "kubeconfig": "/etc/kubernetes/admin.conf", "super_admin_kubeconfig": "/etc/kubernetes/super-admin.conf"},
    "k3s": {"static_pod_dir": "/var/lib/rancher/k3s/agent/pod-manifests", "auto_deploy_dir": "/var/lib/rancher/k3s/server/manifests",
            "kubeconfig": "/etc/rancher/k3s/k3s.yaml", "super_admin_kubeconfig": None},
    "rke2": {"static_pod_dir": "/var/lib/rancher/rke2/agent/pod-manifests", "auto_deploy_dir": "/var/lib/rancher/rke2/server/manifests",
             "kubeconfig": "/etc/rancher/rke2/rke2.yaml", "super_admin_kubeconfig": None},
}

PEER_A = {"address": "192.0.2.1", "as": 65001, "port": 179, "multihop": False, "node_selectors": [],
          "has_password": True, "password_secret": {"name": "vip-bgp-peer-192-0-2-1", "key": "password"}}
PEER_B = {"address": "192.0.2.2", "as": 65002, "port": 179, "multihop": True, "node_selectors": [],
          "has_password": False, "password_secret": None}
PEER_RACK = {"address": "203.0.113.1", "as": 65003, "port": 1179, "multihop": False,
             "node_selectors": [{"matchLabels": {"kubernetes.io/hostname": "cp3"}}],
             "has_password": False, "password_secret": None}
PASSWORDS = [[], [{"address": "192.0.2.1", "as": 65001, "password": "s3cret"}]]


def _version_bits(k8s, kube_vip, distro):
    kv = tuple(int(x) for x in kube_vip.split("."))
    kmin = tuple(int(x) for x in k8s.split("."))[:2]
    paths = dict(_PATHS[distro])
    if distro == "kubeadm" and kmin < (1, 29):
        paths["super_admin_kubeconfig"] = None
    return paths, ("vip_subnet" if kv >= (0, 9, 0) else "vip_cidr"), ("enable_endpointslices" if kv < (1, 0, 0) else None), kv


def plan(distro="kubeadm", k8s="1.31.4", kube_vip="1.0.3", cp_mode="arp", deployment="static_pod",
         provider="kube_vip", proxy_mode="ipvs", lb_enabled=False, local_traffic=False, placement="all_nodes",
         advertisement="l2", cleanup_ipvs=False, lb_class=None, metallb_bgp_mode="native"):
    """A plan for 3 control-plane hosts (cp1-cp3) and 2 workers (w1, w2)."""
    paths, subnet_env, eps_env, kv = _version_bits(k8s, kube_vip, distro)
    bgp_used = cp_mode == "bgp" or advertisement == "bgp"
    super_admin_host = "cp1" if paths["super_admin_kubeconfig"] else None
    nodes = {}
    for i, name in enumerate(["cp1", "cp2", "cp3", "w1", "w2"]):
        ip = "192.0.2.%d" % (11 + i)
        peers = [PEER_A, PEER_B] + ([PEER_RACK] if name == "cp3" else []) if bgp_used else []
        nodes[name] = {"node_name": name, "node_ip": ip, "interface": "lo" if cp_mode == "bgp" else ("eth1" if name == "cp2" else "eth0"),
                       "control_plane": name.startswith("cp"), "worker": not name.startswith("cp"),
                       "super_admin": name == super_admin_host, "bgp_router_id": ip, "bgp_peers": copy.deepcopy(peers)}
    pools = [
        {"name": "public", "family": "ipv4", "addresses": ["198.51.100.0/28", "198.51.100.20-198.51.100.30"],
         "cidrs": ["198.51.100.0/28", "198.51.100.20/30", "198.51.100.24/29", "198.51.100.30/32"], "namespace": None,
         "advertisement": advertisement, "interfaces": ["eth0"] if advertisement == "l2" else [],
         "node_selectors": [{"matchLabels": {"node.kubernetes.io/lb": "true"}}], "auto_assign": True},
        {"name": "v6", "family": "ipv6", "addresses": ["2001:db8:100::/120"], "cidrs": ["2001:db8:100::/120"],
         "namespace": "web", "advertisement": advertisement, "interfaces": [], "node_selectors": [], "auto_assign": False},
    ]
    kube_vip_services = None
    metallb = None
    if provider == "kube_vip":
        kube_vip_services = {
            "daemonset_name": "kube-vip-ds", "namespace": "kube-system", "service_account": "kube-vip",
            "cluster_role": "system:kube-vip-role", "cluster_role_binding": "system:kube-vip-binding",
            "lease_name": "plndr-svcs-lock", "svc_election": local_traffic,
            "placement": "all_nodes" if local_traffic else placement,
            "hosts": ["w1", "w2"] if local_traffic or placement == "all_nodes" else ["cp1", "cp2", "cp3"],
            "mode": "arp" if advertisement == "l2" else "bgp",
            "interface": "eth0", "lb_class_only": lb_class is not None, "lb_class_name": lb_class, "prometheus_server": ":2113",
            "cloud_provider": {"enabled": True, "configmap": {
                "cidr-global": "198.51.100.0/28,198.51.100.20/30,198.51.100.24/29,198.51.100.30/32",
                "cidr-web": "2001:db8:100::/120"},
                "load_balancer_class": lb_class,
                "custom_class": lb_class if lb_class not in (None, "kube-vip.io/kube-vip-class") else None}}
    elif provider == "metallb":
        metallb = {"namespace": "metallb-system", "load_balancer_class": lb_class, "bgp_mode": metallb_bgp_mode,
                   "keepalive_time": None if metallb_bgp_mode == "native" else 10, "bgp_peers": []}
        if bgp_used:
            metallb["bgp_peers"] = [
                dict(PEER_A, name="peer-192-0-2-1"), dict(PEER_B, name="peer-192-0-2-2"),
                dict(PEER_RACK, name="peer-203-0-113-1-cp3")]
    exclude = ["192.0.2.10/32"] if lb_enabled and proxy_mode == "ipvs" else []
    return {
        "schema": 1,
        "cluster": {"distro": distro, "kubernetes_version": k8s, "node_cidrs": ["192.0.2.0/24"],
                    "pod_cidrs": ["203.0.113.128/25"], "service_cidrs": ["203.0.113.64/26"], "families": ["ipv4"], "paths": paths,
                    "node_cidr_mask_sizes": {"ipv4": 28} if distro == "kubeadm" else {}},
        "kube_vip": {"version": kube_vip, "image": "ghcr.io/kube-vip/kube-vip:v%s" % kube_vip, "subnet_env": subnet_env,
                     "endpointslices_env": eps_env, "drop_all_capabilities": kv >= (0, 8, 10),
                     "cloud_provider_image": "ghcr.io/kube-vip/kube-vip-cloud-provider:v0.0.12", "prometheus_server": ":2112"},
        "control_plane": {
            "address": "192.0.2.10", "family": "ipv4", "prefix": 32, "cidr": "192.0.2.10/32", "port": 6443, "interface": "eth0",
            "daemonset_interface": ("lo" if cp_mode == "bgp" else "eth0") if deployment == "daemonset" else None,
            "kubernetes_addr": "kubernetes:6443" if kv == (1, 2, 2) and deployment == "static_pod" else None,
            "mode": cp_mode, "deployment": deployment, "cp_enable": True, "svc_enable": False,
            "leader_election": {"profile": "default", "lease_name": "plndr-cp-lock", "lease_namespace": "kube-system",
                                "lease_duration": 15, "renew_deadline": 10, "retry_period": 2},
            "routing_table": {"table": 198, "protocol": 248, "clean": False},
            "load_balancer": {"enabled": lb_enabled, "port": 6443, "forward_method": "local"},
            "privileged": False, "super_admin_host": super_admin_host},
        "services": {"provider": provider, "load_balancer_class": lb_class, "local_traffic": local_traffic,
                     "pools": pools if provider != "none" else [], "owned_cidrs": [], "kube_vip": kube_vip_services, "metallb": metallb,
                     "disable_servicelb": distro == "k3s" and provider in ("kube_vip", "metallb")},
        "bgp": {"local_as": 65000, "router_id": None, "source_address": None, "source_interface": None, "hold_time": 30,
                "keepalive_interval": 10, "peers": [PEER_A, PEER_B]} if bgp_used else None,
        "kube_proxy": {"manage": True, "mode": proxy_mode, "strict_arp": proxy_mode == "ipvs", "exclude_cidrs": exclude,
                       "cleanup_ipvs": cleanup_ipvs, "merge_configmap": distro == "kubeadm" and proxy_mode != "none"},
        "nodes": nodes,
        "owned": {},
        "warnings": [],
        "summary": [],
    }

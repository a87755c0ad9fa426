# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules that hold the plan to what upstream reads, refuses or misreads (issue 17).

Each test names the upstream file and release that states its rule.
"""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan import KUBE_VIP_RELEASES, kube_vip_has

from testkit.planlib import errors, has, hosts4, ok, run

BGP_CP = {"mode": "bgp", "address": "203.0.113.10", "interface": "lo"}
PEER = {"address": "192.0.2.1", "as": 64513}


def bgp_cp(version, **peer):
    return {"vip_kube_vip": {"version": version}, "vip_control_plane": BGP_CP,
            "vip_bgp": {"peers": [dict(PEER, **peer)]}}


# -- the version table -------------------------------------------------------------------------

def test_release_table_ranges():
    """Ranges are [first, until): kube-vip #1678 is in 1.2.0-1.2.2, fixed in 1.2.3 (kube-vip-facts.md)."""
    assert not kube_vip_has((1, 1, 2), "clean_routes_deletes_all")
    assert kube_vip_has((1, 2, 0), "clean_routes_deletes_all") and kube_vip_has((1, 2, 2), "clean_routes_deletes_all")
    assert not kube_vip_has((1, 2, 3), "clean_routes_deletes_all")
    assert kube_vip_has((0, 8, 9), "enable_endpointslices_env") and not kube_vip_has((1, 0, 0), "enable_endpointslices_env")
    assert not kube_vip_has(None, "vip_subnet")
    assert all(len(v) == 2 for v in KUBE_VIP_RELEASES.values())


# -- item 11: lowest supported release ---------------------------------------------------------

@pytest.mark.parametrize("version", ["0.7.2", "0.6.4", "0.4.0"])
def test_kube_vip_older_than_0_8_0_refused(version):
    """kube-vip reads vip_nodename from v0.8.0 (pkg/kubevip/config_environment.go v0.8.0: c.NodeName = env);
    v0.7.2 has no such variable and elects under the hostname."""
    errs = errors({"vip_kube_vip": {"version": version}})
    assert has(errs, "vip_kube_vip.version (%s) is older than 0.8.0" % version, "vip_nodename")


@pytest.mark.parametrize("version", ["0.8.0", "0.8.9", "0.9.1", "0.9.2", "1.0.0", "1.2.1", "1.2.2", "1.2.3"])
def test_supported_kube_vip_releases_accepted(version):
    """Releases from 0.8.0 on read every variable the collection renders (pkg/kubevip/config_envvar.go)."""
    assert ok({"vip_kube_vip": {"version": version}})["kube_vip"]["version"] == version


# -- item 4: '/' in a kube-vip BGP password ----------------------------------------------------

@pytest.mark.parametrize("version,refused", [("0.8.9", False), ("0.8.10", True), ("0.9.2", True), ("1.0.0", True),
                                             ("1.2.1", True), ("1.2.2", False), ("1.2.3", False)])
def test_slash_in_kube_vip_password_refused_where_split(version, refused):
    """kube-vip 0.8.10 splits each bgp_peers entry at '/' for MP-BGP options (pkg/bgp/peers.go v0.8.10:
    strings.Split(peerStr, "/")), and so does 1.2.1 (pkg/kubevip/config_bgp.go v1.2.1); 1.2.2 reads the
    options from the sixth ':' field instead (config_bgp.go v1.2.2), 0.8.9 has no options at all."""
    result = run(bgp_cp(version, password="pass/word"))
    said = result["errors"]
    assert has(said, "vip_bgp.peers[0].password contains ':', ',' or '/'", "(value hidden)") == refused
    assert not any("pass/word" in m for m in said + result["warnings"])
    if not refused:
        assert said == []


def test_slash_in_password_fine_for_metallb():
    """MetalLB reads the password from a Secret (BGPPeer passwordSecret, api/v1beta2 v0.16.1)."""
    plan = ok({"vip_kube_vip": {"version": "1.0.0"}, "vip_services": {"provider": "metallb", "pools": [
        {"name": "a", "addresses": ["198.51.100.0/28"], "advertisement": "bgp"}]},
        "vip_bgp": {"peers": [dict(PEER, password="a/b")]}})
    assert plan["services"]["metallb"]["bgp_peers"][0]["password_secret"]


# -- item 7: peer port before 0.8.10 -----------------------------------------------------------

def test_kube_vip_peer_port_refused_before_0_8_10():
    """kube-vip 0.8.9's ParseBGPPeerConfig reads address:AS:password:multihop and no port
    (pkg/bgp/peers.go v0.8.9); the fifth field, the port, arrives in v0.8.10 (peers.go v0.8.10)."""
    errs = errors(bgp_cp("0.8.9", port=1179))
    assert has(errs, "vip_bgp.peers[0].port is 1179 but kube-vip 0.8.9 has no peer port", "from cp1")
    assert len([e for e in errs if ".port is" in e]) == 1  # once per peer, not per host
    assert ok(bgp_cp("0.8.10", port=1179))
    assert ok(bgp_cp("0.8.9", port=179))


def test_per_host_peer_port_before_0_8_10_named_by_host():
    hosts, groups = hosts4()
    hosts["cp3"]["vip_bgp_peers"] = [{"address": "203.0.113.1", "as": 65003, "port": 1179}]
    errs = errors(bgp_cp("0.8.9"), hosts=hosts, groups=groups)
    assert has(errs, "hostvars[cp3].vip_bgp_peers[0].port is 1179", "from cp3")


# -- item 10: capabilities by release ----------------------------------------------------------

@pytest.mark.parametrize("version,drop", [("0.8.9", False), ("0.8.10", True), ("1.0.0", True)])
def test_drop_all_capabilities_from_0_8_10(version, drop):
    """kube-vip's generator adds drop: [ALL] in v0.8.10 (pkg/kubevip/config_generator.go v0.8.10, commit
    "drop all other capabilities"); v0.8.9's generator only adds NET_ADMIN and NET_RAW."""
    assert ok({"vip_kube_vip": {"version": version}})["kube_vip"]["drop_all_capabilities"] is drop


# -- item 18: kube-vip 1.2.2 elects through its own VIP ----------------------------------------

@pytest.mark.parametrize("version,deployment,addr", [
    ("1.2.2", "static_pod", "kubernetes:6443"), ("1.2.1", "static_pod", None), ("1.2.3", "static_pod", None),
    ("1.2.2", "daemonset", None)])
def test_kubernetes_addr_for_1_2_2_static_pods(version, deployment, addr):
    """kube-vip 1.2.2 builds its client from k8s_config_file (default /etc/kubernetes/admin.conf) before the
    kubernetes:<port> rewrite, so it reaches the API through the VIP it has yet to raise
    (pkg/manager/manager.go v1.2.2, kube-vip #1654); kubernetes_addr overrides the endpoint there.
    1.2.3 skips admin.conf in that branch (manager.go v1.2.3). A DaemonSet uses the in-cluster client."""
    cp = {"deployment": deployment}
    plan = ok({"vip_kube_vip": {"version": version}, "vip_control_plane": cp})
    assert plan["control_plane"]["kubernetes_addr"] == addr


# -- items 1 and 8: the control-plane DaemonSet's interface ------------------------------------

def test_control_plane_daemonset_interface_from_hosts():
    """No cluster-wide interface, the same vip_interface on every control-plane host: the DaemonSet uses it."""
    hosts, groups = hosts4()
    for host in ("cp1", "cp2", "cp3"):
        hosts[host]["vip_interface"] = "eth1"
    plan = ok({"vip_control_plane": {"interface": None, "deployment": "daemonset"}}, hosts=hosts, groups=groups)
    assert plan["control_plane"]["daemonset_interface"] == "eth1"
    assert plan["control_plane"]["interface"] is None


def test_control_plane_daemonset_with_differing_interfaces_warns():
    """kube-vip auto-detects the interface when vip_interface is empty (pkg/kubevip/config_environment.go,
    cmd/kube-vip.go v1.0.0); the services DaemonSet already warned, now the control-plane one does too."""
    hosts, groups = hosts4()
    hosts["cp2"]["vip_interface"] = "eth1"
    result = run({"vip_control_plane": {"deployment": "daemonset"}}, hosts=hosts, groups=groups)
    assert result["plan"]["control_plane"]["daemonset_interface"] == ""
    assert has(result["warnings"], "control-plane DaemonSet", "different interfaces (cp1, cp3: eth0; cp2: eth1)")
    static = run({}, hosts=hosts, groups=groups)
    assert static["plan"]["control_plane"]["daemonset_interface"] is None
    assert not has(static["warnings"], "different interfaces")


# -- item 6: kube-vip-cloud-provider's lookup order --------------------------------------------

def test_cloud_provider_configmap_has_only_cidr_keys():
    """kube-vip-cloud-provider takes the first of cidr-<ns>, cidr-global, range-<ns>, range-global that exists
    (discoverPool, pkg/provider/loadBalancer.go v0.0.12): a namespace range behind a global CIDR, or the range
    part of a mixed pool, would never be used. Both kinds become the same IP set (pkg/ipam/addressbuilder.go
    v0.0.12), so every entry goes in as its exact CIDR cover."""
    plan = ok({"vip_services": {"provider": "kube_vip", "pools": [
        {"name": "g", "addresses": ["192.0.2.64/28"]},
        {"name": "mixed", "addresses": ["192.0.2.80/29", "192.0.2.100-192.0.2.102"]},
        {"name": "team", "namespace": "team-a", "addresses": ["192.0.2.120-192.0.2.123"]}]}})
    configmap = plan["services"]["kube_vip"]["cloud_provider"]["configmap"]
    assert configmap == {"cidr-global": "192.0.2.64/28,192.0.2.80/29,192.0.2.100/31,192.0.2.102/32",
                         "cidr-team-a": "192.0.2.120/30"}
    assert not any(key.startswith("range-") for key in configmap)


# -- item 2: loadBalancerClass for kube-vip-cloud-provider --------------------------------------

@pytest.mark.parametrize("lb_class,custom", [("kube-vip.io/kube-vip-class", None), ("example.org/lb", "example.org/lb"),
                                             (None, None)])
def test_cloud_provider_learns_the_class(lb_class, custom):
    """kube-vip-cloud-provider serves Services of a class only with KUBEVIP_ENABLE_LOADBALANCERCLASS=true, and a
    class other than kube-vip.io/kube-vip-class only by KUBEVIP_CUSTOM_LOADBALANCERCLASS_NAME
    (pkg/provider/provider.go v0.0.12)."""
    services = {"provider": "kube_vip", "pools": [{"name": "a", "addresses": ["192.0.2.64/28"]}]}
    if lb_class:
        services["load_balancer_class"] = lb_class
    cloud = ok({"vip_services": services})["services"]["kube_vip"]["cloud_provider"]
    assert cloud["load_balancer_class"] == lb_class
    assert cloud["custom_class"] == custom


# -- item 3: MetalLB's BGP mode -----------------------------------------------------------------

MLB_BGP4 = {"provider": "metallb", "pools": [{"name": "a", "addresses": ["198.51.100.0/28"], "advertisement": "bgp"}]}
MLB_BGP6 = {"provider": "metallb", "pools": [{"name": "v6", "addresses": ["2001:db8:100::/120"], "advertisement": "bgp"}]}
DUAL = {"vip_cluster": {"node_cidrs": ["192.0.2.0/24", "2001:db8::/64"]}}


@pytest.mark.parametrize("mode,keepalive", [("native", None), ("frr", 10), ("frr-k8s", 10)])
def test_metallb_keepalive_only_outside_native_mode(mode, keepalive):
    """MetalLB's webhook refuses a BGPPeer with keepaliveTime in native mode (DiscardFRROnly,
    internal/config/validation.go v0.16.1 and v0.13.5: "has keepalive-time set on native bgp mode"); native is
    what metallb-native.yaml installs."""
    plan = ok({"vip_services": dict(MLB_BGP4, metallb_bgp_mode=mode), "vip_bgp": {"peers": [PEER]}})
    assert plan["services"]["metallb"]["bgp_mode"] == mode
    assert plan["services"]["metallb"]["keepalive_time"] == keepalive


def test_metallb_native_refuses_ipv6_bgp_pools():
    """Native mode announces IPv4 only: findIPv6BGPAdvertisement (internal/config/validation.go v0.16.1)."""
    errs = errors(dict(DUAL, vip_services=MLB_BGP6, vip_bgp={"peers": [PEER]}))
    assert has(errs, "vip_services.pools v6 (ipv6) advertise IPv6 over BGP but MetalLB's native BGP mode")
    assert ok(dict(DUAL, vip_services=dict(MLB_BGP6, metallb_bgp_mode="frr"), vip_bgp={"peers": [PEER]}))


def test_metallb_native_keepalive_that_cannot_be_rendered_warns():
    """Native mode derives keepaliveTime as holdTime / 3 (parseTimers, internal/config/config.go v0.16.1)."""
    result = run({"vip_services": MLB_BGP4, "vip_bgp": {"peers": [PEER], "hold_time": 90, "keepalive_interval": 10}})
    assert has(result["warnings"], "vip_bgp.keepalive_interval (10) is not rendered for MetalLB's native BGP mode",
               "(90 / 3 = 30)")
    quiet = run({"vip_services": MLB_BGP4, "vip_bgp": {"peers": [PEER], "hold_time": 30, "keepalive_interval": 10}})
    assert not has(quiet["warnings"], "keepalive_interval")


# -- item 12: what MetalLB's webhook denies ----------------------------------------------------

def test_metallb_peer_port_maximum():
    """BGPPeer peerPort: Maximum=16384 (api/v1beta2/bgppeer_types.go v0.16.1)."""
    errs = errors({"vip_services": MLB_BGP4, "vip_bgp": {"peers": [dict(PEER, port=17900)]}})
    assert has(errs, "vip_bgp.peers[0].port is 17900; MetalLB's BGPPeer peerPort allows 1..16384")


def test_metallb_ibgp_multihop_refused():
    """peerFromCR: "invalid ebgp-multihop parameter set for an ibgp peer" (internal/config/config.go v0.16.1)."""
    errs = errors({"vip_services": MLB_BGP4, "vip_bgp": {"local_as": 64513, "peers": [dict(PEER, multihop=True)]}})
    assert has(errs, "vip_bgp.peers[0].multihop is true but AS 64513 is vip_bgp.local_as (iBGP)")


def test_metallb_hold_zero_with_keepalive_refused_in_frr():
    """parseTimers: keepaliveTime above holdTime is refused (internal/config/config.go v0.16.1)."""
    errs = errors({"vip_services": dict(MLB_BGP4, metallb_bgp_mode="frr"),
                   "vip_bgp": {"peers": [PEER], "hold_time": 0, "keepalive_interval": 10}})
    assert has(errs, "vip_bgp.keepalive_interval (10) must be 0 when hold_time is 0")
    assert ok({"vip_services": dict(MLB_BGP4, metallb_bgp_mode="frr"),
               "vip_bgp": {"peers": [PEER], "hold_time": 0, "keepalive_interval": 0}})
    assert ok({"vip_services": MLB_BGP4, "vip_bgp": {"peers": [PEER], "hold_time": 0, "keepalive_interval": 0}})


def _mlb_selectors(selectors):
    return {"vip_services": {"provider": "metallb", "pools": [
        {"name": "a", "addresses": ["192.0.2.64/28"], "node_selectors": selectors}]}}


def test_duplicate_selectors_expressions_and_values_refused():
    """validateLabelSelectorDuplicate / validateLabelSelectorMatchExpressions / validateDuplicate
    (internal/config/config.go v0.16.1): duplicate selectors, match expressions and values are denied."""
    expr = {"key": "zone", "operator": "In", "values": ["a", "b"]}
    errs = errors(_mlb_selectors([
        {"matchLabels": {"rack": "r1"}}, {"matchLabels": {"rack": "r1"}},
        {"matchExpressions": [expr, {"key": "zone", "operator": "In", "values": ["b", "a"]}]},
        {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["c", "c"]}]}]))
    assert has(errs, "vip_services.pools[0].node_selectors[1] repeats vip_services.pools[0].node_selectors[0]")
    assert has(errs, "node_selectors[2].matchExpressions[1] repeats an expression")
    assert has(errs, "node_selectors[3].matchExpressions[0].values ['c', 'c'] repeat a value")


def test_label_syntax_checked():
    """Label keys and values follow k8s.io/apimachinery's qualified-name / label-value rules, which MetalLB's
    LabelSelectorAsSelector applies (internal/config/config.go v0.16.1)."""
    errs = errors(_mlb_selectors([{"matchLabels": {"bad key": "x", "zone": "not ok!"}},
                                  {"matchExpressions": [{"key": "-rack", "operator": "Exists"}]}]))
    assert has(errs, "'bad key' is not a valid label key")
    assert has(errs, "the value 'not ok!' of zone is not a valid label value")
    assert has(errs, "'-rack' is not a valid label key")


def test_yaml_boolean_selector_values_render_lowercase():
    """YAML reads `lb: true` as a boolean; the label value Kubernetes compares is the text "true"."""
    plan = ok(_mlb_selectors({"node.kubernetes.io/lb": True}))
    assert plan["services"]["pools"][0]["node_selectors"] == [{"matchLabels": {"node.kubernetes.io/lb": "true"}}]
    plan = ok(_mlb_selectors([{"matchExpressions": [{"key": "lb", "operator": "In", "values": [True, False]}]}]))
    assert plan["services"]["pools"][0]["node_selectors"][0]["matchExpressions"][0]["values"] == ["true", "false"]


def test_own_hostname_exclusion_never_duplicated():
    """The collection adds kubernetes.io/hostname NotIn [hosts with own peers] to global peers; if the user wrote
    the same expression, a second copy would be a duplicate MetalLB denies (internal/config/config.go v0.16.1)."""
    hosts, groups = hosts4()
    hosts["worker2"]["vip_bgp_peers"] = [{"address": "192.0.2.3", "as": 64514}]
    exclude = {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["worker2"]}
    plan = ok({"vip_services": MLB_BGP4, "vip_bgp": {"peers": [dict(PEER, node_selectors=[{"matchExpressions": [exclude]}])]}},
              hosts=hosts, groups=groups)
    assert plan["services"]["metallb"]["bgp_peers"][0]["node_selectors"] == [{"matchExpressions": [exclude]}]


def test_ipv6_peer_names_are_unique():
    """2001:db8::1 and 2001:db8:1:: used to become the same BGPPeer and Secret name (peer-2001-db8-1);
    MetalLB objects are keyed by name, so the second overwrote the first."""
    plan = ok(dict(DUAL, vip_services=MLB_BGP4, vip_bgp={"peers": [
        {"address": "2001:db8::1", "as": 64513, "password": "x"}, {"address": "2001:db8:1::", "as": 64513, "password": "y"}]}))
    peers = plan["services"]["metallb"]["bgp_peers"]
    names = [p["name"] for p in peers]
    assert len(set(names)) == 2 and len({p["password_secret"]["name"] for p in peers}) == 2
    assert "path" not in peers[0]


def test_ipv4_mapped_pool_entry_refused():
    """MetalLB parses pool addresses with net.ParseCIDR and compares them as IPv4 when To4() succeeds
    (ParseCIDR, internal/config/config.go v0.16.1): ::ffff:a.b.c.d would escape the overlap checks."""
    errs = errors(dict(DUAL, vip_services={"provider": "metallb", "pools": [
        {"name": "m", "addresses": ["::ffff:192.0.2.64/124"]}]}))
    assert has(errs, "vip_services.pools[0].addresses[0] (::ffff:192.0.2.64/124) is in ::ffff:0:0/96",
               "(192.0.2.64-192.0.2.79)")


# -- item 14: dual-stack MetalLB pools, dotted names -------------------------------------------

def test_metallb_dual_stack_pool_and_dotted_name():
    """MetalLB serves RequireDualStack/PreferDualStack Services from one pool holding both families
    (controller allocation, IPAddressPool spec.addresses v0.16.1); pool names are object names (DNS-1123
    subdomains)."""
    plan = ok(dict(DUAL, vip_services={"provider": "metallb", "pools": [
        {"name": "public.v4v6", "addresses": ["192.0.2.64/28", "2001:db8::100/124"]}]}))
    pool = plan["services"]["pools"][0]
    assert pool["family"] == "dual" and pool["name"] == "public.v4v6"
    errs = errors(dict(DUAL, vip_services={"provider": "kube_vip", "pools": [
        {"name": "public.v4v6", "addresses": ["192.0.2.64/28", "2001:db8::100/124"]}]}))
    assert has(errs, "vip_services.pools[0] (public.v4v6) mixes IPv4 and IPv6")
    assert has(errs, "vip_services.pools[0].name (public.v4v6) must be a DNS-1123 label")


def test_dual_pool_families_must_be_cluster_families():
    errs = errors({"vip_services": {"provider": "metallb", "pools": [
        {"name": "d", "addresses": ["192.0.2.64/28", "2001:db8::100/124"]}]}})
    assert has(errs, "vip_services.pools[0] (d) is ipv6 but vip_cluster.node_cidrs has only ipv4")


# -- item 15: settings MetalLB does not take from us ------------------------------------------

def test_metallb_ignored_settings_warn():
    """BGPPeer has sourceAddress but no source interface (api/v1beta2/bgppeer_types.go v0.16.1); MetalLB's class
    is its controller's and speaker's --lb-class argument (controller/main.go, speaker/main.go v0.16.1)."""
    result = run({"vip_services": dict(MLB_BGP4, load_balancer_class="example.org/metallb"),
                  "vip_bgp": {"peers": [PEER], "source_interface": "eth0"}})
    assert result["errors"] == []
    assert has(result["warnings"], "vip_bgp.source_interface (eth0) is not rendered for MetalLB")
    assert has(result["warnings"], "vip_services.load_balancer_class (example.org/metallb) is not rendered for MetalLB",
               "--lb-class")


# -- item 16: kubeadm's exclude-from-external-load-balancers label -----------------------------

def test_pools_only_control_plane_nodes_announce_warn_on_kubeadm():
    """kubeadm's mark-control-plane phase labels node.kubernetes.io/exclude-from-external-load-balancers
    (cmd/kubeadm/app/constants/constants.go, phases/markcontrolplane v1.31.0); MetalLB's speakers skip such
    nodes from v0.14.0 (speaker/layer2_controller.go, bgp_controller.go), --ignore-exclude-lb exists from v0.14.4
    (speaker/main.go), metallb #2274."""
    cp_only = {"provider": "metallb", "pools": [
        {"name": "cp", "addresses": ["192.0.2.64/28"], "node_selectors": {"node-role.kubernetes.io/control-plane": ""}},
        {"name": "all", "addresses": ["192.0.2.80/28"]}]}
    result = run({"vip_services": cp_only})
    assert has(result["warnings"], "MetalLB pools cp can be announced only from control-plane nodes (cp1, cp2, cp3)",
               "node.kubernetes.io/exclude-from-external-load-balancers", "--ignore-exclude-lb")
    hosts, groups = hosts4(workers=0)
    no_workers = run({"vip_services": cp_only}, hosts=hosts, groups=groups)
    assert has(no_workers["warnings"], "MetalLB pools cp, all can be announced only")
    k3s = run({"vip_services": cp_only, "vip_cluster": {"distro": "k3s"}})
    assert not has(k3s["warnings"], "exclude-from-external-load-balancers")


# -- item 9: kube-vip Services with a BGP control plane -----------------------------------------

def test_kube_vip_pools_default_to_bgp_with_a_bgp_control_plane():
    """kube-vip runs ARP on vip_servicesinterface; lo never answers ARP, so pools that say nothing follow the
    BGP control plane (one services DaemonSet, one mode: pkg/manager v1.0.0)."""
    plan = ok({"vip_control_plane": BGP_CP, "vip_bgp": {"peers": [PEER]},
               "vip_services": {"provider": "kube_vip", "pools": [{"name": "a", "addresses": ["198.51.100.0/28"]}]}},
              hosts=_all_lo())
    assert plan["services"]["pools"][0]["advertisement"] == "bgp"
    assert plan["services"]["kube_vip"]["mode"] == "bgp"
    mlb = ok({"vip_services": {"provider": "metallb", "pools": [{"name": "a", "addresses": ["192.0.2.64/28"]}]}})
    assert mlb["services"]["pools"][0]["advertisement"] == "l2"


def _all_lo():
    hosts, _groups = hosts4()
    for hv in hosts.values():
        hv["vip_interface"] = "lo"
    return hosts


def test_kube_vip_l2_on_lo_refused():
    errs = errors({"vip_control_plane": BGP_CP, "vip_bgp": {"peers": [PEER]}, "vip_services": {
        "provider": "kube_vip", "pools": [{"name": "a", "addresses": ["192.0.2.64/28"], "advertisement": "l2"}]}},
        hosts=_all_lo())
    assert has(errs, "vip_services.pools use advertisement l2 but the kube-vip services DaemonSet would answer ARP on lo")


# -- item 13: nftables before 1.31 --------------------------------------------------------------

@pytest.mark.parametrize("version,refused", [("1.29.0", True), ("1.30.6", True), ("1.31.0", False)])
def test_nftables_needs_the_gate_before_1_31(version, refused):
    """NFTablesProxyMode: alpha in 1.29, beta (on by default) in 1.31 (pkg/features/kube_features.go v1.31.0);
    kube-proxy's validation refuses mode nftables with the gate off (pkg/proxy/apis/config/validation v1.31.0)."""
    result = run({"vip_kube_proxy": {"mode": "nftables"}, "vip_cluster": {"kubernetes_version": version}})
    assert has(result["errors"], "NFTablesProxyMode feature gate") == refused


# -- item 19: kubeadm's pod subnet / node mask rule ---------------------------------------------

@pytest.mark.parametrize("pod_cidrs,cps,workers,expected", [
    (["203.0.113.128/25"], 3, 2, {"ipv4": 28}),      # 5 nodes: 3 bits more than the /25
    (["203.0.113.128/25"], 1, 0, {"ipv4": 25}),      # one node: the whole /25
    (["203.0.113.0/24"], 3, 2, {"ipv4": 27}),        # kubeadm's /24 default gives one node CIDR for 5 nodes
    (["203.0.113.0/24"], 1, 0, {}),                  # ... which is enough for one
    (["203.0.113.128/25"], 1, 1, {"ipv4": 26}),      # two nodes: halves
    (["203.0.113.252/30"], 2, 2, {"ipv4": 32}),      # 4 nodes, 4 addresses: one each
])
def test_node_cidr_mask_sizes_ipv4(pod_cidrs, cps, workers, expected):
    """kubeadm refuses a pod subnet narrower than the node mask (default 24 for IPv4) and a node mask more than 16 bits
    longer than the pod subnet's (kubernetes v1.31.0, cmd/kubeadm/app/apis/kubeadm/validation/validation.go
    ValidatePodSubnetNodeMask, getClusterNodeMask; cmd/kubeadm/app/constants/constants.go PodSubnetNodeMaskMaxDiff = 16).
    The plan sets node-cidr-mask-size-ipv4 where the default does not give every node of the plan a node CIDR."""
    hosts, groups = hosts4(cps, workers)
    plan = ok({"vip_cluster": {"pod_cidrs": pod_cidrs, "service_cidrs": ["198.51.100.0/24"]}}, hosts=hosts, groups=groups)
    assert plan["cluster"]["node_cidr_mask_sizes"] == expected


def test_node_cidr_mask_sizes_ipv6():
    """IPv6: the default node mask is 64 (validation.go getClusterNodeMask v1.31.0): a /56 needs nothing, a /120 gets
    prefix + ceil(log2(nodes)), a /40 (24 bits from /64, more than PodSubnetNodeMaskMaxDiff) gets /56."""
    for pod, expected in (("2001:db8:42::/56", {}), ("2001:db8:42::/120", {"ipv6": 123}),
                          ("2001:db8:100::/40", {"ipv6": 56})):
        plan = ok({"vip_cluster": {"pod_cidrs": [pod]}}, ipv6=True)
        assert plan["cluster"]["node_cidr_mask_sizes"] == expected, pod


def test_node_cidr_mask_sizes_dual_stack_per_family():
    """kube-controller-manager takes one mask per family in a dual-stack cluster (kubernetes v1.31.0,
    cmd/kube-controller-manager/app/core.go setNodeCIDRMaskSizes): only the narrow family gets one."""
    plan = ok({"vip_cluster": {"pod_cidrs": ["2001:db8:42::/56", "203.0.113.128/25"]}})
    assert plan["cluster"]["node_cidr_mask_sizes"] == {"ipv4": 28}


def test_pod_cidr_too_small_for_the_nodes_refused():
    """Every node needs a node CIDR of its own: a /30 gives at most 4 (/32 each) for 5 nodes, refused naming the
    variable, the value and the size that would do; every pod CIDR is judged (both errors at once)."""
    result = run({"vip_cluster": {"pod_cidrs": ["203.0.113.252/30", "2001:db8:42::fffc/126"]}})
    assert result["plan"] is None
    assert has(result["errors"], "vip_cluster.pod_cidrs[0] (203.0.113.252/30) is too small for the plan's 5 nodes",
               "at most 4 (/32 each)", "use a /29 or wider")
    assert has(result["errors"], "vip_cluster.pod_cidrs[1] (2001:db8:42::fffc/126)", "use a /125 or wider")


@pytest.mark.parametrize("distro", ["k3s", "rke2"])
def test_node_cidr_mask_sizes_kubeadm_only(distro):
    """The rule and the setting are kubeadm's (validation.go v1.31.0); k3s and RKE2 run their own controller-manager
    settings, which the collection does not write: nothing set, nothing refused."""
    plan = ok({"vip_cluster": {"distro": distro, "pod_cidrs": ["203.0.113.252/30"]}})
    assert plan["cluster"]["node_cidr_mask_sizes"] == {}


# -- item 17: k3s's ServiceLB beside kube-vip or MetalLB ---------------------------------------

@pytest.mark.parametrize("distro,provider,disabled", [
    ("k3s", "kube_vip", True), ("k3s", "metallb", True), ("k3s", "none", False),
    ("rke2", "kube_vip", False), ("rke2", "metallb", False), ("kubeadm", "metallb", False),
])
def test_disable_servicelb(distro, provider, disabled):
    """k3s runs ServiceLB (Klipper) unless its servers have disable: [servicelb] (k3s-io/k3s pkg/cloudprovider/
    servicelb.go answers every LoadBalancer Service; k3s-io/k3s #2323: it fights MetalLB and kube-vip). RKE2 runs it
    only with enable-servicelb (rancher/rke2 pkg/rke2/rke2.go disables every k3s DisableItems entry unless
    enable-<item>), kubeadm has none: the plan turns it off on k3s with a services provider only."""
    services = {"provider": provider}
    if provider != "none":
        services["pools"] = [{"name": "public", "addresses": ["198.51.100.0/28"]}]
    plan = ok({"vip_cluster": {"distro": distro}, "vip_services": services})
    assert plan["services"]["disable_servicelb"] is disabled

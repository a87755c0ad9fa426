# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules that hold the plan to what upstream reads, refuses or misreads (issue 17).

Each test names the upstream file and release that states its rule.
"""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan import KUBE_VIP_RELEASES, kube_vip_has

from .planlib import errors, has, hosts4, ok, run

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

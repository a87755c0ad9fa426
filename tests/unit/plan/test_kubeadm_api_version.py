# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cluster.kubeadm_api_version: the kubeadm configuration API of the cluster's Kubernetes release."""

from __future__ import annotations

import pytest

from testkit.planlib import ok


@pytest.mark.parametrize("version,expected", [
    ("1.20.15", "kubeadm.k8s.io/v1beta2"),
    ("1.21.14", "kubeadm.k8s.io/v1beta2"),
    ("1.22.0", "kubeadm.k8s.io/v1beta3"),
    ("1.29.4", "kubeadm.k8s.io/v1beta3"),
    ("1.30.9", "kubeadm.k8s.io/v1beta3"),
    ("1.31.0", "kubeadm.k8s.io/v1beta4"),
    ("v1.33.1", "kubeadm.k8s.io/v1beta4"),
])
def test_kubeadm_api_version_by_release(version, expected):
    plan = ok({"vip_cluster": {"kubernetes_version": version}})
    assert plan["cluster"]["kubeadm_api_version"] == expected


@pytest.mark.parametrize("distro,version", [("k3s", "v1.31.4+k3s1"), ("rke2", "v1.30.6+rke2r1")])
def test_no_kubeadm_api_version_without_kubeadm(distro, version):
    plan = ok({"vip_cluster": {"distro": distro, "kubernetes_version": version}})
    assert plan["cluster"]["kubeadm_api_version"] is None

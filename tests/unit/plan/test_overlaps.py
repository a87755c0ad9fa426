# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The overlap sweep against a brute-force pairwise reference, and its cost at scale."""

from __future__ import annotations


from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.baremetal.vip.plugins.plugin_utils.plan import build_plan, find_overlaps, merge_cidrs

from testkit.planlib import hosts4

INTERVAL = st.tuples(st.sampled_from([4, 6]), st.integers(0, 200), st.integers(0, 40)).map(
    lambda t: (t[0], t[1], t[1] + t[2], "x"))


def brute_force(intervals):
    """Indices of every interval that overlaps another, by comparing all pairs."""
    involved = set()
    for i, a in enumerate(intervals):
        for j, b in enumerate(intervals):
            if i < j and a[0] == b[0] and a[1] <= b[2] and b[1] <= a[2]:
                involved.update((i, j))
    return involved


@settings(max_examples=400, deadline=None)
@given(st.lists(INTERVAL, max_size=40))
def test_sweep_finds_exactly_the_overlapping_intervals(intervals):
    pairs = find_overlaps(intervals)
    for i, j in pairs:
        a, b = intervals[i], intervals[j]
        assert i != j and a[0] == b[0] and a[1] <= b[2] and b[1] <= a[2], (a, b)
    assert {i for pair in pairs for i in pair} == brute_force(intervals)
    assert len(pairs) <= len(intervals)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 8)), min_size=1, max_size=30))
def test_pool_overlap_errors_match_brute_force(blocks):
    """End to end: pools made of 198.51.100.x ranges; an error names every overlapping pool."""
    pools, intervals = [], []
    for i, (start, length) in enumerate(blocks):
        last = min(255, start + length)
        pools.append({"name": "p%d" % i, "addresses": ["198.51.100.%d-198.51.100.%d" % (start, last)],
                      "advertisement": "bgp"})
        intervals.append((4, start, last, "p%d" % i))
    cluster = {"vip_cluster": {"distro": "kubeadm", "kubernetes_version": "1.31", "node_cidrs": ["192.0.2.0/24"]},
               "vip_kube_vip": {"version": "1.0.3"},
               "vip_services": {"provider": "metallb", "metallb_bgp_mode": "frr", "pools": pools},
               "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513}]}}
    result = build_plan(cluster, *hosts4())
    named = set()
    for err in result["errors"]:
        assert " overlaps " in err
        for part in err.split(" overlaps "):
            named.add(int(part.split("pools[")[1].split("]")[0]))
    assert named == brute_force(intervals)
    assert (result["plan"] is None) == bool(named)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 50)), max_size=30))
def test_merge_cidrs_matches_netaddr(spans):
    import netaddr  # pylint: disable=import-outside-toplevel
    entries, everything = [], []
    for start, length in spans:
        cidrs = [str(c) for c in netaddr.iprange_to_cidrs(netaddr.IPAddress(start), netaddr.IPAddress(start + length))]
        entries.append((4, start, start + length, cidrs))
        everything.extend(cidrs)
    assert merge_cidrs(entries) == [str(c) for c in netaddr.cidr_merge(everything)]


def test_sweep_finds_the_one_overlap_among_100000_intervals():
    """Correctness at size; the sweep's time at 100,000 pools is measured by `make bench` (tests/bench/plan_bench.py)."""
    intervals = [(4, i * 10, i * 10 + 9, "p") for i in range(100000)]
    intervals.append((4, 55, 56, "dup"))
    assert find_overlaps(intervals) == [(100000, 5)]


def _many_pools(count):
    pools = [{"name": "p%d" % i, "addresses": ["2001:db8:100:%x::/120" % i], "advertisement": "bgp"} for i in range(count)]
    return {"vip_cluster": {"distro": "kubeadm", "kubernetes_version": "1.31", "node_cidrs": ["192.0.2.0/24", "2001:db8::/64"]},
            "vip_kube_vip": {"version": "1.0.3"},
            "vip_services": {"provider": "metallb", "metallb_bgp_mode": "frr", "pools": pools},
            "vip_bgp": {"peers": [{"address": "192.0.2.1", "as": 64513}]}}


def test_10000_pools_planned_without_errors():
    """10,000 disjoint pools plan cleanly (the time it takes is measured by `make bench`, tests/bench/plan_bench.py)."""
    result = build_plan(_many_pools(10000), *hosts4())
    assert result["errors"] == []
    assert len(result["plan"]["services"]["pools"]) == 10000

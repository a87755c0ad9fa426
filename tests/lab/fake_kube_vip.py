# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fake_kube_vip: stands in for kube-vip in the lab; it is NOT kube-vip.

A test tool that puts on the lab's nodes (tests/lab/lab.py) exactly the host state kube-vip
would leave there, with iproute2 and ipvsadm, and injects the leftovers of the five failures
that playbooks/verify.yml must find and playbooks/remediate.yml must fix:

  ipvs-deleted       kube-proxy (IPVS mode) deleted kube-vip's IPVS service on the CP VIP
  service-vip-on-cp  a Service VIP (from a pool) is bound on a control-plane node
  stale-routes       routes in table 198 / protocol 248 for Services that no longer exist
                     (plus two foreign routes, other table / other protocol, that must survive)
  cp-vip-zero        the control-plane VIP is on no node
  cp-vip-two         the control-plane VIP is on two nodes
  pinned-daemonset   the services DaemonSet in DIR/cluster/kube-vip-services.yaml (the layout of
                     playbooks/render.yml) pinned to control-plane nodes only

    fake_kube_vip.py --state-dir DIR apply            # the healthy state
    fake_kube_vip.py --state-dir DIR inject all       # or one or more failure names
    fake_kube_vip.py --state-dir DIR show             # JSON, read with iproute2 from outside

Every change is recorded in DIR/injected.json. The cluster's Services (what a real cluster's
API would list) are written to DIR/cluster/services.json. IPVS exists only where the kernel
has it (not on the development machines' kernel): without it the IPVS parts are recorded as
skipped, never faked.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import Lab, LabError, run  # noqa: E402  pylint: disable=wrong-import-position

FAILURES = ("ipvs-deleted", "service-vip-on-cp", "stale-routes", "cp-vip-zero", "cp-vip-two", "pinned-daemonset")
# `all` injects every failure that can coexist: cp-vip-two (not cp-vip-zero) for failure 4
ALL_FAILURES = ("ipvs-deleted", "service-vip-on-cp", "stale-routes", "cp-vip-two", "pinned-daemonset")
KUBE_VIP_TABLE = 198
KUBE_VIP_PROTOCOL = 248
SERVICES_MANIFEST = "kube-vip-services.yaml"  # the name playbooks/render.yml gives it under cluster/
CONTROL_PLANE_SELECTOR = {"node-role.kubernetes.io/control-plane": ""}
FOREIGN_ROUTES = (
    # same table, another protocol (static = 4): not kube-vip's
    {"dst": "198.51.100.13/32", "table": KUBE_VIP_TABLE, "protocol": 4},
    # kube-vip's protocol, another table: not kube-vip's
    {"dst": "203.0.113.7/32", "table": 200, "protocol": KUBE_VIP_PROTOCOL},
)


class FakeKubeVip:
    """Reads the lab's inventory for the VIP settings and changes the nodes with iproute2."""

    def __init__(self, state_dir):
        self.lab = Lab(state_dir)
        if not self.lab.state:
            raise LabError("no lab in %s (run lab.py up first)" % state_dir)
        with open(self.lab.inventory_path) as handle:
            inventory = yaml.safe_load(handle)
        self.vars = inventory["all"]["vars"]
        self.cp = self.vars.get("vip_control_plane") or {}
        self.services = self.vars.get("vip_services") or {}
        self.record_path = os.path.join(self.lab.state_dir, "injected.json")
        self.cluster_dir = os.path.join(self.lab.state_dir, "cluster")

    # ---------------------------------------------------------------- helpers
    @property
    def control_plane(self):
        return [n for n in self.lab.nodes if n["control_plane"]]

    @property
    def workers(self):
        return [n for n in self.lab.nodes if not n["control_plane"]] or self.lab.nodes

    def _record(self, entry):
        records = []
        if os.path.exists(self.record_path):
            with open(self.record_path) as handle:
                records = json.load(handle)
        records.append(entry)
        with open(self.record_path, "w") as handle:
            json.dump(records, handle, indent=2)
        print("fake_kube_vip: %s" % json.dumps(entry, sort_keys=True))

    def cp_vip(self):
        address = ipaddress.ip_address(self.cp["address"])
        return "%s/%d" % (address, 32 if address.version == 4 else 128)

    def vip_interface(self, node):
        if self.cp.get("mode") == "bgp":
            return "lo"
        return self.cp.get("interface") or node["interface"]

    def cp_route_table(self):
        routing = self.cp.get("routing_table") or {}
        return routing.get("table", KUBE_VIP_TABLE), routing.get("protocol", KUBE_VIP_PROTOCOL)

    def put_cp_vip(self, node, key, value):
        """The CP VIP as kube-vip holds it: a route (routing-table mode) or a /32 (/128) address."""
        if self.cp.get("mode") == "routing_table":
            table, protocol = self.cp_route_table()
            self.route(node, self.cp_vip(), node["interface"], table, protocol)
            self._record({key: value, "node": node["name"], "route": self.cp_vip(), "table": table, "protocol": protocol})
        else:
            dev = self.vip_interface(node)
            self.addr(node, self.cp_vip(), dev)
            self._record({key: value, "node": node["name"], "address": self.cp_vip(), "interface": dev})

    def service_interface(self, node):
        """Where kube-vip binds a Service VIP: lo when the pools are announced by BGP."""
        pools = self.services.get("pools") or []
        if pools and all(p.get("advertisement") == "bgp" for p in pools):
            return "lo"
        return node["interface"]

    def pool_addresses(self, count):
        """The first `count` addresses a cloud provider would hand out from the pools."""
        found = []
        for pool in self.services.get("pools") or []:
            for item in pool.get("addresses") or []:
                if "-" in item:
                    first, last = (ipaddress.ip_address(x.strip()) for x in item.split("-"))
                else:
                    net = ipaddress.ip_network(item, strict=False)
                    first, last = net[1] if net.num_addresses > 2 else net[0], net[-1]
                address = first
                while address <= last and len(found) < count:
                    found.append(address)
                    address += 1
        if len(found) < count:
            raise LabError("the pools hold fewer than %d addresses" % count)
        return ["%s/%d" % (a, 32 if a.version == 4 else 128) for a in found]

    @staticmethod
    def addr(node, cidr, dev, remove=False):
        verb = "del" if remove else "replace"
        run(["ip", "-n", node["netns"], "addr", verb, cidr, "dev", dev])

    @staticmethod
    def route(node, cidr, dev, table=KUBE_VIP_TABLE, protocol=KUBE_VIP_PROTOCOL):
        run(["ip", "-n", node["netns"], "route", "replace", cidr, "dev", dev,
             "table", str(table), "proto", str(protocol)])

    @staticmethod
    def has_ipvs(node):
        proc = subprocess.run(["ip", "netns", "exec", node["netns"], "ipvsadm", "-Ln"],
                              capture_output=True, text=True, check=False)
        return proc.returncode == 0

    def _ipvs_service(self):
        lb = self.cp.get("load_balancer") or {}
        return str(ipaddress.ip_address(self.cp["address"])), int(lb.get("port", 6443))

    # ------------------------------------------------------------------ apply
    def apply(self, leader=None):
        """The healthy state: CP VIP on the leader, IPVS lb service, one Service VIP on a worker."""
        leader = self.lab.node(leader) if leader else self.control_plane[0]
        if self.cp:
            self.put_cp_vip(leader, "action", "cp-vip")
            if (self.cp.get("load_balancer") or {}).get("enabled"):
                self._apply_ipvs(leader)
        services = []
        if self.services.get("provider", "none") != "none" and self.services.get("pools"):
            holder = self.workers[0]
            address = self.pool_addresses(1)[0]
            if self.services.get("provider") == "kube_vip":
                dev = self.service_interface(holder)
                self.addr(holder, address, dev)
                self._record({"action": "service-vip", "node": holder["name"], "address": address, "interface": dev})
            services.append({"namespace": "default", "name": "web", "address": address.split("/")[0],
                             "node": holder["name"]})
        os.makedirs(self.cluster_dir, exist_ok=True)
        with open(os.path.join(self.cluster_dir, "services.json"), "w") as handle:
            json.dump(services, handle, indent=2)

    def _apply_ipvs(self, leader):
        address, port = self._ipvs_service()
        if not self.has_ipvs(leader):
            self._record({"action": "ipvs-service", "node": leader["name"], "skipped": "no IPVS in this kernel"})
            return
        ns = ["ip", "netns", "exec", leader["netns"], "ipvsadm"]
        run(ns + ["-A", "-t", "%s:%d" % (address, port), "-s", "rr"])
        for node in self.control_plane:
            run(ns + ["-a", "-t", "%s:%d" % (address, port), "-r", "%s:6443" % node["ipv4"], "-m"])
        self._record({"action": "ipvs-service", "node": leader["name"], "service": "%s:%d" % (address, port)})

    # ----------------------------------------------------------------- inject
    def inject(self, failure, node_name=None):
        getattr(self, "_inject_" + failure.replace("-", "_"))(node_name)

    def _cp_node(self, node_name, index):
        if node_name:
            return self.lab.node(node_name)
        cps = self.control_plane
        return cps[min(index, len(cps) - 1)]

    def _inject_ipvs_deleted(self, node_name):
        node = self._cp_node(node_name, 0)
        address, port = self._ipvs_service()
        if not (self.cp.get("load_balancer") or {}).get("enabled"):
            self._record({"failure": "ipvs-deleted", "node": node["name"], "skipped": "load_balancer not enabled"})
            return
        if not self.has_ipvs(node):
            self._record({"failure": "ipvs-deleted", "node": node["name"], "skipped": "no IPVS in this kernel"})
            return
        run(["ip", "netns", "exec", node["netns"], "ipvsadm", "-D", "-t", "%s:%d" % (address, port)], check=False)
        self._record({"failure": "ipvs-deleted", "node": node["name"], "service": "%s:%d" % (address, port)})

    def _inject_service_vip_on_cp(self, node_name):
        node = self._cp_node(node_name, 1)
        address = self.pool_addresses(2)[1]
        dev = self.service_interface(node)
        self.addr(node, address, dev)
        self._record({"failure": "service-vip-on-cp", "node": node["name"], "address": address, "interface": dev})

    def _inject_stale_routes(self, node_name):
        node = self._cp_node(node_name, 0)
        stale = self.pool_addresses(4)[2:4]
        for cidr in stale:
            self.route(node, cidr, node["interface"])
        for foreign in FOREIGN_ROUTES:
            self.route(node, foreign["dst"], node["interface"], foreign["table"], foreign["protocol"])
        self._record({"failure": "stale-routes", "node": node["name"], "stale": stale,
                      "table": KUBE_VIP_TABLE, "protocol": KUBE_VIP_PROTOCOL, "must_survive": list(FOREIGN_ROUTES)})

    def _inject_cp_vip_zero(self, node_name):
        removed = []
        table, protocol = self.cp_route_table()
        for node in self.lab.nodes:
            ns = ["ip", "-n", node["netns"]]
            for dev in sorted({self.vip_interface(node), node["interface"], "lo"}):
                if run(ns + ["addr", "del", self.cp_vip(), "dev", dev], check=False).returncode == 0:
                    removed.append(node["name"])
            if run(ns + ["route", "del", self.cp_vip(), "table", str(table), "proto", str(protocol)],
                   check=False).returncode == 0:
                removed.append(node["name"])
        self._record({"failure": "cp-vip-zero", "removed_from": removed})

    def _inject_cp_vip_two(self, node_name):
        holders = [self._cp_node(None, 0), self._cp_node(node_name, 1)]
        for node in holders:
            self.put_cp_vip(node, "failure", "cp-vip-two")

    def _inject_pinned_daemonset(self, node_name):
        """Pin the services DaemonSet of STATE/cluster/kube-vip-services.yaml (render layout) to
        control-plane nodes; without a rendered file, write a pinned DaemonSet there."""
        os.makedirs(self.cluster_dir, exist_ok=True)
        path = os.path.join(self.cluster_dir, SERVICES_MANIFEST)
        docs = []
        if os.path.exists(path):
            with open(path) as handle:
                docs = [d for d in yaml.safe_load_all(handle) if d]
        daemonsets = [d for d in docs if d.get("kind") == "DaemonSet"]
        if daemonsets:
            for ds in daemonsets:
                pod = ds["spec"]["template"]["spec"]
                pod["nodeSelector"] = dict(pod.get("nodeSelector") or {}, **CONTROL_PLANE_SELECTOR)
        else:
            docs.append(pinned_daemonset(self.vars))
        with open(path, "w") as handle:
            yaml.safe_dump_all(docs, handle, sort_keys=False, explicit_start=True)
        self._record({"failure": "pinned-daemonset", "path": path, "rendered_file": bool(daemonsets),
                      "node_selector": CONTROL_PLANE_SELECTOR})

    # ------------------------------------------------------------------- show
    def show(self):
        """What a witness outside the nodes sees: addresses, table-198 routes, IPVS per node."""
        report = {}
        for node in self.lab.nodes:
            ns = node["netns"]
            addrs = json.loads(run(["ip", "-n", ns, "-j", "addr", "show"]).stdout or "[]")
            routes = json.loads(run(["ip", "-n", ns, "-j", "route", "show", "table", "all"]).stdout or "[]")
            report[node["name"]] = {
                "addresses": sorted("%s %s/%s" % (link["ifname"], a["local"], a["prefixlen"])
                                    for link in addrs for a in link.get("addr_info", [])
                                    if a.get("scope") != "link" and a["local"] not in ("127.0.0.1", "::1")),
                "routes": [{"dst": r.get("dst"), "dev": r.get("dev"), "table": r.get("table"),
                            "protocol": r.get("protocol")} for r in routes
                           if r.get("table") not in ("local", "main", None) or r.get("protocol") not in ("kernel", None)],
                "ipvs": None,
            }
            if self.has_ipvs(node):
                out = run(["ip", "netns", "exec", ns, "ipvsadm", "-Ln"]).stdout
                report[node["name"]]["ipvs"] = [line.split()[1] for line in out.splitlines() if line.startswith(("TCP", "UDP"))]
        return report


def pinned_daemonset(cluster_vars):
    """A kube-vip services DaemonSet as a broken rendering would have it: control-plane only."""
    version = str((cluster_vars.get("vip_kube_vip") or {}).get("version", "1.0.3")).lstrip("v")
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kube-vip-ds", "namespace": "kube-system",
                     "annotations": {"baremetal.vip/fake": "written by tests/lab/fake_kube_vip.py"}},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "kube-vip-ds"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "kube-vip-ds"}},
                "spec": {
                    "serviceAccountName": "kube-vip",
                    "hostNetwork": True,
                    "nodeSelector": dict(CONTROL_PLANE_SELECTOR),
                    "tolerations": [{"effect": "NoSchedule", "operator": "Exists"},
                                    {"effect": "NoExecute", "operator": "Exists"}],
                    "containers": [{
                        "name": "kube-vip",
                        "image": "ghcr.io/kube-vip/kube-vip:v%s" % version,
                        "args": ["manager"],
                        "env": [{"name": "svc_enable", "value": "true"},
                                {"name": "svc_election", "value": "true"},
                                {"name": "vip_arp", "value": "true"}],
                        "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}},
                    }],
                },
            },
        },
    }
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Stands in for kube-vip in the lab; it is not kube-vip. Root only.")
    parser.add_argument("--state-dir", required=True, help="the lab's state directory (lab.py up --state-dir)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_apply = sub.add_parser("apply", help="put the healthy kube-vip host state on the nodes")
    p_apply.add_argument("--leader", help="control-plane node holding the VIP (default: the first)")
    p_inject = sub.add_parser("inject", help="inject failures: %s, or all" % ", ".join(FAILURES))
    p_inject.add_argument("failures", nargs="+", choices=FAILURES + ("all",))
    p_inject.add_argument("--node", help="node to inject on (default: per failure, a control-plane node)")
    sub.add_parser("show", help="print every node's VIP-related state as JSON")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("fake_kube_vip.py: needs root (it changes the lab's namespaces)", file=sys.stderr)
        return 2
    try:
        fake = FakeKubeVip(args.state_dir)
        if args.command == "apply":
            fake.apply(args.leader)
        elif args.command == "inject":
            names = ALL_FAILURES if "all" in args.failures else args.failures
            for failure in names:
                fake.inject(failure, args.node)
        else:
            print(json.dumps(fake.show(), indent=2))
    except LabError as exc:
        print("fake_kube_vip.py: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

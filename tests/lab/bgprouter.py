# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's upstream BGP router: FRR (Debian's `frr`: bgpd and zebra) in the switch namespace.

lab.py starts it when the lab's inventory has a BGP peer at the switch's address (192.0.2.1), e.g.
examples/lab-bgp/inventory.yml: one passive neighbour per node (kube-vip only dials out: GoBGP listen
port -1, kube-vip v1.0.0 pkg/bgp/server.go), AS and MD5 password of that peer entry, the node's
vip_bgp.local_as as remote AS. zebra installs what bgpd learns into the switch namespace's kernel table,
so the lab's clients (the switch namespace) reach a VIP announced over BGP through the router's route,
and through nothing else (the VIP is on the nodes' lo, which answers no ARP).

Files: /run/baremetal.vip-lab/<lab id>/ (owned by FRR's user `frr`, mode 0700, as FRR runs in the field: it
refuses to run as root, which is not in its vty group): {zebra,bgpd}.conf (0600: the password), *.pid, *.vty,
zserv.api, {zebra,bgpd}.log; a short path, as unix socket paths must be. The daemons carry the lab's marker, so
`lab.py down` stops them with the rest of the lab and removes the directory. Nothing here prints the password:
the queries return neighbour states and routes only.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import time

FRR_DIR = "/usr/lib/frr"
VTYSH = "vtysh"
RUN_DIR = "/run/baremetal.vip-lab"
FRR_USER = "frr"
START_TIMEOUT = 20.0


class RouterError(Exception):
    """The lab's router could not be configured, started or asked; the message says which and why."""


def router_config(lab_vars, switch_address, nodes):
    """The router's settings from the lab's inventory vars, or None when no BGP peer is the switch.

    nodes: the lab's nodes (name, ipv4). Returns {asn, router_id, password, neighbors: [{name, address, asn}]}.
    """
    bgp = lab_vars.get("vip_bgp") or {}
    peer = next((p for p in bgp.get("peers") or [] if p.get("address") == switch_address), None)
    if peer is None:
        return None
    if "local_as" not in bgp or "as" not in peer:
        raise RouterError("vip_bgp.local_as and the AS of peer %s are needed to configure the lab's router"
                          % switch_address)
    return {"asn": int(peer["as"]), "router_id": switch_address, "password": peer.get("password"),
            "neighbors": [{"name": n["name"], "address": n["ipv4"], "asn": int(bgp["local_as"])} for n in nodes]}


def bgpd_conf(config):
    """bgpd's configuration: passive neighbours with the peer's password; eBGP without policies (a lab router)."""
    lines = ["frr defaults traditional", "hostname lab-router", "!", "router bgp %d" % config["asn"],
             " bgp router-id %s" % config["router_id"],
             # FRR's eBGP default since 7.4 accepts and sends nothing without a route-map (RFC 8212)
             " no bgp ebgp-requires-policy"]
    for neighbor in config["neighbors"]:
        address = neighbor["address"]
        lines += [" neighbor %s remote-as %d" % (address, neighbor["asn"]),
                  " neighbor %s description %s" % (address, neighbor["name"]),
                  " neighbor %s passive" % address]
        if config.get("password"):
            lines.append(" neighbor %s password %s" % (address, config["password"]))
    lines.append(" address-family ipv4 unicast")
    lines += ["  neighbor %s activate" % n["address"] for n in config["neighbors"]]
    lines += [" exit-address-family", "!", ""]
    return "\n".join(lines)


def router_dir(lab_id):
    return os.path.join(RUN_DIR, lab_id)


def remove(lab_id):
    """Remove the router's directory (its daemons are stopped by `lab.py down` with the lab's processes)."""
    shutil.rmtree(router_dir(lab_id), ignore_errors=True)


def _write_private(path, text, user):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(text)
    os.chown(path, user.pw_uid, user.pw_gid)


def _wait_path(path, proc, what, log_path):
    deadline = time.monotonic() + START_TIMEOUT
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = ""
            if os.path.exists(log_path):
                with open(log_path, errors="replace") as handle:
                    tail = "\n".join(handle.read().splitlines()[-15:])
            raise RouterError("%s did not start (exit %s): %s" % (what, proc.poll(), tail))
        time.sleep(0.05)


def start(lab_id, netns, config, env):
    """Start zebra and bgpd in network namespace NETNS (env: the lab's marker); returns their pids."""
    missing = [p for p in (os.path.join(FRR_DIR, "zebra"), os.path.join(FRR_DIR, "bgpd")) if not os.access(p, os.X_OK)]
    if missing or not shutil.which(VTYSH):
        raise RouterError("FRR is not installed (%s missing): `make system` installs Debian's frr (bindep.txt)"
                          % ", ".join(missing or [VTYSH]))
    try:
        user = pwd.getpwnam(FRR_USER)
    except KeyError:
        raise RouterError("FRR's user %r is missing: reinstall Debian's frr" % FRR_USER)
    directory = router_dir(lab_id)
    os.makedirs(RUN_DIR, mode=0o755, exist_ok=True)
    remove(lab_id)
    os.makedirs(directory, mode=0o700)
    os.chown(directory, user.pw_uid, user.pw_gid)
    _write_private(os.path.join(directory, "zebra.conf"), "hostname lab-router\n!\n", user)
    _write_private(os.path.join(directory, "bgpd.conf"), bgpd_conf(config), user)
    zserv = os.path.join(directory, "zserv.api")
    pids = {}
    for daemon, ready in (("zebra", zserv), ("bgpd", os.path.join(directory, "bgpd.vty"))):
        log_path = os.path.join(directory, daemon + ".log")
        # -P 0: no TCP vty; -z/--vty_socket: this lab's sockets only
        argv = ["nsenter", "--net=/run/netns/%s" % netns, "--", os.path.join(FRR_DIR, daemon), "-P", "0",
                "-f", os.path.join(directory, daemon + ".conf"), "-i", os.path.join(directory, daemon + ".pid"),
                "-z", zserv, "--vty_socket", directory, "--log", "file:%s" % log_path]
        with open(os.path.join(directory, daemon + ".out"), "ab") as out:
            proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True, cwd="/")
        _wait_path(ready, proc, "FRR %s in %s" % (daemon, netns), log_path)
        proc.returncode = 0  # it outlives this process, like the lab's holders
        pids[daemon] = proc.pid
    return pids


def vtysh_json(lab_id, command):
    """One show command through this lab's vty sockets, parsed."""
    proc = subprocess.run([VTYSH, "--vty_socket", router_dir(lab_id), "-c", command], capture_output=True,
                          text=True, timeout=20, check=False)
    if proc.returncode != 0:
        raise RouterError("vtysh -c %r failed (%d): %s"
                          % (command, proc.returncode, (proc.stderr or proc.stdout)[-500:]))
    try:
        return json.loads(proc.stdout or "{}")
    except ValueError as exc:
        raise RouterError("vtysh -c %r did not print JSON: %s" % (command, exc))


def neighbors(lab_id):
    """{neighbour address: {state, description, established_count, ...}} as bgpd reports them."""
    out = {}
    for address, info in vtysh_json(lab_id, "show bgp neighbors json").items():
        if not isinstance(info, dict):
            continue
        out[address] = {"state": info.get("bgpState"), "description": info.get("nbrDesc"),
                        "remote_as": info.get("remoteAs"), "router_id": info.get("remoteRouterId"),
                        "established_transitions": info.get("connectionsEstablished"),
                        "dropped": info.get("connectionsDropped"),
                        "last_reset": info.get("lastResetDueTo"),
                        "prefixes_received": ((info.get("addressFamilyInfo") or {}).get("ipv4Unicast") or {})
                        .get("acceptedPrefixCounter")}
    return out


def rib(lab_id):
    """{prefix: [{next_hop, best, peer}]}: bgpd's IPv4 unicast table."""
    table = vtysh_json(lab_id, "show bgp ipv4 unicast json").get("routes") or {}
    out = {}
    for prefix, paths in table.items():
        out[prefix] = [{"next_hop": ((p.get("nexthops") or [{}])[0]).get("ip"), "best": bool(p.get("bestpath")),
                        "peer": p.get("peerId")} for p in paths]
    return out


def next_hops(lab_id, address):
    """Next hops of the router's paths to ADDRESS/32 (sorted; [] when the router has none)."""
    return sorted({p["next_hop"] for p in rib(lab_id).get("%s/32" % address, [])})


def kernel_next_hops(netns, address):
    """Gateways of the switch namespace's kernel route to ADDRESS (zebra's install), [] when none."""
    proc = subprocess.run(["ip", "-n", netns, "-j", "route", "show", "%s/32" % address], capture_output=True,
                          text=True, check=True)
    hops = []
    for route in json.loads(proc.stdout or "[]"):
        hops += [route["gateway"]] if route.get("gateway") else [n.get("gateway") for n in route.get("nexthops", [])]
    return sorted(h for h in hops if h)

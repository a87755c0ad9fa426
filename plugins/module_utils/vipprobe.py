# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VIPs seen from outside the nodes (baremetal.vip.vip_probe): who answers ARP / NDP, and the API's TLS.

Three steps, as everywhere in the collection:

* send and collect (the kernel): ``route_to`` asks the kernel how this host reaches an address (rtnetlink
  RTM_GETROUTE through pyroute2); ``solicit`` sends ARP requests (RFC 826) and IPv6 neighbour solicitations
  (RFC 4861, 7.2.2) on a raw AF_PACKET socket of the outgoing interface and collects every answer until a
  deadline; ``tls_readyz`` opens a TLS connection (ssl, the cluster CA only) and asks ``GET /readyz``.
* plain data: ``{address: [mac, ...]}`` (one entry per answer), the TLS outcome as a dict.
* judge (no kernel): ``judge_vip`` and ``judge_api`` turn that data into findings and notes.

Nothing on the host is changed: the frames sent are the questions any client on the segment asks.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import errno
import os
import select
import socket
import ssl
import struct
import time

try:
    import yaml
except ImportError:  # yaml comes with ansible-core; guarded for the sanity import test
    yaml = None

try:
    import pyroute2
except ImportError:  # checked in route_to: the module says which library is missing
    pyroute2 = None

from ansible_collections.baremetal.vip.plugins.module_utils.errors import VipError
from ansible_collections.baremetal.vip.plugins.module_utils.kubeconfig import kubeconfig_cluster

ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4  # linux/if_packet.h: a frame this host sent, seen again on the socket
BROADCAST = b"\xff" * 6
ROUNDS = 3  # requests per address, spread over the wait (a lost frame is not a missing holder)
RTN_LOCAL = 2  # linux/rtnetlink.h


def mac_text(raw):
    return ":".join("%02x" % b for b in bytearray(raw))


def mac_bytes(text):
    return bytes(bytearray(int(part, 16) for part in text.split(":")))


# --------------------------------------------------------------------------- frames (plain bytes in and out)

def arp_request(src_mac, src_ip, target_ip):
    """An Ethernet broadcast ARP request: who has ``target_ip``, tell ``src_ip`` (``src_mac``)."""
    return (BROADCAST + src_mac + struct.pack("!H", ETH_P_ARP)
            + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + src_mac + socket.inet_pton(socket.AF_INET, src_ip)
            + b"\x00" * 6 + socket.inet_pton(socket.AF_INET, target_ip))


def parse_arp_reply(frame):
    """(sender address, sender MAC) of an ARP reply frame, else None."""
    if len(frame) < 42 or frame[12:14] != struct.pack("!H", ETH_P_ARP):
        return None
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
    if (htype, ptype, hlen, plen, op) != (1, 0x0800, 6, 4, 2):
        return None
    return socket.inet_ntop(socket.AF_INET, frame[28:32]), mac_text(frame[22:28])


def _checksum(data):
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def solicited_node(target_ip):
    """(solicited-node multicast address, its Ethernet multicast MAC) of an IPv6 address (RFC 4291 2.7.1, RFC 2464 7)."""
    low = socket.inet_pton(socket.AF_INET6, target_ip)[13:]
    group = socket.inet_pton(socket.AF_INET6, "ff02::1:ff00:0")[:13] + low
    return group, b"\x33\x33" + group[12:]


def neighbour_solicitation(src_mac, src_ip, target_ip):
    """An Ethernet frame with an ICMPv6 neighbour solicitation for ``target_ip`` to its solicited-node group,
    hop limit 255, with the source link-layer address option (RFC 4861 4.3)."""
    src = socket.inet_pton(socket.AF_INET6, src_ip)
    dst, dst_mac = solicited_node(target_ip)
    body = struct.pack("!BBHI", 135, 0, 0, 0) + socket.inet_pton(socket.AF_INET6, target_ip) + struct.pack("!BB", 1, 1) + src_mac
    pseudo = src + dst + struct.pack("!I3xB", len(body), 58)
    body = body[:2] + struct.pack("!H", _checksum(pseudo + body)) + body[4:]
    header = struct.pack("!IHBB", 6 << 28, len(body), 58, 255) + src + dst
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IPV6) + header + body


def parse_neighbour_advertisement(frame):
    """(target address, MAC) of an Ethernet frame carrying an ICMPv6 neighbour advertisement, else None.

    The MAC is the target link-layer address option (what a client's neighbour table takes), else the frame's source."""
    if len(frame) < 14 + 40 + 24 or frame[12:14] != struct.pack("!H", ETH_P_IPV6) or frame[20] != 58:
        return None
    icmp = frame[54:]
    if icmp[0] != 136 or icmp[1] != 0:
        return None
    target = socket.inet_ntop(socket.AF_INET6, icmp[8:24])
    mac = mac_text(frame[6:12])
    options = icmp[24:]
    while len(options) >= 8 and options[1]:
        size = options[1] * 8
        if options[0] == 2 and size >= 8:
            mac = mac_text(options[2:8])
        options = options[size:]
    return target, mac


# --------------------------------------------------------------------------- send and collect (the kernel)

def route_to(address):
    """How this host reaches ``address``: {"reachable", "interface", "mac", "source", "gateway", "local", "error"}."""
    if pyroute2 is None:
        raise VipError("the Python library pyroute2 is missing on the vantage host (reading the route to %s)" % address)
    out = {"reachable": False, "interface": None, "mac": None, "source": None, "gateway": None, "local": False, "error": None}
    with pyroute2.IPRoute() as ipr:
        try:
            answer = ipr.route("get", dst=address)
        except pyroute2.NetlinkError as exc:
            out["error"] = "%s (%s)" % (os.strerror(exc.code) if exc.code else "no route", errno.errorcode.get(exc.code, exc.code))
            return out
        route = answer[0]
        index = route.get_attr("RTA_OIF")
        out.update(reachable=True, source=route.get_attr("RTA_PREFSRC"), gateway=route.get_attr("RTA_GATEWAY"),
                   local=route["type"] == RTN_LOCAL)
        if index:
            link = ipr.get_links(index)[0]
            out.update(interface=link.get_attr("IFLA_IFNAME"), mac=link.get_attr("IFLA_ADDRESS"))
    return out


def solicit(interface, src_mac, requests, timeout):
    """Ask for every address of ``requests`` ({address: source address}) on ``interface`` and collect the answers.

    ROUNDS requests per address, spread over ``timeout`` seconds; every answer until the deadline is kept.
    Returns {address: [MAC of each answer]}."""
    answers = dict((address, []) for address in requests)
    by_family = {}
    for address, source in requests.items():
        by_family.setdefault(":" in address, {})[address] = source
    sockets = []
    try:
        for ipv6, wanted in by_family.items():
            proto = ETH_P_IPV6 if ipv6 else ETH_P_ARP
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
            sockets.append((sock, ipv6, wanted))
            sock.bind((interface, proto))
        mac = mac_bytes(src_mac)
        started = time.monotonic()
        deadline = started + timeout
        sent = 0
        while True:
            now = time.monotonic()
            if sent < ROUNDS and now >= started + sent * timeout / ROUNDS:
                for sock, ipv6, wanted in sockets:
                    for address, source in wanted.items():
                        build = neighbour_solicitation if ipv6 else arp_request
                        sock.send(build(mac, source, address))
                sent += 1
                continue
            if now >= deadline:
                break
            next_send = started + sent * timeout / ROUNDS if sent < ROUNDS else deadline
            ready = select.select([s for s, dummy, dummy in sockets], [], [], max(0.0, min(deadline, next_send) - now))[0]
            for sock, ipv6, wanted in sockets:
                if sock not in ready:
                    continue
                frame, where = sock.recvfrom(2048)
                if where[2] == PACKET_OUTGOING:
                    continue
                seen = (parse_neighbour_advertisement if ipv6 else parse_arp_reply)(frame)
                if seen and seen[0] in wanted:
                    answers[seen[0]].append(seen[1])
    except (OSError, socket.error) as exc:
        raise VipError("asking who answers for %s on %s: %s" % (", ".join(sorted(requests)), interface, exc))
    finally:
        for sock, dummy, dummy in sockets:
            sock.close()
    return answers


def read_ca(ca_file=None, kubeconfig=None):
    """(PEM text of the cluster CA, where it came from) from ``ca_file``, else the current cluster of ``kubeconfig``
    (certificate-authority-data or certificate-authority; nothing else of it is read into the result)."""
    if ca_file:
        try:
            with open(ca_file, "r") as handle:
                return handle.read(), ca_file
        except (IOError, OSError) as exc:
            raise VipError("reading the cluster CA ca_file %s: %s" % (ca_file, exc))
    try:
        with open(kubeconfig, "r") as handle:
            config = yaml.safe_load(handle)
    except (IOError, OSError) as exc:
        raise VipError("reading the cluster CA from kubeconfig %s: %s" % (kubeconfig, exc))
    except Exception as exc:  # pylint: disable=broad-except
        raise VipError("kubeconfig %s does not parse as YAML: %s" % (kubeconfig, type(exc).__name__))
    cluster = kubeconfig_cluster(config)
    if cluster.get("certificate-authority-data"):
        return base64.b64decode(cluster["certificate-authority-data"]).decode("ascii"), "kubeconfig %s" % kubeconfig
    if cluster.get("certificate-authority"):
        path = os.path.join(os.path.dirname(os.path.abspath(kubeconfig)), cluster["certificate-authority"])
        return read_ca(ca_file=path)[0], path
    raise VipError("kubeconfig %s names no certificate authority for its cluster" % kubeconfig)


def tls_readyz(address, port, ca_pem, path="/readyz", timeout=3.0):
    """Connect to address:port over TLS trusting only ``ca_pem`` (the name checked is the address), GET ``path``.

    Plain data: {"connected", "verified", "error", "peer", "status", "body"}."""
    out = {"connected": False, "verified": False, "error": None, "peer": None, "status": None, "body": None}
    try:
        context = ssl.create_default_context(cadata=ca_pem)
    except (ssl.SSLError, ValueError) as exc:
        out["error"] = "the cluster CA does not load: %s" % exc
        return out
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        raw = socket.create_connection((address, port), timeout=timeout) if family == socket.AF_INET else \
            socket.create_connection((address, port, 0, 0), timeout=timeout)
    except (OSError, socket.error) as exc:
        out["error"] = "TCP connection: %s" % exc
        return out
    out["connected"] = True
    try:
        with context.wrap_socket(raw, server_hostname=address) as conn:
            out["verified"] = True
            subject = dict(item[0] for item in conn.getpeercert().get("subject", ()))
            out["peer"] = subject.get("commonName")
            host = "[%s]" % address if family == socket.AF_INET6 else address
            conn.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\nUser-Agent: baremetal.vip-vip_probe\r\n\r\n"
                          % (path, host, port)).encode("ascii"))
            data = b""
            while len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
    except ssl.SSLCertVerificationError as exc:
        out["error"] = "certificate not accepted: %s" % (exc.verify_message or exc)
        return out
    except (ssl.SSLError, OSError, socket.error) as exc:
        out["error"] = "TLS: %s" % exc
        return out
    finally:
        raw.close()
    out.update(parse_http(data))
    return out


def parse_http(data):
    """{"status", "body"} of an HTTP/1.1 response (chunked bodies joined); status None when it is not one."""
    head, dummy, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2) if lines else []
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return {"status": None, "body": None}
    if any(line.lower().replace(" ", "") == "transfer-encoding:chunked" for line in lines[1:]):
        joined = b""
        while body:
            size_text, dummy, rest = body.partition(b"\r\n")
            size = int(size_text.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            joined += rest[:size]
            body = rest[size + 2:]
        body = joined
    return {"status": int(parts[1]), "body": body.decode("utf-8", "replace").strip()[:200]}


# --------------------------------------------------------------------------- judge (plain data, no kernel)

def distinct(macs):
    """The distinct MACs of a list of answers, in the order first seen."""
    out = []
    for mac in macs:
        if mac.lower() not in out:
            out.append(mac.lower())
    return out


def judge_vip(vip, route, answers):
    """The record of one VIP: ``vip`` (the module's vips entry), ``route`` (route_to, or None when not probed),
    ``answers`` (MACs of every answer, or None when not asked). Keys: address, label, macs, count, expected,
    holder, ok (None when not checked), problem, note."""
    label = vip.get("label") or "VIP"
    expected = dict((e["mac"].lower(), e.get("host") or e["mac"]) for e in vip.get("expected") or [])
    record = {"address": vip["address"], "label": label, "interface": (route or {}).get("interface"),
              "macs": None, "count": None, "expected": sorted(expected), "holder": None, "ok": None,
              "problem": None, "note": None}
    what = "%s %s" % (label, vip["address"])
    family = "NDP" if ":" in vip["address"] else "ARP"
    if route is None or not route["reachable"]:
        record["note"] = "%s: %s not checked: no route to it from the vantage point%s" % (
            what, family, (" (%s)" % route["error"]) if route and route.get("error") else "")
        return record
    if route["local"]:
        record["note"] = "%s: %s not checked: the vantage point holds the address itself" % (what, family)
        return record
    if route["gateway"]:
        record["note"] = "%s: %s not checked: the vantage point reaches it through the gateway %s, not on its segment" % (
            what, family, route["gateway"])
        return record
    macs = distinct(answers or [])
    record.update(macs=macs, count=len(macs))
    if not macs and vip.get("expected") == []:
        record["note"] = "%s: nothing answers %s, and no node holds it (the nodes' check says so)" % (what, family)
        return record
    if len(macs) != 1:
        record["ok"] = False
        record["problem"] = "%s: %d MAC addresses answer %s on %s%s (exactly one wanted%s)" % (
            what, len(macs), family, route["interface"], (": " + ", ".join(_named(m, expected) for m in macs)) if macs else "",
            (", the holder's: " + ", ".join(_named(m, expected) for m in sorted(expected))) if expected else "")
        return record
    record["holder"] = expected.get(macs[0])
    if vip.get("expected") is not None and macs[0] not in expected:
        record["ok"] = False
        record["problem"] = "%s: %s answers %s on %s, which is not the holder's (%s)" % (
            what, macs[0], family, route["interface"],
            ", ".join(_named(m, expected) for m in sorted(expected)) or "no node holds it")
        return record
    record["ok"] = True
    return record


def _named(mac, expected):
    return "%s (%s)" % (mac, expected[mac]) if mac in expected and expected[mac] != mac else mac


def judge_api(api, route, ca_source, outcome):
    """The record of the control-plane VIP's API: ``outcome`` of tls_readyz (None when not asked; then ``route``
    or ``ca_source`` say why). Keys: address, port, ca, tls, readyz_status, readyz_body, peer, ok, problem, note."""
    where = "API %s:%d" % (api["address"], api["port"])
    record = {"address": api["address"], "port": api["port"], "ca": ca_source, "tls": None, "readyz_status": None,
              "readyz_body": None, "peer": None, "ok": None, "problem": None, "note": None}
    if route is not None and not route["reachable"]:
        record["note"] = "%s not checked: no route to it from the vantage point%s" % (
            where, (" (%s)" % route["error"]) if route.get("error") else "")
        return record
    if outcome is None:
        record["note"] = "%s: TLS not checked: %s" % (where, ca_source or "no cluster CA")
        record["ca"] = None
        return record
    record.update(tls=bool(outcome["verified"]), readyz_status=outcome["status"], readyz_body=outcome["body"],
                  peer=outcome["peer"])
    if not outcome["verified"]:
        record["ok"] = False
        record["problem"] = "%s: no TLS connection whose certificate chains to the cluster CA (%s): %s" % (
            where, ca_source, outcome["error"])
    elif outcome["status"] != 200 or (outcome["body"] or "").strip() != "ok":
        record["ok"] = False
        record["problem"] = "%s: %s answers %s with %s%s" % (
            where, api.get("path") or "/readyz", "HTTP %s" % outcome["status"] if outcome["status"] else "no HTTP response",
            json_text(outcome["body"]), (" (%s)" % outcome["error"]) if outcome["error"] else "")
    else:
        record["ok"] = True
    return record


def json_text(text):
    return '"%s"' % (text or "").replace('"', "'")[:120]


# --------------------------------------------------------------------------- the module's run

def check_params(params):
    """Every problem of the options at once (VipError), before anything is sent."""
    problems = []
    if not 100 <= params["timeout_ms"] <= 10000:
        problems.append("timeout_ms is %s, it must be 100 to 10000" % params["timeout_ms"])
    places = [("vips[%d].address" % i, v["address"]) for i, v in enumerate(params.get("vips") or [])]
    if params.get("api"):
        places.append(("api.address", params["api"]["address"]))
        if not 1 <= params["api"]["port"] <= 65535:
            problems.append("api.port is %s, it must be 1 to 65535" % params["api"]["port"])
    for where, address in places:
        if not _is_ip(address):
            problems.append("%s is %r, not an IPv4 or IPv6 address" % (where, address))
    for i, vip in enumerate(params.get("vips") or []):
        for j, item in enumerate(vip.get("expected") or []):
            parts = item["mac"].split(":")
            if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
                problems.append("vips[%d].expected[%d].mac is %r, not a MAC address (aa:bb:cc:dd:ee:ff)" % (i, j, item["mac"]))
    if problems:
        raise VipError("vip_probe: " + "; ".join(problems))


def _is_ip(text):
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
            return True
        except (OSError, socket.error, ValueError):
            continue
    return False


def probe(params, check_mode=False):  # pylint: disable=unused-argument
    """vip_probe: route, ask, judge. Read-only in every mode (the questions sent change nothing)."""
    check_params(params)
    timeout = params["timeout_ms"] / 1000.0
    vips = params.get("vips") or []
    routes = dict((v["address"], route_to(v["address"])) for v in vips)
    asks = {}
    for address, route in routes.items():
        if route["reachable"] and not route["local"] and not route["gateway"] and route["interface"]:
            if not route["source"]:
                route.update(reachable=False, error="no source address on %s" % route["interface"])
                continue
            asks.setdefault((route["interface"], route["mac"]), {})[address] = route["source"]
    answers = {}
    for (interface, mac), requests in sorted(asks.items()):
        answers.update(solicit(interface, mac, requests, timeout))
    records = [judge_vip(v, routes[v["address"]], answers.get(v["address"])) for v in vips]
    api_record = None
    api = params.get("api")
    if api:
        route = routes.get(api["address"]) or route_to(api["address"])
        outcome, ca_source = None, api.get("ca_missing") or "no cluster CA given (ca_file or kubeconfig)"
        if route["reachable"] and (api.get("ca_file") or api.get("kubeconfig")):
            ca_pem, ca_source = read_ca(api.get("ca_file"), api.get("kubeconfig"))
            outcome = tls_readyz(api["address"], api["port"], ca_pem, api.get("path") or "/readyz", max(timeout, 3.0))
        api_record = judge_api(api, route, ca_source, outcome)
    judged = records + ([api_record] if api_record else [])
    return {"changed": False, "vips": records, "api": api_record,
            "findings": [r["problem"] for r in judged if r["problem"]],
            "notes": [r["note"] for r in judged if r["note"]]}

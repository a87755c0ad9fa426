# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""verify.yml's checks from outside the nodes, on the controller: plain functions.

* ``probe_options`` - the options of ``baremetal.vip.vip_probe`` from the plan (vip_verify_outside), verify's report
  (who holds each ARP Service VIP; the live Services' addresses in the plan's MetalLB L2 pools) and every node's
  vip_check (which interface, which MAC holds each VIP).
* ``outside_report`` - verify's report with the probe's figures per VIP under ``outside`` and its findings among
  the problems.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import yaml

from ansible_collections.baremetal.vip.plugins.module_utils.kubeconfig import kubeconfig_cluster
from ansible_collections.baremetal.vip.plugins.plugin_utils import render


def _expected(checks, hosts, interface_of):
    """[{mac, host}] of ``hosts``' interfaces holding a VIP (``interface_of(check)``: its interfaces)."""
    out = []
    for host in hosts:
        check = checks.get(host) or {}
        macs = check.get("interface_macs") or {}
        for name in interface_of(check):
            if macs.get(name) and {"mac": macs[name], "host": host} not in out:
                out.append({"mac": macs[name], "host": host})
    return out


def _same_ip(one, two):
    try:
        return ipaddress.ip_address(one) == ipaddress.ip_address(two)
    except ValueError:
        return False


def kubeconfig_server(path):
    """The server URL of the current cluster of the kubeconfig at ``path`` (None when unreadable). Nothing else of
    the file is kept: it holds credentials."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError):
        return None
    return kubeconfig_cluster(config).get("server") or None


def _api(plan, outside, kubeconfig):
    """vip_probe's ``api`` option for the control-plane VIP: the CA from vip_verify_outside.ca_file, else from the
    kubeconfig verify uses when the vantage point is the controller and that kubeconfig talks to the VIP."""
    cp = plan["control_plane"]
    port = cp["load_balancer"]["port"] if cp["load_balancer"]["enabled"] and cp["load_balancer"].get("port") else cp["port"]
    api = {"address": cp["address"], "port": port or 6443}
    if outside.get("ca_file"):
        api["ca_file"] = outside["ca_file"]
    elif not kubeconfig:
        api["ca_missing"] = "no kubeconfig and no vip_verify_outside.ca_file give the cluster CA"
    elif outside["vantage"] != "localhost":
        api["ca_missing"] = ("the kubeconfig is on the controller, not on the vantage point %s; set vip_verify_outside.ca_file"
                             % outside["vantage"])
    else:
        server = kubeconfig_server(kubeconfig)
        host = urlsplit(server).hostname if server else None
        if host and _same_ip(host, cp["address"]):
            api["kubeconfig"] = kubeconfig
        else:
            api["ca_missing"] = ("kubeconfig %s talks to %s, not to the control-plane VIP; set vip_verify_outside.ca_file"
                                 % (kubeconfig, server or "no server"))
    return api


def probe_options(plan, report, checks, kubeconfig=None):
    """{enabled, vantage, vips, api, timeout_ms}: what vip_probe asks, from where.

    vips: the control-plane VIP in ARP mode, and each kube-vip Service VIP in ARP mode of the report, each with the
    MACs of its holders' interfaces (``checks``: vip_check results by host); each address of the report's
    ``metallb_l2_vips`` without expected MACs (the number answering is judged)."""
    plan = render.plain(plan)
    checks = dict((h, c) for h, c in render.plain(checks or {}).items() if c and "findings" in c)
    outside = plan.get("verify_outside") or {"enabled": False, "vantage": "localhost", "timeout_ms": 1000, "ca_file": None}
    cp = plan.get("control_plane")
    vips = []
    if cp and cp["mode"] == "arp":
        holders = [h for h, c in checks.items() if c.get("vip_interfaces")]
        vips.append({"address": cp["address"], "label": "control-plane VIP",
                     "expected": _expected(checks, holders, lambda c: c.get("vip_interfaces") or [])})
    for record in (report or {}).get("service_vips") or []:
        address = record["address"]
        vips.append({"address": address, "label": "Service VIP (%s)" % record["service"],
                     "expected": _expected(checks, record.get("holders") or [],
                                           lambda c, a=address: [v["interface"] for v in c.get("service_vips") or []
                                                                 if _same_ip(v["address"], a)])})
    # MetalLB L2: no node's check says which node answers (the speaker binds nothing), so only the number of MACs
    # answering is judged (expected omitted): exactly one
    for record in (report or {}).get("metallb_l2_vips") or []:
        vips.append({"address": record["address"], "label": "MetalLB L2 Service address (%s, pool %s)"
                     % (record["service"], record["pool"])})
    return {"enabled": bool(outside["enabled"]), "vantage": outside["vantage"], "timeout_ms": outside["timeout_ms"],
            "vips": vips, "api": _api(plan, outside, kubeconfig) if cp else None}


def outside_report(report, probe, options=None):
    """verify's ``report`` with ``outside`` (the figures per VIP) and the probe's findings among its problems.

    ``probe``: the registered vip_probe result (skipped when vip_verify_outside.enabled is false; failed when it
    could not ask)."""
    report = dict(render.plain(report))
    probe = render.plain(probe or {})
    options = render.plain(options or {})
    vantage = options.get("vantage") or "localhost"
    if probe.get("skipped") or not options.get("enabled", True):
        report["outside"] = {"checked": False, "vantage": vantage, "vips": [], "api": None,
                             "notes": ["outside checks off (vip_verify_outside.enabled: false)"]}
        return report
    problems = list(probe.get("findings") or [])
    if probe.get("failed"):
        problems = ["vip_probe could not ask: %s" % (probe.get("msg") or "no result")]
    report["outside"] = {"checked": not probe.get("failed"), "vantage": vantage, "vips": probe.get("vips") or [],
                         "api": probe.get("api"), "notes": list(probe.get("notes") or []), "problems": problems}
    report["problems"] = list(report.get("problems") or []) + ["outside (from %s): %s" % (vantage, p) for p in problems]
    report["ok"] = bool(report.get("ok")) and not problems
    return report


def outside_lines(report):
    """What verify.yml shows of the outside checks: one line per VIP asked, then the API's line.

    ``report``: verify's report after outside_report (its ``outside``)."""
    outside = report.get("outside") or {}
    lines = []
    for vip in outside.get("vips") or []:
        if vip.get("note"):  # vip_probe's notes name the VIP already (vipprobe.judge_vip)
            lines.append(vip["note"])
            continue
        macs = " (%s)" % ", ".join(vip["macs"]) if vip.get("macs") else ""
        holder = "; holder %s" % vip["holder"] if vip.get("holder") else ""
        lines.append("%s %s: %s MAC(s) answer%s%s" % (vip.get("label"), vip.get("address"), vip.get("count"), macs, holder))
    api = outside.get("api")
    if api:  # its note names the API already (vipprobe.judge_api)
        lines.append(api.get("note") or "API %s:%s: TLS %s, /readyz %s" % (
            api.get("address"), api.get("port"), "verified" if api.get("tls") else "failed", api.get("readyz_status")))
    return lines

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The builder's verify step: where playbooks/verify.yml looks at the VIPs from outside the nodes
(vip_verify_outside; baremetal.vip.vip_probe runs there)."""

from __future__ import annotations

import posixpath

PATH = "vip_verify_outside"
CONTROLLER = "localhost"


def verify_outside(ctx, values):
    """The ``verify_outside`` part: {enabled, vantage, timeout_ms, ca_file}.

    ``vantage`` is ``localhost`` (the controller) or a host of the inventory (group ``all`` when the caller gives
    it, else the cluster's hosts). ``ca_file`` is an absolute path on the vantage host."""
    if values is None:
        return None
    vantage = values["vantage"]
    if vantage is not None:
        known = ctx.groups.get("all")
        if known is None:
            known = list(ctx.hosts_written)
        if not vantage.strip() or any(c.isspace() for c in vantage):
            ctx.error("%s.vantage (%r) must be localhost (the controller) or an inventory host name" % (PATH, vantage))
        elif vantage != CONTROLLER and vantage not in known:
            ctx.error("%s.vantage (%s) is neither localhost (the controller) nor a host of the inventory (%s)"
                      % (PATH, vantage, ", ".join(sorted(known)[:10]) + (", ..." if len(known) > 10 else "")))
    ca_file = values["ca_file"]
    if ca_file is not None and not posixpath.isabs(ca_file):
        ctx.error("%s.ca_file (%s) must be an absolute path on the vantage host %s" % (PATH, ca_file, vantage))
    return {"enabled": bool(values["enabled"]), "vantage": vantage or CONTROLLER, "timeout_ms": values["timeout_ms"],
            "ca_file": ca_file}

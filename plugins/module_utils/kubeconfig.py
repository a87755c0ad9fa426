# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a parsed kubeconfig without the Kubernetes client: shared by vip_probe (the cluster CA) and the
outside checks' options on the controller (the server URL). Imports nothing, so neither pays for a client."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def kubeconfig_cluster(config):
    """The ``cluster`` mapping of the current context of a parsed kubeconfig (the first cluster without one)."""
    config = config if isinstance(config, dict) else {}
    contexts = dict((c.get("name"), c.get("context") or {}) for c in config.get("contexts") or [] if isinstance(c, dict))
    name = contexts.get(config.get("current-context"), {}).get("cluster")
    clusters = [c for c in config.get("clusters") or [] if isinstance(c, dict)]
    chosen = [c for c in clusters if c.get("name") == name] or clusters[:1]
    return (chosen[0].get("cluster") or {}) if chosen else {}

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One definition of kube-vip's routing table and protocol and of the reserved values: module_utils/constants.py.

The plan, the host modules and the doc fragment (plugins/doc_fragments/host.py ROUTE_SCOPE) must
say the same; kube-vip's own defaults are vip_routingtableid 198 and vip_routingprotocol 248
(kube-vip v1.0.0 pkg/kubevip/config_environment.go, defaults in cmd/kube-vip.go).
"""

from __future__ import annotations

import yaml

from ansible_collections.baremetal.vip.plugins.doc_fragments.host import ModuleDocFragment
from ansible_collections.baremetal.vip.plugins.module_utils import constants, hosttasks, reconcile
from ansible_collections.baremetal.vip.plugins.plugin_utils import plan_spec


def test_doc_fragment_defaults_and_reserved_values_are_the_constants():
    options = yaml.safe_load(ModuleDocFragment.ROUTE_SCOPE)["options"]
    assert options["table"]["default"] == constants.DEFAULT_ROUTE_TABLE
    assert options["protocol"]["default"] == constants.DEFAULT_ROUTE_PROTOCOL
    table_text = " ".join(options["table"]["description"])
    protocol_text = " ".join(options["protocol"]["description"])
    assert "1 to %d" % constants.MAX_ROUTE_TABLE in table_text
    assert "0 to %d" % constants.MAX_ROUTE_PROTOCOL in protocol_text
    for number, name in constants.RESERVED_TABLES.items():
        assert "%d (%s)" % (number, name) in table_text or number == 0 and "Table 0 is refused" in table_text
    first, last = min(constants.RESERVED_PROTOCOLS), max(constants.RESERVED_PROTOCOLS)
    assert "protocols %d to %d (%s)" % (first, last, ", ".join(constants.RESERVED_PROTOCOLS[p] for p in range(first, last + 1))) \
        in protocol_text


def test_modules_and_plan_use_the_constants():
    assert hosttasks.ROUTE_SCOPE_OPTIONS["table"]["default"] == constants.DEFAULT_ROUTE_TABLE
    assert hosttasks.ROUTE_SCOPE_OPTIONS["protocol"]["default"] == constants.DEFAULT_ROUTE_PROTOCOL
    assert hosttasks.IPVS_SERVICE_OPTIONS["protocol"]["choices"] == list(constants.IPVS_PROTOCOLS)
    routing = plan_spec.SPEC["vip_control_plane"]["options"]["routing_table"]["options"]
    assert (routing["table"]["default"], routing["protocol"]["default"]) == (198, 248)
    assert reconcile.RESERVED_TABLES is constants.RESERVED_TABLES

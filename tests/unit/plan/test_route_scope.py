# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan's routing table and protocol read the host modules' constants (module_utils/constants.py)."""

from __future__ import annotations

from ansible_collections.baremetal.vip.plugins.module_utils import constants

from testkit.planlib import errors, has, ok


def test_plan_refuses_what_a_pruning_module_refuses():
    """The plan's routing table feeds vip_routes with prune: every reserved table and protocol is refused there."""
    for table in constants.RESERVED_TABLES:
        assert has(errors({"vip_control_plane": {"routing_table": {"table": table}}}), "routing_table.table is %d;" % table)
    for protocol in constants.RESERVED_PROTOCOLS:
        assert has(errors({"vip_control_plane": {"routing_table": {"protocol": protocol}}}), "routing_table.protocol is %d;" % protocol)
    first_free = max(constants.RESERVED_PROTOCOLS) + 1
    plan = ok({"vip_control_plane": {"routing_table": {"protocol": first_free}}})
    assert plan["owned"]["route_protocol"] == first_free
    assert ok()["owned"]["route_table"] == constants.DEFAULT_ROUTE_TABLE

"""The plan of examples/lab (kube-vip Services in ARP mode, svc_election, IPVS load balancer), built once."""
import copy
import os

import pytest
import yaml

from ansible_collections.baremetal.vip.plugins.plugin_utils import plan as plan_utils

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def lab_plan(**override):
    """build_plan on examples/lab/inventory.yml, with ``override`` merged into its vars (one level deep)."""
    with open(os.path.join(TOP, "examples", "lab", "inventory.yml"), encoding="utf-8") as handle:
        inv = yaml.safe_load(handle)["all"]
    cluster_vars = copy.deepcopy(inv["vars"])
    for key, value in override.items():
        cluster_vars[key] = dict(cluster_vars.get(key) or {}, **value) if isinstance(value, dict) else value
    hosts, groups = {}, {}
    for group, data in inv["children"].items():
        groups[group] = list(data["hosts"])
        for host, hostvars in data["hosts"].items():
            hosts.setdefault(host, {}).update(hostvars or {})
    hosts["w2"]["vip_node_name"] = "worker-2.example"
    result = plan_utils.build_plan(cluster_vars, hosts, groups)
    assert not result["errors"], result["errors"]
    return result["plan"]


@pytest.fixture(scope="session")
def plan():
    return lab_plan()

"""The plan of examples/lab (kube-vip Services in ARP mode, svc_election, IPVS load balancer), built once."""
import pytest

from testkit.verify_cases import lab_plan


@pytest.fixture(scope="session")
def plan():
    return lab_plan()

"""pytest fixtures around the Kubernetes API test double (import them into a conftest.py)."""
import os

import pytest

from .server import KubeDouble


@pytest.fixture
def k8s_double(tmp_path):
    """A started double (empty) with ``.kubeconfig``, a kubeconfig file for it; stopped after."""
    double = KubeDouble().start()
    double.kubeconfig = double.write_kubeconfig(os.path.join(str(tmp_path), "kubeconfig"))
    try:
        yield double
    finally:
        double.stop()

"""Fixtures of the kernel tests: a fresh network namespace per test, always deleted."""
import pytest

from nsutil import Netns, need, root_problem  # pylint: disable=import-error


@pytest.fixture
def netns():
    """A new namespace with veth v0/v1; removed after the test whatever happened."""
    need(root_problem())
    namespace = Netns()
    try:
        yield namespace.create()
    finally:
        namespace.delete()

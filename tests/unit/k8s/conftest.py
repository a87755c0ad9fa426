"""Fixtures of the Kubernetes API tests: the test double of tests/k8s_double."""
import os
import sys

_TESTS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from k8s_double.fixture import k8s_double  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

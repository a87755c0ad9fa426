"""Fixtures of the Kubernetes API tests: the test double of tests/k8s_double."""
from k8s_double.fixture import k8s_double  # noqa: F401  pylint: disable=unused-import

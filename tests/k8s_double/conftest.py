"""Fixtures of the Kubernetes API test double's own tests."""
from .fixture import k8s_double  # noqa: F401  pylint: disable=unused-import

"""Kubernetes API test double — not a Kubernetes API server (see server.py)."""
from .server import KubeDouble, selector_matches  # noqa: F401

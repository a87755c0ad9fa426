"""A stand-in for the Kubernetes API server (test double), not an API server; server.py says which cases it is kept for."""
from .fieldsets import selector_matches  # noqa: F401
from .server import KubeDouble  # noqa: F401

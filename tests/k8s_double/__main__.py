"""``python -m k8s_double`` (from tests/): the Kubernetes API test double, standalone."""
import sys

from .server import main

sys.exit(main())

# -*- coding: utf-8 -*-
# Copyright: baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the modules that talk to the Kubernetes API."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """How a module reaches the Kubernetes API."""

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path of the kubeconfig on the host the module runs on. Its credentials are never printed.
    type: path
    required: true
  context:
    description:
      - The kubeconfig context to use. Default is the kubeconfig's current context.
    type: str
  request_timeout:
    description:
      - Seconds to wait for each answer of the API.
    type: int
    default: 15
requirements:
  - kubernetes (the Python client) >= 24.2.0
"""

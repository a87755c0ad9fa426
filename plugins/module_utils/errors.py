# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The errors of the collection's module_utils: ``VipError`` (the host modules; netlink, netstate, ipvs and reconcile
raise it) and ``K8sError`` (the Kubernetes API; k8s_client, k8s_apply, k8s_state).

Both live here, without imports, so that code which only names them (k8s_apply's helpers in the controller's
filters) does not import the ``kubernetes`` client with ``k8s_client``: every task that used a filter of the
collection paid that import in its worker process."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class VipError(Exception):
    """A request the host modules refuse, with a message that says what and with which values.

    ``result``: when the failure came after something was changed, what the module returns
    besides the message (``changed``, what was and was not applied), so that a failed task
    still says what it did.
    """

    def __init__(self, message, result=None):
        super(VipError, self).__init__(message)
        self.result = result


class K8sError(Exception):
    """A failure explained for the user (the message is safe to print).

    ``status`` is the HTTP status when the API answered; ``webhook_not_ready`` tells an
    admission webhook that could not be called; ``not_served`` a kind the API does not serve.
    """

    def __init__(self, msg, status=None, webhook_not_ready=False, not_served=False):
        super(K8sError, self).__init__(msg)
        self.msg = msg
        self.status = status
        self.webhook_not_ready = webhook_not_ready
        self.not_served = not_served

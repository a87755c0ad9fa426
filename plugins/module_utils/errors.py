# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error the host modules raise; below netlink, netstate, ipvs and reconcile, which all raise it."""

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

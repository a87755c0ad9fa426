# -*- coding: utf-8 -*-
# Copyright: baremetal.vip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Netlink on the wire, shared by ``netstate.py`` (rtnetlink: links, addresses, routes) and
``ipvs.py`` (IPVS over generic netlink): messages and attributes packed and split with
``struct``, error answers read, dumps read, batches of requests written.

pyroute2 opens the sockets (family, buffers, generic-netlink family lookup); a ``Channel`` drives
a duplicate of such a socket's descriptor for the rest of the module run: the same kernel
socket, one per run, blocking reads with a receive timeout (SO_RCVTIMEO: no extra system call
per read, which matters for IPVS's one dump per service), error answers without the request's
payload (NETLINK_CAP_ACK) and with the kernel's text (NETLINK_EXT_ACK) where the kernel supports
them. pyroute2 decoded every attribute of every message into Python objects and turned an
asyncio loop per message: that cost more than the kernel's work (docs/benchmarks.md).

* ``Channel.dump``: one dump, read in as many parts as the kernel sends; read again when the
  kernel marks it interrupted (NLM_F_DUMP_INTR: the state changed while it was read).
* ``Channel.send_requests``: a batch written as many messages per write as the receive buffer
  holds answers to. The kernel handles the messages of a write in order, before the write
  returns, and answers every one that fails (NLMSG_ERROR with its sequence number); only the
  last message of a write asks for an acknowledgement, whose answer says that every answer of
  the write is in. Successful requests cost no answer to read. Errors do not stop the rest;
  ``VipError`` names every request the kernel refused, with the kernel's reason.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import fcntl
import os
import socket
import struct

from ansible_collections.baremetal.vip.plugins.module_utils.errors import VipError

try:
    from pyroute2.netlink import (NETLINK_EXT_ACK, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_DUMP, NLM_F_DUMP_INTR,
                                  NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, SOL_NETLINK)
except ImportError:
    pass  # deps.require() reports the missing library before any of these is used

HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
ATTR = struct.Struct("=HH")       # nlattr / rtattr: length, type
U32 = struct.Struct("=I")
I32 = struct.Struct("=i")
TIMEVAL = struct.Struct("@ll")    # struct timeval, native sizes
NLA_TYPE_MASK = 0x3fff            # without NLA_F_NESTED / NLA_F_NET_BYTEORDER
NLMSGERR_ATTR_MSG = 1             # extended ack: the kernel's error text (linux/netlink.h)
NETLINK_CAP_ACK = 10              # error answers without the request's payload (linux/netlink.h)

# Messages per write: at most REQUESTS_PER_WRITE, and no more than the socket's receive buffer
# holds answers to, so that even a write that fails entirely loses no answer (the kernel drops
# what does not fit: ENOBUFS). An uncapped error answer to a route request took 832 bytes of the
# buffer (kernel 6.18); ANSWER_COST leaves room for the kernel's error text. A write of 1,024
# route messages is about 75 KB, well within any send buffer. Measured on 25,000 route
# deletions: writes of 64 to 4,096 messages took the same time; an acknowledgement for every
# message instead of one per write took half as long again (155 ms instead of 105 ms).
REQUESTS_PER_WRITE = 1024
ANSWER_COST = 1536
MIN_PER_WRITE = 64
# Seconds to wait for the kernel's next answer before giving up (it answers at once; this only
# turns a lost answer into an error instead of a module that never returns).
ANSWER_TIMEOUT = 30
DUMP_ATTEMPTS = 5
RECV_SIZE = 1 << 16  # the kernel sends dumps in parts of at most 32 KB


class BatchError(VipError):
    """Some requests of a batch were refused (``failed``: their indexes) or have an unknown outcome
    (``unknown``: answers lost to ENOBUFS); every other request of the batch was done."""

    def __init__(self, message, failed=None, unknown=()):
        super(BatchError, self).__init__(message)
        self.failed, self.unknown = dict(failed or {}), frozenset(unknown)  # failed: {index: the kernel's reason}


# --------------------------------------------------------------------------- wire format

def pack_attr(kind, value):
    """One netlink attribute (header, value, padding to 4 bytes)."""
    length = 4 + len(value)
    return ATTR.pack(length, kind) + value + b"\0" * (-length & 3)


def pack_message(msg_type, flags, seq, payload):
    """nlmsghdr + payload (port id 0: the kernel fills in the sender's)."""
    return HEADER.pack(HEADER.size + len(payload), msg_type, flags, seq, 0) + payload


def split_messages(data, size=None):
    """[(type, flags, seq, payload start, end)] of the netlink messages in ``data[:size]``."""
    result = []
    offset, size = 0, len(data) if size is None else size
    while offset + HEADER.size <= size:
        length, kind, flags, seq, _port = HEADER.unpack_from(data, offset)
        if length < HEADER.size or offset + length > size:
            raise VipError("malformed netlink answer: message of %d bytes at offset %d of %d" % (length, offset, size))
        result.append((kind, flags, seq, offset + HEADER.size, offset + length))
        offset += (length + 3) & ~3
    return result


def attributes(data, offset, end):
    """{attribute type: (value start, value end)} of the attributes between ``offset`` and ``end``."""
    found = {}
    while offset + 4 <= end:
        length, kind = ATTR.unpack_from(data, offset)
        if length < 4 or offset + length > end:
            raise VipError("malformed netlink answer: attribute of type %d and %d bytes at offset %d of %d"
                           % (kind & NLA_TYPE_MASK, length, offset, end))
        found[kind & NLA_TYPE_MASK] = (offset + 4, offset + length)
        offset += (length + 3) & ~3
    return found


def asciiz(data, span):
    """Text of a NUL-terminated string attribute."""
    return bytes(data[span[0]:span[1]]).split(b"\0", 1)[0].decode("utf-8", "replace")


def error_answer(data, start, end, flags):
    """(errno, the kernel's text or None) of an NLMSG_ERROR / NLMSG_DONE payload; errno 0: an acknowledgement."""
    code = -I32.unpack_from(data, start)[0] if end - start >= 4 else 0
    text = None
    if code > 0 and flags & NLM_F_ACK_TLVS and end - start >= 4 + HEADER.size:
        # after the error code: the request's header, and its payload unless NLM_F_CAPPED
        tlvs = start + 4 + (HEADER.size if flags & NLM_F_CAPPED else U32.unpack_from(data, start + 4)[0])
        span = attributes(data, tlvs, end).get(NLMSGERR_ATTR_MSG)
        text = (asciiz(data, span) or None) if span else None
    return max(code, 0), text


def errno_text(code, text=None):
    """'No such process (errno 3)', or 'Network is down: <the kernel's text> (errno 100)'."""
    return "%s%s (errno %d)" % (os.strerror(code), ": %s" % text if text else "", code)


def netlink_error_text(exc):
    """'No such process (errno 3)' for an OSError / pyroute2 NetlinkError."""
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    text = getattr(exc, "strerror", None) or (exc.args[1] if len(exc.args) > 1 else str(exc))
    return "%s (errno %s)" % (text, code) if code else str(exc)


# --------------------------------------------------------------------------- the socket

class Channel:
    """A duplicate of a netlink socket's descriptor (``owner.fileno()``: pyroute2's public API), read and written here.

    The duplicate is made blocking with a receive timeout; O_NONBLOCK belongs to the open file
    both descriptors share, so ``close`` gives it back its mode (pyroute2's asyncio transport
    needs it non-blocking). Answers of requests made elsewhere (another sequence number) are
    skipped. With ``owns``, ``close`` closes the owner too. A system call interrupted by a
    signal (EINTR) is retried by Python itself (PEP 475).
    """

    _next_seq = 0x56495000  # any start; unique within the process

    def __init__(self, owner, owns=False):
        self.owner, self.owns = owner, owns
        self.sock = socket.socket(fileno=os.dup(owner.fileno()))
        self._flags = fcntl.fcntl(self.sock.fileno(), fcntl.F_GETFL)
        self.sock.setblocking(True)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                             TIMEVAL.pack(int(ANSWER_TIMEOUT), int(ANSWER_TIMEOUT * 1000000) % 1000000))
        self.timeout = ANSWER_TIMEOUT
        for option in (NETLINK_CAP_ACK, NETLINK_EXT_ACK):
            try:
                self.sock.setsockopt(SOL_NETLINK, option, 1)
            except OSError:
                pass  # older kernels (or no netlink socket at all): full error answers, no text
        self.buffer = bytearray(RECV_SIZE)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def fileno(self):
        """The duplicate's descriptor."""
        return self.sock.fileno()

    def close(self):
        """Close the duplicate (giving the shared file its blocking mode back) and, with ``owns``, the owner."""
        try:
            fcntl.fcntl(self.sock.fileno(), fcntl.F_SETFL, self._flags)
        except OSError:
            pass
        self.sock.close()
        if self.owns:
            self.owner.close()

    @classmethod
    def sequence(cls, count):
        """First of ``count`` consecutive fresh sequence numbers."""
        if cls._next_seq + count > 0xffffffff:
            cls._next_seq = 1
        first = cls._next_seq
        cls._next_seq += count
        return first

    def per_write(self):
        """Messages per write: as many as the receive buffer holds answers to (REQUESTS_PER_WRITE at most)."""
        try:
            receive = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        except OSError:
            receive = 0
        return max(MIN_PER_WRITE, min(REQUESTS_PER_WRITE, receive // ANSWER_COST))

    def send(self, data, doing):
        """Write ``data`` (one or more messages) in one system call."""
        try:
            self.sock.send(data)
        except OSError as exc:
            raise VipError("%s failed: writing %d bytes to the netlink socket: %s" % (doing, len(data), netlink_error_text(exc)))

    def receive(self, doing, nowait=False):
        """Size of the next datagram, read into ``self.buffer``; None when the kernel dropped answers
        to this socket (ENOBUFS); with ``nowait``, 0 when nothing is queued."""
        try:
            return self.sock.recv_into(self.buffer, 0, socket.MSG_DONTWAIT if nowait else 0)
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                return None
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                if nowait:
                    return 0
                raise VipError("%s failed: no answer from the kernel within %s s" % (doing, self.timeout))
            raise VipError("%s failed: reading the kernel's answer: %s" % (doing, netlink_error_text(exc)))

    def dump(self, msg_type, payload, doing, parse, *args, **options):
        """Every non-None ``parse(data, start, end, *args)`` of one dump's answers, in the kernel's order.

        ``payload``: the request after nlmsghdr. Options: ``reply`` (the answers' message type;
        default rtnetlink's RTM_NEWxxx for RTM_GETxxx, ``msg_type - 2``; others are not parsed),
        ``skip`` (bytes of the family's own header before ``start``, e.g. generic netlink's 4),
        ``empty_on`` (errnos that mean an empty answer), ``fast`` (``fast(data, offset, size, seq,
        items, *args)``: appends what it makes of the answers from ``offset`` on that it recognizes
        whole, header included, and returns the offset of the first it does not; the loop here
        handles that one, then asks ``fast`` again). An interrupted dump (NLM_F_DUMP_INTR, or
        answers lost to ENOBUFS) is read again, up to DUMP_ATTEMPTS times. VipError saying
        ``doing`` when the kernel refuses the request.
        """
        reply = options.get("reply", msg_type - 2)
        skip = HEADER.size + options.get("skip", 0)
        empty_on = options.get("empty_on", ())
        fast = options.get("fast")
        for _attempt in range(DUMP_ATTEMPTS):
            seq = self.sequence(1)
            self.send(pack_message(msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, payload), doing)
            items, complete, done = [], True, False
            data = self.buffer
            while not done:
                size = self.receive(doing)
                if size is None:
                    complete = False
                    continue
                offset = 0
                while offset + HEADER.size <= size:  # the hot loop: no per-message list, as few calls as can be
                    if fast is not None:
                        offset = fast(data, offset, size, seq, items, *args)
                        if offset + HEADER.size > size:
                            break
                    length, kind, flags, mseq, _port = HEADER.unpack_from(data, offset)
                    if length < HEADER.size or offset + length > size:
                        raise VipError("%s failed: malformed netlink answer (message of %d bytes at offset %d of %d)"
                                       % (doing, length, offset, size))
                    if mseq == seq:
                        if kind == reply:
                            if flags & NLM_F_DUMP_INTR:
                                complete = False
                            item = parse(data, offset + skip, offset + length, *args)
                            if item is not None:
                                items.append(item)
                        elif kind == NLMSG_DONE or kind == NLMSG_ERROR:
                            code, text = error_answer(data, offset + HEADER.size, offset + length, flags)
                            if code in empty_on:
                                return []
                            if code and code != errno.EINTR:
                                raise VipError("%s failed: %s" % (doing, errno_text(code, text)))
                            complete = complete and not code
                            done = True
                            break
                    offset += (length + 3) & ~3
            if complete:
                return items
        raise VipError("%s failed: the kernel's answer was interrupted %d times in a row (the state kept changing "
                       "while it was read)" % (doing, DUMP_ATTEMPTS))

    def send_requests(self, requests, describe):
        """Send [(type, flags, payload)], ``per_write()`` per write, only each write's last one acknowledged.

        ``describe(i)`` says what request ``i`` does, for the error message. BatchError naming every
        request the kernel refused (``failed``: {index: the kernel's reason}); the others are done. Answers lost
        to a full receive buffer (ENOBUFS) are said, with the requests whose outcome is unknown
        (``unknown``).
        """
        failed, refused, unknown = [], {}, []
        per_write = self.per_write()
        data = self.buffer
        for first in range(0, len(requests), per_write):
            chunk = requests[first:first + per_write]
            seq = self.sequence(len(chunk))
            last = seq + len(chunk) - 1
            self.send(b"".join(HEADER.pack(HEADER.size + len(payload), msg_type, flags | (NLM_F_ACK if number == last else 0),
                                           number, 0) + payload
                               for number, (msg_type, flags, payload) in enumerate(chunk, seq)),
                      "sending %d netlink requests" % len(chunk))
            lost = answered = False
            while not answered:
                # After ENOBUFS: the kernel handled the whole write before send() returned, so
                # what is left of its answers is queued already: read it without waiting.
                try:
                    size = self.receive("sending %d netlink requests" % len(chunk), nowait=lost)
                except VipError as exc:  # the refusals already read are said too
                    raise BatchError("; ".join(failed + [str(exc)]), refused, set(range(first, len(requests))).difference(refused))
                if size is None:
                    lost = True
                    continue
                if not size:
                    break
                for kind, flags, mseq, start, end in split_messages(data, size):
                    if kind != NLMSG_ERROR or not seq <= mseq <= last:
                        continue
                    code, text = error_answer(data, start, end, flags)
                    if code:
                        refused[first + mseq - seq] = errno_text(code, text)
                        failed.append("%s failed: %s" % (describe(first + mseq - seq), refused[first + mseq - seq]))
                    answered = answered or mseq == last
            if lost:
                unknown.extend(index for index in range(first, first + len(chunk)) if index not in refused)
                failed.append("the kernel's answers to some of %d requests were lost (ENOBUFS: the socket's receive buffer was full), "
                              "so whether those not named here failed is unknown: %s ... %s"
                              % (len(chunk), describe(first), describe(first + len(chunk) - 1)))
        if failed:
            raise BatchError("; ".join(failed), refused, unknown)


@contextlib.contextmanager
def borrowed(sock):
    """``with borrowed(sock) as channel``: ``sock`` itself when it is a Channel, else a Channel on a
    duplicate of its descriptor for the block (any object with ``fileno()``: a pyroute2 socket)."""
    if isinstance(sock, Channel):
        yield sock
        return
    channel = Channel(sock)
    try:
        yield channel
    finally:
        channel.close()

"""IPVS messages built and parsed with struct (ipvs.py), without a kernel that has IPVS.

Encoding is checked against pyroute2's own IPVS message decoder and the kernel's attribute
numbers (include/uapi/linux/ip_vs.h); decoding against answers laid out as the kernel sends
them. The socket's dump and batch machinery runs against this machine's real kernel, on the
generic-netlink controller family (every kernel has it; this one has no IPVS).
"""
import socket
import struct

import pytest
from pyroute2.netlink import NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_ERROR
from pyroute2.netlink.generic import CTRL_CMD_GETFAMILY, GenericNetlinkSocket, ctrlmsg
from pyroute2.netlink.generic.ipvs import IPVS_CMD_DEL_DEST, IPVS_CMD_NEW_DEST, IPVS_CMD_NEW_SERVICE, ipvsmsg

from ansible_collections.baremetal.vip.plugins.module_utils import hosttasks, ipvs, netlink, reconcile
from ansible_collections.baremetal.vip.plugins.module_utils.reconcile import VipError

SERVICE = {"address": "192.0.2.10", "port": 6443, "protocol": "tcp", "scheduler": "wrr"}
SERVICE6 = {"address": "2001:db8::10", "port": 443, "protocol": "udp", "scheduler": "rr"}
DEST = {"address": "198.51.100.1", "port": 8080, "weight": 3, "forward_method": "masquerade"}


def pyroute2_decode(data):
    """pyroute2's reading of one request we built (an independent decoder)."""
    msg = ipvsmsg(data)
    msg.decode()
    return msg


def test_attribute_ids_are_the_kernels():
    # include/uapi/linux/ip_vs.h
    assert (ipvs.ATTR_SERVICE, ipvs.ATTR_DEST) == (1, 2)
    assert (ipvs.SVC_AF, ipvs.SVC_PROTOCOL, ipvs.SVC_ADDR, ipvs.SVC_PORT, ipvs.SVC_FWMARK, ipvs.SVC_SCHED_NAME,
            ipvs.SVC_FLAGS, ipvs.SVC_TIMEOUT, ipvs.SVC_NETMASK) == tuple(range(1, 10))
    assert (ipvs.DEST_ADDR, ipvs.DEST_PORT, ipvs.DEST_FWD_METHOD, ipvs.DEST_WEIGHT, ipvs.DEST_U_THRESH, ipvs.DEST_L_THRESH,
            ipvs.DEST_ACTIVE_CONNS, ipvs.DEST_INACT_CONNS, ipvs.DEST_ADDR_FAMILY) == (1, 2, 3, 4, 5, 6, 7, 8, 11)


def test_new_service_request_as_pyroute2_reads_it():
    data = ipvs.request(42, 7, IPVS_CMD_NEW_SERVICE, 5, ipvs.nla(ipvs.ATTR_SERVICE, ipvs.service_attrs(SERVICE)))
    length, kind, flags, sequence, _port = struct.unpack_from("=IHHII", data)
    assert (length, kind, flags, sequence) == (len(data), 42, 5, 7) and len(data) % 4 == 0
    msg = pyroute2_decode(data)
    assert (msg["cmd"], msg["version"]) == (IPVS_CMD_NEW_SERVICE, 1)
    svc = msg.get_attr("IPVS_CMD_ATTR_SERVICE")
    assert svc.get_attr("IPVS_SVC_ATTR_AF") == socket.AF_INET
    assert svc.get_attr("IPVS_SVC_ATTR_PROTOCOL") == socket.IPPROTO_TCP
    assert svc.get_attr("IPVS_SVC_ATTR_ADDR") == "192.0.2.10"
    assert svc.get_attr("IPVS_SVC_ATTR_PORT") == 6443
    assert svc.get_attr("IPVS_SVC_ATTR_SCHED_NAME") == "wrr"
    assert svc.get_attr("IPVS_SVC_ATTR_NETMASK") == "255.255.255.255"
    assert svc.get_attr("IPVS_SVC_ATTR_TIMEOUT") == 0
    assert svc.get_attr("IPVS_SVC_ATTR_FWMARK") is None


def test_ipv6_service_key_and_netmask():
    attrs = ipvs.service_attrs(SERVICE6)
    found = netlink.attributes(attrs, 0, len(attrs))
    assert struct.unpack_from("=H", attrs, found[ipvs.SVC_AF][0])[0] == socket.AF_INET6
    assert attrs[slice(*found[ipvs.SVC_ADDR])] == socket.inet_pton(socket.AF_INET6, "2001:db8::10")
    assert struct.unpack_from("!H", attrs, found[ipvs.SVC_PORT][0])[0] == 443
    assert struct.unpack_from("=H", attrs, found[ipvs.SVC_PROTOCOL][0])[0] == socket.IPPROTO_UDP
    # the kernel reads an IPv6 netmask as the prefix length in a host-order u32 (as ipvsadm sends it)
    assert struct.unpack_from("=I", attrs, found[ipvs.SVC_NETMASK][0])[0] == 128


def test_fwmark_service_key():
    attrs = ipvs.service_key_attrs({"address": None, "fwmark": 7, "family": "ipv6", "port": 0, "protocol": 0})
    found = netlink.attributes(attrs, 0, len(attrs))
    assert sorted(found) == [ipvs.SVC_AF, ipvs.SVC_FWMARK]
    assert struct.unpack_from("=I", attrs, found[ipvs.SVC_FWMARK][0])[0] == 7
    assert struct.unpack_from("=H", attrs, found[ipvs.SVC_AF][0])[0] == socket.AF_INET6


@pytest.mark.parametrize("dest, method", [(DEST, 0), (dict(DEST, forward_method=None), 3), (dict(DEST, forward_method="tunnel"), 2)])
def test_new_dest_request_as_pyroute2_reads_it(dest, method):
    attrs = ipvs.nla(ipvs.ATTR_SERVICE, ipvs.service_key_attrs(SERVICE)) + ipvs.nla(ipvs.ATTR_DEST, ipvs.dest_attrs(dest))
    msg = pyroute2_decode(ipvs.request(42, 1, IPVS_CMD_NEW_DEST, 5, attrs))
    svc = msg.get_attr("IPVS_CMD_ATTR_SERVICE")
    assert (svc.get_attr("IPVS_SVC_ATTR_ADDR"), svc.get_attr("IPVS_SVC_ATTR_PORT")) == ("192.0.2.10", 6443)
    assert svc.get_attr("IPVS_SVC_ATTR_SCHED_NAME") is None  # key only
    real = msg.get_attr("IPVS_CMD_ATTR_DEST")
    assert real.get_attr("IPVS_DEST_ATTR_ADDR") == "198.51.100.1"
    assert real.get_attr("IPVS_DEST_ATTR_PORT") == 8080
    assert real.get_attr("IPVS_DEST_ATTR_WEIGHT") == 3
    assert real.get_attr("IPVS_DEST_ATTR_FWD_METHOD") == method
    assert real.get_attr("IPVS_DEST_ATTR_ADDR_FAMILY") == socket.AF_INET
    assert (real.get_attr("IPVS_DEST_ATTR_U_THRESH"), real.get_attr("IPVS_DEST_ATTR_L_THRESH")) == (0, 0)


def test_del_dest_request_names_the_real_server_only():
    attrs = ipvs.dest_attrs({"address": "2001:db8::11", "port": 80}, full=False)
    found = netlink.attributes(attrs, 0, len(attrs))
    assert sorted(found) == [ipvs.DEST_ADDR, ipvs.DEST_PORT, ipvs.DEST_ADDR_FAMILY]
    assert attrs[slice(*found[ipvs.DEST_ADDR])] == socket.inet_pton(socket.AF_INET6, "2001:db8::11")


def kernel_answer(cmd, outer, attrs, sequence=1):
    """A dump answer as the kernel lays it out: nlmsghdr, genlmsghdr, one nested attribute."""
    body = struct.pack("=BBH", cmd, 1, 0) + ipvs.nla(outer, b"".join(ipvs.nla(kind, value) for kind, value in attrs))
    return struct.pack("=IHHII", 16 + len(body), 42, 2, sequence, 0) + body


def test_decode_service_as_the_kernel_sends_it():
    address = socket.inet_aton("192.0.2.10") + b"\0" * 12  # the kernel always sends 16 address bytes
    stats = ipvs.nla(1, struct.pack("=I", 5))
    data = kernel_answer(IPVS_CMD_NEW_SERVICE, ipvs.ATTR_SERVICE, [
        (ipvs.SVC_AF, struct.pack("=H", socket.AF_INET)), (ipvs.SVC_PROTOCOL, struct.pack("=H", 6)),
        (ipvs.SVC_ADDR, address), (ipvs.SVC_PORT, struct.pack("!H", 6443)), (ipvs.SVC_SCHED_NAME, b"wlc\0"),
        (ipvs.SVC_FLAGS, struct.pack("=II", 0, 0xFFFFFFFF)), (ipvs.SVC_TIMEOUT, struct.pack("=I", 0)),
        (ipvs.SVC_NETMASK, struct.pack("=I", 0xFFFFFFFF)), (10 | 0x8000, stats)])
    [(kind, _flags, _seq, start, end)] = netlink.split_messages(data)
    assert kind == 42
    service = ipvs.decode_service(data, start - netlink.HEADER.size + ipvs.HEADER, end, {})
    assert service == {"address": "192.0.2.10", "port": 6443, "protocol": "tcp", "scheduler": "wlc", "family": "ipv4",
                       "fwmark": None}


def test_decode_fwmark_and_ipv6_services():
    data = kernel_answer(IPVS_CMD_NEW_SERVICE, ipvs.ATTR_SERVICE, [
        (ipvs.SVC_AF, struct.pack("=H", socket.AF_INET6)), (ipvs.SVC_FWMARK, struct.pack("=I", 7)), (ipvs.SVC_SCHED_NAME, b"rr\0")])
    service = ipvs.decode_service(data, ipvs.HEADER, len(data), {})
    assert (service["address"], service["fwmark"], service["port"], service["protocol"], service["family"]) == (None, 7, 0, 0, "ipv6")
    data = kernel_answer(IPVS_CMD_NEW_SERVICE, ipvs.ATTR_SERVICE, [
        (ipvs.SVC_AF, struct.pack("=H", socket.AF_INET6)), (ipvs.SVC_PROTOCOL, struct.pack("=H", 132)),
        (ipvs.SVC_ADDR, socket.inet_pton(socket.AF_INET6, "2001:db8:0:0:1:0:0:10")), (ipvs.SVC_PORT, struct.pack("!H", 80))])
    service = ipvs.decode_service(data, ipvs.HEADER, len(data), {})
    assert (service["address"], service["protocol"], service["scheduler"]) == ("2001:db8::1:0:0:10", "sctp", None)


def test_decode_dest_family_from_the_answer_or_the_service():
    attrs = [(ipvs.DEST_ADDR, socket.inet_aton("198.51.100.1") + b"\0" * 12), (ipvs.DEST_PORT, struct.pack("!H", 8080)),
             (ipvs.DEST_FWD_METHOD, struct.pack("=I", 0x10 | 0)), (ipvs.DEST_WEIGHT, struct.pack("=I", 2)),
             (ipvs.DEST_ACTIVE_CONNS, struct.pack("=I", 4)), (ipvs.DEST_INACT_CONNS, struct.pack("=I", 9))]
    data = kernel_answer(IPVS_CMD_NEW_DEST, ipvs.ATTR_DEST, attrs)
    expected = {"address": "198.51.100.1", "port": 8080, "weight": 2, "forward_method": "masquerade",
                "active_connections": 4, "inactive_connections": 9}
    assert ipvs.decode_dest(data, ipvs.HEADER, len(data), socket.AF_INET, {}) == expected
    # an IPv4 real server of an IPv6 service: the answer's own family wins
    data = kernel_answer(IPVS_CMD_NEW_DEST, ipvs.ATTR_DEST, attrs + [(ipvs.DEST_ADDR_FAMILY, struct.pack("=H", socket.AF_INET))])
    assert ipvs.decode_dest(data, ipvs.HEADER, len(data), socket.AF_INET6, {}) == expected


def test_malformed_answers_raise():
    data = kernel_answer(IPVS_CMD_NEW_SERVICE, ipvs.ATTR_SERVICE, [(ipvs.SVC_AF, struct.pack("=H", socket.AF_INET))])
    with pytest.raises(VipError, match="malformed netlink answer: message of"):
        netlink.split_messages(data[:-4] + b"", len(data) - 4)
    broken = data[:ipvs.HEADER] + struct.pack("=HH", 200, ipvs.ATTR_SERVICE) + data[ipvs.HEADER + 4:]
    with pytest.raises(VipError, match="malformed netlink answer: attribute of type 1 and 200 bytes"):
        ipvs.decode_service(broken, ipvs.HEADER, len(broken), {})
    data = kernel_answer(IPVS_CMD_NEW_DEST, ipvs.ATTR_SERVICE, [])
    with pytest.raises(VipError, match="without a real-server attribute"):
        ipvs.decode_dest(data, ipvs.HEADER, len(data), socket.AF_INET, {})


def test_error_answer_with_the_kernels_text():
    request = struct.pack("=IHHII", 60, 42, 5, 9, 0)
    tlv = ipvs.nla(netlink.NLMSGERR_ATTR_MSG, b"unknown scheduler\0")
    body = struct.pack("=i", -2) + request + tlv
    data = struct.pack("=IHHII", 16 + len(body), NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 9, 0) + body
    [(_kind, flags, _seq, start, end)] = netlink.split_messages(data)
    code, text = netlink.error_answer(data, start, end, flags)
    assert (code, text) == (2, "unknown scheduler")
    assert netlink.errno_text(code, text) == "No such file or directory: unknown scheduler (errno 2)"
    ack = struct.pack("=i", 0) + request
    assert netlink.error_answer(ack, 0, len(ack), NLM_F_CAPPED) == (0, None)


# --------------------------------------------------------------------------- a real kernel

@pytest.fixture
def controller():
    """IPVSSocket driving this kernel's generic-netlink controller (family id 16) instead of IPVS."""
    genl = GenericNetlinkSocket()
    genl.bind("nlctrl", ctrlmsg)
    conn = ipvs.IPVSSocket(genl)
    try:
        yield conn
    finally:
        conn.close()


def family_request(name):
    return ipvs.nla(2, name.encode() + b"\0")  # CTRL_ATTR_FAMILY_NAME


def test_dump_reads_every_answer_of_a_real_kernel(controller):
    def decode(data, start, end):
        span = netlink.attributes(data, start, end)[2]
        return bytes(data[span[0]:span[1]]).rstrip(b"\0").decode()

    names = controller.dump(CTRL_CMD_GETFAMILY, b"", decode, "listing families")
    assert "nlctrl" in names and len(names) == len(set(names))


def test_batch_names_every_refused_operation_across_writes(controller):
    # 600 requests, three writes: the kernel refuses the unknown families (ENOENT), answers the others
    operations = []
    for index in range(600):
        name = "nosuch%d" % index if index % 250 == 7 else "nlctrl"
        operations.append((CTRL_CMD_GETFAMILY, family_request(name), lambda n=name: "looking up family %s" % n))
    with pytest.raises(VipError) as caught:
        controller.batch(operations)
    failures = str(caught.value).split("; ")
    assert failures == ["looking up family nosuch%d failed: No such file or directory (errno 2)" % index
                        for index in (7, 257, 507)]
    controller.batch(operations[:3])  # all accepted: no error, and the socket is still in step
    assert "nlctrl" in controller.dump(CTRL_CMD_GETFAMILY, b"", lambda data, start, end: "nlctrl", "listing")


def test_operations_order_and_descriptions():
    stale = dict(SERVICE, address="192.0.2.20", family="ipv4", fwmark=None, real_servers=None)
    new = dict(SERVICE6, real_servers=[{"address": "2001:db8::11", "port": 8443, "weight": 1, "forward_method": None}])
    kept = dict(SERVICE, real_servers=[])
    changes = {"remove_services": [stale], "add_services": [new], "edit_services": [kept],
               "remove_dests": [{"service": kept, "dest": DEST}], "add_dests": [], "edit_dests": []}
    operations = ipvs._operations(changes)  # pylint: disable=protected-access
    assert [describe() for _cmd, _attrs, describe in operations] == [
        "removing IPVS service TCP 192.0.2.20:6443",
        "adding IPVS service UDP [2001:db8::10]:443 (scheduler rr)",
        "adding real server [2001:db8::11]:8443 to IPVS service UDP [2001:db8::10]:443",
        "setting scheduler wrr on IPVS service TCP 192.0.2.10:6443",
        "removing real server 198.51.100.1:8080 of IPVS service TCP 192.0.2.10:6443"]
    cmd, attrs, _describe = operations[-1]
    assert cmd == IPVS_CMD_DEL_DEST
    real = netlink.attributes(attrs, 0, len(attrs))[ipvs.ATTR_DEST]
    assert ipvs.DEST_WEIGHT not in netlink.attributes(attrs, real[0], real[1])


def test_after_changes_derives_the_state():
    foreign = {"address": "203.0.113.5", "port": 80, "protocol": "tcp", "scheduler": "rr", "family": "ipv4", "fwmark": None,
               "real_servers": None}
    fwmarks = [{"address": None, "port": 0, "protocol": 0, "scheduler": "rr", "family": family, "fwmark": 7, "real_servers": None}
               for family in ("ipv4", "ipv6")]
    have = {"address": "192.0.2.10", "port": 6443, "protocol": "tcp", "scheduler": "wlc", "family": "ipv4", "fwmark": None,
            "real_servers": [dict(DEST, address="198.51.100.%d" % i, active_connections=i, inactive_connections=0) for i in (1, 2, 3)]}
    stale = dict(have, address="192.0.2.20", real_servers=[])
    want = dict(have, scheduler="rr")
    changes = {"remove_services": [stale], "add_services": [dict(SERVICE6, real_servers=[dict(DEST, forward_method=None)])],
               "edit_services": [want],
               "remove_dests": [{"service": want, "dest": have["real_servers"][2]}],
               "edit_dests": [{"service": want, "dest": dict(DEST, address="198.51.100.2", weight=9)}],
               "add_dests": [{"service": want, "dest": dict(DEST, address="198.51.100.0", forward_method=None)}]}
    after = ipvs.after_changes([foreign, stale, have] + fwmarks, changes)
    assert [(s["address"], s["fwmark"]) for s in after] == [
        (None, 7), (None, 7), ("192.0.2.10", None), ("2001:db8::10", None), ("203.0.113.5", None)]
    assert after[4] == foreign and after[0]["real_servers"] is None
    assert after[3]["real_servers"] == [dict(DEST, forward_method="route", active_connections=0, inactive_connections=0)]
    assert after[2]["scheduler"] == "rr"
    assert [(d["address"], d["weight"], d["forward_method"], d["active_connections"]) for d in after[2]["real_servers"]] == [
        ("198.51.100.0", 3, "route", 0), ("198.51.100.1", 3, "masquerade", 1), ("198.51.100.2", 9, "masquerade", 2)]
    assert have["real_servers"][2]["address"] == "198.51.100.3" and have["scheduler"] == "wlc"  # inputs untouched


def test_real_servers_read_for_owned_and_desired_services_only():
    owned = reconcile.parse_ranges(["192.0.2.0/28"], "owned_addresses")
    which = hosttasks._real_servers_filter(owned, [("203.0.113.5", 443, "tcp")])  # pylint: disable=protected-access
    assert which({"address": "192.0.2.10", "port": 80, "protocol": "tcp"})
    assert which({"address": "203.0.113.5", "port": 443, "protocol": "tcp"})  # desired
    assert not which({"address": "203.0.113.5", "port": 80, "protocol": "tcp"})  # kube-proxy's
    assert not which({"address": "192.0.2.20", "port": 80, "protocol": "tcp"})
    assert not which({"address": None, "port": 0, "protocol": 0, "fwmark": 7})
    nothing_owned = hosttasks._real_servers_filter(None)  # pylint: disable=protected-access
    assert not nothing_owned({"address": "192.0.2.10", "port": 80, "protocol": "tcp"})


def test_no_answer_is_an_error_not_a_hang(controller):
    controller.channel.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("@ll", 0, 100000))
    with pytest.raises(VipError, match=r"^waiting failed: no answer from the kernel within 30 s$"):
        controller.channel.receive("waiting")

"""vip_probe without a kernel: the frames it sends and parses, and the judgement of what came back."""
import base64
import socket
import struct

import pytest

from ansible_collections.baremetal.vip.plugins.module_utils import vipprobe
from ansible_collections.baremetal.vip.plugins.module_utils.errors import VipError

ME = "02:00:00:00:00:aa"
CP1, CP2 = "02:00:00:00:00:01", "02:00:00:00:00:02"
ON_LINK = {"reachable": True, "interface": "br0", "mac": ME, "source": "192.0.2.1", "gateway": None, "local": False,
           "error": None}


def vip(address="192.0.2.10", expected=((CP1, "cp1"),)):
    return {"address": address, "label": "control-plane VIP",
            "expected": None if expected is None else [{"mac": m, "host": h} for m, h in expected]}


# --------------------------------------------------------------------------- frames

def test_arp_request_is_a_broadcast_who_has_with_our_addresses():
    frame = vipprobe.arp_request(vipprobe.mac_bytes(ME), "192.0.2.1", "192.0.2.10")
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == vipprobe.mac_bytes(ME) and frame[12:14] == b"\x08\x06"
    assert struct.unpack("!HHBBH", frame[14:22]) == (1, 0x0800, 6, 4, 1)
    assert frame[28:32] == socket.inet_aton("192.0.2.1") and frame[38:42] == socket.inet_aton("192.0.2.10")
    assert vipprobe.parse_arp_reply(frame) is None  # a request is not an answer


def arp_reply(sender_mac, sender_ip):
    mac = vipprobe.mac_bytes(sender_mac)
    return (vipprobe.mac_bytes(ME) + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + mac
            + socket.inet_aton(sender_ip) + vipprobe.mac_bytes(ME) + socket.inet_aton("192.0.2.1"))


def test_arp_reply_gives_sender_address_and_mac():
    assert vipprobe.parse_arp_reply(arp_reply(CP1, "192.0.2.10")) == ("192.0.2.10", CP1)
    assert vipprobe.parse_arp_reply(b"\x00" * 20) is None


def test_neighbour_solicitation_goes_to_the_solicited_node_group_with_a_valid_checksum():
    frame = vipprobe.neighbour_solicitation(vipprobe.mac_bytes(ME), "2001:db8::1", "2001:db8::abcd:1234")
    assert frame[:6] == bytes(bytearray([0x33, 0x33, 0xff, 0xcd, 0x12, 0x34])) and frame[12:14] == b"\x86\xdd"
    ipv6 = frame[14:54]
    assert ipv6[6] == 58 and ipv6[7] == 255 and socket.inet_ntop(socket.AF_INET6, ipv6[24:40]) == "ff02::1:ffcd:1234"
    icmp = frame[54:]
    assert icmp[0] == 135 and icmp[8:24] == socket.inet_pton(socket.AF_INET6, "2001:db8::abcd:1234")
    assert icmp[24:26] == b"\x01\x01" and icmp[26:32] == vipprobe.mac_bytes(ME)
    pseudo = ipv6[8:24] + ipv6[24:40] + struct.pack("!I3xB", len(icmp), 58)
    # RFC 1071: a packet with its checksum sums to 0xffff, whose complement is 0
    assert vipprobe._checksum(pseudo + icmp) == 0  # pylint: disable=protected-access


def advertisement(target, frame_mac, option_mac=None):
    icmp = struct.pack("!BBHI", 136, 0, 0, 0x60000000) + socket.inet_pton(socket.AF_INET6, target)
    if option_mac:
        icmp += b"\x02\x01" + vipprobe.mac_bytes(option_mac)
    header = struct.pack("!IHBB", 6 << 28, len(icmp), 58, 255) + socket.inet_pton(socket.AF_INET6, target) * 2
    return vipprobe.mac_bytes(ME) + vipprobe.mac_bytes(frame_mac) + b"\x86\xdd" + header + icmp


def test_neighbour_advertisement_prefers_the_target_link_layer_option():
    assert vipprobe.parse_neighbour_advertisement(advertisement("2001:db8::10", CP2, CP1)) == ("2001:db8::10", CP1)
    padded = advertisement("2001:db8::10", CP2) + b"\x00" * 8  # no option (zero length ends the walk)
    assert vipprobe.parse_neighbour_advertisement(padded) == ("2001:db8::10", CP2)
    assert vipprobe.parse_neighbour_advertisement(arp_reply(CP1, "192.0.2.10")) is None


# --------------------------------------------------------------------------- judging ARP / NDP

def test_exactly_one_answer_from_the_holder_is_ok():
    record = vipprobe.judge_vip(vip(), ON_LINK, [CP1, CP1.upper(), CP1])
    assert (record["ok"], record["count"], record["macs"], record["holder"], record["problem"]) == (True, 1, [CP1], "cp1", None)


@pytest.mark.parametrize("answers, count, text", [
    ([], 0, "0 MAC addresses answer ARP on br0 (exactly one wanted, the holder's: 02:00:00:00:00:01 (cp1))"),
    ([CP1, CP2, CP1], 2, "2 MAC addresses answer ARP on br0: 02:00:00:00:00:01 (cp1), 02:00:00:00:00:02 (exactly one"),
])
def test_zero_or_two_macs_are_problems(answers, count, text):
    record = vipprobe.judge_vip(vip(), ON_LINK, answers)
    assert record["ok"] is False and record["count"] == count and text in record["problem"], record


def test_one_answer_that_is_not_the_holders_is_a_problem():
    record = vipprobe.judge_vip(vip(), ON_LINK, [CP2])
    assert record["ok"] is False
    assert record["problem"] == ("control-plane VIP 192.0.2.10: 02:00:00:00:00:02 answers ARP on br0, which is not the "
                                 "holder's (02:00:00:00:00:01 (cp1))")
    nobody = vipprobe.judge_vip(vip(expected=()), ON_LINK, [CP2])
    assert nobody["ok"] is False and "no node holds it" in nobody["problem"]
    silent = vipprobe.judge_vip(vip(expected=()), ON_LINK, [])  # on no node: the nodes' check reports it, not twice
    assert silent["ok"] is None and silent["count"] == 0 and silent["problem"] is None
    assert "nothing answers ARP, and no node holds it" in silent["note"]


def test_without_expected_macs_only_the_count_is_judged():
    assert vipprobe.judge_vip(vip(expected=None), ON_LINK, [CP2])["ok"] is True
    assert vipprobe.judge_vip(vip("2001:db8::10", expected=None), ON_LINK, [CP1, CP2])["problem"].count("NDP") == 1
    # a MetalLB L2 address (no node says who answers): nothing answering is a problem too, not a note
    silent = vipprobe.judge_vip(vip(expected=None), ON_LINK, [])
    assert silent["ok"] is False and silent["count"] == 0 and "0 MAC addresses answer ARP on br0 (exactly one wanted)" in silent["problem"]


@pytest.mark.parametrize("route, text", [
    (None, "ARP not checked: no route to it from the vantage point"),
    (dict(ON_LINK, reachable=False, error="Network is unreachable (ENETUNREACH)"), "(Network is unreachable (ENETUNREACH))"),
    (dict(ON_LINK, gateway="203.0.113.1"), "through the gateway 203.0.113.1, not on its segment"),
    (dict(ON_LINK, local=True), "the vantage point holds the address itself"),
])
def test_addresses_off_the_segment_are_notes_not_problems(route, text):
    record = vipprobe.judge_vip(vip(), route, None)
    assert record["ok"] is None and record["problem"] is None and text in record["note"], record


# --------------------------------------------------------------------------- judging the API

API = {"address": "192.0.2.10", "port": 6443, "path": "/readyz"}


def outcome(**kw):
    out = {"connected": True, "verified": True, "error": None, "peer": "kube-apiserver", "status": 200, "body": "ok"}
    out.update(kw)
    return out


def test_tls_verified_and_readyz_ok():
    record = vipprobe.judge_api(API, ON_LINK, "kubeconfig /k", outcome())
    assert record["ok"] is True and record["tls"] is True and record["readyz_status"] == 200 and record["ca"] == "kubeconfig /k"


@pytest.mark.parametrize("result, text", [
    (outcome(verified=False, status=None, body=None, error="certificate not accepted: unable to get local issuer certificate"),
     "no TLS connection whose certificate chains to the cluster CA (/ca.crt): certificate not accepted"),
    (outcome(connected=False, verified=False, status=None, body=None, error="TCP connection: [Errno 111] Connection refused"),
     "Connection refused"),
    (outcome(status=500, body="[-]etcd failed"), "/readyz answers HTTP 500 with \"[-]etcd failed\""),
    (outcome(status=401, body="Unauthorized"), "HTTP 401"),
])
def test_tls_or_readyz_failures_are_problems(result, text):
    record = vipprobe.judge_api(API, ON_LINK, "/ca.crt", result)
    assert record["ok"] is False and text in record["problem"], record["problem"]


def test_api_not_checked_says_why():
    assert "TLS not checked: no CA here" in vipprobe.judge_api(API, ON_LINK, "no CA here", None)["note"]
    off = vipprobe.judge_api(API, dict(ON_LINK, reachable=False, error="x"), None, None)
    assert off["ok"] is None and "no route" in off["note"]


def test_parse_http_plain_and_chunked():
    assert vipprobe.parse_http(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") == {"status": 200, "body": "ok"}
    chunked = b"HTTP/1.1 500 Internal\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n[-]e\r\n3\r\ntcd\r\n0\r\n\r\n"
    assert vipprobe.parse_http(chunked) == {"status": 500, "body": "[-]etcd"}
    assert vipprobe.parse_http(b"\x16\x03garbage")["status"] is None


def test_the_ca_comes_from_the_current_cluster_of_the_kubeconfig(tmp_path):
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    (tmp_path / "ca.crt").write_text(pem)
    config = tmp_path / "kubeconfig"
    config.write_text(
        "clusters:\n- name: other\n  cluster: {certificate-authority: nowhere.crt}\n"
        "- name: lab\n  cluster: {certificate-authority-data: %s}\n"
        "contexts:\n- name: c\n  context: {cluster: lab, user: admin}\ncurrent-context: c\n"
        "users:\n- name: admin\n  user: {token: secret-token}\n" % base64.b64encode(pem.encode()).decode())
    assert vipprobe.read_ca(kubeconfig=str(config)) == (pem, "kubeconfig %s" % config)
    assert vipprobe.read_ca(ca_file=str(tmp_path / "ca.crt"))[0] == pem
    relative = tmp_path / "relative"
    relative.write_text("clusters:\n- name: x\n  cluster: {certificate-authority: ca.crt}\n")
    assert vipprobe.read_ca(kubeconfig=str(relative)) == (pem, str(tmp_path / "ca.crt"))
    with pytest.raises(VipError, match="names no certificate authority"):
        vipprobe.read_ca(kubeconfig=str(tmp_path / "ca.crt"))


def test_bad_options_are_named_all_at_once():
    params = {"timeout_ms": 50, "vips": [{"address": "cp.example", "expected": [{"mac": "02:00:00:00:00"}]}],
              "api": {"address": "192.0.2.10", "port": 70000}}
    with pytest.raises(VipError) as info:
        vipprobe.check_params(params)
    for text in ("timeout_ms is 50", "api.port is 70000", "vips[0].address is 'cp.example'", "vips[0].expected[0].mac"):
        assert text in str(info.value)

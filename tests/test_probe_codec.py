"""PPP/PPPoE bytes of the probes, and the PPP client's answers to what a BRAS sends, checked byte for byte."""

import hashlib
import struct

import pytest

from provisioner.checks import ppp_codec as c
from provisioner.checks.pppoe_probe import _PppSession

IID = bytes.fromhex("0211223344556677")
CHALLENGE = bytes.fromhex("00112233445566778899aabbccddeeff")


# --- control packets and options ----------------------------------------------------------------------

def test_control_packet_round_trip_and_padding_ignored():
    packet = c.ControlPacket(c.CONF_REQ, 0x42, bytes.fromhex("0104 05d4"))
    wire = packet.to_bytes()
    assert wire == bytes.fromhex("01 42 0008 0104 05d4")
    # Ethernet pads short frames: bytes past the length field are not part of the packet.
    assert c.ControlPacket.from_bytes(wire + bytes(10)) == packet


@pytest.mark.parametrize("wire", [b"\x01\x02\x00", bytes.fromhex("01020003"), bytes.fromhex("0102000a0000")])
def test_control_packet_rejects_bad_lengths(wire):
    with pytest.raises(c.CodecError):
        c.ControlPacket.from_bytes(wire)


def test_options_parse_and_build():
    data = bytes.fromhex("0104 05d4" "0305 c223 05" "0506 deadbeef")
    options = c.parse_options(data)
    assert options == [c.Option(1, b"\x05\xd4"), c.Option(3, b"\xc2\x23\x05"), c.Option(5, bytes.fromhex("deadbeef"))]
    assert c.build_options(options) == data
    assert c.mru_option(1492).to_bytes() == bytes.fromhex("010405d4")
    assert c.magic_option(0xDEADBEEF).to_bytes() == bytes.fromhex("0506deadbeef")
    assert c.auth_option(c.PROTO_CHAP).to_bytes() == bytes.fromhex("0305c22305")
    assert c.auth_option(c.PROTO_PAP).to_bytes() == bytes.fromhex("0304c023")


@pytest.mark.parametrize("data", [bytes.fromhex("01"), bytes.fromhex("0101"), bytes.fromhex("0106 05d4")])
def test_options_reject_malformed(data):
    with pytest.raises(c.CodecError):
        c.parse_options(data)


# --- IPv6CP (no scapy class: built here) ---------------------------------------------------------------

def test_ipv6cp_configure_request_bytes():
    assert c.ipv6cp_configure_request(7, IID) == bytes.fromhex("01 07 000e 01 0a 0211223344556677")


def test_ipv6cp_interface_id_must_be_8_nonzero_bytes():
    with pytest.raises(c.CodecError):
        c.interface_id_option(bytes(8))
    with pytest.raises(c.CodecError):
        c.interface_id_option(b"\x01" * 7)
    assert c.link_local_from_interface_id(IID) == "fe80::211:2233:4455:6677"


# --- authentication ------------------------------------------------------------------------------------

def test_chap_md5_response_is_md5_of_id_secret_challenge():
    value = c.chap_md5_response(0x2A, b"line1-secret", CHALLENGE)
    assert value.hex() == "4b1363ee58da03d6204673b85bea3303"
    assert value == hashlib.md5(b"\x2a" + b"line1-secret" + CHALLENGE).digest()
    assert c.chap_md5_response(0x2B, b"line1-secret", CHALLENGE) != value  # the identifier is hashed in


def test_chap_challenge_parsing_and_response_packet():
    challenge = c.ControlPacket(c.CHAP_CHALLENGE, 0x2A, bytes((16,)) + CHALLENGE + b"bras")
    value, name = c.parse_chap_challenge(challenge)
    assert (value, name) == (CHALLENGE, b"bras")
    response = c.chap_response(0x2A, b"line1-secret", value, b"line1@isp.example").to_bytes()
    assert response == (bytes.fromhex("02 2a 0026 10") + bytes.fromhex("4b1363ee58da03d6204673b85bea3303")
                        + b"line1@isp.example")


def test_chap_challenge_with_oversized_value_is_malformed():
    with pytest.raises(c.CodecError):
        c.parse_chap_challenge(c.ControlPacket(c.CHAP_CHALLENGE, 1, bytes((20,)) + CHALLENGE))


def test_pap_request_and_messages():
    assert c.pap_request(3, b"u@isp", b"pw").to_bytes() == bytes.fromhex("01 03 000d 05") + b"u@isp" + b"\x02pw"
    nak = c.ControlPacket(c.PAP_NAK, 3, b"\x0dLogin failed!")
    assert c.auth_message(c.PROTO_PAP, nak) == "Login failed!"
    failure = c.ControlPacket(c.CHAP_FAILURE, 3, b"Access denied")
    assert c.auth_message(c.PROTO_CHAP, failure) == "Access denied"


def test_echo_reply_carries_our_magic_and_the_request_data():
    request = c.ControlPacket(c.ECHO_REQ, 9, bytes.fromhex("11223344") + b"ping")
    assert c.echo_reply(request, 0xCAFEBABE).to_bytes() == bytes.fromhex("0a 09 000c cafebabe") + b"ping"


# --- PPPoE discovery -----------------------------------------------------------------------------------

# A PADO as rp-pppoe's pppoe-server sends it: AC-Name "hkl-bras", Service-Name "isp", Host-Uniq, AC-Cookie.
PADO_TAGS = (bytes.fromhex("0102 0008") + b"hkl-bras" + bytes.fromhex("0101 0003") + b"isp"
             + bytes.fromhex("0103 0004 cafef00d") + bytes.fromhex("0104 0002 abcd"))


def test_parse_tags_of_a_pado():
    tags = c.parse_tags(PADO_TAGS)
    assert tags == [(c.TAG_AC_NAME, b"hkl-bras"), (c.TAG_SERVICE_NAME, b"isp"),
                    (c.TAG_HOST_UNIQ, bytes.fromhex("cafef00d")), (c.TAG_AC_COOKIE, bytes.fromhex("abcd"))]
    assert c.build_tags(tags) == PADO_TAGS
    assert c.tag_values(tags, c.TAG_SERVICE_NAME) == [b"isp"]


def test_parse_tags_stops_at_end_of_list_and_rejects_truncation():
    assert c.parse_tags(bytes.fromhex("0101 0000 0000 0000") + b"junk") == [(c.TAG_SERVICE_NAME, b"")]
    with pytest.raises(c.CodecError):
        c.parse_tags(bytes.fromhex("0102 0010") + b"short")
    with pytest.raises(c.CodecError):
        c.parse_tags(bytes.fromhex("0101 0000 01"))


def test_parse_pppoe_slices_by_length_and_checks_version():
    frame = c.pppoe_header(c.PADS, 0x0001, 4) + bytes.fromhex("0101 0000") + bytes(20)  # padded frame
    assert c.parse_pppoe(frame) == (c.PADS, 1, bytes.fromhex("01010000"))
    with pytest.raises(c.CodecError):
        c.parse_pppoe(bytes.fromhex("2109 0000 0000"))
    with pytest.raises(c.CodecError):
        c.parse_pppoe(c.pppoe_header(c.PADO, 0, 50) + b"x")


# --- the PPP client's answers --------------------------------------------------------------------------

class MockLink:
    """Mock of the PPPoE link (no socket, no BRAS): records the PPP payloads the session would send.

    The real exchange with pppd runs in the lab tests; here each answer is checked byte for byte."""

    def __init__(self) -> None:
        self.peer = "02:00:00:00:00:01"
        self.session_id = 1
        self.sent: list[tuple[int, bytes]] = []

    def send_ppp(self, protocol: int, payload: bytes) -> None:
        self.sent.append((protocol, payload))

    def last(self, protocol: int, code: int | None = None) -> c.ControlPacket:
        packets = [c.ControlPacket.from_bytes(p) for proto, p in self.sent if proto == protocol]
        return [p for p in packets if code is None or p.code == code][-1]


def session(auth: str = "auto") -> tuple[_PppSession, MockLink]:
    link = MockLink()
    return _PppSession(link, "line1@isp.example", "line1-secret", auth), link  # type: ignore[arg-type]


def peer_request(protocol: int, ident: int, options: bytes) -> tuple[int, bytes]:
    return protocol, c.ControlPacket(c.CONF_REQ, ident, options).to_bytes()


def test_lcp_request_is_acked_byte_for_byte():
    s, link = session()
    options = bytes.fromhex("0104 05aa" "0206 00000000" "0305 c223 05" "0506 12345678")
    s._on_ppp(*peer_request(c.PROTO_LCP, 0x10, options), 0.0)
    assert link.sent == [(c.PROTO_LCP, bytes.fromhex("02 10 0019") + options)]
    assert s.auth_protocol == c.PROTO_CHAP


def test_lcp_rejects_pfc_acfc_and_naks_mschap():
    s, link = session()
    s._on_ppp(*peer_request(c.PROTO_LCP, 1, bytes.fromhex("0104 05d4 0702 0802")), 0.0)
    assert link.last(c.PROTO_LCP) == c.ControlPacket(c.CONF_REJ, 1, bytes.fromhex("0702 0802"))
    s._on_ppp(*peer_request(c.PROTO_LCP, 2, bytes.fromhex("0104 05d4 0305 c223 81")), 0.0)
    assert link.last(c.PROTO_LCP) == c.ControlPacket(c.CONF_NAK, 2, bytes.fromhex("0305 c223 05"))
    assert not s.lcp.peer_acked


def test_pap_wanted_naks_chap_with_pap():
    s, link = session(auth="pap")
    s._on_ppp(*peer_request(c.PROTO_LCP, 5, bytes.fromhex("0305 c223 05")), 0.0)
    assert link.last(c.PROTO_LCP) == c.ControlPacket(c.CONF_NAK, 5, bytes.fromhex("0304 c023"))


def test_our_lcp_request_adopts_nak_and_opens_on_ack():
    s, link = session()
    s.lcp.start(0.0)
    first = link.last(c.PROTO_LCP)
    assert first.code == c.CONF_REQ and c.parse_options(first.data)[0] == c.mru_option(1492)
    s._on_ppp(c.PROTO_LCP, c.ControlPacket(c.CONF_NAK, first.ident, bytes.fromhex("0104 05ae")).to_bytes(), 0.1)
    second = link.last(c.PROTO_LCP)
    assert second.ident != first.ident and c.parse_options(second.data)[0] == c.mru_option(1454)
    s._on_ppp(c.PROTO_LCP, second.with_code(c.CONF_ACK).to_bytes(), 0.2)
    s._on_ppp(*peer_request(c.PROTO_LCP, 9, bytes.fromhex("0506 12345678")), 0.3)
    assert s.lcp.opened


def test_echo_request_answered_with_our_magic():
    s, link = session()
    s._on_ppp(c.PROTO_LCP, c.ControlPacket(c.ECHO_REQ, 4, bytes.fromhex("01020304")).to_bytes(), 0.0)
    assert link.last(c.PROTO_LCP) == c.ControlPacket(c.ECHO_REPLY, 4, struct.pack("!I", s.magic))


def test_chap_challenge_answered_and_success_recorded():
    s, link = session()
    challenge = c.ControlPacket(c.CHAP_CHALLENGE, 0x2A, bytes((16,)) + CHALLENGE + b"hkl-bras")
    s._on_ppp(c.PROTO_CHAP, challenge.to_bytes(), 0.0)
    assert link.last(c.PROTO_CHAP) == c.chap_response(0x2A, b"line1-secret", CHALLENGE, b"line1@isp.example")
    s._on_ppp(c.PROTO_CHAP, c.ControlPacket(c.CHAP_SUCCESS, 0x2A, b"Access granted").to_bytes(), 0.1)
    assert s.auth is not None and s.auth.ok and s.auth.message == "Access granted"
    assert s.authenticator == "hkl-bras"


def test_ipcp_takes_address_and_dns_from_nak_and_rejects_vj():
    s, link = session()
    s.ipcp.start(0.0)
    ours = link.last(c.PROTO_IPCP)
    assert ours.data == bytes.fromhex("0306 00000000 8106 00000000 8306 00000000")
    nak = bytes.fromhex("0306 cb007164 8106 cb007135")  # 203.0.113.100, DNS 203.0.113.53
    s._on_ppp(c.PROTO_IPCP, c.ControlPacket(c.CONF_NAK, ours.ident, nak).to_bytes(), 0.1)
    again = link.last(c.PROTO_IPCP)
    assert again.data == bytes.fromhex("0306 cb007164 8106 cb007135 8306 00000000")
    s._on_ppp(*peer_request(c.PROTO_IPCP, 3, bytes.fromhex("0206 002d 0f01 0306 cb007101")), 0.2)
    assert link.last(c.PROTO_IPCP, c.CONF_REJ) == c.ControlPacket(c.CONF_REJ, 3, bytes.fromhex("0206 002d 0f01"))
    # The peer is up: our own request goes out again at once rather than at the retransmission timer.
    assert link.last(c.PROTO_IPCP).code == c.CONF_REQ


def test_ipv6cp_zero_or_equal_interface_ids():
    s, link = session()
    s._on_ppp(*peer_request(c.PROTO_IPV6CP, 1, bytes.fromhex("010a") + s.interface_id), 0.0)
    reply = link.last(c.PROTO_IPV6CP)
    assert reply.code == c.CONF_NAK and c.parse_options(reply.data)[0].value != s.interface_id
    s._on_ppp(*peer_request(c.PROTO_IPV6CP, 2, bytes.fromhex("010a") + IID), 0.0)
    assert link.last(c.PROTO_IPV6CP) == c.ControlPacket(c.CONF_ACK, 2, bytes.fromhex("010a") + IID)


def test_terminate_request_acked_and_recorded():
    s, link = session()
    s._on_ppp(c.PROTO_LCP, c.ControlPacket(c.TERM_REQ, 7, b"Session limit exceeded").to_bytes(), 1.0)
    assert link.last(c.PROTO_LCP) == c.ControlPacket(c.TERM_ACK, 7, b"Session limit exceeded")
    assert s.terminated is not None and s.terminated.by == "lcp"
    assert s.terminated.message == "Session limit exceeded"


def test_unknown_control_protocol_is_protocol_rejected():
    s, link = session()
    ccp = c.ControlPacket(c.CONF_REQ, 1, bytes.fromhex("1a04 7800")).to_bytes()
    s._on_ppp(0x80FD, ccp, 0.0)
    reject = link.last(c.PROTO_LCP)
    assert reject.code == c.PROTO_REJ and reject.data == bytes.fromhex("80fd") + ccp

"""PPP and PPPoE wire formats as plain bytes (RFC 1661, 1332, 5072, 1334, 1994, 2516, 1877).

Kept free of scapy and sockets so every byte can be unit-tested. Control protocols (LCP, IPCP, IPv6CP)
share one packet layout: code, identifier, length, data; Configure packets carry type-length-value options.
Options are kept as raw bytes so a Configure-Ack can echo the peer's request byte for byte.
"""

from __future__ import annotations

import hashlib
import ipaddress
import struct
from dataclasses import dataclass

# PPP protocol numbers.
PROTO_LCP = 0xC021
PROTO_PAP = 0xC023
PROTO_CHAP = 0xC223
PROTO_IPCP = 0x8021
PROTO_IPV6CP = 0x8057  # scapy has no class for it: built here from bytes

# Control protocol codes (RFC 1661 §5).
CONF_REQ, CONF_ACK, CONF_NAK, CONF_REJ = 1, 2, 3, 4
TERM_REQ, TERM_ACK, CODE_REJ, PROTO_REJ = 5, 6, 7, 8
ECHO_REQ, ECHO_REPLY, DISCARD_REQ = 9, 10, 11

# LCP option types.
LCP_MRU, LCP_ACCM, LCP_AUTH, LCP_QUALITY, LCP_MAGIC, LCP_PFC, LCP_ACFC = 1, 2, 3, 4, 5, 7, 8
CHAP_MD5 = 5
# IPCP option types (RFC 1332, RFC 1877 for DNS).
IPCP_COMPRESSION, IPCP_ADDRESS, IPCP_DNS1, IPCP_DNS2 = 2, 3, 129, 131
# IPv6CP option types (RFC 5072).
IPV6CP_INTERFACE_ID = 1

# PAP and CHAP codes.
PAP_REQUEST, PAP_ACK, PAP_NAK = 1, 2, 3
CHAP_CHALLENGE, CHAP_RESPONSE, CHAP_SUCCESS, CHAP_FAILURE = 1, 2, 3, 4

# PPPoE discovery codes and tags (RFC 2516).
PADI, PADO, PADR, PADS, PADT = 0x09, 0x07, 0x19, 0x65, 0xA7
TAG_END_OF_LIST = 0x0000
TAG_SERVICE_NAME = 0x0101
TAG_AC_NAME = 0x0102
TAG_HOST_UNIQ = 0x0103
TAG_AC_COOKIE = 0x0104
TAG_RELAY_SESSION_ID = 0x0110
TAG_SERVICE_NAME_ERROR = 0x0201
TAG_AC_SYSTEM_ERROR = 0x0202
TAG_GENERIC_ERROR = 0x0203
ERROR_TAGS = {
    TAG_SERVICE_NAME_ERROR: "Service-Name-Error",
    TAG_AC_SYSTEM_ERROR: "AC-System-Error",
    TAG_GENERIC_ERROR: "Generic-Error",
}

ETH_P_PPPOE_DISC = 0x8863
ETH_P_PPPOE_SESS = 0x8864
PPPOE_HEADER_LEN = 6


class CodecError(ValueError):
    """Malformed bytes from the wire."""


@dataclass(frozen=True)
class ControlPacket:
    """An LCP/IPCP/IPv6CP/PAP/CHAP packet: code, identifier and data (the length is derived)."""

    code: int
    ident: int
    data: bytes = b""

    def to_bytes(self) -> bytes:
        return struct.pack("!BBH", self.code, self.ident, 4 + len(self.data)) + self.data

    @classmethod
    def from_bytes(cls, payload: bytes) -> ControlPacket:
        """Parse one packet; bytes past its length field (Ethernet padding) are ignored."""
        if len(payload) < 4:
            raise CodecError(f"control packet of {len(payload)} bytes is shorter than its 4-byte header")
        code, ident, length = struct.unpack_from("!BBH", payload)
        if length < 4 or length > len(payload):
            raise CodecError(f"control packet length field {length} does not fit {len(payload)} bytes")
        return cls(code, ident, payload[4:length])

    def with_code(self, code: int) -> ControlPacket:
        """The same packet under another code: how Configure-Ack echoes a request byte for byte."""
        return ControlPacket(code, self.ident, self.data)


@dataclass(frozen=True)
class Option:
    """One configuration option; `value` excludes the type and length bytes."""

    type: int
    value: bytes = b""

    def to_bytes(self) -> bytes:
        if len(self.value) > 253:
            raise CodecError(f"option {self.type} value of {len(self.value)} bytes does not fit one option")
        return bytes((self.type, 2 + len(self.value))) + self.value


def parse_options(data: bytes) -> list[Option]:
    options: list[Option] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise CodecError(f"option header truncated at byte {pos}")
        opt_type, length = data[pos], data[pos + 1]
        if length < 2 or pos + length > len(data):
            raise CodecError(f"option {opt_type} has bad length {length} at byte {pos}")
        options.append(Option(opt_type, data[pos + 2 : pos + length]))
        pos += length
    return options


def build_options(options: list[Option]) -> bytes:
    return b"".join(option.to_bytes() for option in options)


def configure_request(ident: int, options: list[Option]) -> ControlPacket:
    return ControlPacket(CONF_REQ, ident, build_options(options))


# --- LCP ---------------------------------------------------------------------------------------------

def mru_option(mru: int) -> Option:
    return Option(LCP_MRU, struct.pack("!H", mru))


def magic_option(magic: int) -> Option:
    return Option(LCP_MAGIC, struct.pack("!I", magic))


def auth_option(protocol: int) -> Option:
    """Auth-Protocol option; CHAP always with MD5 (the only algorithm this probe speaks)."""
    value = struct.pack("!H", protocol)
    return Option(LCP_AUTH, value + bytes((CHAP_MD5,)) if protocol == PROTO_CHAP else value)


def echo_reply(request: ControlPacket, magic: int) -> ControlPacket:
    """Answer an Echo-Request: same identifier and data, our magic number in front (RFC 1661 §5.8)."""
    return ControlPacket(ECHO_REPLY, request.ident, struct.pack("!I", magic) + request.data[4:])


def protocol_reject(ident: int, protocol: int, rejected_payload: bytes) -> ControlPacket:
    return ControlPacket(PROTO_REJ, ident, struct.pack("!H", protocol) + rejected_payload)


def rejected_protocol(packet: ControlPacket) -> int:
    if len(packet.data) < 2:
        raise CodecError("Protocol-Reject without a protocol number")
    return struct.unpack_from("!H", packet.data)[0]


# --- authentication -----------------------------------------------------------------------------------

def chap_md5_response(ident: int, secret: bytes, challenge: bytes) -> bytes:
    """CHAP-MD5 response value: MD5(identifier || secret || challenge) (RFC 1994 §4.1)."""
    return hashlib.md5(bytes((ident,)) + secret + challenge).digest()


def parse_chap_challenge(packet: ControlPacket) -> tuple[bytes, bytes]:
    """(challenge value, authenticator name) of a CHAP Challenge."""
    if not packet.data:
        raise CodecError("CHAP Challenge without a value")
    size = packet.data[0]
    if 1 + size > len(packet.data):
        raise CodecError(f"CHAP value size {size} exceeds the packet")
    return packet.data[1 : 1 + size], packet.data[1 + size :]


def chap_response(ident: int, secret: bytes, challenge: bytes, name: bytes) -> ControlPacket:
    value = chap_md5_response(ident, secret, challenge)
    return ControlPacket(CHAP_RESPONSE, ident, bytes((len(value),)) + value + name)


def pap_request(ident: int, user: bytes, password: bytes) -> ControlPacket:
    if len(user) > 255 or len(password) > 255:
        raise CodecError("PAP user and password are limited to 255 bytes each")
    return ControlPacket(PAP_REQUEST, ident, bytes((len(user),)) + user + bytes((len(password),)) + password)


def auth_message(protocol: int, packet: ControlPacket) -> str:
    """The server's text in a PAP Ack/Nak (length-prefixed) or CHAP Success/Failure (rest of packet)."""
    raw = packet.data
    if protocol == PROTO_PAP and raw:
        raw = raw[1 : 1 + raw[0]]
    return raw.decode("utf-8", errors="replace")


# --- IPCP / IPv6CP ------------------------------------------------------------------------------------

def ipv4_option(opt_type: int, address: str = "0.0.0.0") -> Option:
    return Option(opt_type, ipaddress.IPv4Address(address).packed)


def option_ipv4(option: Option) -> str | None:
    if len(option.value) != 4:
        return None
    return str(ipaddress.IPv4Address(option.value))


def interface_id_option(interface_id: bytes) -> Option:
    if len(interface_id) != 8 or interface_id == bytes(8):
        raise CodecError("an IPv6CP interface identifier is 8 bytes and not all zero")
    return Option(IPV6CP_INTERFACE_ID, interface_id)


def ipv6cp_configure_request(ident: int, interface_id: bytes) -> bytes:
    """IPv6CP Configure-Request with one Interface-Identifier option (RFC 5072 §4.1)."""
    return configure_request(ident, [interface_id_option(interface_id)]).to_bytes()


def link_local_from_interface_id(interface_id: bytes) -> str:
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + interface_id))


# --- PPPoE --------------------------------------------------------------------------------------------

def pppoe_header(code: int, session_id: int, payload_len: int) -> bytes:
    return struct.pack("!BBHH", 0x11, code, session_id, payload_len)


def parse_pppoe(frame_payload: bytes) -> tuple[int, int, bytes]:
    """(code, session id, payload) of a PPPoE packet, the payload sliced by its length field."""
    if len(frame_payload) < PPPOE_HEADER_LEN:
        raise CodecError("PPPoE header truncated")
    ver_type, code, session_id, length = struct.unpack_from("!BBHH", frame_payload)
    if ver_type != 0x11:
        raise CodecError(f"PPPoE version/type {ver_type:#04x}, expected 0x11")
    end = PPPOE_HEADER_LEN + length
    if end > len(frame_payload):
        raise CodecError(f"PPPoE length {length} exceeds the frame")
    return code, session_id, frame_payload[PPPOE_HEADER_LEN:end]


def parse_tags(payload: bytes) -> list[tuple[int, bytes]]:
    """Discovery tags in order; parsing stops at End-Of-List."""
    tags: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(payload):
        if pos + 4 > len(payload):
            raise CodecError(f"tag header truncated at byte {pos}")
        tag_type, length = struct.unpack_from("!HH", payload, pos)
        if tag_type == TAG_END_OF_LIST:
            break
        if pos + 4 + length > len(payload):
            raise CodecError(f"tag {tag_type:#06x} length {length} exceeds the packet")
        tags.append((tag_type, payload[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return tags


def build_tags(tags: list[tuple[int, bytes]]) -> bytes:
    return b"".join(struct.pack("!HH", tag_type, len(value)) + value for tag_type, value in tags)


def tag_values(tags: list[tuple[int, bytes]], tag_type: int) -> list[bytes]:
    return [value for t, value in tags if t == tag_type]


def tag_text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")

"""PPPoE line probe: log in to the BRAS like a customer router would, stage by stage, then hang up.

Stages and their failure reasons (`StageResult.reason`):

- ``discovery``: PADI → PADO → PADR → PADS. ``no-pado``, ``pado-error``, ``no-pads``, ``pads-error``
  (Service-Name-Error / AC-System-Error / Generic-Error tag, with its text).
- ``lcp``: ``lcp-timeout``, ``terminated`` (the BRAS hung up during LCP).
- ``auth`` (CHAP-MD5 or PAP, as the BRAS asks): ``auth-rejected`` (CHAP Failure / PAP Nak with the
  server's message), ``auth-timeout``, ``terminated``.
- ``ipcp``: ``ipcp-no-address`` (address option rejected or offered as 0.0.0.0), ``ipcp-timeout``,
  ``session-limit`` (the BRAS terminated the session after a successful authentication and before IPCP
  came up: what the lab BRAS does when the account's session limit is exceeded), ``terminated``.
- ``ipv6cp`` (interface identifiers; a Protocol-Reject means "not offered", which passes):
  ``ipv6cp-timeout``, ``terminated``.
- ``teardown``: LCP Terminate-Request, then PADT, always, so no session stays open on the BRAS.

Without credentials only discovery runs (and the session it opened is closed with a PADT).
The probe speaks PPP itself over raw frames (scapy sockets), so it needs no PPP support in the kernel.
"""

from __future__ import annotations

import os
import random
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretStr
from scapy.layers.l2 import Ether
from scapy.layers.ppp import PPP, PPPoE, PPPoED
from scapy.packet import Raw

from provisioner.checks import ppp_codec as c
from provisioner.checks.link import L2Port, exchange, require_interface
from provisioner.checks.results import CheckRecorder, ProbeResult, StageDraft, StageFailed

DEFAULT_TIMEOUT = 5.0      # seconds each stage may wait for the BRAS
RETRY_S = 0.5              # Configure-Request/PAP retransmission once the peer has spoken
LCP_START_RETRY_S = 0.1    # until then: the BRAS's pppd starts ~0.5-1 s after PADS and stays silent until
                           # it hears a Configure-Request, so each retry is a chance to start at once
PADI_RETRY_S = 1.0
FAST_RESEND_S = 0.05       # answer the peer's first Configure-Request with ours at once
TERMINATE_WAIT_S = 1.0
TERMINATE_RETRY_S = 0.3
MAX_MRU = 1492             # PPPoE over a 1500-byte Ethernet (RFC 2516)
BROADCAST = "ff:ff:ff:ff:ff:ff"
AUTH_CHOICES = ("auto", "chap", "pap")


@dataclass(frozen=True)
class _Frame:
    ethertype: int
    src: str
    code: int
    session_id: int
    payload: bytes


class _PppoeLink:
    """PPPoE framing over one interface: discovery to the AC, then PPP inside our session."""

    def __init__(self, iface: str) -> None:
        self.port = L2Port(iface, (c.ETH_P_PPPOE_DISC, c.ETH_P_PPPOE_SESS))
        self.mac = self.port.mac
        self.peer = BROADCAST
        self.session_id = 0

    def send_discovery(self, code: int, tags: list[tuple[int, bytes]]) -> None:
        dst = BROADCAST if code == c.PADI else self.peer
        session_id = self.session_id if code == c.PADT else 0
        self.port.send(Ether(src=self.mac, dst=dst, type=c.ETH_P_PPPOE_DISC)
                       / PPPoED(code=code, sessionid=session_id) / Raw(c.build_tags(tags)))

    def send_ppp(self, protocol: int, payload: bytes) -> None:
        self.port.send(Ether(src=self.mac, dst=self.peer, type=c.ETH_P_PPPOE_SESS)
                       / PPPoE(sessionid=self.session_id) / PPP(proto=protocol) / Raw(payload))

    def recv(self, deadline: float) -> _Frame | None:
        while (data := self.port.recv(deadline)) is not None:
            if len(data) < 14 + c.PPPOE_HEADER_LEN:
                continue
            dst = _mac(data[0:6])
            if dst != self.mac and not (dst == BROADCAST and data[15] == c.PADT):
                continue
            try:
                code, session_id, payload = c.parse_pppoe(data[14:])
            except c.CodecError:
                continue
            return _Frame(struct.unpack_from("!H", data, 12)[0], _mac(data[6:12]), code, session_id, payload)
        return None

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> _PppoeLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _mac(raw: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in raw)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


# --- discovery ----------------------------------------------------------------------------------------

def _discover(link: _PppoeLink, timeout: float, service_name: bytes, st: StageDraft) -> float:
    """PADI → PADO → PADR → PADS; fills the stage evidence and returns the PADI time."""
    host_uniq = os.urandom(8)  # matched in PADO and PADS: several clients may share one MAC
    t0 = time.monotonic()
    pado, padi_sent = _exchange(link, c.PADI, [(c.TAG_SERVICE_NAME, service_name), (c.TAG_HOST_UNIQ, host_uniq)],
                                c.PADO, host_uniq, t0 + timeout)
    if pado is None:
        raise StageFailed("no-pado", f"no PADO within {timeout:g} s ({padi_sent} PADI sent)", padi_sent=padi_sent)
    st.evidence["pado_ms"] = _ms(time.monotonic() - t0)
    tags = c.parse_tags(pado.payload)
    st.evidence.update(
        ac_mac=pado.src,
        ac_name=_first_text(tags, c.TAG_AC_NAME),
        service_names=[c.tag_text(v) for v in c.tag_values(tags, c.TAG_SERVICE_NAME)],
        padi_sent=padi_sent,
    )
    _raise_on_error_tags(tags, "pado-error", "PADO")

    link.peer = pado.src
    padr_tags = [(c.TAG_SERVICE_NAME, service_name), (c.TAG_HOST_UNIQ, host_uniq)]
    padr_tags += [(t, v) for t, v in tags if t in (c.TAG_AC_COOKIE, c.TAG_RELAY_SESSION_ID)]
    pads, _ = _exchange(link, c.PADR, padr_tags, c.PADS, host_uniq, time.monotonic() + timeout)
    if pads is None:
        raise StageFailed("no-pads", f"PADO from {pado.src} but no PADS within {timeout:g} s")
    st.evidence["pads_ms"] = _ms(time.monotonic() - t0)
    pads_tags = c.parse_tags(pads.payload)
    _raise_on_error_tags(pads_tags, "pads-error", "PADS")
    if pads.session_id == 0:
        raise StageFailed("pads-error", "PADS without a session id")
    link.session_id = pads.session_id
    st.evidence["session_id"] = pads.session_id
    st.detail = (f"AC {st.evidence['ac_name']!r} ({pado.src}), session {pads.session_id:#06x}, "
                 f"PADO {st.evidence['pado_ms']} ms")
    return t0


def _exchange(link: _PppoeLink, send_code: int, tags: list[tuple[int, bytes]], want_code: int,
              host_uniq: bytes, deadline: float) -> tuple[_Frame | None, int]:
    """Send a discovery packet (again every PADI_RETRY_S) until the matching answer or the deadline."""
    def match(frame: _Frame) -> _Frame | None:
        wanted = (frame.ethertype == c.ETH_P_PPPOE_DISC and frame.code == want_code
                  and (link.peer == BROADCAST or frame.src == link.peer) and _host_uniq_matches(frame, host_uniq))
        return frame if wanted else None

    return exchange(lambda: link.send_discovery(send_code, tags), link.recv, match, deadline, PADI_RETRY_S)


def _host_uniq_matches(frame: _Frame, host_uniq: bytes) -> bool:
    try:
        values = c.tag_values(c.parse_tags(frame.payload), c.TAG_HOST_UNIQ)
    except c.CodecError:
        return False
    return not values or values[0] == host_uniq


def _first_text(tags: list[tuple[int, bytes]], tag_type: int) -> str | None:
    values = c.tag_values(tags, tag_type)
    return c.tag_text(values[0]) if values else None


def _raise_on_error_tags(tags: list[tuple[int, bytes]], reason: str, packet: str) -> None:
    for tag_type, value in tags:
        if tag_type in c.ERROR_TAGS:
            name = c.ERROR_TAGS[tag_type]
            raise StageFailed(reason, f"{packet} carries {name}: {c.tag_text(value)!r}",
                              error_tag=name, error_message=c.tag_text(value))


# --- PPP ----------------------------------------------------------------------------------------------

Review = Callable[[list[c.Option]], tuple[list[c.Option], list[c.Option]]]


class _Negotiation:
    """Our side of one option negotiation (LCP, IPCP or IPv6CP): request until acked, answer the peer."""

    def __init__(self, link: _PppoeLink, protocol: int, options: list[c.Option], review: Review,
                 on_nak: Callable[[c.Option], c.Option] = lambda option: option, retry_s: float = RETRY_S) -> None:
        self.link = link
        self.retry_s = retry_s
        self.protocol = protocol
        self.options = list(options)
        self.review = review
        self.on_nak = on_nak
        self.ident = random.randrange(256)
        self.started = False
        self.acked = False           # the peer acked our request
        self.peer_acked = False      # we acked the peer's request
        self.peer_options: list[c.Option] = []
        self.rejected_types: set[int] = set()
        self.protocol_rejected = False
        self.closed_by_peer = False
        self.requests_sent = 0
        self.last_sent = -1.0
        self.due: float | None = None

    @property
    def opened(self) -> bool:
        return self.acked and self.peer_acked

    def option(self, opt_type: int, *, peer: bool = False) -> c.Option | None:
        return next((o for o in (self.peer_options if peer else self.options) if o.type == opt_type), None)

    def start(self, now: float) -> None:
        self.started = True
        self._send_request(now)

    def tick(self, now: float) -> None:
        if self.due is not None and now >= self.due and not self.acked and not self.protocol_rejected:
            self._send_request(now)

    def _send_request(self, now: float) -> None:
        self.ident = (self.ident + 1) % 256
        self.link.send_ppp(self.protocol, c.configure_request(self.ident, self.options).to_bytes())
        self.requests_sent += 1
        self.last_sent = now
        self.due = now + self.retry_s

    def on_packet(self, packet: c.ControlPacket, now: float) -> None:
        if packet.code == c.CONF_REQ:
            self._answer(packet, now)
        elif packet.ident != self.ident or not self.started:
            return  # an answer to an older request
        elif packet.code == c.CONF_ACK:
            self.acked, self.due = True, None
        elif packet.code == c.CONF_NAK:
            for suggested in c.parse_options(packet.data):
                self.options = [self.on_nak(suggested) if o.type == suggested.type else o for o in self.options]
            self._send_request(now)
        elif packet.code == c.CONF_REJ:
            rejected = {o.type for o in c.parse_options(packet.data)}
            self.rejected_types |= rejected
            self.options = [o for o in self.options if o.type not in rejected]
            self._send_request(now)

    def _answer(self, request: c.ControlPacket, now: float) -> None:
        was_opened = self.opened
        options = c.parse_options(request.data)
        naks, rejects = self.review(options)
        if rejects:
            reply = c.ControlPacket(c.CONF_REJ, request.ident, c.build_options(rejects))
        elif naks:
            reply = c.ControlPacket(c.CONF_NAK, request.ident, c.build_options(naks))
        else:
            reply = request.with_code(c.CONF_ACK)  # byte for byte, as the peer sent it
            self.peer_options = options
        self.peer_acked = reply.code == c.CONF_ACK
        self.link.send_ppp(self.protocol, reply.to_bytes())
        if was_opened:
            self.acked = False  # the peer renegotiates: so do we (RFC 1661 state Opened + RCR)
        if self.started and not self.acked and now - self.last_sent >= FAST_RESEND_S:
            self._send_request(now)  # the peer just came up: no need to wait for our retransmission timer


@dataclass
class _Termination:
    by: str           # "lcp" (Terminate-Request) or "padt"
    message: str
    at: float


@dataclass
class _AuthOutcome:
    ok: bool
    message: str
    at: float


@dataclass
class _Counters:
    echo_replies: int = 0
    protocol_rejects_sent: list[str] = field(default_factory=list)
    malformed: int = 0


class _PppSession:
    """The client side of one PPP session: dispatches every frame, answers what must be answered."""

    def __init__(self, link: _PppoeLink, user: str, password: str, auth: str) -> None:
        self.link = link
        self.user = user.encode()
        self._secret = password.encode()
        self.auth_wanted = auth
        self.magic = random.randrange(1, 2**32)
        self.lcp = _Negotiation(link, c.PROTO_LCP, [c.mru_option(MAX_MRU), c.magic_option(self.magic)],
                                self._review_lcp, self._lcp_nak, retry_s=LCP_START_RETRY_S)
        self.ipcp = _Negotiation(link, c.PROTO_IPCP, [c.ipv4_option(c.IPCP_ADDRESS), c.ipv4_option(c.IPCP_DNS1),
                                                      c.ipv4_option(c.IPCP_DNS2)], _review_ipcp, self._ipcp_nak)
        self.ipcp_zero_address_naks = 0
        self.interface_id = _random_interface_id()
        self.ipv6cp = _Negotiation(link, c.PROTO_IPV6CP, [c.interface_id_option(self.interface_id)],
                                   self._review_ipv6cp)
        self.auth_protocol: int | None = None
        self.authenticator = ""
        self.auth: _AuthOutcome | None = None
        self.terminated: _Termination | None = None
        self.term_acked = False
        self.counters = _Counters()
        self._lcp_ident = random.randrange(256)
        self._pap_due: float | None = None
        self._term_due: float | None = None

    # The event loop: every wait in the probe runs frames through here until its condition holds.
    def pump(self, until: Callable[[], bool], deadline: float) -> bool:
        while not until():
            now = time.monotonic()
            if now >= deadline:
                return False
            self._tick(now)
            frame = self.link.recv(min([deadline, *self._timers()]))
            if frame is not None:
                self._dispatch(frame, time.monotonic())
        return True

    def _timers(self) -> list[float]:
        dues = [n.due for n in (self.lcp, self.ipcp, self.ipv6cp)] + [self._pap_due, self._term_due]
        return [due for due in dues if due is not None]

    def _tick(self, now: float) -> None:
        for negotiation in (self.lcp, self.ipcp, self.ipv6cp):
            negotiation.tick(now)
        if self._pap_due is not None and now >= self._pap_due:
            self._send_pap(now)
        if self._term_due is not None and now >= self._term_due:
            self.send_terminate(now)

    def _dispatch(self, frame: _Frame, now: float) -> None:
        if frame.src != self.link.peer or frame.session_id != self.link.session_id:
            return
        if frame.ethertype == c.ETH_P_PPPOE_DISC:
            if frame.code == c.PADT and self.terminated is None:
                self.terminated = _Termination("padt", _padt_message(frame.payload), now)
            return
        if len(frame.payload) < 2:
            return
        protocol = struct.unpack_from("!H", frame.payload)[0]
        body = frame.payload[2:]
        try:
            self._on_ppp(protocol, body, now)
        except c.CodecError:
            self.counters.malformed += 1

    def _on_ppp(self, protocol: int, body: bytes, now: float) -> None:
        if protocol == c.PROTO_LCP:
            self._on_lcp(c.ControlPacket.from_bytes(body), now)
        elif protocol == c.PROTO_CHAP:
            self._on_chap(c.ControlPacket.from_bytes(body), now)
        elif protocol == c.PROTO_PAP:
            self._on_pap(c.ControlPacket.from_bytes(body), now)
        elif protocol in (c.PROTO_IPCP, c.PROTO_IPV6CP):
            negotiation = self.ipcp if protocol == c.PROTO_IPCP else self.ipv6cp
            packet = c.ControlPacket.from_bytes(body)
            if packet.code == c.TERM_REQ:
                negotiation.closed_by_peer = True
                self.link.send_ppp(protocol, packet.with_code(c.TERM_ACK).to_bytes())
            else:
                negotiation.on_packet(packet, now)
        elif protocol >= 0x8000:
            # A control protocol we do not speak (CCP, ...): refuse it so the peer stops asking.
            self.counters.protocol_rejects_sent.append(f"{protocol:#06x}")
            self._lcp_send(c.PROTO_REJ, struct.pack("!H", protocol) + body)
        # Data packets (IPv4/IPv6) are not ours to answer.

    def _on_lcp(self, packet: c.ControlPacket, now: float) -> None:
        self.lcp.retry_s = RETRY_S  # the peer is up: back to the normal pace
        if packet.code in (c.CONF_REQ, c.CONF_ACK, c.CONF_NAK, c.CONF_REJ):
            self.lcp.on_packet(packet, now)
            if packet.code == c.CONF_REQ and self.lcp.peer_acked:
                auth = self.lcp.option(c.LCP_AUTH, peer=True)
                self.auth_protocol = struct.unpack_from("!H", auth.value)[0] if auth else None
            if (self.lcp.opened and self.auth_protocol == c.PROTO_PAP and self.auth is None
                    and self._pap_due is None):
                self._send_pap(now)  # PAP is ours to start once LCP is open
        elif packet.code == c.ECHO_REQ:
            self.link.send_ppp(c.PROTO_LCP, c.echo_reply(packet, self.magic).to_bytes())
            self.counters.echo_replies += 1
        elif packet.code == c.TERM_REQ:
            self.link.send_ppp(c.PROTO_LCP, packet.with_code(c.TERM_ACK).to_bytes())
            if self.terminated is None:
                self.terminated = _Termination("lcp", packet.data.decode("utf-8", "replace"), now)
            self._term_due = None
        elif packet.code == c.TERM_ACK:
            self.term_acked, self._term_due = True, None
        elif packet.code == c.PROTO_REJ:
            rejected = c.rejected_protocol(packet)
            for negotiation in (self.ipcp, self.ipv6cp):
                if negotiation.protocol == rejected:
                    negotiation.protocol_rejected, negotiation.due = True, None

    def _on_chap(self, packet: c.ControlPacket, now: float) -> None:
        if packet.code == c.CHAP_CHALLENGE:
            challenge, name = c.parse_chap_challenge(packet)
            self.authenticator = name.decode("utf-8", "replace")
            self.link.send_ppp(c.PROTO_CHAP, c.chap_response(packet.ident, self._secret, challenge,
                                                             self.user).to_bytes())
        elif packet.code in (c.CHAP_SUCCESS, c.CHAP_FAILURE) and self.auth is None:
            self.auth = _AuthOutcome(packet.code == c.CHAP_SUCCESS, c.auth_message(c.PROTO_CHAP, packet), now)

    def _on_pap(self, packet: c.ControlPacket, now: float) -> None:
        if packet.code in (c.PAP_ACK, c.PAP_NAK) and self.auth is None:
            self.auth = _AuthOutcome(packet.code == c.PAP_ACK, c.auth_message(c.PROTO_PAP, packet), now)
            self._pap_due = None

    def _send_pap(self, now: float) -> None:
        self._lcp_ident = (self._lcp_ident + 1) % 256
        self.link.send_ppp(c.PROTO_PAP, c.pap_request(self._lcp_ident, self.user, self._secret).to_bytes())
        self._pap_due = now + RETRY_S

    def _lcp_send(self, code: int, data: bytes) -> None:
        self._lcp_ident = (self._lcp_ident + 1) % 256
        self.link.send_ppp(c.PROTO_LCP, c.ControlPacket(code, self._lcp_ident, data).to_bytes())

    def send_terminate(self, now: float) -> None:
        self._lcp_send(c.TERM_REQ, b"probe done")
        self._term_due = now + TERMINATE_RETRY_S

    # Option policies --------------------------------------------------------------------------------
    def _review_lcp(self, options: list[c.Option]) -> tuple[list[c.Option], list[c.Option]]:
        naks, rejects = [], []
        for option in options:
            if option.type in (c.LCP_MRU, c.LCP_ACCM, c.LCP_MAGIC):
                continue
            if option.type == c.LCP_AUTH:
                counter = self._auth_counter_proposal(option.value)
                if counter is not None:
                    naks.append(counter)
            else:
                rejects.append(option)  # PFC/ACFC must not be used on PPPoE; no quality, callback, multilink
        return naks, rejects

    def _auth_counter_proposal(self, value: bytes) -> c.Option | None:
        """None to accept the BRAS's auth protocol, else the option we ask for instead."""
        protocol = struct.unpack_from("!H", value)[0] if len(value) >= 2 else 0
        chap_md5 = protocol == c.PROTO_CHAP and value[2:] == bytes((c.CHAP_MD5,))
        if self.auth_wanted == "pap":
            return None if protocol == c.PROTO_PAP else c.auth_option(c.PROTO_PAP)
        if chap_md5 or (protocol == c.PROTO_PAP and self.auth_wanted == "auto"):
            return None
        return c.auth_option(c.PROTO_CHAP)

    def _lcp_nak(self, suggested: c.Option) -> c.Option:
        if suggested.type == c.LCP_MAGIC:
            self.magic = random.randrange(1, 2**32)
            return c.magic_option(self.magic)
        if suggested.type == c.LCP_MRU and len(suggested.value) == 2:
            return c.mru_option(max(64, min(MAX_MRU, struct.unpack("!H", suggested.value)[0])))
        return suggested

    def _ipcp_nak(self, suggested: c.Option) -> c.Option:
        if suggested.type == c.IPCP_ADDRESS and suggested.value == bytes(4):
            self.ipcp_zero_address_naks += 1  # "ask again for nothing": the BRAS has no address for us
        return suggested

    def _review_ipv6cp(self, options: list[c.Option]) -> tuple[list[c.Option], list[c.Option]]:
        naks = [c.interface_id_option(_random_interface_id()) for o in options
                if o.type == c.IPV6CP_INTERFACE_ID and o.value == self.interface_id]
        return naks, [o for o in options if o.type != c.IPV6CP_INTERFACE_ID]


def _review_ipcp(options: list[c.Option]) -> tuple[list[c.Option], list[c.Option]]:
    # The peer tells us its own address; anything else (VJ compression, ...) we do not do.
    return [], [o for o in options if o.type != c.IPCP_ADDRESS]


def _random_interface_id() -> bytes:
    return bytes((random.randrange(256) & 0xFC,)) + os.urandom(7)  # universal/local bit clear: random


def _padt_message(payload: bytes) -> str:
    try:
        tags = c.parse_tags(payload)
    except c.CodecError:
        return ""
    return "; ".join(f"{c.ERROR_TAGS.get(t, hex(t))}: {c.tag_text(v)}" for t, v in tags if t in c.ERROR_TAGS)


# --- the stages ---------------------------------------------------------------------------------------

def _check_not_terminated(session: _PppSession, during: str) -> None:
    if session.terminated is not None:
        t = session.terminated
        via = "LCP Terminate-Request" if t.by == "lcp" else "PADT"
        raise StageFailed("terminated", f"the BRAS ended the session during {during} ({via} {t.message!r})",
                          terminated_by=t.by, message=t.message)


def _stage_lcp(session: _PppSession, timeout: float, t_padi: float, st: StageDraft) -> None:
    session.lcp.start(time.monotonic())
    session.pump(lambda: session.lcp.opened or session.terminated is not None, time.monotonic() + timeout)
    _check_not_terminated(session, "LCP")
    lcp = session.lcp
    st.evidence.update(requests_sent=lcp.requests_sent, peer_options=[o.type for o in lcp.peer_options])
    if not lcp.opened:
        raise StageFailed("lcp-timeout", f"LCP not up within {timeout:g} s (peer request acked: "
                          f"{lcp.peer_acked}, our request acked: {lcp.acked})")
    peer_mru = lcp.option(c.LCP_MRU, peer=True)
    our_mru = lcp.option(c.LCP_MRU)
    st.evidence.update(
        peer_mru=struct.unpack("!H", peer_mru.value)[0] if peer_mru else None,
        our_mru=struct.unpack("!H", our_mru.value)[0] if our_mru else None,
        auth_protocol=_AUTH_NAMES.get(session.auth_protocol, session.auth_protocol),
        since_padi_ms=_ms(time.monotonic() - t_padi),
    )
    st.detail = f"up, peer MRU {st.evidence['peer_mru']}, auth {st.evidence['auth_protocol']}"


_AUTH_NAMES = {None: "none", c.PROTO_CHAP: "chap", c.PROTO_PAP: "pap"}


def _stage_auth(session: _PppSession, timeout: float, st: StageDraft) -> None:
    method = _AUTH_NAMES.get(session.auth_protocol, f"{session.auth_protocol:#06x}")
    st.evidence.update(method=method, user=session.user.decode("utf-8", "replace"))
    if session.auth_protocol is None:
        st.detail = "the BRAS asked for no authentication"
        return
    session.pump(lambda: session.auth is not None or session.terminated is not None,
                 time.monotonic() + timeout)
    if session.authenticator:
        st.evidence["authenticator"] = session.authenticator
    if session.auth is None:
        _check_not_terminated(session, "authentication")
        raise StageFailed("auth-timeout", f"no {method.upper()} result from the BRAS within {timeout:g} s")
    st.evidence["message"] = session.auth.message
    if not session.auth.ok:
        word = "Failure" if method == "chap" else "Nak"
        raise StageFailed("auth-rejected", f"{method.upper()} {word}: {session.auth.message!r}")
    st.detail = f"{method.upper()} accepted: {session.auth.message!r}"


def _stage_ipcp(session: _PppSession, timeout: float, t_padi: float, st: StageDraft) -> None:
    ipcp = session.ipcp
    def refused() -> bool:
        return (c.IPCP_ADDRESS in ipcp.rejected_types or session.ipcp_zero_address_naks > 0
                or ipcp.protocol_rejected)

    session.pump(lambda: ipcp.opened or refused() or session.terminated is not None,
                 time.monotonic() + timeout)
    st.evidence["requests_sent"] = ipcp.requests_sent
    if refused():
        raise StageFailed("ipcp-no-address", "the BRAS refused to assign an IPv4 address "
                          f"(rejected options {sorted(ipcp.rejected_types)})")
    if session.terminated is not None and session.auth is not None and session.auth.ok:
        t = session.terminated
        after = _ms(t.at - session.auth.at)
        raise StageFailed("session-limit", f"the BRAS ended the session {after} ms after a successful "
                          f"authentication ({t.message!r}): the account's session limit is likely exceeded",
                          terminated_by=t.by, message=t.message, ms_after_auth=after)
    _check_not_terminated(session, "IPCP")
    if not ipcp.opened:
        raise StageFailed("ipcp-timeout", f"IPCP not up within {timeout:g} s")
    address = c.option_ipv4(ipcp.option(c.IPCP_ADDRESS))
    if address in (None, "0.0.0.0"):
        raise StageFailed("ipcp-no-address", "IPCP came up without an IPv4 address")
    dns = [c.option_ipv4(o) if (o := ipcp.option(t)) else None for t in (c.IPCP_DNS1, c.IPCP_DNS2)]
    peer = ipcp.option(c.IPCP_ADDRESS, peer=True)
    st.evidence.update(address=address, dns1=dns[0], dns2=dns[1], peer_address=c.option_ipv4(peer) if peer else None,
                       since_padi_ms=_ms(time.monotonic() - t_padi))
    st.detail = f"{address}, DNS {', '.join(d for d in dns if d) or 'none'}"


def _stage_ipv6cp(session: _PppSession, timeout: float, st: StageDraft) -> None:
    ipv6cp = session.ipv6cp
    session.pump(lambda: ipv6cp.opened or ipv6cp.protocol_rejected or session.terminated is not None,
                 time.monotonic() + timeout)
    if ipv6cp.protocol_rejected:
        st.evidence["offered"] = False
        st.detail = "not offered by the BRAS (Protocol-Reject)"
        return
    _check_not_terminated(session, "IPv6CP")
    if not ipv6cp.opened:
        raise StageFailed("ipv6cp-timeout", f"IPv6CP not up within {timeout:g} s")
    ours = ipv6cp.option(c.IPV6CP_INTERFACE_ID)
    peer = ipv6cp.option(c.IPV6CP_INTERFACE_ID, peer=True)
    st.evidence.update(offered=True, interface_id=ours.value.hex() if ours else None,
                       peer_interface_id=peer.value.hex() if peer else None,
                       link_local=c.link_local_from_interface_id(ours.value) if ours else None)
    st.detail = f"interface id {st.evidence['interface_id']}, peer {st.evidence['peer_interface_id']}"


def _stage_teardown(link: _PppoeLink, session: _PppSession | None, st: StageDraft) -> None:
    if not link.session_id:
        st.detail = "no session was opened"
        return
    if session is not None:
        st.evidence.update(echo_replies=session.counters.echo_replies, malformed_frames=session.counters.malformed,
                           protocols_rejected=session.counters.protocol_rejects_sent)
    if session is not None and session.lcp.started and session.terminated is None:
        session.send_terminate(time.monotonic())
        session.pump(lambda: session.term_acked or session.terminated is not None,
                     time.monotonic() + TERMINATE_WAIT_S)
        st.evidence["terminate_acked"] = session.term_acked
    def padt_received() -> bool:
        return session is not None and session.terminated is not None and session.terminated.by == "padt"

    if padt_received():
        st.evidence.update(padt_sent=False, padt_received=True)
        st.detail = "the AC already closed the session (PADT received)"
        return
    link.send_discovery(c.PADT, [(c.TAG_GENERIC_ERROR, b"probe done")])
    if session is not None:
        session.pump(padt_received, time.monotonic() + 0.02)  # the AC's own PADT, if it sends one at once
    st.evidence.update(padt_sent=True, padt_received=padt_received())
    st.detail = "PADT sent" + (", PADT received" if padt_received() else "")


def probe_pppoe(iface: str, user: str | None = None, password: str | SecretStr | None = None, *,
                timeout: float = DEFAULT_TIMEOUT, auth: str = "auto", service_name: str = "") -> ProbeResult:
    """Prove a PPPoE line from `iface`; without credentials, discovery only. Never leaves a session open.

    Raises ValueError on bad input (missing interface, user without password, unknown auth method).
    """
    require_interface(iface)
    if (user is None) != (password is None):
        raise ValueError("give both a user and a password, or neither (discovery only)")
    if auth not in AUTH_CHOICES:
        raise ValueError(f"auth must be one of {', '.join(AUTH_CHOICES)}")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    secret = password.get_secret_value() if isinstance(password, SecretStr) else password
    rec = CheckRecorder("pppoe", iface)
    session: _PppSession | None = None
    with _PppoeLink(iface) as link:
        try:
            with rec.stage("discovery") as st:
                t_padi = _discover(link, timeout, service_name.encode(), st)
            if user is not None and secret is not None:
                session = _PppSession(link, user, secret, auth)
                with rec.stage("lcp") as st:
                    _stage_lcp(session, timeout, t_padi, st)
                with rec.stage("auth") as st:
                    _stage_auth(session, timeout, st)
                now = time.monotonic()
                session.ipcp.start(now)
                session.ipv6cp.start(now)
                with rec.stage("ipcp") as st:
                    _stage_ipcp(session, timeout, t_padi, st)
                with rec.stage("ipv6cp") as st:
                    _stage_ipv6cp(session, timeout, st)
        except StageFailed:
            pass  # recorded; the remaining stages cannot run
        finally:
            with rec.stage("teardown", reraise=False) as st:
                _stage_teardown(link, session, st)
    return rec.result()

"""DHCPv6 prefix delegation probe: ask the line for a prefix like a router on the ONU would, then give it back.

Stages and failure reasons:

- ``solicit``: Solicit with IA_PD → Advertise (server DUID, offered prefix, length, T1/T2, lifetimes, DNS).
  ``no-advertise``; ``no-prefix`` (status NoPrefixAvail or no IA_PD prefix, with the server's message).
- ``request``: Request for the offered prefix → Reply (the binding). ``no-reply``, ``no-prefix``.
- ``release``: Release → Reply, so no lease stays bound on the server. ``release-unconfirmed``.
"""

from __future__ import annotations

import random
import time
from typing import Any

from scapy.layers.dhcp6 import (
    DHCP6,
    DUID_LL,
    DHCP6_Advertise,
    DHCP6_Release,
    DHCP6_Reply,
    DHCP6_Request,
    DHCP6_Solicit,
    DHCP6OptClientId,
    DHCP6OptDNSDomains,
    DHCP6OptDNSServers,
    DHCP6OptElapsedTime,
    DHCP6OptIA_PD,
    DHCP6OptIAPrefix,
    DHCP6OptOptReq,
    DHCP6OptPref,
    DHCP6OptServerId,
    DHCP6OptStatusCode,
)
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from provisioner.checks.link import L2Port, exchange, multicast_mac, require_interface, source_link_local
from provisioner.checks.results import CheckRecorder, ProbeResult, StageDraft, StageFailed

DEFAULT_TIMEOUT = 5.0
RETRY_S = 1.0                 # RFC 8415 SOL_TIMEOUT / REQ_TIMEOUT / REL_TIMEOUT
ALL_SERVERS = "ff02::1:2"
ETH_P_IPV6 = 0x86DD
OPT_DNS_SERVERS, OPT_DOMAIN_LIST = 23, 24
STATUS_SUCCESS, STATUS_NO_PREFIX_AVAIL = 0, 6


class _Client:
    """One DHCPv6 client identity (DUID-LL of the interface, one IA_PD) on one interface."""

    def __init__(self, iface: str) -> None:
        self.port = L2Port(iface, (ETH_P_IPV6,))
        self.mac = self.port.mac
        self.source = source_link_local(iface, self.mac)
        self.duid = DUID_LL(lladdr=self.mac)
        self.iaid = random.randrange(1, 2**32)
        self.started = time.monotonic()

    def send(self, message: type[DHCP6], trid: int, *options: Packet) -> None:
        elapsed_cs = min(0xFFFF, int((time.monotonic() - self.started) * 100))
        payload = message(trid=trid) / DHCP6OptClientId(duid=self.duid)
        for option in (*options, DHCP6OptElapsedTime(elapsedtime=elapsed_cs),
                       DHCP6OptOptReq(reqopts=[OPT_DNS_SERVERS, OPT_DOMAIN_LIST])):
            payload = payload / option
        self.port.send(Ether(src=self.mac, dst=multicast_mac(ALL_SERVERS))
                       / IPv6(src=self.source, dst=ALL_SERVERS, hlim=1) / UDP(sport=546, dport=547) / payload)

    def ask(self, message: type[DHCP6], answer: type[DHCP6], deadline: float,
            *options: Packet) -> tuple[Packet | None, int]:
        """Send `message` until an `answer` with our transaction id arrives (sniffed: no sr1 matching)."""
        trid = random.randrange(2**24)

        def match(data: bytes) -> Packet | None:
            frame = Ether(data)
            reply = frame.getlayer(answer)
            if reply is None or reply.trid != trid or UDP not in frame or frame[UDP].dport != 546:
                return None
            return reply

        return exchange(lambda: self.send(message, trid, *options), self.port.recv, match, deadline, RETRY_S)

    def ia_pd(self, prefix: str | None = None, plen: int = 0) -> DHCP6OptIA_PD:
        prefixes = [DHCP6OptIAPrefix(prefix=prefix, plen=plen, preflft=0, validlft=0)] if prefix else []
        return DHCP6OptIA_PD(iaid=self.iaid, T1=0, T2=0, iapdopt=prefixes)

    def close(self) -> None:
        self.port.close()


def _lease(reply: Packet, iaid: int) -> dict[str, Any]:
    """What a server's Advertise/Reply says about our IA_PD, DNS and status."""
    info: dict[str, Any] = {"server_duid": bytes(reply[DHCP6OptServerId].duid).hex()
                            if DHCP6OptServerId in reply else None}
    status = reply.getlayer(DHCP6OptStatusCode)
    prefix = ia_status = None
    for option in reply.iterpayloads():
        if isinstance(option, DHCP6OptIA_PD) and option.iaid == iaid:
            info.update(t1=option.T1, t2=option.T2)
            for inner in option.iapdopt:
                if isinstance(inner, DHCP6OptIAPrefix) and prefix is None and inner.validlft > 0:
                    prefix = inner
                elif isinstance(inner, DHCP6OptStatusCode):
                    ia_status = inner
        elif isinstance(option, DHCP6OptDNSServers):
            info["dns"] = list(option.dnsservers)
        elif isinstance(option, DHCP6OptDNSDomains):
            info["domains"] = [d.decode() if isinstance(d, bytes) else d for d in option.dnsdomains]
        elif isinstance(option, DHCP6OptPref):
            info["preference"] = option.prefval
    if prefix is not None:
        info.update(prefix=f"{prefix.prefix}/{prefix.plen}", prefix_length=prefix.plen,
                    preferred_lifetime=prefix.preflft, valid_lifetime=prefix.validlft)
    for where, opt in (("status", status), ("ia_status", ia_status)):
        if opt is not None and opt.statuscode != STATUS_SUCCESS:
            info[where] = {"code": opt.statuscode, "message": opt.statusmsg.decode("utf-8", "replace")
                           if isinstance(opt.statusmsg, bytes) else str(opt.statusmsg)}
    return info


def _require_prefix(info: dict[str, Any], what: str) -> None:
    if "prefix" in info:
        return
    status = info.get("ia_status") or info.get("status") or {}
    message = f"status {status['code']}: {status['message']!r}" if status else "no IA_PD prefix in it"
    raise StageFailed("no-prefix", f"{what} without a delegated prefix ({message})", **status)


def _stage_solicit(client: _Client, timeout: float, st: StageDraft) -> dict[str, Any]:
    advertise, sent = client.ask(DHCP6_Solicit, DHCP6_Advertise, time.monotonic() + timeout, client.ia_pd())
    st.evidence["solicits_sent"] = sent
    if advertise is None:
        raise StageFailed("no-advertise", f"no DHCPv6 Advertise within {timeout:g} s ({sent} Solicit sent)")
    info = _lease(advertise, client.iaid)
    st.evidence.update(info)
    _require_prefix(info, "Advertise")
    st.detail = f"{info['prefix']} offered, T1/T2 {info.get('t1')}/{info.get('t2')} s"
    return {"advertise": advertise, **info}


def _stage_request(client: _Client, offer: dict[str, Any], timeout: float, st: StageDraft) -> dict[str, Any]:
    prefix, plen = offer["prefix"].split("/")
    server_id = offer["advertise"][DHCP6OptServerId]
    reply, sent = client.ask(DHCP6_Request, DHCP6_Reply, time.monotonic() + timeout,
                             DHCP6OptServerId(duid=server_id.duid), client.ia_pd(prefix, int(plen)))
    st.evidence["requests_sent"] = sent
    if reply is None:
        raise StageFailed("no-reply", f"no Reply to the Request within {timeout:g} s")
    info = _lease(reply, client.iaid)
    st.evidence.update(info)
    _require_prefix(info, "Reply")
    dns = ", ".join(info.get("dns", [])) or "none"
    st.detail = (f"{info['prefix']} bound, T1/T2 {info['t1']}/{info['t2']} s, "
                 f"valid {info['valid_lifetime']} s, DNS {dns}")
    return {"server_id": server_id, **info}


def _stage_release(client: _Client, lease: dict[str, Any], timeout: float, st: StageDraft) -> None:
    prefix, plen = lease["prefix"].split("/")
    reply, sent = client.ask(DHCP6_Release, DHCP6_Reply, time.monotonic() + timeout,
                             DHCP6OptServerId(duid=lease["server_id"].duid), client.ia_pd(prefix, int(plen)))
    st.evidence["releases_sent"] = sent
    if reply is None:
        raise StageFailed("release-unconfirmed", f"no Reply to the Release within {timeout:g} s: "
                          f"{lease['prefix']} may stay bound until it expires")
    status = reply.getlayer(DHCP6OptStatusCode)
    code = status.statuscode if status is not None else STATUS_SUCCESS
    st.evidence["status"] = code
    if code != STATUS_SUCCESS:
        raise StageFailed("release-unconfirmed", f"Release answered with status {code}")
    st.detail = f"{lease['prefix']} released"


def probe_dhcpv6_pd(iface: str, *, timeout: float = DEFAULT_TIMEOUT) -> ProbeResult:
    """Solicit → Advertise → Request → Reply → Release → Reply on `iface`. Raises ValueError on bad input."""
    require_interface(iface)
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    rec = CheckRecorder("dhcpv6-pd", iface)
    client = _Client(iface)
    lease = None
    try:
        with rec.stage("solicit") as st:
            offer = _stage_solicit(client, timeout, st)
        with rec.stage("request") as st:
            lease = _stage_request(client, offer, timeout, st)
    except StageFailed:
        pass
    finally:
        if lease is not None:
            with rec.stage("release", reraise=False) as st:
                _stage_release(client, lease, timeout, st)
        client.close()
    return rec.result()

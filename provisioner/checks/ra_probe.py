"""Router Advertisement probe: solicit the line's router and report what it tells a host.

Stages and failure reasons:

- ``ra``: Router Solicitation → Router Advertisement (router, M/O flags, router lifetime, hop limit, MTU).
  ``no-ra``; ``not-default-router`` (router lifetime 0: no IPv6 default route on this line).
- ``prefix``: the prefixes (length, on-link/autonomous flags, lifetimes). ``no-prefix`` when there is
  neither an autonomous prefix (SLAAC) nor the M flag (addresses by DHCPv6).
- ``dns``: RDNSS/DNSSL, or the O flag (DNS by DHCPv6 information-request). ``no-dns`` otherwise.
"""

from __future__ import annotations

import time
from typing import Any

from scapy.layers.inet6 import (
    ICMPv6ND_RA,
    ICMPv6ND_RS,
    ICMPv6NDOptDNSSL,
    ICMPv6NDOptMTU,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptRDNSS,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from provisioner.checks.link import L2Port, exchange, multicast_mac, require_interface, source_link_local
from provisioner.checks.results import CheckRecorder, ProbeResult, StageFailed

DEFAULT_TIMEOUT = 5.0
RETRY_S = 2.0        # radvd answers an RS after up to 0.5 s and rate-limits multicast RAs
ALL_ROUTERS = "ff02::2"
ETH_P_IPV6 = 0x86DD
_PREFERENCE = {0: "medium", 1: "high", 2: "reserved", 3: "low"}  # RFC 4191 §2.2


def _solicit(iface: str, timeout: float) -> tuple[Packet | None, int]:
    with L2Port(iface, (ETH_P_IPV6,)) as port:
        source = source_link_local(iface, port.mac)
        rs = (Ether(src=port.mac, dst=multicast_mac(ALL_ROUTERS)) / IPv6(src=source, dst=ALL_ROUTERS, hlim=255)
              / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=port.mac))

        def match(data: bytes) -> Packet | None:
            frame = Ether(data)
            # RFC 4861 §6.1.2: a valid RA comes from a link-local source with hop limit 255.
            valid = (ICMPv6ND_RA in frame and frame[IPv6].hlim == 255 and frame[IPv6].src.startswith("fe80"))
            return frame if valid else None

        return exchange(lambda: port.send(rs), port.recv, match, time.monotonic() + timeout, RETRY_S)


def _advertisement(frame: Packet) -> dict[str, Any]:
    ra = frame[ICMPv6ND_RA]
    info: dict[str, Any] = {
        "router": frame[IPv6].src, "router_mac": frame[Ether].src, "managed": bool(ra.M), "other": bool(ra.O),
        "router_lifetime": ra.routerlifetime, "hop_limit": ra.chlim, "preference": _PREFERENCE[ra.prf],
        "mtu": None, "prefixes": [], "rdnss": [], "dnssl": [],
    }
    for option in ra.iterpayloads():
        if isinstance(option, ICMPv6NDOptPrefixInfo):
            info["prefixes"].append({
                "prefix": f"{option.prefix}/{option.prefixlen}", "on_link": bool(option.L),
                "autonomous": bool(option.A), "valid_lifetime": option.validlifetime,
                "preferred_lifetime": option.preferredlifetime})
        elif isinstance(option, ICMPv6NDOptMTU):
            info["mtu"] = option.mtu
        elif isinstance(option, ICMPv6NDOptRDNSS):
            info["rdnss"] += list(option.dns)
            info["rdnss_lifetime"] = option.lifetime
        elif isinstance(option, ICMPv6NDOptDNSSL):
            info["dnssl"] += [d.decode() if isinstance(d, bytes) else d for d in option.searchlist]
    return info


def probe_ra(iface: str, *, timeout: float = DEFAULT_TIMEOUT) -> ProbeResult:
    """RS → RA on `iface`, judged as a host would use it. Raises ValueError on bad input."""
    require_interface(iface)
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    rec = CheckRecorder("ra", iface)
    try:
        with rec.stage("ra") as st:
            frame, sent = _solicit(iface, timeout)
            st.evidence["rs_sent"] = sent
            if frame is None:
                raise StageFailed("no-ra", f"no Router Advertisement within {timeout:g} s ({sent} RS sent)")
            info = _advertisement(frame)
            st.evidence.update({k: info[k] for k in ("router", "router_mac", "managed", "other",
                                                     "router_lifetime", "hop_limit", "preference", "mtu")})
            flags = "".join(flag for flag, on in (("M", info["managed"]), ("O", info["other"])) if on) or "none"
            st.detail = f"from {info['router']}, flags {flags}, MTU {info['mtu'] or 'not given'}"
            if info["router_lifetime"] == 0:
                raise StageFailed("not-default-router", "the RA has router lifetime 0: no IPv6 default route")
        with rec.stage("prefix") as st:
            st.evidence["prefixes"] = info["prefixes"]
            slaac = [p["prefix"] for p in info["prefixes"] if p["autonomous"] and p["valid_lifetime"] > 0]
            if slaac:
                st.detail = ", ".join(slaac) + " (SLAAC)"
            elif info["managed"]:
                st.detail = "addresses by DHCPv6 (M flag)"
            else:
                raise StageFailed("no-prefix", "neither an autonomous prefix nor the M flag: no way to get an address")
        with rec.stage("dns") as st:
            st.evidence.update(rdnss=info["rdnss"], dnssl=info["dnssl"],
                               rdnss_lifetime=info.get("rdnss_lifetime"))
            if info["rdnss"]:
                st.detail = "RDNSS " + ", ".join(info["rdnss"])
            elif info["other"]:
                st.detail = "DNS by DHCPv6 information-request (O flag)"
            else:
                raise StageFailed("no-dns", "no RDNSS and no O flag: the host learns no DNS server")
    except StageFailed:
        pass
    return rec.result()

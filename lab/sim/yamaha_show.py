"""What the simulated RTX prints for `show status pp`, `show ipv6 address` and `show status ipv6 dhcp`, from
the WAN's real state (see yamaha.py for the sources of each layout and which parts are this simulator's own).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from lab.sim.addresses import kernel_addresses
from lab.sim.wan import PppoeState

if TYPE_CHECKING:
    from lab.sim.yamaha import YamahaRtxSimulator

# The probe's failure reasons in the words a technician reads on the router (simulator wording).
CAUSES = {
    "no-pado": "PADI timeout",
    "pado-error": "PPPoE discovery error",
    "no-pads": "PADR timeout",
    "pads-error": "PPPoE discovery error",
    "lcp-timeout": "LCP negotiation timeout",
    "auth-rejected": "PPP authentication failure",
    "auth-timeout": "PPP authentication timeout",
    "ipcp-no-address": "IPCP negotiation failure",
    "ipcp-timeout": "IPCP negotiation timeout",
    "session-limit": "disconnected by the access concentrator after authentication",
    "terminated": "disconnected by the access concentrator",
}


def duration(seconds: float) -> str:
    """Yamaha's "1 minute 49 seconds" form."""
    left = int(seconds)
    parts = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        value, left = divmod(left, size)
        if value or (name == "second" and not parts):
            parts.append(f"{value} {name}{'s' if value != 1 else ''}")
    return " ".join(parts)


def show_status_pp(r: YamahaRtxSimulator, num: int) -> str:
    """§58.3. Connected layout from a real RTX session; see yamaha.py."""
    out = [f"PP[{num:02d}]:", "Description: "]
    section = ("pp", num)
    if r.wan_pp() != num:
        return "\n".join([*out, "Current line status is disabled."])
    if r.running.get(section, ("pp", "enable")) is None:
        return "\n".join([*out, "Current PPPoE session status is disabled."])
    st = r.wan.pppoe
    if st.phase == "connected":
        return "\n".join(out + _connected(st))
    out.append("Current PPPoE session status is "
               + ("In connecting process." if st.phase == "connecting" else "Offline."))
    if st.failure_reason:
        out.append(f"Disconnection cause: {CAUSES.get(st.failure_reason, st.failure_reason)}"
                   f" ({st.failure_detail})")
    return "\n".join(out)


def _connected(st: PppoeState) -> list[str]:
    import time

    auth = (st.auth_protocol or "").upper()
    dns = " ".join(f"{name}({addr})" for name, addr in zip(("Primary-DNS", "Secondary-DNS"), st.dns, strict=False))
    local_ipcp = " ".join(x for x in ("IP-Address", dns) if x)
    return [
        "Current PPPoE session status is Connected.",
        f"Access Concentrator: {st.ac_name}",
        f"{duration(time.time() - (st.connected_at or time.time()))}  connection.",
        f"Received: {st.rx_packets} packets [{st.rx_octets} octets]  Load: 0.0%",
        f"Transmitted: {st.tx_packets} packets [{st.tx_octets} octets]  Load: 0.0%",
        "PPP Cofigure Options",
        f"    LCP Local: Magic-Number MRU, Remote: {auth + ' ' if auth and auth != 'NONE' else ''}Magic-Number MRU",
        f"    IPCP Local: {local_ipcp}, Remote: IP-Address",
        f"    PP IP Address Local: {st.local_ip}, Remote: {st.remote_ip}",
        "    CCP: None",
    ]


def show_ipv6_address(r: YamahaRtxSimulator, interface: str | None) -> str:
    """§57.10 (layout: this simulator's). LAN addresses derived from the WAN's prefixes are shown as the router
    computes them; the WAN port's are the kernel's own."""
    from lab.sim.yamaha import interface_prefix

    wan = r.cfg.wan_lan
    kernel = kernel_addresses(r.cfg.wan_iface)
    ra_prefix = next((str(a.network) for a in kernel if not a.ip.is_link_local), None)
    delegated = r.wan.pd.prefix
    lans = sorted({k[1] for k, _ in r.running.find(None, ("ipv6",)) if k[1].startswith("lan")} | {wan})
    out = []
    for index, lan in enumerate(lans, start=1):
        if interface and interface not in (lan,):
            continue
        lines = []
        for key, _ in r.running.find(None, ("ipv6", lan, "address")):
            value = key[3]
            if "@" in value:
                addr = interface_prefix(value, delegated, ra_prefix)
                if addr is not None:
                    lines.append(f"    global      {addr} ({value.partition('::')[0]})")
        if lan == wan:
            lines += [f"    {'link-local':<11} {a}" if a.ip.is_link_local else f"    {'global':<11} {a} (auto)"
                      for a in kernel]
        out.append(f"{lan.upper()} scope-id {index} [up]")
        out += lines
    return "\n".join(out)


def show_status_ipv6_dhcp(r: YamahaRtxSimulator) -> str:
    """§58.28 (layout: this simulator's)."""
    st = r.wan.pd
    out = [f"{r.cfg.wan_lan.upper()}: DHCPv6 client"]
    if st.phase == "disabled":
        return "\n".join([*out, "  Status: not running"])
    if st.phase != "bound":
        detail = f" ({st.failure_reason}: {st.failure_detail})" if st.failure_reason else ""
        return "\n".join([*out, f"  Status: {st.phase}{detail}"])
    net = ipaddress.IPv6Network(st.prefix)
    out += [
        "  Status: bound",
        f"  Server DUID: {st.server_duid}",
        f"  Prefix: {net}",
        f"    preferred lifetime: {st.preferred}, valid lifetime: {st.valid}",
        f"  T1: {st.t1}, T2: {st.t2}",
    ]
    out += [f"  DNS server: {d}" for d in st.dns]
    return "\n".join(out)

"""What the simulated IX prints for `show interfaces <WAN>` and `show ipv6 dhcp client`, from the WAN's real
state. Both commands exist on the IX ([IX-CLI], [CRM-DHCP6] in nec_ix.py); their layouts here are this
simulator's own (no public sample was found), built Cisco-like as the IX's other output is.
"""

from __future__ import annotations

import ipaddress
import time
from typing import TYPE_CHECKING

from lab.sim.addresses import kernel_addresses
from lab.sim.yamaha_show import CAUSES

if TYPE_CHECKING:
    from lab.sim.nec_ix import NecIxSimulator


def show_interfaces(r: NecIxSimulator, name: str) -> str:
    section = ("interface", name)
    if section not in r.running.sections():
        return f"% Interface {name} does not exist."
    up = r.running.get(section, ("shutdown",)) == "no shutdown"
    pppoe = r.running.get(section, ("encapsulation",)) == "encapsulation pppoe"
    st = r.wan.pppoe
    link_up = up and (not pppoe or st.phase == "connected")
    out = [f"Interface {name} is {'up' if link_up else 'down'}{'' if up else ' (administratively down)'}"]
    if pppoe:
        out.append("  Encapsulation: PPPoE")
        if st.phase == "connected":
            out += [
                f"  PPPoE session: connected, session ID {st.session_id}, AC {st.ac_name} ({st.ac_mac})",
                f"  Connected for {int(time.time() - (st.connected_at or time.time()))} seconds",
                f"  PPP: LCP opened, authentication {(st.auth_protocol or 'none').upper()} accepted, IPCP opened",
                f"  Internet address is {st.local_ip}/32, peer {st.remote_ip}",
                f"  DNS servers: {', '.join(st.dns) or 'none'}",
                f"  Received {st.rx_packets} packets, {st.rx_octets} bytes; "
                f"sent {st.tx_packets} packets, {st.tx_octets} bytes",
            ]
        else:
            out.append(f"  PPPoE session: {st.phase if up else 'disabled'}")
            if st.failure_reason:
                out.append(f"  Last failure: {CAUSES.get(st.failure_reason, st.failure_reason)} ({st.failure_detail})")
    elif name in ("GigaEthernet0.0",):
        out += [f"  IPv6 address {a}" for a in kernel_addresses(r.cfg.wan_iface)]
    return "\n".join(out)


def show_ipv6_dhcp_client(r: NecIxSimulator) -> str:
    client = r.running.get(("interface", "GigaEthernet0.0"), ("ipv6", "dhcp", "client"))
    if not client:
        return ""
    profile = client.split()[3]
    st = r.wan.pd
    out = [f"GigaEthernet0.0: DHCPv6 client, profile {profile}"]
    if st.phase != "bound":
        detail = f" ({st.failure_reason}: {st.failure_detail})" if st.failure_reason else ""
        return "\n".join([*out, f"  State: {st.phase}{detail}"])
    out += [
        "  State: bound",
        f"  Server DUID: {st.server_duid}",
        f"  IA_PD prefix: {st.prefix}, T1 {st.t1}, T2 {st.t2}, preferred {st.preferred}, valid {st.valid}",
    ]
    for key, _ in r.running.find(("dhcp6c", profile), ("ia-pd", "subscriber")):
        out.append(f"  Subscriber {key[2]}: {subscriber_prefix(r, profile, key[2], st.prefix)}")
    out += [f"  DNS server: {d}" for d in st.dns]
    return "\n".join(out)


def subscriber_prefix(r: NecIxSimulator, profile: str, iface: str, delegated: str) -> str:
    """`ia-pd subscriber IF ::1:0:0:0:0/64 eui-64` ([CRM-DHCP6]): the delegated prefix with the given sub-prefix
    bits, a /64 for that LAN interface (its EUI-64 host part needs the LAN's MAC, which has no real NIC here)."""
    line = r.running.get(("dhcp6c", profile), ("ia-pd", "subscriber", iface)) or ""
    spec = line.split()[3] if len(line.split()) > 3 else "::/64"
    sub, _, length = spec.partition("/")
    net = ipaddress.IPv6Network(delegated)
    return str(ipaddress.IPv6Network((int(net.network_address) | int(ipaddress.IPv6Address(sub)), int(length))))

"""openwrt: one `uci batch` script (network, dhcp/odhcpd, firewall, wireless, system, snmpd) + commit.

Assumes the stock OpenWrt 23.05 layout: `wan` device for the ONU port, `br-lan` for the LAN, firewall
zones @zone[0] = lan and @zone[1] = wan, radios named radio0, radio1 ... in the order the intent lists them.
"""

from __future__ import annotations

from typing import Any

from provisioner.intent.models import DeviceIntent, WifiRadio
from provisioner.render import quoting
from provisioner.render.platform import Platform, register_platform
from provisioner.render.secretview import SecretView
from provisioner.render.wifi import channel_problem

WAN_DEVICE = "wan"
TUNNEL_SECTION = {"map-e": "mape", "ds-lite": "dslite"}
PMF = {"disabled": "0", "optional": "1", "required": "2"}
ENCRYPTION = {"wpa2": "psk2+ccmp", "wpa2-wpa3": "sae-mixed"}
_HEX64 = frozenset("0123456789abcdefABCDEF")


class Batch:
    """UCI batch lines. Values pass through `value` (quoted); keys are ours and never user strings."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def set(self, key: str, value: str | int) -> None:
        self.lines.append(f"set {key}={quoting.uci(str(value))}")

    def section(self, key: str, kind: str) -> None:
        self.lines.append(f"set {key}={kind}")

    def add_list(self, key: str, value: str) -> None:
        self.lines.append(f"add_list {key}={quoting.uci(value)}")

    def delete(self, key: str) -> None:
        self.lines.append(f"delete {key}")

    def comment(self, text: str) -> None:
        self.lines.append(f"# {text}")


@register_platform
class OpenWrt(Platform):
    name = "openwrt"
    netmiko_device_type = "linux"   # netmiko has no OpenWrt type; the shell is ash over SSH
    cli = False
    templates = (("uci-batch.j2", "uci-batch.txt"),)
    features = frozenset({
        "pppoe", "pppoe-fixed-ipv4", "pppoe-unnumbered", "ipv6-ra", "ipv6-pd", "map-e", "ds-lite", "nat",
        "dhcp-server", "wifi", "wifi-wpa3", "snmp", "ssh", "filters",
    })

    limits = (
        "one PPPoE session; map-e needs a PD line (RA lines lack the ip6prefix the map proto wants)",
        "ipip refused: its CE address (delegated prefix + interface ID) is unknown at render time",
        "SNMP: v2c community only (the snmpd UCI config has no v3 users)",
        "assumes stock sections: @zone[0] lan, @zone[1] wan, radio0.. in intent order",
    )

    def quote(self, value: str) -> str:
        return quoting.uci(value)

    def unsupported(self, device: DeviceIntent) -> list[str]:
        reasons = super().unsupported(device)
        if "ipip" in reasons:
            reasons[reasons.index("ipip")] = ("ipip (its CE address, delegated prefix + interface ID, "
                                              "is not known at render time)")
        if len(device.pppoe) > 1:
            reasons.append(f"{len(device.pppoe)} PPPoE sessions")
        if device.wan_mode == "lan":
            reasons.append("wan_mode lan (IPv4 from the home gateway's LAN)")
        t = device.tunnel
        if t and not device.ipv6:
            reasons.append(f"{t.kind} without IPv6")
        if t and t.kind == "map-e" and device.ipv6 and device.ipv6.mode == "ra":
            reasons.append("map-e on an RA line (the map proto needs the WAN /64 as ip6prefix)")
        if device.ipv6 and "M" in device.ipv6.lan_ra_flags:
            reasons.append("LAN RA flag M (stateful DHCPv6 on the LAN)")
        snmp = device.management.snmp
        if snmp and snmp.v3_user:
            reasons.append("SNMPv3 user (OpenWrt's snmpd UCI config has no v3 users)")
        for radio in device.wifi:
            problem = channel_problem(radio)
            if problem:
                reasons.append(problem)
            for s in radio.ssids:
                if s.security == "wpa2-wpa3" and s.pmf == "disabled":
                    reasons.append(f"SSID on radio {radio.index}: WPA3 transition needs PMF")
        return reasons

    def context(self, device: DeviceIntent, secrets: SecretView) -> dict[str, Any]:
        b = Batch()
        self._system(b, device)
        self._lan(b, device)
        self._wan(b, device, secrets)
        self._ipv6(b, device)
        self._tunnel(b, device)
        self._firewall(b, device)
        for radio in device.wifi:
            self._radio(b, radio, secrets)
        self._snmp(b, device, secrets)
        return {"commands": b.lines}

    def _system(self, b: Batch, device: DeviceIntent) -> None:
        b.set("system.@system[0].hostname", device.management.hostname)
        if device.management.ssh:
            b.set("dropbear.@dropbear[0].PasswordAuth", "off")
            b.set("dropbear.@dropbear[0].RootPasswordAuth", "off")

    def _lan(self, b: Batch, device: DeviceIntent) -> None:
        if not device.lan:
            return
        lan = device.lan
        b.comment("LAN")
        b.delete("network.lan.ipaddr")
        b.delete("network.lan.netmask")   # addresses are CIDR list entries from here on
        b.add_list("network.lan.ipaddr", str(lan.ipv4))
        for p in device.pppoe:
            if p.unnumbered_block:   # LAN-type block: the LAN also carries the first host of the block
                first = next(p.unnumbered_block.hosts())
                b.add_list("network.lan.ipaddr", f"{first}/{p.unnumbered_block.prefixlen}")
        net = lan.ipv4.network
        b.section("dhcp.lan", "dhcp")
        b.set("dhcp.lan.interface", "lan")
        b.set("dhcp.lan.start", int(lan.dhcp_start) - int(net.network_address))
        b.set("dhcp.lan.limit", int(lan.dhcp_end) - int(lan.dhcp_start) + 1)
        b.set("dhcp.lan.leasetime", f"{lan.dhcp_lease_s}s")
        b.set("dhcp.@dnsmasq[0].port", 53 if lan.dns_proxy else 0)

    def _wan(self, b: Batch, device: DeviceIntent, secrets: SecretView) -> None:
        b.comment("WAN")
        b.section("network.wan", "interface")
        b.set("network.wan.device", WAN_DEVICE)
        if not device.pppoe:
            b.set("network.wan.proto", "none")
            return
        p = device.pppoe[0]
        b.set("network.wan.proto", "pppoe")
        b.set("network.wan.username", p.username)
        b.lines.append(f"set network.wan.password={secrets(p.password, 'pppoe password', self.quote)}")
        b.set("network.wan.mtu", p.mtu)
        # IPv6 comes from IPoE on wan6, never over the PPPoE session (no IPv6CP on FLET'S PPPoE)
        b.set("network.wan.ipv6", "0")
        b.set("network.wan.keepalive", f"{p.keepalive_failures} {p.keepalive_interval_s}")
        b.set("network.wan.peerdns", "1" if p.dns_from_ipcp else "0")
        b.set("network.wan.defaultroute", "1" if p.default_route else "0")
        options = []
        local = p.fixed_ipv4 or (next(p.unnumbered_block.hosts()) if p.unnumbered_block else None)
        if local:
            options.append(f"{local}:")    # ask IPCP for the fixed / unnumbered address
        options += [f"refuse-{proto}" for proto in sorted({"pap", "chap"} - set(p.auth_accept))]
        if options:
            b.set("network.wan.pppd_options", " ".join(options))

    def _ipv6(self, b: Batch, device: DeviceIntent) -> None:
        v6 = device.ipv6
        if not v6:
            return
        b.comment(f"IPv6 (IPoE, {v6.mode.upper()})")
        b.section("network.wan6", "interface")
        b.set("network.wan6.device", WAN_DEVICE)
        b.set("network.wan6.proto", "dhcpv6")
        b.set("network.wan6.reqaddress", "try")
        if v6.mode == "pd":
            b.set("network.wan6.reqprefix", v6.expected_prefix_length)
            b.set("network.lan.ip6assign", 64)
            b.set("network.lan.ip6hint", format(v6.lan_sla_id, "x"))
            b.set("dhcp.lan.ra", "server")
            b.set("dhcp.lan.dhcpv6", "server" if "O" in v6.lan_ra_flags else "disabled")
            b.delete("dhcp.lan.ra_flags")
            b.add_list("dhcp.lan.ra_flags", "other-config" if "O" in v6.lan_ra_flags else "none")
        else:
            # one /64 by RA: odhcpd relays RA, NDP and DHCPv6 between the NGN and the LAN
            b.set("network.wan6.reqprefix", "no")
            b.section("dhcp.wan6", "dhcp")
            b.set("dhcp.wan6.interface", "wan6")
            b.set("dhcp.wan6.master", "1")
            for option in ("ra", "ndp", "dhcpv6"):
                b.set(f"dhcp.wan6.{option}", "relay")
                b.set(f"dhcp.lan.{option}", "relay")

    def _tunnel(self, b: Batch, device: DeviceIntent) -> None:
        t = device.tunnel
        if not t:
            return
        b.comment(f"{t.kind} via {t.vne}")
        if t.kind == "map-e":
            self._mape(b, t)
            return
        sec = f"network.{TUNNEL_SECTION[t.kind]}"
        b.section(sec, "interface")
        b.set(f"{sec}.proto", "dslite")
        b.set(f"{sec}.peeraddr", t.dslite.aftr)   # an FQDN is resolved by dslite.sh (NGN DNS)
        self._tunnel_link(b, sec, t)

    def _tunnel_link(self, b: Batch, sec: str, t) -> None:
        b.set(f"{sec}.tunlink", "wan6")
        b.set(f"{sec}.mtu", t.mtu)
        b.set(f"{sec}.encaplimit", "ignore")

    def _mape(self, b: Batch, t) -> None:
        """One `map` interface per rule; when the delegated prefix is unknown, netifd brings up the one
        whose rule matches and marks the others NO_MATCHING_PD."""
        m = t.mape
        for sec, rule in self._mape_sections(t):
            b.section(sec, "interface")
            b.set(f"{sec}.proto", "map")
            b.set(f"{sec}.maptype", "map-e")
            b.set(f"{sec}.peeraddr", str(rule.br))
            b.set(f"{sec}.ipaddr", str(rule.ipv4_prefix.network_address))
            b.set(f"{sec}.ip4prefixlen", rule.ipv4_prefix.prefixlen)
            b.set(f"{sec}.ip6prefix", str(rule.ipv6_prefix.network_address))
            b.set(f"{sec}.ip6prefixlen", rule.ipv6_prefix.prefixlen)
            b.set(f"{sec}.ealen", rule.ea_length)
            b.set(f"{sec}.psidlen", rule.ea_length - (32 - rule.ipv4_prefix.prefixlen))
            b.set(f"{sec}.offset", rule.psid_offset)
            if m.draft03:
                b.set(f"{sec}.legacymap", "1")
            self._tunnel_link(b, sec, t)

    @staticmethod
    def _mape_sections(t) -> list[tuple[str, Any]]:
        rules = (t.mape.rule,) if t.mape.rule else t.mape.rules
        if len(rules) == 1:
            return [("network.mape", rules[0])]
        return [(f"network.mape{i}", r) for i, r in enumerate(rules, start=1)]

    def _firewall(self, b: Batch, device: DeviceIntent) -> None:
        b.comment("firewall: lan = @zone[0], wan = @zone[1]")
        nat = device.nat is not None and device.nat.enabled
        b.set("firewall.@zone[1].name", "wan")
        b.delete("firewall.@zone[1].network")
        for net in ["wan", "wan6" if device.ipv6 else None, *self._tunnel_networks(device)]:
            if net:
                b.add_list("firewall.@zone[1].network", net)
        b.set("firewall.@zone[1].input", "DROP" if device.filters else "ACCEPT")
        b.set("firewall.@zone[1].forward", "DROP" if device.filters else "ACCEPT")
        b.set("firewall.@zone[1].output", "ACCEPT")
        b.set("firewall.@zone[1].masq", "1" if nat else "0")
        b.set("firewall.@zone[1].mtu_fix", "1")    # clamp TCP MSS to the path MTU (1454 PPPoE, 1460 tunnel)
        if nat and device.lan and any(p.unnumbered_block for p in device.pppoe):
            b.delete("firewall.@zone[1].masq_src")
            b.add_list("firewall.@zone[1].masq_src", str(device.lan.ipv4.network))
        if not device.filters:
            return
        rules = [
            ("hikari_dhcpv6", {"name": "Allow-DHCPv6", "src": "wan", "proto": "udp", "src_ip": "fe80::/10",
                               "src_port": "547", "dest_port": "546", "family": "ipv6", "target": "ACCEPT"}),
            ("hikari_icmpv6", {"name": "Allow-ICMPv6-Input", "src": "wan", "proto": "icmp", "family": "ipv6",
                               "target": "ACCEPT"}),
        ]
        for name, options in rules:
            b.section(f"firewall.{name}", "rule")
            for key, value in options.items():
                b.set(f"firewall.{name}.{key}", value)
        b.delete(f"firewall.{rules[1][0]}.icmp_type")
        for icmp in ("echo-request", "destination-unreachable", "packet-too-big", "time-exceeded",
                     "bad-header", "unknown-header-type", "router-advertisement", "neighbour-solicitation",
                     "neighbour-advertisement"):
            b.add_list(f"firewall.{rules[1][0]}.icmp_type", icmp)

    def _tunnel_networks(self, device: DeviceIntent) -> list[str]:
        t = device.tunnel
        if not t:
            return []
        if t.kind == "map-e":
            return [sec.removeprefix("network.") for sec, _ in self._mape_sections(t)]
        return [TUNNEL_SECTION[t.kind]]

    def _radio(self, b: Batch, radio: WifiRadio, secrets: SecretView) -> None:
        dev = f"wireless.radio{radio.index - 1}"
        b.comment(f"Wi-Fi radio {radio.index} ({radio.band} GHz)")
        b.set(f"{dev}.band", "2g" if radio.band == "2.4" else "5g")
        b.set(f"{dev}.channel", radio.channel)
        b.set(f"{dev}.htmode", ("HT" if radio.standard == "11n" else "VHT") + str(radio.width_mhz))
        b.set(f"{dev}.country", radio.country)
        b.set(f"{dev}.disabled", "0")
        for n, s in enumerate(radio.ssids):
            # the first SSID takes over the stock default_radioN section
            iface = f"wireless.default_radio{radio.index - 1}" if n == 0 else \
                f"wireless.hikari_radio{radio.index - 1}_{n}"
            b.section(iface, "wifi-iface")
            b.set(f"{iface}.device", f"radio{radio.index - 1}")
            b.set(f"{iface}.mode", "ap")
            b.set(f"{iface}.network", "lan")
            b.set(f"{iface}.ssid", s.name)
            b.set(f"{iface}.encryption", ENCRYPTION[s.security])
            label = f"wifi key radio {radio.index} ssid {n + 1}"
            b.lines.append(f"set {iface}.key={secrets(s.passphrase, label, self.quote)}")
            b.set(f"{iface}.ieee80211w", PMF[s.pmf])
            b.set(f"{iface}.hidden", "1" if s.hidden else "0")

    def _snmp(self, b: Batch, device: DeviceIntent, secrets: SecretView) -> None:
        snmp = device.management.snmp
        if not snmp:
            return
        b.comment("SNMP (net-snmp's UCI config)")
        b.set("snmpd.@system[0].sysName", device.management.hostname)
        if snmp.v2c_community_ref:
            b.section("snmpd.public", "com2sec")
            b.set("snmpd.public.secname", "ro")
            b.set("snmpd.public.source", "default")
            # snmpd.init copies the value unquoted into snmpd.conf: it must also be one snmpd token
            community = secrets.ref(snmp.v2c_community_ref, "snmp community",
                                    lambda v: self.quote(quoting.snmpd_token(v)))
            b.lines.append(f"set snmpd.public.community={community}")
            b.section("snmpd.public6", "com2sec6")
            b.set("snmpd.public6.secname", "ro")
            b.set("snmpd.public6.source", "default")
            b.lines.append(f"set snmpd.public6.community={community}")

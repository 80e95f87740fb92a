"""Cisco IOS-XE (C1111 / ISR4000): configuration mode, PPPoE client dialer, DHCPv6-PD, NAT overload, and a
zone-based firewall as the stateful default filter set.

Syntax source: reference.md §1.3 and §2.3 (dialer PPPoE: `pppoe-client dial-pool-number`, `ip address
negotiated`, `ip mtu 1454`, `ip tcp adjust-mss 1414`) and the IOS-XE configuration guides for DHCPv6
prefix delegation, NAT and zone-based policy. MAP-E (`nat64 map-e`) is not the Japanese draft-03 variant,
DS-Lite/IPIP on IOS-XE were not verified, and an RA-only line needs an ND proxy IOS-XE lacks: all refused.
The RSA host key (`crypto key generate rsa`) asks questions, so the driver makes it."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from provisioner.intent.models import DeviceIntent, Feature
from provisioner.render.errors import UnsafeValue
from provisioner.render.platform import Platform, register_platform
from provisioner.render.platforms.yamaha_rtx import common_unsupported, lan_facts, pd_subnet_word, snmpv3_keys
from provisioner.render.secretview import SecretView

# IOS has no quoting for these arguments: `?` opens help, spaces split words, a leading `!` comments.
# User strings are limited to a token alphabet and refused otherwise.
_TOKEN = re.compile(r"^[A-Za-z0-9._@:/+=,%&*^~()\[\]{}-]+$")
_HOSTNAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")   # IOS hostname: one label
_PD_NAME = "HKL-PD"


@register_platform
class CiscoIosXe(Platform):
    name = "cisco-iosxe"
    netmiko_device_type = "cisco_xe"
    comment_prefix = "!"
    templates = (("config.j2", "config.txt"),)
    features: ClassVar[frozenset[Feature]] = frozenset({
        "pppoe", "pppoe-fixed-ipv4", "ipv6-pd", "nat", "dhcp-server", "snmp", "ssh", "filters",
    })
    interfaces: ClassVar[dict[str, dict[str, str]]] = {
        "C1111-4P": {"wan": "GigabitEthernet0/0/0", "lan": "Vlan1"},        # LAN = the Gi0/1/x switch ports
        "ISR4331": {"wan": "GigabitEthernet0/0/0", "lan": "GigabitEthernet0/0/1"},
    }

    def quote(self, value: str) -> str:
        if not _TOKEN.match(value):
            raise UnsafeValue(self.name, "only letters, digits and - . _ @ : / + = , % & * ^ ~ ( ) [ ] { } "
                                         "are accepted (no spaces, quotes, ? ! # $ \\ | ; < > or non-ASCII)")
        return value

    def unsupported(self, device: DeviceIntent) -> list[str]:
        reasons = super().unsupported(device) + common_unsupported(device, self.interfaces)
        if "ipv6-ra" in reasons:
            reasons[reasons.index("ipv6-ra")] = "ipv6-ra (the LAN would need the WAN /64 through an ND proxy)"
        if not _HOSTNAME.match(device.management.hostname):
            reasons.append("a hostname that is not one letters/digits/hyphen label")
        return reasons

    def context(self, device: DeviceIntent, secrets: SecretView) -> dict[str, Any]:
        ifs = self.interfaces[device.model]
        nat = bool(device.nat and device.nat.enabled)
        dialer = None
        if device.pppoe:
            p = device.pppoe[0]
            address = "negotiated"
            if p.fixed_ipv4:
                address = f"{p.fixed_ipv4} 255.255.255.255"
            dialer = {
                "username": p.username, "password": secrets(p.password, "pppoe-password", self.quote),
                "address": address, "mtu": p.mtu, "mss": p.mss, "methods": " ".join(p.auth_accept),
                "keepalive": f"{p.keepalive_interval_s} {p.keepalive_failures}", "dns": p.dns_from_ipcp,
                "default_route": p.default_route,
            }
        lan = lan_facts(device)
        pd = None
        if device.ipv6:
            pd = {"name": _PD_NAME, "lan_address": f"::{pd_subnet_word(device)}:0:0:0:1/64",
                  "o_flag": "O" in device.ipv6.lan_ra_flags, "m_flag": "M" in device.ipv6.lan_ra_flags}
        snmp = None
        if device.management.snmp:
            ref = device.management.snmp.v2c_community_ref
            snmp = {"community": secrets.ref(ref, "snmp community", self.quote) if ref else None,
                    "v3": snmpv3_keys(device, secrets, self.quote, (8, 64))}
        return {
            "model": device.model, "ifs": ifs, "hostname": device.management.hostname, "dialer": dialer,
            "lan_net": lan, "dhcp": self._dhcp(device) if lan else None, "nat": nat and dialer is not None,
            "pd": pd, "snmp": snmp, "ssh": device.management.ssh, "filters": device.filters,
            "nat_source": f"{device.lan.ipv4.network.network_address} {device.lan.ipv4.hostmask}"
            if device.lan else None,
        }

    def _dhcp(self, device: DeviceIntent) -> dict[str, Any]:
        """IOS pools lease the whole network: addresses outside dhcp_start..dhcp_end are excluded."""
        lan = device.lan
        assert lan
        hosts = list(lan.ipv4.network.hosts())
        excluded = []
        first, last = hosts[0], hosts[-1]
        if lan.dhcp_start > first:
            excluded.append(f"{first} {lan.dhcp_start - 1}")
        if lan.dhcp_end < last:
            excluded.append(f"{lan.dhcp_end + 1} {last}")
        days, rest = divmod(lan.dhcp_lease_s, 86400)
        hours, rest = divmod(rest, 3600)
        minutes = -(-rest // 60)
        return {"excluded": excluded, "lease": f"{days} {hours} {minutes}",
                "network": f"{lan.ipv4.network.network_address} {lan.ipv4.netmask}",
                "router": str(lan.ipv4.ip), "netmask": str(lan.ipv4.netmask)}


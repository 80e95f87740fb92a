"""The intent: device-independent desired state of one line's CPE(s). Renderers read only this."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr

Feature = Literal[
    "pppoe",
    "pppoe-fixed-ipv4",
    "pppoe-unnumbered",
    "ipv6-ra",
    "ipv6-pd",
    "map-e",
    "ds-lite",
    "ipip",
    "nat",
    "dhcp-server",
    "wifi",
    "wifi-wpa3",
    "snmp",
    "ssh",
    "filters",
]

ALL_FEATURES: tuple[Feature, ...] = Feature.__args__  # type: ignore[attr-defined]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Pppoe(_Model):
    session: int = 1  # PP/session number on the CPE
    username: str
    password: SecretStr
    mtu: int = 1454
    mru: int = 1454
    mss: int = 1414
    auth_accept: tuple[str, ...] = ("pap", "chap")
    keepalive_interval_s: int = 30
    keepalive_failures: int = 4
    fixed_ipv4: ipaddress.IPv4Address | None = None  # single fixed address (still IPCP-negotiated)
    unnumbered_block: ipaddress.IPv4Network | None = None  # LAN-type block; LAN takes its first host
    dns_from_ipcp: bool = True
    default_route: bool = True


class Ipv6(_Model):
    mode: Literal["ra", "pd"]
    expected_prefix_length: int  # 64 (RA), 56 (PD to the gateway) or 60 (behind an HGW)
    lan_sla_id: int = 1  # which /64 of the delegated prefix the LAN gets (PD only)
    lan_ra_flags: tuple[str, ...] = ("O",)  # SLAAC on the LAN, DNS by stateless DHCPv6
    ngn_dns: tuple[ipaddress.IPv6Address, ...]
    ngn_domain: str
    wan_mtu: int = 1500


class MapeRule(_Model):
    ipv6_prefix: ipaddress.IPv6Network
    ipv4_prefix: ipaddress.IPv4Network
    ea_length: int
    psid_offset: int
    br: ipaddress.IPv6Address


class MapeTunnel(_Model):
    provider: str
    br: ipaddress.IPv6Address  # the matched rule's BR, else the provider's first
    draft03: bool  # draft-ietf-softwire-map-03 CE interface ID (JP VNEs)
    rules: tuple[MapeRule, ...]  # the provider's rule set; the CPE matches its delegated prefix
    # Known only when the line's delegated prefix is known (record ipv6.delegated_prefix): the matched rule
    # and what it yields. Platforms that cannot compute MAP-E on the box need these.
    delegated_prefix: ipaddress.IPv6Network | None = None
    rule: MapeRule | None = None
    ipv4: ipaddress.IPv4Address | None = None
    psid: int | None = None
    psid_length: int | None = None
    ce_ipv6: ipaddress.IPv6Address | None = None
    port_ranges: tuple[tuple[int, int], ...] = ()


class DsliteTunnel(_Model):
    aftr: str  # FQDN resolved via the NGN DNS, or an address
    aftr_is_address: bool = False


class IpipTunnel(_Model):
    br: ipaddress.IPv6Address
    ipv4: ipaddress.IPv4Address
    interface_id: ipaddress.IPv6Address
    update_url: str | None = None
    update_user: str | None = None
    update_password: SecretStr | None = None


class Tunnel(_Model):
    kind: Literal["map-e", "ds-lite", "ipip"]
    vne: str
    mtu: int = 1460
    mss: int = 1420
    mape: MapeTunnel | None = None
    dslite: DsliteTunnel | None = None
    ipip: IpipTunnel | None = None


class Nat(_Model):
    enabled: bool = True
    outside: Literal["pppoe", "tunnel"] = "pppoe"


class Lan(_Model):
    ipv4: ipaddress.IPv4Interface
    dhcp_start: ipaddress.IPv4Address
    dhcp_end: ipaddress.IPv4Address
    dhcp_lease_s: int = 86400
    dns_proxy: bool = True  # the CPE answers DNS for the LAN


class WifiSsid(_Model):
    name: str
    passphrase: SecretStr
    security: Literal["wpa2", "wpa2-wpa3"]
    pmf: Literal["disabled", "optional", "required"]
    hidden: bool = False


class WifiRadio(_Model):
    index: int
    band: Literal["2.4", "5"]
    standard: Literal["11n", "11ac"]
    channel: int | Literal["auto"]
    width_mhz: int
    country: str = "JP"
    ssids: tuple[WifiSsid, ...]


class Snmp(_Model):
    v2c_community_ref: str | None = None
    v3_user: str | None = None


class Management(_Model):
    hostname: str
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    ssh: bool = True
    snmp: Snmp | None = None


class DeviceIntent(_Model):
    """What one device (the router, or the home gateway) must be configured to do."""

    role: Literal["router", "hgw"]
    platform: str
    model: str
    wan_mode: Literal["pppoe", "ipoe", "lan"]  # lan = behind the HGW, IPv4 from the HGW's LAN
    pppoe: tuple[Pppoe, ...] = ()
    ipv6: Ipv6 | None = None
    tunnel: Tunnel | None = None
    nat: Nat | None = None
    lan: Lan | None = None
    wifi: tuple[WifiRadio, ...] = ()
    management: Management
    filters: bool = True

    def features(self) -> set[str]:
        f: set[str] = set()
        if self.pppoe:
            f.add("pppoe")
            if any(p.fixed_ipv4 for p in self.pppoe):
                f.add("pppoe-fixed-ipv4")
            if any(p.unnumbered_block for p in self.pppoe):
                f.add("pppoe-unnumbered")
        if self.ipv6:
            f.add("ipv6-ra" if self.ipv6.mode == "ra" else "ipv6-pd")
        if self.tunnel:
            f.add(self.tunnel.kind)
        if self.nat and self.nat.enabled:
            f.add("nat")
        if self.lan:
            f.add("dhcp-server")
        if self.wifi:
            f.add("wifi")
            if any(s.security == "wpa2-wpa3" for r in self.wifi for s in r.ssids):
                f.add("wifi-wpa3")
        if self.management.snmp:
            f.add("snmp")
        if self.management.ssh:
            f.add("ssh")
        if self.filters:
            f.add("filters")
        return f


class Intent(_Model):
    """The whole line: one DeviceIntent per configurable device."""

    customer_id: str
    region: Literal["east", "west"]
    product: str
    family: Literal["next", "cross"]
    hikari_denwa: Literal["none", "standard", "office"]
    router: DeviceIntent | None = None
    hgw: DeviceIntent | None = None

    def device(self, role: str) -> DeviceIntent:
        dev = self.router if role == "router" else self.hgw if role == "hgw" else None
        if dev is None:
            raise LookupError(f"line {self.customer_id} has no {role}")
        return dev

"""The golden scenarios (docs/RENDER_SPEC.txt), built as Intents directly so they do not depend on the
catalog. Addresses are documentation ranges; secrets are placeholders (goldens are rendered masked)."""

from __future__ import annotations

import ipaddress as ip

from pydantic import SecretStr

from provisioner.intent.models import (
    DeviceIntent,
    DsliteTunnel,
    Intent,
    IpipTunnel,
    Ipv6,
    Lan,
    Management,
    MapeRule,
    MapeTunnel,
    Nat,
    Pppoe,
    Snmp,
    Tunnel,
    WifiRadio,
    WifiSsid,
)

NGN_DNS = (ip.IPv6Address("2001:db8:53::a"), ip.IPv6Address("2001:db8:53::b"))


def pppoe(**kw) -> Pppoe:
    return Pppoe(username=kw.pop("username", "user001@isp.example"),
                 password=kw.pop("password", SecretStr("pppoe-secret-1")), **kw)


def lan(**kw) -> Lan:
    return Lan(ipv4=ip.IPv4Interface("192.168.1.1/24"), dhcp_start=ip.IPv4Address("192.168.1.100"),
               dhcp_end=ip.IPv4Address("192.168.1.199"), **kw)


def ipv6(mode: str, length: int, **kw) -> Ipv6:
    return Ipv6(mode=mode, expected_prefix_length=length, ngn_dns=NGN_DNS, ngn_domain="flets-east.jp", **kw)


def management(snmp: bool = True, ssh: bool = True, hostname: str = "r-caf10000001") -> Management:
    return Management(hostname=hostname, address=ip.IPv4Address("198.51.100.10"), ssh=ssh,
                      snmp=Snmp(v2c_community_ref="noc-ro") if snmp else None)


def router(**kw) -> DeviceIntent:
    base = dict(role="router", platform="any", model="test", wan_mode="pppoe", nat=Nat(), lan=lan(),
                management=management())
    base.update(kw)
    return DeviceIntent(**base)


def line(dev: DeviceIntent, family: str = "next") -> Intent:
    return Intent(customer_id="CAF10000001", region="east", product="east-family", family=family,
                  hikari_denwa="none", **{dev.role: dev})


def mape_tunnel() -> Tunnel:
    # rule 2001:db8:100::/40 -> 198.51.100.0/24, EA 16 (8 IPv4 + 8 PSID), offset 4; PD 2001:db8:1ab:cd00::/56
    psid = 0xCD
    ranges = tuple(((a << 12) | (psid << 4), ((a << 12) | (psid << 4)) + 15) for a in range(1, 16))
    br = ip.IPv6Address("2001:db8:ff::64")
    rule = MapeRule(ipv6_prefix=ip.IPv6Network("2001:db8:100::/40"),
                    ipv4_prefix=ip.IPv4Network("198.51.100.0/24"), ea_length=16, psid_offset=4, br=br)
    other = MapeRule(ipv6_prefix=ip.IPv6Network("2001:db8:200::/40"),
                     ipv4_prefix=ip.IPv4Network("203.0.113.0/24"), ea_length=16, psid_offset=4, br=br)
    return Tunnel(kind="map-e", vne="example-mape", mape=MapeTunnel(
        provider="example", br=br, draft03=True, rules=(rule, other),
        delegated_prefix=ip.IPv6Network("2001:db8:1ab:cd00::/56"), rule=rule,
        ipv4=ip.IPv4Address("198.51.100.171"), psid=psid, psid_length=8,
        ce_ipv6=ip.IPv6Address("2001:db8:1ab:cd00:c6:3364:ab00:cd00"), port_ranges=ranges))


def wifi_radios(security: str = "wpa2-wpa3") -> tuple[WifiRadio, ...]:
    key = SecretStr("wifi-passphrase-1")
    pmf = "optional" if security == "wpa2-wpa3" else "disabled"
    return (
        WifiRadio(index=1, band="2.4", standard="11n", channel="auto", width_mhz=20, ssids=(
            WifiSsid(name="hikari-0001", passphrase=key, security=security, pmf=pmf),
            WifiSsid(name="hikari-0001-guest", passphrase=SecretStr("guest-passphrase"), security="wpa2",
                     pmf="disabled"),
        )),
        WifiRadio(index=2, band="5", standard="11ac", channel=36, width_mhz=80, ssids=(
            WifiSsid(name="hikari-0001", passphrase=key, security=security, pmf=pmf),
        )),
    )


SCENARIOS: dict[str, Intent] = {
    "next-pppoe": line(router(pppoe=(pppoe(),))),
    "next-pppoe-fixed": line(router(pppoe=(pppoe(fixed_ipv4=ip.IPv4Address("203.0.113.10")),))),
    "next-ra-pppoe": line(router(pppoe=(pppoe(),), ipv6=ipv6("ra", 64))),
    "next-denwa-pd": line(router(pppoe=(pppoe(),), ipv6=ipv6("pd", 60))),
    "cross-mape": line(router(wan_mode="ipoe", ipv6=ipv6("pd", 56), tunnel=mape_tunnel(),
                              nat=Nat(outside="tunnel")), family="cross"),
    "cross-dslite": line(router(wan_mode="ipoe", ipv6=ipv6("pd", 56), nat=Nat(outside="tunnel"),
                                tunnel=Tunnel(kind="ds-lite", vne="transix",
                                              dslite=DsliteTunnel(aftr="gw.transix.jp"))), family="cross"),
    "cross-ipip": line(router(wan_mode="ipoe", ipv6=ipv6("pd", 56), nat=Nat(outside="tunnel"),
                              tunnel=Tunnel(kind="ipip", vne="bbix", ipip=IpipTunnel(
                                  br=ip.IPv6Address("2001:db8:ff::1"), ipv4=ip.IPv4Address("203.0.113.20"),
                                  interface_id=ip.IPv6Address("::1:2:3:4")))), family="cross"),
    "hgw-wifi": line(DeviceIntent(role="hgw", platform="ntt-hgw", model="hgw-11ac", wan_mode="pppoe",
                                  pppoe=(pppoe(),), ipv6=ipv6("pd", 56), nat=Nat(), lan=lan(),
                                  wifi=wifi_radios(), filters=False,
                                  management=management(snmp=False, ssh=False, hostname="hgw-caf10000001"))),
}

"""linux: the lab CPE (Debian): pppd + rp-pppoe, dhcpcd (PD or RA), dnsmasq (LAN DHCPv4/DNS/RA), nftables,
hostapd, ndppd (ND proxy on RA lines), and shell scripts for the IPv4-over-IPv6 tunnel, LAN addressing and
the RA line's LAN /64 (run from dhcpcd's exit hook)."""

from __future__ import annotations

from typing import Any

from provisioner.intent.models import DeviceIntent, Pppoe, WifiRadio, WifiSsid
from provisioner.render import quoting
from provisioner.render.errors import UnsafeValue
from provisioner.render.platform import Output, Platform, register_platform
from provisioner.render.secretview import SecretView
from provisioner.render.wifi import channel_problem, ht40_direction, vht80_centre

WAN, LAN_PORT, MGMT, PPP_IF = "wan0", "lan0", "mgmt0", "ppp0"
BRIDGE = "br-lan"           # made only when Wi-Fi joins the LAN
TUNNEL_IF = {"ds-lite": "dslite0", "map-e": "mape0"}
PEER = "flets"
RA_STATE_DIR = "/run/hikari"  # the RA hook's run-time files: ndppd.conf/pid/log, the current WAN /64
_HEX64 = frozenset("0123456789abcdefABCDEF")


@register_platform
class Linux(Platform):
    name = "linux"
    netmiko_device_type = "linux"
    cli = False
    features = frozenset({
        "pppoe", "pppoe-fixed-ipv4", "pppoe-unnumbered", "ipv6-ra", "ipv6-pd", "ds-lite", "map-e", "nat",
        "dhcp-server", "wifi", "wifi-wpa3", "snmp", "ssh", "filters",
    })

    limits = (
        "one PPPoE session; IPv4 from PPPoE or a tunnel (not from a home gateway's LAN)",
        "ipv6-ra: the LAN shares the WAN's /64 (ndppd ND proxy + dnsmasq RA, set by a dhcpcd hook); needs ndppd",
        "map-e only with the rule precomputed from a known delegated prefix; ipip not scripted",
        "LAN RA flags: none or O (SLAAC, DNS by stateless DHCPv6 from dnsmasq)",
        "SNMP community must be one snmpd token; the v3 user's keys are created by the driver",
    )

    def quote(self, value: str) -> str:
        return quoting.pppd(value)

    def filters(self):
        return {"nft_str": quoting.nft_comment}

    def unsupported(self, device: DeviceIntent) -> list[str]:
        reasons = super().unsupported(device)
        if "ipip" in reasons:
            reasons[reasons.index("ipip")] = "ipip (the CE address, delegated prefix + interface ID, is not scripted)"
        if len(device.pppoe) > 1:
            reasons.append(f"{len(device.pppoe)} PPPoE sessions (one pppd peer per CPE)")
        if device.wan_mode == "lan":
            reasons.append("wan_mode lan (IPv4 from the home gateway's LAN)")
        if device.ipv6 and device.ipv6.mode == "ra" and device.ipv6.expected_prefix_length != 64:
            reasons.append(f"ipv6-ra with a /{device.ipv6.expected_prefix_length} (the LAN shares a SLAAC /64)")
        if device.ipv6 and tuple(sorted(device.ipv6.lan_ra_flags)) not in ((), ("O",)):
            reasons.append(f"LAN RA flags {''.join(device.ipv6.lan_ra_flags)} (stateful DHCPv6 on the LAN)")
        if device.nat and device.nat.enabled and not device.pppoe and not _tunnel_kind(device):
            reasons.append("nat without an IPv4 WAN (no PPPoE session, no tunnel)")
        if device.nat and device.nat.enabled and device.nat.outside == "tunnel" and not device.tunnel:
            reasons.append("nat out of a tunnel that the line does not have")
        if device.lan and not device.lan.dns_proxy:
            reasons.append("a LAN without the CPE's DNS proxy")
        t = device.tunnel
        if t and t.kind == "map-e" and t.mape and (t.mape.ipv4 is None or t.mape.ce_ipv6 is None
                                                  or not t.mape.port_ranges):
            reasons.append("map-e without a precomputed rule (the shell script cannot compute MAP-E)")
        if t and not device.ipv6:
            reasons.append(f"{t.kind} without IPv6")
        for radio in device.wifi:
            problem = channel_problem(radio)
            if problem:
                reasons.append(problem)
            for s in radio.ssids:
                if s.security == "wpa2-wpa3" and s.pmf == "disabled":
                    reasons.append(f"SSID on radio {radio.index}: WPA3 transition needs PMF")
                if s.security == "wpa2-wpa3" and _is_raw_psk(s):
                    reasons.append(f"SSID on radio {radio.index}: SAE needs a passphrase, not a raw PSK")
        return reasons

    # ---- the converter -------------------------------------------------------------------------------
    def context(self, device: DeviceIntent, secrets: SecretView) -> dict[str, Any]:
        lan_if = BRIDGE if device.wifi else LAN_PORT
        ppp = device.pppoe[0] if device.pppoe else None
        tunnel_if = TUNNEL_IF[device.tunnel.kind] if device.tunnel else None
        outside = PPP_IF if ppp and not (device.nat and device.nat.outside == "tunnel") else tunnel_if
        return {
            "hostname": device.management.hostname,
            "wan": WAN, "lan": lan_if, "lan_port": LAN_PORT, "bridge": BRIDGE if device.wifi else None,
            "mgmt": MGMT, "ppp_if": PPP_IF, "peer": PEER,
            "ppp": self._ppp(ppp, secrets) if ppp else None,
            "dhcpcd": self._dhcpcd(device, lan_if),
            "ra": _ra_proxy(device, lan_if),
            "dnsmasq": self._dnsmasq(device, lan_if, ppp is not None),
            "nft": self._nft(device, lan_if, outside, tunnel_if),
            "tunnel": self._tunnel(device, lan_if, tunnel_if),
            "lan_addresses": self._lan_addresses(device),
            "radios": [self._radio(r, lan_if, secrets) for r in device.wifi],
            "snmp": self._snmp(device, secrets),
        }

    def outputs(self, device: DeviceIntent, context: dict[str, Any]) -> tuple[Output, ...]:
        out = [Output("network.sh.j2", "/etc/hikari/network.sh")]
        if context["ppp"]:
            out += [Output("ppp-peer.j2", f"/etc/ppp/peers/{PEER}"),
                    Output("chap-secrets.j2", "/etc/ppp/chap-secrets"),
                    Output("pap-secrets.j2", "/etc/ppp/pap-secrets")]
        out.append(Output("dhcpcd.conf.j2", "/etc/dhcpcd.conf"))
        if context["ra"]:
            out += [Output("dhcpcd.exit-hook.j2", "/etc/dhcpcd.exit-hook"),
                    Output("ipv6-ra.sh.j2", "/etc/hikari/ipv6-ra.sh")]
        if context["dnsmasq"]:
            out.append(Output("dnsmasq.conf.j2", "/etc/dnsmasq.d/hikari.conf"))
        out.append(Output("nftables.conf.j2", "/etc/nftables.conf"))
        if context["tunnel"]:
            out.append(Output("tunnel.sh.j2", "/etc/hikari/tunnel.sh"))
        for radio in context["radios"]:
            out.append(Output("hostapd.conf.j2", f"/etc/hostapd/hostapd-{radio['name']}.conf", {"radio": radio}))
        if context["snmp"]:
            out.append(Output("snmpd.conf.j2", "/etc/snmp/snmpd.conf.d/hikari.conf"))
        return tuple(out)

    def _ppp(self, p: Pppoe, secrets: SecretView) -> dict[str, Any]:
        auth = set(p.auth_accept)
        if not auth or not auth <= {"pap", "chap"}:
            raise UnsafeValue(self.name, f"auth_accept must be pap and/or chap, not {sorted(auth)}")
        local = p.fixed_ipv4 or (next(p.unnumbered_block.hosts()) if p.unnumbered_block else None)
        return {
            "user": self.quote(p.username),
            "secret": secrets(p.password, "pppoe password", self.quote),
            "local": str(local) if local else None,  # requested via IPCP; None = take what IPCP gives
            "mtu": p.mtu, "mru": p.mru,
            "echo_interval": p.keepalive_interval_s, "echo_failure": p.keepalive_failures,
            "refuse": sorted({"pap", "chap"} - auth),
            "usepeerdns": p.dns_from_ipcp, "defaultroute": p.default_route,
            "pap": "pap" in auth, "chap": "chap" in auth,
        }

    def _dhcpcd(self, device: DeviceIntent, lan_if: str) -> dict[str, Any]:
        v6 = device.ipv6
        return {
            # IPv4 on the WAN only when nothing else provides it (no PPPoE, no tunnel).
            "wan_ipv4": not device.pppoe and not device.tunnel,
            "ipv6": v6 is not None,
            "ra": v6 is not None and v6.mode == "ra",
            "ia_pd": (f"1/::/{v6.expected_prefix_length} {lan_if}/{v6.lan_sla_id}/64"
                      if v6 and v6.mode == "pd" else None),
        }

    def _dnsmasq(self, device: DeviceIntent, lan_if: str, has_ppp: bool) -> dict[str, Any] | None:
        if not device.lan:
            return None
        lan, v6 = device.lan, device.ipv6
        ra_mode = None
        if v6:
            ra_mode = "ra-stateless" if "O" in v6.lan_ra_flags else "ra-only"
        return {
            "range": f"{lan.dhcp_start},{lan.dhcp_end},{lan.ipv4.netmask},{lan.dhcp_lease_s}",
            "ppp_resolv": has_ppp,
            "ngn_dns": [str(a) for a in v6.ngn_dns] if v6 else [],
            "ngn_domain": v6.ngn_domain if v6 else None,
            "ra_mode": ra_mode,
        }

    def _lan_addresses(self, device: DeviceIntent) -> list[str]:
        addrs = [str(device.lan.ipv4)] if device.lan else []
        for p in device.pppoe:
            if p.unnumbered_block:
                first = next(p.unnumbered_block.hosts())
                addrs.append(f"{first}/{p.unnumbered_block.prefixlen}")
        return addrs

    def _nft(self, device: DeviceIntent, lan_if: str, outside: str | None, tunnel_if: str | None):
        nat = device.nat is not None and device.nat.enabled
        clamp = []
        if device.pppoe:
            clamp.append((PPP_IF, device.pppoe[0].mss))
        if device.tunnel:
            clamp.append((tunnel_if, device.tunnel.mss))
        private = str(device.lan.ipv4.network) if device.lan else None
        mape = device.tunnel.mape if device.tunnel and device.tunnel.kind == "map-e" else None
        mape_nat = nat and mape is not None and outside == tunnel_if   # MAP-E: SNAT into our port sets
        return {
            "filters": device.filters,
            "ssh": device.management.ssh,
            "snmp": device.management.snmp is not None,
            "masquerade": outside if nat and not mape_nat else None,
            # unnumbered: the public block is routed, not NATed; only the private LAN is masqueraded
            "nat_source": private if any(p.unnumbered_block for p in device.pppoe) else None,
            "mape_snat": _mape_snat(mape, tunnel_if, private) if mape_nat else None,
            "clamp": clamp,
            "wan_ifs": [i for i in (WAN, PPP_IF if device.pppoe else None, tunnel_if) if i],
            "dhcpv6_client": device.ipv6 is not None,
        }

    def _tunnel(self, device: DeviceIntent, lan_if: str, tunnel_if: str | None) -> dict[str, Any] | None:
        t = device.tunnel
        if not t:
            return None
        # The B4/CE source: on PD lines the LAN's delegated /64 (its address on the LAN interface); on RA
        # lines the WAN's SLAAC address (the LAN's ::1 is behind the ND proxy, which never answers for it).
        source_if = WAN if device.ipv6 and device.ipv6.mode == "ra" else lan_if
        base = {"kind": t.kind, "ifname": tunnel_if, "mtu": t.mtu, "wan": WAN, "source_if": source_if,
                "default_route": device.nat is not None and device.nat.outside == "tunnel"}
        if t.kind == "ds-lite":
            d = t.dslite
            base.update(aftr=quoting.shell(d.aftr), aftr_is_address=d.aftr_is_address,
                        resolvers=[str(a) for a in device.ipv6.ngn_dns])
        else:
            m = t.mape
            base.update(br=str(m.br), ce=str(m.ce_ipv6), ipv4=str(m.ipv4))
        return base

    def _radio(self, radio: WifiRadio, lan_if: str, secrets: SecretView) -> dict[str, Any]:
        ifname = f"wlan{radio.index - 1}"
        settings: list[tuple[str, str]] = [
            ("interface", ifname), ("driver", "nl80211"), ("bridge", lan_if),
            ("country_code", radio.country), ("ieee80211d", "1"),
            ("hw_mode", "g" if radio.band == "2.4" else "a"),
            ("channel", "acs_survey" if radio.channel == "auto" else str(radio.channel)),
            ("ieee80211n", "1"), ("wmm_enabled", "1"),
        ]
        if radio.width_mhz >= 40:
            settings.append(("ht_capab", f"[HT40{ht40_direction(radio)}]"))
        if radio.standard == "11ac":
            settings += [("ieee80211ac", "1"), ("vht_oper_chwidth", "1" if radio.width_mhz == 80 else "0")]
            centre = vht80_centre(radio) if radio.width_mhz == 80 else None
            if centre:
                settings.append(("vht_oper_centr_freq_seg0_idx", str(centre)))
        bsses = [self._bss(s, radio, i, secrets) for i, s in enumerate(radio.ssids)]
        return {"name": ifname, "settings": settings, "first": bsses[0],
                "extra": [(f"{ifname}_{i}", b) for i, b in enumerate(bsses[1:], start=1)]}

    def _bss(self, s: WifiSsid, radio: WifiRadio, n: int, secrets: SecretView) -> list[tuple[str, str]]:
        label = f"wifi key radio {radio.index} ssid {n + 1}"
        out = [_ssid_line(s.name)]
        if not s.name.isascii():
            out.append(("utf8_ssid", "1"))
        if s.hidden:
            out.append(("ignore_broadcast_ssid", "1"))
        sae = s.security == "wpa2-wpa3"
        out += [("wpa", "2"), ("wpa_key_mgmt", "WPA-PSK SAE" if sae else "WPA-PSK"), ("rsn_pairwise", "CCMP"),
                ("ieee80211w", {"disabled": "0", "optional": "1", "required": "2"}[s.pmf])]
        if sae:
            out.append(("sae_require_mfp", "1"))
        key = "wpa_psk" if _is_raw_psk(s) else "wpa_passphrase"
        out.append((key, secrets(s.passphrase, label, quoting.hostapd_raw)))
        return out

    def _snmp(self, device: DeviceIntent, secrets: SecretView) -> dict[str, Any] | None:
        snmp = device.management.snmp
        if not snmp:
            return None
        return {
            "sysname": device.management.hostname,
            "community": (secrets.ref(snmp.v2c_community_ref, "snmp community", quoting.snmpd_token)
                          if snmp.v2c_community_ref else None),
            "v3_user": quoting.snmpd_token(snmp.v3_user) if snmp.v3_user else None,
        }


def _ra_proxy(device: DeviceIntent, lan_if: str) -> dict[str, str] | None:
    """RA line: the hook that gives the LAN the WAN's /64 (ndppd on the WAN, ::1 and the route on the LAN)."""
    if not device.ipv6 or device.ipv6.mode != "ra":
        return None
    return {"wan": WAN, "lan": lan_if, "state_dir": RA_STATE_DIR}


def _tunnel_kind(device: DeviceIntent) -> str | None:
    return device.tunnel.kind if device.tunnel else None


def _is_raw_psk(s: WifiSsid) -> bool:
    key = s.passphrase.get_secret_value()
    return len(key) == 64 and set(key) <= _HEX64


def _ssid_line(name: str) -> tuple[str, str]:
    """Plain `ssid=` for printable ASCII without edge spaces; `ssid2=P"..."` (escaped) otherwise."""
    plain = name.isascii() and name.isprintable() and name == name.strip()
    return ("ssid", quoting.hostapd_raw(name)) if plain else ("ssid2", quoting.hostapd_printf(name))


def _mape_snat(mape, tunnel_if: str, private: str | None) -> dict[str, Any]:
    ranges = [f"{lo}-{hi}" for lo, hi in mape.port_ranges]
    return {"ifname": tunnel_if, "ipv4": str(mape.ipv4), "ranges": ranges, "count": len(ranges),
            "source": private}

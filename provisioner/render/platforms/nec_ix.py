"""NEC UNIVERGE IX (IX2215 family): `configure` mode, interface sub-modes left with `exit`.

Syntax source: reference.md §2.2 and public IX2215 configurations (PPPoE on GigaEthernet0.1, `ppp profile`,
`ip napt enable`, OCN `tunnel mode map-e ocn`, DS-Lite `tunnel mode 4-over-6` + `tunnel destination`,
`ip dhcp profile`, `snmp-agent ip community NAME ACL`, `ip access-list` with `ip access-list dynamic` and `ip filter NAME SEQ in|out`, the
IPv6 bridge used on RA-only lines). The SSH host key (`pki private-key generate rsa`) is left to the driver
so that a re-push does not replace the key."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from provisioner.intent.models import DeviceIntent, Feature
from provisioner.render.errors import UnsafeValue
from provisioner.render.platform import Platform, register_platform
from provisioner.render.platforms.yamaha_rtx import common_unsupported, lan_facts, pd_subnet_word
from provisioner.render.secretview import SecretView

# The IX CLI's quoting rules were not found in any source at hand, so user strings are limited to a token
# alphabet that no CLI treats specially (no space, quote, ?, !, #, $, \, |, ;, <, >) and refused otherwise.
_TOKEN = re.compile(r"^[A-Za-z0-9._@:/+=,%&*^~()\[\]{}-]+$")
_PROFILE = "hkl-isp"          # ppp profile name (ours, not a user string)
_DHCP_PROFILE = "hkl-lan"
_V6_CLIENT = "hkl-v6"
_V6_SERVER = "hkl-v6-sv"


@register_platform
class NecIx(Platform):
    name = "nec-ix"
    netmiko_device_type = "nec_ix"
    comment_prefix = "!"
    templates = (("config.j2", "config.txt"),)
    features: ClassVar[frozenset[Feature]] = frozenset({
        "pppoe", "pppoe-fixed-ipv4", "ipv6-ra", "ipv6-pd", "map-e", "ds-lite", "nat", "dhcp-server", "snmp",
        "ssh", "filters",
    })
    interfaces: ClassVar[dict[str, dict[str, str]]] = {
        # GigaEthernet0 is the WAN port; PPPoE runs on its sub-interface .1; GigaEthernet2 is the LAN switch
        "IX2215": {"wan": "GigaEthernet0.0", "pppoe": "GigaEthernet0.1", "lan": "GigaEthernet2.0"},
        "IX2235": {"wan": "GigaEthernet0.0", "pppoe": "GigaEthernet0.1", "lan": "GigaEthernet2.0"},
    }

    def quote(self, value: str) -> str:
        if not _TOKEN.match(value):
            raise UnsafeValue(self.name, "only letters, digits and - . _ @ : / + = , % & * ^ ~ ( ) [ ] { } "
                                         "are accepted (no spaces, quotes, ? ! # $ \\ | ; < > or non-ASCII)")
        return value

    def unsupported(self, device: DeviceIntent) -> list[str]:
        reasons = super().unsupported(device) + common_unsupported(device, self.interfaces)
        t = device.tunnel
        if t and t.kind == "map-e" and t.mape and t.mape.provider != "ocn":
            reasons.append(f"map-e provider {t.mape.provider} (only `tunnel mode map-e ocn` is verified)")
        snmp = device.management.snmp
        if snmp and snmp.v3_user:
            reasons.append("snmpv3 (no verified IX syntax)")
        if t and device.ipv6 is None:
            reasons.append(f"{t.kind} without IPv6")
        if device.filters and device.ipv6 and device.ipv6.mode == "ra":
            reasons.append("filters on an RA line (the IPv6 bridge is not covered by interface filters)")
        return reasons

    def context(self, device: DeviceIntent, secrets: SecretView) -> dict[str, Any]:
        ifs = self.interfaces[device.model]
        nat = bool(device.nat and device.nat.enabled)
        pppoe = None
        if device.pppoe:
            p = device.pppoe[0]
            pppoe = {
                "username": p.username, "password": secrets(p.password, "pppoe-password", self.quote),
                "address": f"{p.fixed_ipv4}/32" if p.fixed_ipv4 else "ipcp",
                "mtu": p.mtu, "nat": nat and device.nat.outside == "pppoe",
            }
        tunnel = None
        if device.tunnel:
            t = device.tunnel
            tunnel = {"kind": t.kind, "mtu": t.mtu, "destination": t.dslite.aftr if t.dslite else None,
                      "nat": nat and t.kind == "map-e"}
        v6 = device.ipv6
        ipv6 = None
        if v6:
            ipv6 = {"mode": v6.mode, "subscriber": f"::{pd_subnet_word(device)}:0:0:0:0/64 eui-64"
                    if v6.mode == "pd" else None, "o_flag": "O" in v6.lan_ra_flags}
        default_route = None
        if device.pppoe and device.pppoe[0].default_route:
            default_route = ifs["pppoe"]
        elif tunnel:
            default_route = "Tunnel0.0"
        return {
            "model": device.model, "ifs": ifs, "hostname": device.management.hostname,
            "pppoe": pppoe, "tunnel": tunnel, "ipv6": ipv6, "lan_net": lan_facts(device),
            "default_route": default_route, "ssh": device.management.ssh,
            "snmp": {"community": secrets.ref(device.management.snmp.v2c_community_ref, "snmp community",
                                              self.quote)}
            if device.management.snmp and device.management.snmp.v2c_community_ref else None,
            "profile": _PROFILE, "dhcp_profile": _DHCP_PROFILE, "v6_client": _V6_CLIENT, "v6_server": _V6_SERVER,
            # filters sit on the interface carrying IPv4 out: dynamic list out, static list in
            "filters": {"v4_on": ifs["pppoe"] if pppoe else ("Tunnel0.0" if tunnel else None),
                        "v6_on": ifs["wan"] if v6 and v6.mode == "pd" else None}
            if device.filters else None,
        }

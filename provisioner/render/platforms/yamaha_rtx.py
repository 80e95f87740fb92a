"""Yamaha RTX (RTX830/1210/1300): administrator-mode CLI, live as entered, so the order matters.

Syntax source: Yamaha RT command reference Rev.23.02.02 (§1.5 quoting, §8 IP and filters, §11 PPP, §12 DHCP,
§14 tunnels and MAP-E, §20.3 NGN, §21 SNMP, §24 DNS, §30 IPv6) and Yamaha's IPoE examples (reference.md
§2.1). `sshd host key generate` is interactive and is not rendered: the driver runs it when the device has
no host key yet.

This module also holds the few converters the three vendor CLIs (yamaha-rtx, nec-ix, cisco-iosxe) share."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any, ClassVar

from provisioner.intent.models import DeviceIntent, Feature, Pppoe
from provisioner.render.errors import UnsafeValue
from provisioner.render.platform import Platform, register_platform
from provisioner.render.secretview import SecretView


# --- shared by the vendor CLI platforms -------------------------------------------------------------
def common_unsupported(device: DeviceIntent, known_models: dict[str, Any]) -> list[str]:
    """Limits every vendor CLI platform here shares, beyond its feature set."""
    reasons = []
    if device.model not in known_models:
        reasons.append(f"model {device.model}")
    if device.wan_mode == "lan":
        reasons.append("wan_mode lan")
    if len(device.pppoe) > 1:
        reasons.append(f"{len(device.pppoe)} PPPoE sessions")
    v6 = device.ipv6
    if v6 and v6.mode == "pd" and not 0 <= v6.lan_sla_id < 2 ** (64 - v6.expected_prefix_length):
        reasons.append(f"lan_sla_id {v6.lan_sla_id} outside a /{v6.expected_prefix_length}")
    if device.tunnel and device.pppoe and device.nat and device.nat.enabled:
        reasons.append("nat with both pppoe and a tunnel")
    for p in device.pppoe:
        block = p.unnumbered_block
        if block and device.lan and device.nat and device.nat.enabled and device.lan.ipv4.ip in block:
            reasons.append("nat with a LAN inside the unnumbered block")
    return reasons


def snmp_community(device: DeviceIntent, secrets: SecretView, quote: Callable[[str], str], max_len: int) -> str:
    """The SNMP community (a secret-store reference in the intent), quoted and length-checked."""
    snmp = device.management.snmp
    assert snmp and snmp.v2c_community_ref

    def checked(value: str) -> str:
        if len(value) > max_len:
            raise UnsafeValue(device.platform, f"SNMP community longer than {max_len} characters")
        return quote(value)

    return secrets.ref(snmp.v2c_community_ref, "snmp community", checked)


def snmpv3_keys(device: DeviceIntent, secrets: SecretView, quote: Callable[[str], str],
                lengths: tuple[int, int]) -> dict[str, str] | None:
    """The v3 user's auth and priv passphrases, quoted. The intent names only the user; the keys are
    credentials the caller supplies as `snmpv3/<user>/auth` and `snmpv3/<user>/priv` (masked renders
    do not need them)."""
    snmp = device.management.snmp
    if not (snmp and snmp.v3_user):
        return None
    low, high = lengths

    def checked(value: str) -> str:
        if not low <= len(value) <= high:
            raise UnsafeValue(device.platform, f"SNMPv3 passphrase not {low}..{high} characters long")
        return quote(value)

    user = snmp.v3_user
    return {
        "user": quote(user),
        "auth": secrets.ref(f"snmpv3/{user}/auth", "snmpv3 auth key", checked),
        "priv": secrets.ref(f"snmpv3/{user}/priv", "snmpv3 priv key", checked),
    }


def lan_facts(device: DeviceIntent) -> dict[str, Any] | None:
    lan = device.lan
    if not lan:
        return None
    return {
        "address": str(lan.ipv4), "ip": str(lan.ipv4.ip), "network": str(lan.ipv4.network),
        "netmask": str(lan.ipv4.netmask), "prefixlen": lan.ipv4.network.prefixlen,
        "start": str(lan.dhcp_start), "end": str(lan.dhcp_end), "lease_s": lan.dhcp_lease_s,
        "dns_proxy": lan.dns_proxy,
    }


def pd_subnet_word(device: DeviceIntent) -> str:
    """The 16-bit word that numbers the LAN /64 inside a delegated prefix (lan_sla_id, in hex)."""
    assert device.ipv6
    return f"{device.ipv6.lan_sla_id:x}"


def first_host(block: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    return next(block.hosts())


# --- Yamaha RTX -------------------------------------------------------------------------------------
# Characters the RTX console treats specially (command reference §1.5): inside "..." only \ and " need a
# backslash. A bare token carries none of them, nor `=` or `,` (option and list separators in some commands).
_BARE = re.compile(r"^[A-Za-z0-9._@:/+-]+$")
_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")
# Rev.15.02.03+ expands $NAME / ${NAME} when NAME is a defined console variable (`set`, §4.90); the
# reference documents no escape for it, so such a sequence is refused rather than risked.
_VARIABLE = re.compile(r"\$(\{|[A-Za-z])")

# Yamaha's built-in MAP-E knows these services by name (`tunnel map-e type`, §14.14) and fetches the rules
# itself, so other providers (custom rule tables) cannot be expressed.
_MAPE_TYPES = {"jpne": "v6plus", "ocn": "ocn", "biglobe": "ipv6option"}


@register_platform
class YamahaRtx(Platform):
    name = "yamaha-rtx"
    netmiko_device_type = "yamaha"
    comment_prefix = "#"
    templates = (("config.j2", "config.txt"),)
    features: ClassVar[frozenset[Feature]] = frozenset({
        "pppoe", "pppoe-fixed-ipv4", "pppoe-unnumbered", "ipv6-ra", "ipv6-pd", "map-e", "ds-lite", "ipip",
        "nat", "dhcp-server", "snmp", "ssh", "filters",
    })
    # Interface roles per model (factory layout: lan2 is the WAN port, lan1 the LAN switch).
    interfaces: ClassVar[dict[str, dict[str, str]]] = {
        "RTX830": {"wan": "lan2", "lan": "lan1"},
        "RTX1210": {"wan": "lan2", "lan": "lan1"},
        "RTX1300": {"wan": "lan2", "lan": "lan1"},
    }
    max_pp_auth = 64          # pp auth myname: name and password, 64 characters each (§11.4)
    max_community = 16        # SNMP community (§21.1)
    max_endpoint_name = 64    # tunnel endpoint remote name (§14.7)

    def quote(self, value: str) -> str:
        if not _PRINTABLE_ASCII.match(value):
            raise UnsafeValue(self.name, "non-ASCII or control characters: the RTX console takes ASCII only")
        if _VARIABLE.search(value):
            raise UnsafeValue(self.name, "'$' followed by a letter or '{' would expand as a console variable")
        if _BARE.match(value):
            return value
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def unsupported(self, device: DeviceIntent) -> list[str]:
        reasons = super().unsupported(device) + common_unsupported(device, self.interfaces)
        t = device.tunnel
        if t and t.kind == "map-e" and t.mape and t.mape.provider not in _MAPE_TYPES:
            reasons.append(f"map-e provider {t.mape.provider} (built-in types: v6plus, ocn, ipv6option)")
        if t and t.kind == "ipip" and t.ipip and t.ipip.update_url:
            reasons.append("ipip prefix-update notification (needs a Lua script)")
        return reasons

    def context(self, device: DeviceIntent, secrets: SecretView) -> dict[str, Any]:
        ifs = self.interfaces[device.model]
        wan = ifs["wan"]
        pp = self._pp(device, secrets)
        tunnel = self._tunnel(device, wan)
        default_route = None
        if pp and device.pppoe[0].default_route:
            default_route = f"pp {pp['num']}"
        elif tunnel:
            default_route = "tunnel 1"
        nat = None
        if device.nat and device.nat.enabled and not (tunnel and tunnel["kind"] == "ds-lite"):
            nat = {"id": 1, "outer": self._nat_outer(device)}
        return {
            "model": device.model, "wan": wan, "lan": ifs["lan"], "hostname": device.management.hostname,
            "lan_net": lan_facts(device), "lan_secondary": self._lan_secondary(device),
            "pp": pp, "ipv6": self._ipv6(device, wan), "tunnel": tunnel, "nat": nat,
            "default_route": default_route, "dns": self._dns(device, wan),
            "dhcp_expire": self._expire(device),
            "snmp": self._snmp(device, secrets),
            "ssh": device.management.ssh,
            "filters": self._filters(device, pp, tunnel) if device.filters else None,
        }

    # --- converters -------------------------------------------------------------------------------
    def _snmp(self, device: DeviceIntent, secrets: SecretView) -> dict[str, Any] | None:
        snmp = device.management.snmp
        if not snmp:
            return None
        return {
            "community": snmp_community(device, secrets, self.quote, self.max_community)
            if snmp.v2c_community_ref else None,
            "v3": snmpv3_keys(device, secrets, self.quote, (8, 32)),   # usm passwords 8..32 (§21.13)
        }

    def _pp(self, device: DeviceIntent, secrets: SecretView) -> dict[str, Any] | None:
        if not device.pppoe:
            return None
        p: Pppoe = device.pppoe[0]
        for label, value in (("PPPoE username", p.username), ("PPPoE password", p.password.get_secret_value())):
            if len(value) > self.max_pp_auth:
                raise UnsafeValue(self.name, f"{label} longer than {self.max_pp_auth} characters")
        return {
            "num": p.session, "username": p.username, "accept": " ".join(p.auth_accept),
            "password": secrets(p.password, "pppoe-password", self.quote),
            "mru": p.mru, "mtu": p.mtu, "mss": p.mss,
            # count >= 3 (§8.2.3); retry-interval = interval keeps detection near interval x count
            "keepalive": f"interval {p.keepalive_interval_s} retry-interval={p.keepalive_interval_s} "
                         f"count={max(3, p.keepalive_failures)}",
            # a LAN-type block is unnumbered: the PP side takes no address from IPCP
            "ipcp_address": p.unnumbered_block is None,
            "msext": p.dns_from_ipcp,
            "address": f"{p.fixed_ipv4}/32" if p.fixed_ipv4 else None,
            "nat": bool(device.nat and device.nat.enabled and device.nat.outside == "pppoe"),
        }

    def _lan_secondary(self, device: DeviceIntent) -> str | None:
        """A LAN-type block whose first host is not already the LAN address goes on the LAN as secondary."""
        for p in device.pppoe:
            block = p.unnumbered_block
            if block and device.lan and device.lan.ipv4.ip not in block:
                return f"{first_host(block)}/{block.prefixlen}"
        return None

    def _nat_outer(self, device: DeviceIntent) -> str:
        t = device.tunnel
        if t and t.kind == "map-e":
            return "map-e"
        if t and t.ipip:
            return str(t.ipip.ipv4)
        p = device.pppoe[0]
        if p.fixed_ipv4:
            return str(p.fixed_ipv4)
        if p.unnumbered_block:
            return str(first_host(p.unnumbered_block))
        return "ipcp"

    def _ipv6(self, device: DeviceIntent, wan: str) -> dict[str, Any] | None:
        v6 = device.ipv6
        if not v6:
            return None
        if v6.mode == "ra":
            # RA proxy: the LAN announces the WAN's /64 (`ra-prefix@`, §30.2.2), router address ::1
            prefix, address = f"ra-prefix@{wan}::/64", f"ra-prefix@{wan}::1/64"
        else:
            # "dhcp-prefix@lan2::<sla>:0:0:0:1/64", not ...:0/64 (command reference §30.3.1 note)
            prefix = address = f"dhcp-prefix@{wan}::{pd_subnet_word(device)}:0:0:0:1/64"
        flags = v6.lan_ra_flags
        return {
            "mode": v6.mode, "prefix": prefix, "lan_address": address,
            "o_flag": "on" if "O" in flags else "off", "m_flag": "on" if "M" in flags else "off",
        }

    def _tunnel(self, device: DeviceIntent, wan: str) -> dict[str, Any] | None:
        t = device.tunnel
        if not t:
            return None
        out: dict[str, Any] = {"kind": t.kind, "mtu": t.mtu, "mape_type": None, "aftr": None,
                               "aftr_is_address": False, "br": None, "ce_address": None}
        if t.mape:
            out["mape_type"] = _MAPE_TYPES[t.mape.provider]
        elif t.dslite:
            if len(t.dslite.aftr) > self.max_endpoint_name:
                raise UnsafeValue(self.name, f"AFTR name longer than {self.max_endpoint_name} characters")
            out["aftr"] = t.dslite.aftr
            out["aftr_is_address"] = t.dslite.aftr_is_address
        elif t.ipip:
            out["br"] = str(t.ipip.br)
            # the tunnel source (CE) = the line's prefix + the ISP-given interface ID, on the LAN side
            source = "ra-prefix" if device.ipv6 and device.ipv6.mode == "ra" else "dhcp-prefix"
            iid = t.ipip.interface_id.exploded.split(":")[4:]
            out["ce_address"] = f"{source}@{wan}::{':'.join(w.lstrip('0') or '0' for w in iid)}/64"
        return out

    def _dns(self, device: DeviceIntent, wan: str) -> dict[str, Any]:
        servers = None
        if device.pppoe and device.pppoe[0].dns_from_ipcp:
            servers = f"pp {device.pppoe[0].session}"
        elif device.ipv6:
            servers = f"dhcp {wan}"   # the NGN resolvers from DHCPv6 information-request
        return {"servers": servers, "proxy": bool(device.lan and device.lan.dns_proxy)}

    def _expire(self, device: DeviceIntent) -> str | None:
        if not device.lan:
            return None
        minutes = -(-device.lan.dhcp_lease_s // 60)   # hh:mm form (§12.1.4), rounded up to the minute
        return f"{minutes // 60}:{minutes % 60:02d}"

    def _filters(self, device: DeviceIntent, pp: dict | None, tunnel: dict | None) -> dict[str, Any]:
        """Yamaha's default set: inbound implicit deny after the listed filters (§8.1.12); outbound pass
        with dynamic (stateful) filters so replies to LAN-initiated traffic come back."""
        lan = lan_facts(device)
        return {
            "ipv4_if": bool(pp or tunnel),
            "on_pp": pp is not None,
            "on_tunnel": pp is None and tunnel is not None,
            "lan_network": lan["network"] if lan else "*",
            "ipv6": device.ipv6 is not None,
            "ipip_in": tunnel is not None,   # IPv4-in-IPv6 (next header 4) from the BR/AFTR
        }

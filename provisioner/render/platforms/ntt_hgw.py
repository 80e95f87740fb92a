"""ntt-hgw: what the technician (web UI) or an ACS sets on an NTT home gateway, as a TR-181-style document.

Format: one `Device.Path.To.Parameter = value` per line, in apply order. Strings are JSON string literals
(UTF-8, backslash escapes); booleans are true/false; unsignedInt values are bare digits. Lines starting
with # are comments. The collab operator cannot push to NTT HGWs itself (reference §2.5): this document
is the work order for whoever can.
"""

from __future__ import annotations

from typing import Any

from provisioner.intent.models import DeviceIntent, WifiRadio
from provisioner.render import quoting
from provisioner.render.platform import Platform, register_platform
from provisioner.render.secretview import SecretView
from provisioner.render.wifi import channel_problem

# Device.IP.Interface instances: 1 = IPv4 WAN over PPP, 2 = LAN bridge, 3 = IPoE WAN (IPv6 from the NGN)
WAN_IP, LAN_IP, IPOE_IP = 1, 2, 3
BAND = {"2.4": "2.4GHz", "5": "5GHz"}
STANDARDS = {"11n": "b,g,n", "11ac": "a,n,ac"}
MODE = {"wpa2": "WPA2-Personal", "wpa2-wpa3": "WPA3-Personal-Transition"}
MFP = {"disabled": "Disabled", "optional": "Optional", "required": "Required"}
_HEX64 = frozenset("0123456789abcdefABCDEF")


class Document:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def comment(self, text: str) -> None:
        self.lines.append(f"# {text}")

    def set(self, path: str, value: str | bool | int) -> None:
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        else:
            text = quoting.tr181(value)
        self.lines.append(f"Device.{path} = {text}")

    def set_quoted(self, path: str, quoted: str) -> None:
        """For values already quoted (secrets through SecretView)."""
        self.lines.append(f"Device.{path} = {quoted}")


@register_platform
class NttHgw(Platform):
    name = "ntt-hgw"
    netmiko_device_type = "none"   # no CLI: the document goes to a technician or an ACS
    cli = False
    default_role = "hgw"
    templates = (("tr181.j2", "tr181.txt"),)
    features = frozenset({"pppoe", "ipv6-ra", "ipv6-pd", "dhcp-server", "wifi", "wifi-wpa3", "nat"})

    limits = (
        "a parameter document for a technician or an ACS: the operator cannot push to NTT HGWs itself",
        "no ssh/snmp/filters/tunnels/fixed IPv4 in the document (the HGW's own defaults apply)",
    )

    def quote(self, value: str) -> str:
        return quoting.tr181(value)

    def unsupported(self, device: DeviceIntent) -> list[str]:
        reasons = super().unsupported(device)
        if device.wan_mode == "lan":
            reasons.append("wan_mode lan (the HGW is the gateway)")
        if device.ipv6 and "M" in device.ipv6.lan_ra_flags:
            reasons.append("LAN RA flag M (the HGW hands out SLAAC only)")
        for radio in device.wifi:
            problem = channel_problem(radio)
            if problem:
                reasons.append(problem)
        return reasons

    def context(self, device: DeviceIntent, secrets: SecretView) -> dict[str, Any]:
        doc = Document()
        self._ppp(doc, device, secrets)
        self._ipv6(doc, device)
        self._lan(doc, device)
        self._nat(doc, device)
        self._wifi(doc, device, secrets)
        return {"parameters": doc.lines}

    def _ppp(self, doc: Document, device: DeviceIntent, secrets: SecretView) -> None:
        for n, p in enumerate(device.pppoe, start=1):
            doc.comment(f"PPPoE session {p.session}")
            base = f"PPP.Interface.{n}"
            doc.set(f"{base}.Enable", True)
            doc.set(f"{base}.Username", p.username)
            doc.set_quoted(f"{base}.Password", secrets(p.password, f"pppoe password {n}", self.quote))
            doc.set(f"{base}.MaxMRUSize", p.mru)
            doc.set(f"{base}.LCPEcho", p.keepalive_interval_s)
            doc.set(f"{base}.LCPEchoRetry", p.keepalive_failures)
            doc.set(f"{base}.IPCP.PassthroughEnable", False)
            doc.set(f"{base}.X_HIKARI_MSSClamp", p.mss)   # vendor extension: no standard TR-181 MSS
            if n == 1 and p.default_route:
                doc.set(f"IP.Interface.{WAN_IP}.LowerLayers", f"Device.PPP.Interface.{n}")

    def _ipv6(self, doc: Document, device: DeviceIntent) -> None:
        v6 = device.ipv6
        if not v6:
            return
        doc.comment(f"IPv6 from the NGN (IPoE, {v6.mode.upper()})")
        doc.set(f"IP.Interface.{IPOE_IP}.IPv6Enable", True)
        doc.set("DHCPv6.Client.1.Enable", True)
        doc.set("DHCPv6.Client.1.Interface", f"Device.IP.Interface.{IPOE_IP}")
        doc.set("DHCPv6.Client.1.RequestAddresses", False)
        doc.set("DHCPv6.Client.1.RequestPrefixes", v6.mode == "pd")
        doc.set("RouterAdvertisement.Enable", True)
        doc.set("RouterAdvertisement.InterfaceSetting.1.Interface", f"Device.IP.Interface.{LAN_IP}")
        doc.set("RouterAdvertisement.InterfaceSetting.1.AdvManagedFlag", False)
        doc.set("RouterAdvertisement.InterfaceSetting.1.AdvOtherConfigFlag", "O" in v6.lan_ra_flags)
        if v6.mode == "pd":
            # the HGW keeps /64 number lan_sla_id for its LAN and can delegate /60s downstream
            doc.set(f"IP.Interface.{LAN_IP}.IPv6Prefix.1.Origin", "Child")
            doc.set(f"IP.Interface.{LAN_IP}.IPv6Prefix.1.ParentPrefix",
                    f"Device.IP.Interface.{IPOE_IP}.IPv6Prefix.1")
            doc.set(f"IP.Interface.{LAN_IP}.IPv6Prefix.1.ChildPrefixBits", f"0:0:0:{v6.lan_sla_id:x}::/64")
        doc.set("DHCPv6.Server.Enable", "O" in v6.lan_ra_flags)

    def _lan(self, doc: Document, device: DeviceIntent) -> None:
        lan = device.lan
        if not lan:
            return
        doc.comment("LAN and DHCPv4 server")
        doc.set(f"IP.Interface.{LAN_IP}.IPv4Address.1.IPAddress", str(lan.ipv4.ip))
        doc.set(f"IP.Interface.{LAN_IP}.IPv4Address.1.SubnetMask", str(lan.ipv4.netmask))
        doc.set("DHCPv4.Server.Enable", True)
        pool = "DHCPv4.Server.Pool.1"
        doc.set(f"{pool}.Enable", True)
        doc.set(f"{pool}.MinAddress", str(lan.dhcp_start))
        doc.set(f"{pool}.MaxAddress", str(lan.dhcp_end))
        doc.set(f"{pool}.SubnetMask", str(lan.ipv4.netmask))
        doc.set(f"{pool}.IPRouters", str(lan.ipv4.ip))
        if lan.dns_proxy:
            doc.set(f"{pool}.DNSServers", str(lan.ipv4.ip))
        doc.set(f"{pool}.LeaseTime", lan.dhcp_lease_s)

    def _nat(self, doc: Document, device: DeviceIntent) -> None:
        if device.nat and device.nat.enabled:
            doc.set("NAT.InterfaceSetting.1.Enable", True)
            doc.set("NAT.InterfaceSetting.1.Interface", f"Device.IP.Interface.{WAN_IP}")

    def _wifi(self, doc: Document, device: DeviceIntent, secrets: SecretView) -> None:
        k = 0
        for radio in device.wifi:
            self._radio(doc, radio)
            for n, s in enumerate(radio.ssids, start=1):
                k += 1
                doc.set(f"WiFi.SSID.{k}.Enable", True)
                doc.set(f"WiFi.SSID.{k}.LowerLayers", f"Device.WiFi.Radio.{radio.index}")
                doc.set(f"WiFi.SSID.{k}.SSID", s.name)
                ap = f"WiFi.AccessPoint.{k}"
                doc.set(f"{ap}.Enable", True)
                doc.set(f"{ap}.SSIDReference", f"Device.WiFi.SSID.{k}")
                doc.set(f"{ap}.SSIDAdvertisementEnabled", not s.hidden)
                doc.set(f"{ap}.Security.ModeEnabled", MODE[s.security])
                key = s.passphrase.get_secret_value()
                param = "PreSharedKey" if len(key) == 64 and set(key) <= _HEX64 else "KeyPassphrase"
                label = f"wifi key radio {radio.index} ssid {n}"
                doc.set_quoted(f"{ap}.Security.{param}", secrets(s.passphrase, label, self.quote))
                doc.set(f"{ap}.Security.MFPConfig", MFP[s.pmf])

    def _radio(self, doc: Document, radio: WifiRadio) -> None:
        base = f"WiFi.Radio.{radio.index}"
        doc.comment(f"Wi-Fi radio {radio.index} ({radio.band} GHz)")
        doc.set(f"{base}.Enable", True)
        doc.set(f"{base}.OperatingFrequencyBand", BAND[radio.band])
        doc.set(f"{base}.OperatingStandards", STANDARDS[radio.standard])
        doc.set(f"{base}.AutoChannelEnable", radio.channel == "auto")
        if radio.channel != "auto":
            doc.set(f"{base}.Channel", radio.channel)
        doc.set(f"{base}.OperatingChannelBandwidth", f"{radio.width_mhz}MHz")
        doc.set(f"{base}.RegulatoryDomain", f"{radio.country} ")   # TR-181: country code + ' ' (all)

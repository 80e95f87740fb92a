"""NEC UNIVERGE IX driver over netmiko `nec_ix`.

netmiko's behaviour it builds on: enable = `svintr-config` then `configure` (config mode); save_config()
sends `write memory`; exit_config_mode() leaves both. Lines are live as entered; a push that fails verify is
undone by converging back to the backup, which was never overwritten because nothing is saved before
verify passes. Errors are printed as `% ...` lines.

Status comes from `show interface <if>` ("GigaEthernet0.1 is up, line protocol is up",
"Internet address is 203.0.113.10/32") for the PPPoE sub-interface and tunnels named in the running config,
and from `show ipv6 interface` / `show ipv6 dhcp client` for prefixes. Forms follow the IX command
reference; the lab's IX simulator must answer in them.
"""

from __future__ import annotations

import ipaddress
import re

from provisioner.drivers.cli_config import NEC_SYNTAX, Entry
from provisioner.drivers.cli_driver import CliDriver, ipv4_from_interfaces, ipv6_prefixes_in, parse_interfaces
from provisioner.drivers.models import Facts, Ipv4Address, Ipv6Prefix, PppoeStatus, TunnelStatus
from provisioner.drivers.registry import register_driver

_IF_HEADER = re.compile(r"^(?:Interface\s+)?((?:GigaEthernet|FastEthernet|Tunnel|Loopback|BVI)\S+)")


@register_driver
class NecIxDriver(CliDriver):
    platform = "nec-ix"
    netmiko_device_type = "nec_ix"
    vendor = "NEC"
    error_pattern = r"^\s*% (?!Warning)"  # "% Warning: do NOT enter CNTL/Z while saving" is not a refusal
    syntax = NEC_SYNTAX
    show_config_command = "show running-config"

    def after_connect(self) -> None:
        # show running-config and write memory exist only in configuration mode (lab/sim/README.md).
        self._config_mode()

    def _config_mode(self) -> None:
        with self._transport_guard("configure"):
            if not self.conn.check_config_mode():
                self.conn.config_mode()

    def raw_config(self) -> str:
        self._config_mode()
        return super().raw_config()

    def send_config(self, commands: list[str], *, check: bool = True, **kw) -> str:
        """Stay in configuration mode; a pushed `hostname` renames the prompt netmiko waits for."""
        try:
            return super().send_config(commands, check=check, exit_config_mode=False, **kw)
        finally:
            if self.conn is not None and any(c.startswith(("hostname ", "no hostname")) for c in commands):
                with self._transport_guard("prompt"):
                    self.conn.base_prompt = self.conn.find_prompt().split("(")[0].rstrip("#> ")

    def pppoe_interfaces(self) -> list[str]:
        config = self.get_running_config().files["config"] or ""
        return pppoe_interfaces(self.syntax.entries(config))

    def after_push(self, added: list[Entry]) -> list[str]:
        """Bounce the PPPoE sub-interfaces whose settings (or whose ppp profile) changed, so the session
        is re-established with them before verify."""
        touched_profiles = {e[0].split()[-1] for e in added if e[0].startswith("ppp profile ")}
        out = []
        for entry in added:
            if len(entry) == 2 and entry[0].startswith("interface ") and entry[1] == "encapsulation pppoe":
                touched_profiles.add("*")
        for name in sorted(set(pppoe_interfaces(added)) | self._bound(touched_profiles)):
            out += [f"interface {name}", "shutdown", "no shutdown", "exit"]
        return out

    def _bound(self, profiles: set[str]) -> set[str]:
        if not profiles:
            return set()
        entries = self.syntax.entries(self.get_running_config().files["config"] or "")
        return {
            e[0].split(" ", 1)[1]
            for e in entries
            if len(e) == 2 and e[0].startswith("interface ") and e[1].startswith("ppp binding ")
            and ("*" in profiles or e[1].split()[-1] in profiles)
        }

    # ------------------------------------------------------------------ getters
    def get_facts(self) -> Facts:
        return parse_version(self.send("show version", check=False), self.conn.base_prompt)

    def _configured_interfaces(self) -> list[str]:
        config = self.get_running_config().files["config"] or ""
        return [e[0].split(" ", 1)[1] for e in self.syntax.entries(config) if len(e) == 1
                and e[0].startswith("interface ")]

    def _interfaces(self, names: list[str] | None = None) -> dict:
        """`show interfaces <if>` for each interface (the IX shows one at a time)."""
        text = "\n".join(self.send(f"show interfaces {n}", check=False)
                         for n in (names if names is not None else self._configured_interfaces()))
        return parse_interfaces(text)

    def get_pppoe_status(self, session: int = 1) -> PppoeStatus:
        names = self.pppoe_interfaces()
        if len(names) < session:
            return PppoeStatus(session=session, state="down", detail="no PPPoE interface configured")
        name = names[session - 1]
        text = self.send(f"show interfaces {name}", check=False)
        return pppoe_from_interface(session, name, parse_interfaces(text).get(name), text)

    def get_ipv4_addresses(self) -> list[Ipv4Address]:
        return ipv4_from_interfaces(self._interfaces())

    def get_ipv6_prefixes(self) -> list[Ipv6Prefix]:
        wan = self.send("show interfaces GigaEthernet0.0", check=False)
        return parse_dhcp6_client(self.send("show ipv6 dhcp client", check=False)) + ipv6_prefixes_in(
            wan, _IF_HEADER)

    def get_tunnel_status(self) -> list[TunnelStatus]:
        return tunnels_from_interfaces(self._interfaces([n for n in self._configured_interfaces()
                                                         if n.lower().startswith("tunnel")]))


# ---------------------------------------------------------------------- parsers (pure, unit-tested)
def pppoe_interfaces(entries: list[Entry]) -> list[str]:
    return [
        e[0].split(" ", 1)[1]
        for e in entries
        if len(e) == 2 and e[0].startswith("interface ") and e[1] == "encapsulation pppoe"
    ]


def pppoe_from_interface(session: int, name: str, info: dict | None, text: str = "") -> PppoeStatus:
    if info and info["up"] and info["ipv4"]:
        return PppoeStatus(session=session, state="up", interface=name, ipv4=info["ipv4"][0].ip)
    detail = "" if info else "interface not found"
    if re.search(r"authentication (failure|failed)|auth-rejected", text, re.I):
        detail = "authentication failed"
    state = "connecting" if re.search(r"PPPoE session: (connecting|discovery)", text, re.I) else "down"
    return PppoeStatus(session=session, state=state, interface=name, detail=detail)


def parse_dhcp6_client(text: str) -> list[Ipv6Prefix]:
    """`show ipv6 dhcp client`: the IA_PD prefix (on the client interface) and each subscriber LAN's /64."""
    out, client = [], "unknown"
    for line in text.splitlines():
        m = re.match(r"^(\S+?):\s+DHCPv6 client", line)
        if m:
            client = m.group(1)
        m = re.search(r"IA_PD prefix:\s*([0-9a-fA-F:]+/\d+)", line)
        if m:
            out.append(Ipv6Prefix(interface=client, prefix=ipaddress.IPv6Network(m.group(1), strict=False), origin="pd"))
        m = re.search(r"Subscriber\s+(\S+?):\s*([0-9a-fA-F:]+/\d+)", line)
        if m:
            out.append(Ipv6Prefix(interface=m.group(1), prefix=ipaddress.IPv6Network(m.group(2), strict=False),
                                  origin="pd"))
    return out


def tunnels_from_interfaces(interfaces: dict) -> list[TunnelStatus]:
    return [
        TunnelStatus(name=name, state="up" if info["up"] else "down")
        for name, info in interfaces.items()
        if name.lower().startswith("tunnel")
    ]


def parse_version(text: str, prompt: str = "") -> Facts:
    model = re.search(r"\b(IX\d{4}\S*)", text)
    version = re.search(r"Version\s+([\w.()-]+)", text)
    serial = re.search(r"(?:serial|Serial Number)[:\s]+(\S+)", text, re.I)
    return Facts(platform="nec-ix", hostname=prompt.split("(")[0].strip("#> "), vendor="NEC",
                 model=model.group(1) if model else "", os_version=version.group(1) if version else "",
                 serial=serial.group(1) if serial else "")

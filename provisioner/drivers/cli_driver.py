"""What the three CLI platforms (Yamaha RTX, NEC IX, Cisco IOS-XE) share: the running config is the
`show` of the configuration normalised by the platform's CliSyntax, a push sends the missing entries with
send_config_set(error_pattern=...), a restore converges back to the backup (cli_config.revert_plan).

None of these platforms has a candidate datastore: every line is live as soon as it is entered, and only
save() makes it survive a reboot. provision.py therefore saves only after verify passed.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, ClassVar

from provisioner.drivers.base import Backup, CpeDriver
from provisioner.drivers.cli_config import CliSyntax, Entry
from provisioner.drivers.models import ConfigDiff, ConfigSnapshot, Ipv4Address, Ipv6Prefix
from provisioner.render import RenderedConfig, get_platform

CONFIG = "config"


class CliDriver(CpeDriver):
    syntax: ClassVar[CliSyntax]
    show_config_command: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # The CLI shows a secret as the renderer quoted it: mask that form too.
        self.secrets.add_quoted(get_platform(self.platform).quote)

    # ------------------------------------------------------------------ configuration
    def raw_config(self) -> str:
        return self.send(self.show_config_command, read_timeout=self.timeouts.apply, check=False)

    def get_running_config(self, rendered: RenderedConfig | None = None) -> ConfigSnapshot:
        return ConfigSnapshot(platform=self.platform, files={CONFIG: self.syntax.normalise(self.raw_config())})

    def intended(self, rendered: RenderedConfig) -> ConfigSnapshot:
        if rendered.masked:
            raise ValueError("a masked render cannot be pushed: render with show_secrets=True")
        return ConfigSnapshot(platform=self.platform, files={CONFIG: self.syntax.normalise("\n".join(rendered.lines()))})

    def _entries(self, snap: ConfigSnapshot) -> list[Entry]:
        return self.syntax.entries(snap.files.get(CONFIG) or "")

    def diff(self, running: ConfigSnapshot, rendered: RenderedConfig) -> ConfigDiff:
        want, have = self._entries(self.intended(rendered)), self._entries(running)
        missing = self.syntax.missing(want, have)
        extra = self.syntax.unmanaged(want, have)
        text = "".join(f"+{self.syntax.indent * (len(e) - 1)}{e[-1]}\n" for e in missing)
        return ConfigDiff(
            changes=len(missing),
            text=self.secrets.mask(text),
            files=(CONFIG,) if missing else (),
            unmanaged=tuple(self.secrets.mask(" / ".join(e)) for e in extra),
        )

    def apply(self, rendered: RenderedConfig, running: ConfigSnapshot) -> None:
        want, have = self._entries(self.intended(rendered)), self._entries(running)
        plan = self.syntax.push_plan(want, have)
        if plan:
            self.send_config(plan)
            # Best effort: a firmware without the command still has the new settings.
            self.send_config(self.after_push(self.syntax.missing(want, have)), check=False)

    def after_push(self, added: list[Entry]) -> list[str]:
        """Commands that make the changes take effect (e.g. restart a PPPoE session whose account changed)."""
        return []

    def restore(self, backup: Backup) -> None:
        current, wanted = self._entries(self.get_running_config()), self._entries(backup.snapshot)
        plan = self.syntax.revert_plan(current, wanted)
        if plan:
            # Keep going past a refused line: the re-read comparison afterwards is the judge.
            self.send_config(plan + self.after_push(self.syntax.missing(wanted, current)), check=False)

    def save(self) -> None:
        with self._transport_guard("save"):
            out = self.conn.save_config()
        self.check_output(out)


# ---------------------------------------------------------------------- shared parsers
_IF_HEADER = re.compile(
    r"^(?:Interface\s+)?(\S+) is (administratively down|up|down)(?:, line protocol is (up|down))?"
    r"(?P<admin> \(administratively down\))?", re.I)
_INET = re.compile(r"Internet address is (\d+\.\d+\.\d+\.\d+)(?:/(\d+))?", re.I)
_IPV6_CIDR = re.compile(r"([0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7})/(\d{1,3})", re.I)


def parse_interfaces(text: str) -> dict[str, dict[str, Any]]:
    """`show interface(s)` of NEC IX and Cisco: per interface, up (admin and protocol) and IPv4 addresses."""
    out: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        m = _IF_HEADER.match(line.strip()) if not line.startswith((" ", "\t")) else None
        if m:
            proto = m.group(3)
            up = m.group(2).lower() == "up" and (proto is None or proto.lower() == "up") and not m.group("admin")
            current = {"up": up, "ipv4": []}
            out[m.group(1)] = current
            continue
        if current is not None:
            a = _INET.search(line)
            if a:
                current["ipv4"].append(ipaddress.IPv4Interface(f"{a.group(1)}/{a.group(2) or 32}"))
    return out


def ipv4_from_interfaces(interfaces: dict[str, dict[str, Any]]) -> list[Ipv4Address]:
    return [Ipv4Address(interface=name, address=a) for name, i in interfaces.items() for a in i["ipv4"]]


def ipv6_prefixes_in(text: str, header: re.Pattern[str], delegated_hint: str = "") -> list[Ipv6Prefix]:
    """Every IPv6 CIDR in a `show` text, attributed to the last interface header seen. A prefix shorter
    than /64 (or on a line mentioning `delegated_hint`) is a delegated prefix."""
    out, iface = [], "unknown"
    for line in text.splitlines():
        h = header.match(line)
        if h:
            iface = h.group(1)
        for m in _IPV6_CIDR.finditer(line):
            try:
                itf = ipaddress.IPv6Interface(f"{m.group(1)}/{m.group(2)}")
            except ValueError:
                continue
            if itf.is_link_local:
                continue
            pd = itf.network.prefixlen < 64 or (delegated_hint and delegated_hint in line.lower())
            origin = "pd" if pd else ("ra" if re.search(r"\b(ra|autoconf|auto)\b", line, re.I) else "static")
            address = itf.ip if itf.ip != itf.network.network_address else None
            out.append(Ipv6Prefix(interface=iface, prefix=itf.network, origin=origin, address=address))
    return out

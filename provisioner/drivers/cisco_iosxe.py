"""Cisco IOS-XE driver over netmiko `cisco_xe`.

IOS-XE keeps lines live as entered too, but it can replace its whole running config from a file, which
makes the restore exact: backup = `copy running-config flash:hikari-<job>.cfg`, restore =
`configure replace flash:... force` (its output must say "Rollback Done": a replace can fail quietly with
"Rollback aborted", napalm PR #1701), then the file is deleted. save = `write memory`.
"""

from __future__ import annotations

import re

from provisioner.drivers.base import Backup
from provisioner.drivers.cli_config import CISCO_SYNTAX
from provisioner.drivers.cli_driver import CliDriver, ipv4_from_interfaces, ipv6_prefixes_in, parse_interfaces
from provisioner.drivers.errors import CommandRejected, RestoreFailed
from provisioner.drivers.models import (
    ConfigSnapshot,
    Facts,
    Ipv4Address,
    Ipv6Prefix,
    PppoeStatus,
    TunnelStatus,
)
from provisioner.drivers.nec_ix import pppoe_from_interface, tunnels_from_interfaces
from provisioner.drivers.registry import register_driver

_IF_HEADER = re.compile(r"^(\S+)\s+\[(?:up|down|administratively down)")
BACKUP_FS = "flash:"


@register_driver
class CiscoIosXeDriver(CliDriver):
    platform = "cisco-iosxe"
    netmiko_device_type = "cisco_xe"
    vendor = "Cisco"
    error_pattern = r"^\s*% ?(Invalid|Incomplete|Ambiguous|Unknown|Error|Bad)"
    syntax = CISCO_SYNTAX
    show_config_command = "show running-config"

    def after_connect(self) -> None:
        with self._transport_guard("enable"):
            if not self.conn.check_enable_mode():
                self.conn.enable()

    def backup(self, job_id: str, snapshot: ConfigSnapshot) -> Backup:
        snap = snapshot
        name = f"{BACKUP_FS}hikari-{re.sub(r'[^A-Za-z0-9_.-]', '_', job_id)}.cfg"
        with self._transport_guard("backup copy"):
            out = self.conn.send_command_timing(f"copy running-config {name}", read_timeout=self.timeouts.apply)
            if "Destination filename" in out:
                out += self.conn.send_command_timing("\n", read_timeout=self.timeouts.apply)
        self.check_output(out)
        if "bytes copied" not in out and "[OK]" not in out:
            raise CommandRejected(f"{self.target.label}: copy running-config did not confirm", output=out)
        return Backup(snapshot=snap, on_device=name)

    def restore(self, backup: Backup) -> None:
        if not backup.on_device:
            super().restore(backup)
            return
        out = self.send(f"configure replace {backup.on_device} force", read_timeout=self.timeouts.apply, check=False)
        if "Rollback Done" not in out:
            raise RestoreFailed(f"{self.target.label}: configure replace did not report 'Rollback Done'")

    def discard_backup(self, backup: Backup) -> None:
        if backup.on_device:
            self.send(f"delete /force {backup.on_device}", check=False)

    # ------------------------------------------------------------------ getters
    def get_facts(self) -> Facts:
        return parse_show_version(self.send("show version", check=False), self.conn.base_prompt)

    def _interfaces(self) -> dict:
        return parse_interfaces(self.send("show interfaces", check=False, read_timeout=self.timeouts.apply))

    def get_pppoe_status(self, session: int = 1) -> PppoeStatus:
        name = f"Dialer{session}"
        info = parse_interfaces(self.send(f"show interfaces {name}", check=False)).get(name)
        return pppoe_from_interface(session, name, info)

    def get_ipv4_addresses(self) -> list[Ipv4Address]:
        return ipv4_from_interfaces(self._interfaces())

    def get_ipv6_prefixes(self) -> list[Ipv6Prefix]:
        text = self.send("show ipv6 interface brief", check=False) + "\n" + self.send("show ipv6 general-prefix", check=False)
        return ipv6_prefixes_in(text, _IF_HEADER, delegated_hint="prefix")

    def get_tunnel_status(self) -> list[TunnelStatus]:
        return tunnels_from_interfaces(self._interfaces())


def parse_show_version(text: str, prompt: str = "") -> Facts:
    version = re.search(r"Version\s+([\w.()-]+)", text)
    model = re.search(r"^cisco\s+(\S+).*processor", text, re.M)
    serial = re.search(r"Processor board ID\s+(\S+)", text)
    up = re.search(r"uptime is (.+)$", text, re.M)
    return Facts(platform="cisco-iosxe", hostname=prompt.strip("#> "), vendor="Cisco",
                 model=model.group(1) if model else "", os_version=version.group(1) if version else "",
                 serial=serial.group(1) if serial else "", uptime_s=_uptime(up.group(1)) if up else None)


def _uptime(text: str) -> float:
    units = {"week": 604800, "day": 86400, "hour": 3600, "minute": 60, "second": 1}
    return float(sum(int(n) * units[u] for n, u in re.findall(r"(\d+)\s+(week|day|hour|minute|second)", text)))

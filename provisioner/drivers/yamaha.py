"""Yamaha RTX driver over netmiko `yamaha`.

netmiko's behaviour it builds on (engineering.md §4.1): administrator mode is the config mode and needs
`secret=`; exit_config_mode() is a no-op; exit_enable_mode() answers N to "Save new configuration ? (Y/N)";
save_config() sends `save`. Every line is live as entered, so a push followed by a failed verify is undone
by converging back to the backup (never saved), and closing the session answers N.

Status output is parsed in English and in Japanese (the console's language is the customer's choice):
    show status pp 1   "Current PPPoE session status is Connected." / "PPPoEセッションは接続されています"
                       "PP IP Address Local: 203.0.113.10, Remote: 203.0.113.1"
    show status tunnel 1   "TUNNEL[1]:" ... "トンネルインタフェースは接続されています" / "... is connected"
    show environment   "RTX1200 Rev.10.01.71 (...)", "serial=...", "Elapsed time from boot: 5days 21:12:17"
Forms taken from public captures (fakenos' yamaha platform; user write-ups of RTX1100/RTX1200 sessions);
the lab's RTX simulator must answer in them.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from provisioner.drivers.cli_config import Entry, YamahaSyntax
from provisioner.drivers.cli_driver import CliDriver, ipv6_prefixes_in
from provisioner.drivers.models import Facts, Ipv4Address, Ipv6Prefix, PppoeStatus, TunnelStatus
from provisioner.drivers.registry import register_driver

_PP_UP = re.compile(r"(status is Connected|session is connected|接続されています|通信中)", re.I)
_PP_CONNECTING = re.compile(r"(Connecting|接続中|PADI|PADR|Authenticating|認証中)", re.I)
_PP_ADDR = re.compile(r"PP IP Address Local:\s*(\d+\.\d+\.\d+\.\d+),\s*Remote:\s*(\d+\.\d+\.\d+\.\d+)?", re.I)
_AUTH_FAIL = re.compile(r"(authentication fail|認証に失敗|認証失敗|認証エラー)", re.I)
_TUNNEL_UP = re.compile(r"(interface is (connected|up)|トンネルインタフェースは接続されています)", re.I)
_TUNNEL_KIND = re.compile(r"(Interface type|インタフェースの種類):\s*(\S+)", re.I)
_IF_HEADER = re.compile(r"^(LAN\d+|lan\d+|PP\[\d+\]|TUNNEL\[\d+\])")
_UPTIME = re.compile(r"Elapsed time from boot:\s*(?:(\d+)\s*days?\s*)?(\d+):(\d+):(\d+)", re.I)


@register_driver
class YamahaRtxDriver(CliDriver):
    platform = "yamaha-rtx"
    netmiko_device_type = "yamaha"
    vendor = "Yamaha"
    error_pattern = r"^\s*(Error:|エラー:|Invalid)"
    syntax = YamahaSyntax()
    show_config_command = "show config"
    secret_patterns = (
        re.compile(r"pp auth (?:myname|username)\s+\S+\s+(?P<v>\S+)"),
        re.compile(r"snmpv3 usm user .*?\b(?:sha|md5|sha256)\s+(?P<v>\S+)"),
        re.compile(r"snmpv3 usm user .*?\b(?:aes128-cfb|des-cbc)\s+(?P<v>\S+)"),
        re.compile(r"tunnel hb46pp auth myname\s+\S+\s+(?P<v>\S+)"),
    )

    def after_connect(self) -> None:
        """The factory console is Shift JIS with a bare `>`/`#` prompt (lab/sim/README.md): netmiko then
        misses `Error:` (decoded as UTF-8) and waits for a prompt that never comes after `administrator`.
        Switch the console to English ASCII and give the prompt a name first (both are console settings the
        RTX keeps in its config, like Oxidized's `console character ascii`), then enter administrator mode:
        show config hides secrets outside it, and the push happens there."""
        with self._transport_guard("console set-up"):
            self.conn.send_command_timing("console character en.ascii", last_read=0.3)
            if not self.conn.find_prompt().rstrip("#> "):
                self.conn.send_command_timing(f"console prompt {_prompt_name(self.target)}", last_read=0.3)
            self.conn.set_base_prompt()
            if self.target.secret is not None:
                self.conn.enable()

    def before_close(self, conn: Any) -> None:
        conn.exit_enable_mode()  # answers N: an unsaved (restored or refused) change is never saved

    def after_push(self, added: list[Entry]) -> list[str]:
        """A PP whose account or addressing changed keeps its old session until it reconnects: drop it
        (pp always-on reconnects at once) so verify sees the new settings at work."""
        pps = sorted({m.group(1) for e in added if (m := re.match(r"^pp select (\d+)$", e[0]))})
        return [f"disconnect pp {n}" for n in pps]

    # ------------------------------------------------------------------ getters
    def get_facts(self) -> Facts:
        return parse_environment(self.send("show environment", check=False), self.conn.base_prompt)

    def get_pppoe_status(self, session: int = 1) -> PppoeStatus:
        return parse_status_pp(self.send(f"show status pp {session}", check=False), session)

    def get_ipv4_addresses(self) -> list[Ipv4Address]:
        out = []
        for line in (self.get_running_config().files["config"] or "").splitlines():
            m = re.match(r"^ip (lan\d+) address (\d+\.\d+\.\d+\.\d+/\d+)", line)
            if m:
                out.append(Ipv4Address(interface=m.group(1), address=ipaddress.IPv4Interface(m.group(2))))
        pp = self.get_pppoe_status(1)
        if pp.ipv4:
            out.append(Ipv4Address(interface="pp1", address=ipaddress.IPv4Interface(f"{pp.ipv4}/32")))
        return out

    def get_ipv6_prefixes(self) -> list[Ipv6Prefix]:
        text = self.send("show ipv6 address", check=False) + "\n" + self.send("show status ipv6 dhcp", check=False)
        return ipv6_prefixes_in(text, _IF_HEADER, delegated_hint="dhcp-prefix")

    def get_tunnel_status(self) -> list[TunnelStatus]:
        config = self.get_running_config().files["config"] or ""
        numbers = re.findall(r"^tunnel select (\d+)$", config, re.M)
        return [parse_status_tunnel(self.send(f"show status tunnel {n}", check=False), n) for n in numbers]


def _prompt_name(target) -> str:
    name = re.sub(r"[^A-Za-z0-9-]", "-", target.name or "rtx")[:16].strip("-")
    return name or "rtx"


# ---------------------------------------------------------------------- parsers (pure, unit-tested)
def parse_status_pp(text: str, session: int = 1) -> PppoeStatus:
    addr = _PP_ADDR.search(text)
    if _PP_UP.search(text) and addr:
        return PppoeStatus(
            session=session, state="up", interface=f"pp{session}",
            ipv4=ipaddress.IPv4Address(addr.group(1)),
            peer=ipaddress.IPv4Address(addr.group(2)) if addr.group(2) else None,
        )
    detail = "authentication failed" if _AUTH_FAIL.search(text) else ""
    state = "connecting" if _PP_CONNECTING.search(text) else "down"
    return PppoeStatus(session=session, state=state, interface=f"pp{session}", detail=detail)


def parse_status_tunnel(text: str, number: str) -> TunnelStatus:
    kind_m = _TUNNEL_KIND.search(text)
    raw = (kind_m.group(2) if kind_m else "").lower()
    kind = "map-e" if "map-e" in raw else "ipip" if "ipip" in raw or "ip over ip" in raw else "unknown"
    return TunnelStatus(name=f"tunnel{number}", kind=kind, state="up" if _TUNNEL_UP.search(text) else "down")


def parse_environment(text: str, prompt: str = "") -> Facts:
    model = version = serial = ""
    m = re.search(r"^(RTX?\S*|NVR\S*|FWX\S*)\s+(Rev\.\S+)", text, re.M)
    if m:
        model, version = m.group(1), m.group(2)
    s = re.search(r"serial=(\S+)", text)
    if s:
        serial = s.group(1)
    uptime = None
    u = _UPTIME.search(text)
    if u:
        days, h, mi, sec = (int(x or 0) for x in u.groups())
        uptime = float(((days * 24 + h) * 60 + mi) * 60 + sec)
    return Facts(platform="yamaha-rtx", hostname=prompt.strip("#> "), vendor="Yamaha", model=model,
                 os_version=version, serial=serial, uptime_s=uptime)

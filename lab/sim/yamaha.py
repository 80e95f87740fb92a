"""`YamahaRtxSimulator`: a test double of a Yamaha RTX router's console, small and documented as such.

It speaks the part of the RTX command language the renderer's yamaha-rtx template and netmiko's `yamaha`
driver use, with the WAN made real by lab.sim.wan (PPPoE to the lab BRAS, DHCPv6-PD from the lab Kea, SLAAC).
Everything else is refused with the RTX's own error text.

Sources (cited per command below as §n.n):
- Yamaha RT series command reference, Rev.23.02.02 (the sections below; the same revision the renderer cites).
  Read through its public transcription, shin1ohno/terraform-provider-rtx:docs/RTX-commands/ (commit b159bcd).
- Console behaviour: §2.1 (login `>`, `administrator` + password `#`), §56.3.2 (exit asks whether to save
  unsaved changes), §4.21 (console character: ja.sjis by default, en.ascii/ascii for English).
- Error texts "Error: Invalid command name", "Error: Administrator use only", "Error: Insufficient or too many
  parameters" and the Japanese "エラー: コマンド名を確認してください": a real RTX console transcript (GitHub file,
  code-index id 66560186946). The remaining texts and their Japanese forms: an RTX simulator's message table
  (GitHub file, code-index id 13109353566; weaker evidence). "Save new configuration ? (Y/N)": netmiko's
  yamaha driver (netmiko/yamaha/yamaha.py) and that table.
- `save` output: "セーブ中... CONFIG0 終了" (the transcript above); the English "Saving ... CONFIG0 Done" from a
  scripted RTX stand-in in a public test suite (GitHub file, code-index id 71219352142; weaker).
- `show status pp` layout: a real RTX session (GitHub file, code-index id 8228234202, cited in
  domain/reference.md §2.1): "PP[01]:", "Current PPPoE session status is Connected.", "Access Concentrator:",
  the Received/Transmitted lines and the "PPP Cofigure Options" block (Yamaha's own spelling). Other states
  ("Offline.", "In connecting process.", "disabled.", "Current line status is disabled."): RTX1210 status lines
  quoted in a test fixture (GitHub file, code-index id 71334514619; weaker). The disconnection-cause line is
  this simulator's own wording: no public sample of it was found.
- `show ipv6 address` and `show status ipv6 dhcp`: §57.10 and §58.28 name the commands and what they show;
  the layouts here are the simulator's own (no public sample found) and say so in README.md.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from lab.sim.console import CliSession, InputMode, RouterSimulator
from lab.sim.grammar import (
    IPV4,
    IPV4_PREFIX,
    NUM,
    ON_OFF,
    WORD,
    Failure,
    Grammar,
    GrammarError,
    Match,
    Spec,
    spec,
    tokenize,
)
from lab.sim.store import ConfigStore
from lab.sim.wan import PppoeAccount, WanPort, WanWants
from lab.sim.yamaha_show import show_ipv6_address, show_status_ipv6_dhcp, show_status_pp

REVISION = {"RTX830": "15.02.30", "RTX1210": "14.01.41", "RTX1300": "23.00.12"}

# --- messages (English for en.ascii/ascii, Japanese for the ja.* character sets) -----------------------
MESSAGES = {
    "en": {
        Failure.UNKNOWN: "Error: Invalid command name",
        Failure.ARG_COUNT: "Error: Insufficient or too many parameters",
        Failure.BAD_ARG: "Error: Illegal keyword",
        "admin-only": "Error: Administrator use only",
        "password": "Error: Incorrect password",
        "pp-select": "Error: Execute pp select command beforehand",
        "tunnel-select": "Error: Execute tunnel select command beforehand",
        "save?": "Save new configuration ? (Y/N)",
        "saved": "Saving ... CONFIG0 Done",
    },
    "ja": {
        Failure.UNKNOWN: "エラー: コマンド名を確認してください",
        Failure.ARG_COUNT: "エラー: パラメータの数が不適当です",
        Failure.BAD_ARG: "エラー: パラメータのキーワードが認識できません",
        "admin-only": "エラー: このコマンドは管理レベルでのみ使用できます",
        "password": "エラー: パスワードが間違っています",
        "pp-select": "エラー: このコマンドは相手を選択してから実行してください",
        "tunnel-select": "エラー: このコマンドはトンネルを選択してから実行してください",
        "save?": "新しい設定を保存しますか? (Y/N)",
        "saved": "セーブ中... CONFIG0 終了",
    },
}
# §4.21: console character codes and their byte encodings; ja.sjis is the factory default (Rev.14.01+).
CHARSETS = {"en.ascii": ("en", "ascii"), "ascii": ("en", "ascii"), "ja.sjis": ("ja", "shift_jis"),
            "sjis": ("ja", "shift_jis"), "ja.euc": ("ja", "euc_jp"), "euc": ("ja", "euc_jp"),
            "ja.utf8": ("ja", "utf-8")}
DEFAULT_CHARSET = "ja.sjis"

# --- argument patterns ---------------------------------------------------------------------------------
LAN = r"lan[1-3]"
ADDR = r"[^\s]+"                                    # filter addresses: *, a.b.c.d[/m], ranges, lists
PROTO = r"[A-Za-z0-9_*,-]+"
PORTS = r"[A-Za-z0-9_*,-]+"
FILTER_ACTION = r"(?:pass|reject|restrict)(?:-log|-nolog)?"
FILTER_LIST = r"(?:in|out)(?: \d+)*(?: dynamic(?: \d+)+)?"
IPV6_WITH_LEN = r"(?:[0-9A-Fa-f:]+|(?:ra|dhcp)-prefix@lan\d+::[0-9A-Fa-f:]*)/\d{1,3}"
DHCP_TIME = r"(?:\d+(?::\d{2})?|infinity)"

PP = "pp"            # scope: needs `pp select N`
TUNNEL = "tunnel"    # scope: needs `tunnel select N`

SPECS: tuple[Spec, ...] = (
    # --- operations -----------------------------------------------------------------------------------
    spec("administrator", cite="§56.3.1", tag="administrator"),
    spec("exit", "save", (0, 1), "§56.3.2", tag="exit"),
    spec("quit", "save", (0, 1), "§56.3.2", tag="exit"),
    spec("save", WORD + r"(?: .+)?", (0, 2), "§56.3.3", tag="save"),
    spec("show config", None, 0, "§57.2", tag="show-config"),
    spec("show status pp", NUM, (0, 1), "§58.3", tag="show-status-pp"),
    spec("show ipv6 address", rf"{LAN}|pp {NUM}|tunnel {NUM}", (0, 2), "§57.10", tag="show-ipv6-address"),
    spec("show status ipv6 dhcp", None, 0, "§58.28", tag="show-status-ipv6-dhcp"),
    spec("pp select", rf"{NUM}|none|anonymous", 1, "§56.1", tag="pp-select"),
    spec("tunnel select", rf"{NUM}|none", 1, "§56.2", tag="tunnel-select"),
    # --- console (general users may run these too: §4.20-4.23) ----------------------------------------
    spec("console lines", r"infinity|\d+", 1, "§4.23", tag="console"),
    spec("console character", "|".join(CHARSETS), 1, "§4.21", tag="console"),
    spec("console columns", NUM, 1, "§4.22", tag="console"),
    spec("console prompt", r".*", 1, "§4.20", tag="console"),
    # --- system ---------------------------------------------------------------------------------------
    spec("snmp sysname", r".+", 1, "§21.21"),
    spec("snmpv2c host", r".+", (1, 3), "§21.6"),
    spec("snmpv2c community read-only", WORD, 1, "§21.7"),
    spec("snmpv3 vacm view", rf"{NUM} .+", (3, None), "§21.15", key_args=1),
    spec("snmpv3 vacm access", rf"{NUM} read {NUM} write (?:{NUM}|none)", 5, "§21.16", key_args=1),
    spec("snmpv3 usm user", rf"{NUM} .+", (2, None), "§21.13", key_args=1),
    spec("snmpv3 host", r".+", (1, None), "§21.14"),
    spec("sshd service", ON_OFF, 1, "§4.65"),
    # --- IP -------------------------------------------------------------------------------------------
    spec("ip {lan} address", rf"{IPV4_PREFIX}(?: broadcast {IPV4})?|dhcp", (1, 3), "§8.1.2"),
    spec("ip {lan} secondary address", rf"{IPV4_PREFIX}|dhcp", 1, "§8.1.3"),
    spec("ip route", rf"(?:default|{IPV4_PREFIX}|{IPV4}) gateway .+", (3, None), "§8.1.7", key_args=1),
    spec("ip filter", rf"{NUM} {FILTER_ACTION} {ADDR}(?: {ADDR}(?: {PROTO}(?: {PORTS}(?: {PORTS})?)?)?)?",
         (3, 7), "§8.1.10", key_args=1),
    spec("ip filter dynamic", rf"{NUM} {ADDR} {ADDR} {PROTO}(?: (?:syslog|timeout)=\S+)*", (4, None), "§8.1.14",
         key_args=1),
    spec("ip {lan} secure filter", FILTER_LIST, (1, None), "§8.1.25", key_args=1),
    # --- NAT (§23) ------------------------------------------------------------------------------------
    spec("nat descriptor type", rf"{NUM} (?:nat|masquerade|nat-masquerade|none)(?: hairpin={ON_OFF})?", (2, 3),
         "§23.3", key_args=1),
    spec("nat descriptor address outer", rf"{NUM} .+", (2, None), "§23.4", key_args=1),
    spec("nat descriptor address inner", rf"{NUM} .+", (2, None), "§23.5", key_args=1),
    # --- NGN and IPv6 ---------------------------------------------------------------------------------
    spec("ngn type", rf"{LAN} (?:ntt|off)", 2, "§20.3.1", key_args=1),
    spec("ipv6 prefix", rf"{NUM} (?:{IPV6_WITH_LEN}|proxy)(?: [a-z_]+=\S+)*", (2, None), "§30.3.1", key_args=1),
    spec("ipv6 {lan} address", rf"auto|dhcp|proxy|{IPV6_WITH_LEN}(?: \S+)?", (1, 2), "§30.2.2", key_args=1),
    spec("ipv6 {lan} rtadv send", rf"{NUM}(?: {NUM})*(?: [a-z_]+=\S+)*", (1, None), "§30.3.3"),
    spec("ipv6 {lan} dhcp service", rf"off|server(?: prefix={NUM})?|client(?: ir={ON_OFF})?", (1, 2), "§30.2.5"),
    spec("ipv6 filter", rf"{NUM} {FILTER_ACTION} {ADDR}(?: {ADDR}(?: {PROTO}(?: {PORTS}(?: {PORTS})?)?)?)?",
         (3, 7), "§30.7.1", key_args=1),
    spec("ipv6 filter dynamic", rf"{NUM} {ADDR} {ADDR} {PROTO}(?: (?:syslog|timeout)=\S+)*", (4, None),
         "§30.7.3", key_args=1),
    spec("ipv6 {lan} secure filter", FILTER_LIST, (1, None), "§30.7.2", key_args=1),
    # --- DHCP server and DNS --------------------------------------------------------------------------
    spec("dhcp service", r"server|relay|off", 1, "§12.1.1"),
    spec("dhcp server rfc2131 compliant", r"on|off|(?:except )?[a-z-]+(?: [a-z-]+)*", (1, None), "§12.1.2"),
    spec("dhcp scope", rf"{NUM} {IPV4}-{IPV4}/\d{{1,2}}(?: except [^\s]+(?: [^\s]+)*?)?(?: gateway {IPV4})?"
         rf"(?: expire {DHCP_TIME})?(?: maxexpire {DHCP_TIME})?", (2, None), "§12.1.4", key_args=1),
    spec("dhcp scope option", rf"{NUM}(?: [a-z_-]+=\S+)+", (2, None), "§12.1.8", key_args=1),
    spec("dns server", rf"{IPV4}|[0-9A-Fa-f:]+(?: .+)?", (1, None), "§24.2"),
    spec("dns server pp", NUM + r"(?: edns=\S+)?", (1, 2), "§24.4"),
    spec("dns server dhcp", LAN + r"(?: .+)?", (1, None), "§24.5"),
    spec("dns service", r"recursive|off", 1, "§24.1"),
    spec("dns private address spoof", ON_OFF, 1, "§24.7"),
    # --- PP (PPPoE) -----------------------------------------------------------------------------------
    spec("pp enable", rf"{NUM}(?: {NUM})*", (1, None), "§56.7.1", tag="pp-enable"),
    spec("pp disable", rf"{NUM}(?: {NUM})*", (1, None), "§56.7.2", tag="pp-disable"),
    spec("pppoe use", LAN, 1, "§11.16.1", tag=PP),
    spec("pppoe auto connect", ON_OFF, 1, "§11.16.3", tag=PP),
    spec("pppoe auto disconnect", ON_OFF, 1, "§11.16.4", tag=PP),
    spec("pp auth accept", r"(?:pap|chap|mschap|mschap-v2)(?: (?:pap|chap|mschap|mschap-v2))*", (1, 4), "§11.2",
         tag=PP),
    spec("pp auth request", r"(?:pap|chap|mschap|mschap-v2|chap-pap)(?: arrive-only)?", (1, 2), "§11.3", tag=PP),
    spec("pp auth myname", rf"{WORD} {WORD}", 2, "§11.4", tag=PP),
    spec("ppp lcp mru", rf"{ON_OFF}(?: {NUM})?", (1, 2), "§11.6.3", tag=PP),
    spec("ppp ipcp ipaddress", ON_OFF, 1, "§11.9.2", tag=PP),
    spec("ppp ipcp msext", ON_OFF, 1, "§11.9.8", tag=PP),
    spec("ppp ccp type", r"none|stac|cstac|mppe-\w+|\w+", 1, "§11.11.1", tag=PP),
    spec("ip pp address", rf"{IPV4}(?:/\d{{1,2}})?", 1, "§8.1.2", tag=PP),
    spec("ip pp mtu", NUM, 1, "§8.1.4", tag=PP),
    spec("ip pp tcp mss limit", rf"{NUM}|auto", 1, "§8.1.21", tag=PP),
    spec("pp keepalive interval", rf"{NUM}(?: retry-interval={NUM})?(?: count={NUM})?(?: time={NUM})?", (1, 4),
         "§8.2.3", tag=PP),
    spec("pp keepalive use", r"lcp-echo|off|(?:lcp-echo )?icmp-echo .+", (1, None), "§8.2.4", tag=PP),
    spec("pp always-on", rf"{ON_OFF}(?: {NUM})?", (1, 2), "§6.2.1", tag=PP),
    spec("ip pp secure filter", FILTER_LIST, (1, None), "§8.1.25", tag=PP, key_args=1),
    spec("ip pp nat descriptor", rf"{NUM}(?: {NUM})*(?: reverse .+)?", (1, None), "§23.2", tag=PP),
    # --- tunnels (§14) --------------------------------------------------------------------------------
    spec("tunnel enable", rf"{NUM}(?: {NUM})*", (1, None), "§14.1", tag="tunnel-enable"),
    spec("tunnel disable", rf"{NUM}(?: {NUM})*", (1, None), "§14.2", tag="tunnel-disable"),
    spec("tunnel encapsulation", r"map-e|ipip|ipsec|l2tp|l2tpv3|l2tpv3-raw|nat46|hb46pp", 1, "§14.4", tag=TUNNEL),
    spec("tunnel map-e type", r"v6plus|ocn|ipv6option|transix|cross-pass|v6connect|auto", 1, "§14.14",
         tag=TUNNEL),
    spec("tunnel endpoint address", r"\S+(?: \S+)?", (1, 2), "§14.9", tag=TUNNEL),
    spec("tunnel endpoint name", r"\S+(?: \S+)?(?: fqdn)?", (1, 3), "§14.10", tag=TUNNEL),
    spec("ip tunnel mtu", NUM, 1, "§8.1.4", tag=TUNNEL),
    spec("ip tunnel tcp mss limit", rf"{NUM}|auto", 1, "§8.1.21", tag=TUNNEL),
    spec("ip tunnel secure filter", FILTER_LIST, (1, None), "§8.1.25", tag=TUNNEL, key_args=1),
    spec("ip tunnel nat descriptor", rf"{NUM}(?: {NUM})*(?: reverse .+)?", (1, None), "§23.2", tag=TUNNEL),
)
# Commands a general (non-administrator) user may run (§56.1, §56.2, §4.20-4.23, §56.3.1-2, show).
USER_TAGS = {"administrator", "exit", "console", "pp-select", "tunnel-select", "show-config", "show-status-pp",
             "show-ipv6-address", "show-status-ipv6-dhcp"}
GRAMMAR = Grammar(SPECS)


@dataclass
class YamahaConfig:
    """What a simulated RTX starts from: its model, WAN port, and the accounts it was handed."""

    model: str = "RTX830"
    wan_lan: str = "lan2"            # the RTX interface name of the WAN port
    wan_iface: str = "wan0"          # the Linux interface behind it
    login_user: str = "lab"
    login_password: str = ""
    admin_password: str = ""


class YamahaRtxSimulator(RouterSimulator):
    """A simulated (test double) Yamaha RTX: the console grammar above over a real WAN port."""

    def __init__(self, config: YamahaConfig, wan: WanPort | None = None) -> None:
        super().__init__()
        if config.model not in REVISION:
            raise ValueError(f"unknown RTX model {config.model!r}; known: {', '.join(REVISION)}")
        self.cfg = config
        self.running = ConfigStore()
        self.saved = ConfigStore()
        self.wan = wan if wan is not None else WanPort(config.wan_iface)

    # --- RouterSimulator ------------------------------------------------------------------------------
    def authenticate(self, user: str, password: str) -> bool:
        return bool(self.cfg.login_password) and user == self.cfg.login_user and password == self.cfg.login_password

    def open_session(self, user: str) -> CliSession:
        return YamahaSession(self)

    def close(self) -> None:
        self.wan.close()

    # --- shared state -------------------------------------------------------------------------------------
    @property
    def charset(self) -> str:
        line = self.running.get(None, ("console", "character"))
        return line.split()[-1] if line else DEFAULT_CHARSET

    @property
    def language(self) -> str:
        return CHARSETS[self.charset][0]

    @property
    def encoding(self) -> str:
        return CHARSETS[self.charset][1]

    def message(self, key: object) -> str:
        return MESSAGES[self.language][key]

    @property
    def unsaved(self) -> bool:
        return self.running != self.saved

    def save(self) -> str:
        self.saved = self.running.snapshot()
        return self.message("saved")

    def apply(self, m: Match, section: tuple[str, int] | None, line: str) -> None:
        """Store (as entered) or remove a configuration line, then tell the WAN what the configuration wants."""
        if m.negated:
            self.running.remove(section, m.key)
        else:
            self.running.set(section, m.key, line.strip())
        self.wan.want(self.wan_wants())

    def set_pp_enabled(self, numbers: list[str], enabled: bool) -> None:
        for num in numbers:
            section = ("pp", int(num))
            if enabled:
                self.running.set(section, ("pp", "enable"), f"pp enable {num}")
            else:
                self.running.remove(section, ("pp", "enable"))
        self.wan.want(self.wan_wants())

    def set_tunnel_enabled(self, numbers: list[str], enabled: bool) -> None:
        for num in numbers:
            section = ("tunnel", int(num))
            if enabled:
                self.running.set(section, ("tunnel", "enable"), f"tunnel enable {num}")
            else:
                self.running.remove(section, ("tunnel", "enable"))

    # --- what the configuration asks of the WAN -------------------------------------------------------------
    def wan_pp(self) -> int | None:
        """The PP bound to the WAN port by `pppoe use` (the lab line carries one session per simulator)."""
        for section in sorted(s for s in self.running.sections() if isinstance(s, tuple) and s[0] == "pp"):
            if self.running.get(section, ("pppoe", "use")) == f"pppoe use {self.cfg.wan_lan}":
                return section[1]
        return None

    def wan_wants(self) -> WanWants:
        account = None
        num = self.wan_pp()
        if num is not None:
            section = ("pp", num)
            myname = self.running.get(section, ("pp", "auth", "myname"))
            enabled = self.running.get(section, ("pp", "enable")) is not None
            always_on = self.running.get(section, ("pp", "always-on")) or ""
            # §6.2.1: with always-on the session is kept up; without traffic (none in the lab) it is not dialled.
            if myname and enabled and always_on.split()[2:3] == ["on"]:
                _, _, _, user, password = tokenize(myname)
                account = PppoeAccount(user, password)
        wan = self.cfg.wan_lan
        client = self.running.get(None, ("ipv6", wan, "dhcp", "service")) or ""
        return WanWants(
            pppoe=account,
            pd=client.startswith(f"ipv6 {wan} dhcp service client") and "ir=on" not in client,
            slaac=self.running.get(None, ("ipv6", wan, "address", "auto")) is not None,
        )

    def show_config(self) -> str:
        head = [f"# {self.cfg.model} Rev.{REVISION[self.cfg.model]} (hikari-lab simulator)",
                f"# Reporting Date: {time.strftime('%b %d %H:%M:%S %Y')}"]
        body = self.running.lines(None)
        for kind in ("pp", "tunnel"):
            for section in sorted(s for s in self.running.sections() if isinstance(s, tuple) and s[0] == kind):
                lines = self.running.lines(section)
                enable = [line for line in lines if line.startswith(f"{kind} enable")]
                if lines:
                    body += [f"{kind} select {section[1]}"] + [f" {line}" for line in lines if line not in enable]
                    body += [f" {line}" for line in enable]
        return "\n".join(head + body)


class YamahaSession(CliSession):
    """One login on the simulated RTX console (§2.1.5: `>` as a general user, `#` after `administrator`)."""

    def __init__(self, router: YamahaRtxSimulator) -> None:
        self.r = router
        self.admin = False
        self.selected: tuple[str, int] | None = None
        self.input_mode = InputMode.LINE
        self.line = ""

    @property
    def encoding(self) -> str:
        return self.r.encoding

    def prompt(self) -> str:
        if self.input_mode is InputMode.SECRET:
            return "Password: "
        if self.input_mode is InputMode.KEY:
            return ""
        console = self.r.running.get(None, ("console", "prompt"))
        prefix = tokenize(console)[2] if console else ""
        selection = f"{self.selected[0]}{self.selected[1]}" if self.selected else ""
        return f"{prefix}{selection}{'#' if self.admin else '>'} "

    # --- input ----------------------------------------------------------------------------------------
    def handle_line(self, line: str) -> str:
        with self.r.lock:
            if self.input_mode is InputMode.SECRET:
                self.input_mode = InputMode.LINE
                if line == self.r.cfg.admin_password and self.r.cfg.admin_password:
                    self.admin = True
                    return ""
                return self.r.message("password")
            if not line.strip():
                return ""
            try:
                m = GRAMMAR.match(tokenize(line))
            except GrammarError as exc:
                return self.r.message(exc.failure)
            self.line = line
            return self._run(m)

    def handle_key(self, key: str) -> str:
        """The answer to "Save new configuration ? (Y/N)" (§56.3.2): one key, no Enter."""
        with self.r.lock:
            answer = key.strip().upper()[:1]
            if answer not in ("Y", "N"):
                return ""
            self.input_mode = InputMode.LINE
            self.admin = False
            self.selected = None
            return f"{answer}\n{self.r.save()}" if answer == "Y" else answer

    # --- commands -------------------------------------------------------------------------------------
    def _run(self, m: Match) -> str:
        tag = m.spec.tag
        if not self.admin and tag not in USER_TAGS:
            return self.r.message("admin-only")
        handler = getattr(self, "_" + tag.replace("-", "_"), None)
        if handler is not None:
            return handler(m)
        return self._configure(m)

    def _configure(self, m: Match) -> str:
        tag = m.spec.tag
        section = None
        if tag in (PP, TUNNEL):
            if self.selected is None or self.selected[0] != tag:
                return self.r.message("pp-select" if tag == PP else "tunnel-select")
            section = self.selected
        self.r.apply(m, section, self.line)
        return ""

    def _console(self, m: Match) -> str:
        self.r.apply(m, None, self.line)
        return ""

    def _administrator(self, m: Match) -> str:
        if not self.admin:
            self.input_mode = InputMode.SECRET
        return ""

    def _exit(self, m: Match) -> str:
        if not self.admin:
            self.closed = True
            return ""
        if m.args == ["save"]:
            self.r.save()
        elif self.r.unsaved:
            self.input_mode = InputMode.KEY
            return self.r.message("save?") + " "
        self.admin = False
        self.selected = None
        return ""

    def _save(self, m: Match) -> str:
        return self.r.save()

    def _pp_select(self, m: Match) -> str:
        self.selected = None if m.args[0] in ("none", "anonymous") else ("pp", int(m.args[0]))
        return ""

    def _tunnel_select(self, m: Match) -> str:
        self.selected = None if m.args[0] == "none" else ("tunnel", int(m.args[0]))
        return ""

    def _pp_enable(self, m: Match) -> str:
        self.r.set_pp_enabled(m.args, enabled=not m.negated)
        return ""

    def _pp_disable(self, m: Match) -> str:
        self.r.set_pp_enabled(m.args, enabled=False)
        return ""

    def _tunnel_enable(self, m: Match) -> str:
        self.r.set_tunnel_enabled(m.args, enabled=not m.negated)
        return ""

    def _tunnel_disable(self, m: Match) -> str:
        self.r.set_tunnel_enabled(m.args, enabled=False)
        return ""

    def _show_config(self, m: Match) -> str:
        return self.r.show_config()

    def _show_status_pp(self, m: Match) -> str:
        num = int(m.args[0]) if m.args else (self.selected[1] if self.selected and self.selected[0] == "pp" else 1)
        return show_status_pp(self.r, num)

    def _show_ipv6_address(self, m: Match) -> str:
        return show_ipv6_address(self.r, m.args[0] if m.args else None)

    def _show_status_ipv6_dhcp(self, m: Match) -> str:
        return show_status_ipv6_dhcp(self.r)


def interface_prefix(value: str, delegated: str | None, ra: str | None) -> ipaddress.IPv6Interface | None:
    """Resolve `dhcp-prefix@lan2::1:0:0:0:1/64` / `ra-prefix@lan2::1/64` (§30.2.2) against the prefix the WAN
    actually holds: the prefix's bits with the given interface bits OR-ed in."""
    source, _, rest = value.partition("@")
    base = delegated if source == "dhcp-prefix" else ra if source == "ra-prefix" else None
    if base is None:
        return None
    suffix, _, length = rest.partition("::")[2].partition("/")
    host = int(ipaddress.IPv6Address("::" + suffix)) if suffix else 0
    net = ipaddress.IPv6Network(base, strict=False)
    return ipaddress.IPv6Interface((int(net.network_address) | host, int(length)))

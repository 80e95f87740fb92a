"""`NecIxSimulator`: a test double of an NEC UNIVERGE IX router's CLI, small and documented as such.

It speaks the part of the IX command language that the renderer's nec-ix template and netmiko's `nec_ix` driver
use, over a real WAN (lab.sim.wan: PPPoE to the lab BRAS, DHCPv6-PD from the lab Kea, SLAAC). Anything else is
refused with the IX's error text.

Sources (cited per command below by these tags):
- [CRM-PPP] NEC Platforms IX command reference, PPP chapter:
  https://support.necplatforms.co.jp/ix-nrv/manual/crm/cli/ppp/cli_ppp.html (authentication accept / myname /
  password, "PPPプロファイルコンフィグモード", limits 59/79 characters).
- [CRM-DHCP6] the same reference, DHCPv6 chapter:
  https://support.necplatforms.co.jp/ix-nrv/manual/crm/cli/ipv6/cli_dhcpv6.html (ipv6 dhcp client,
  client-profile, server-profile, ia-pd subscriber, information-request, option-request, dns-server,
  show ipv6 dhcp client).
- [REF-2.2] domain/reference.md §2.2 and the public IX configurations it cites (PPPoE on GigaEthernet0.1:
  encapsulation pppoe, auto-connect, ppp binding, ip address ipcp, ip tcp adjust-mss auto, ip napt enable,
  no shutdown, ip route default; MAP-E: ipv6 enable, ipv6 address autoconfig receive-default, tunnel mode
  map-e ocn, ip address map-e) and NEC's PPPoE FAQ https://jpn.nec.com/univerge/ix/faq/pppoe.html
  (auto-connect keeps the session up and is the default; `no auto-connect` dials on demand).
- [IX-CLI] real-device notes: modes `Router#` / `Router(config)#` with no level between, `show running-config`,
  `write memory` and `terminal` only in configuration mode, refused elsewhere with "% Invalid command."
  (GitHub file, code-index id 61612745706); the `write memory` output "Building configuration..." /
  "% Warning: do NOT enter CNTL/Z while saving to avoid config corruption." (ids 61612745706, 35412917910,
  10083035798); prompts `host(config-GigaEthernet2.0)#` (id 35412917910) and `host(config-ppp-NAME)#`
  (id 14111155801); "% terminal -- Invalid command." and "% CONFIG process is occupied." when another session
  holds configuration mode, which `svintr-config` takes over (id 66430614364); "% Incomplete command." (id
  66535414749, a tool's test of IX diagnostics; weaker).
- [NETMIKO] netmiko/nec/nec_ix.py: `svintr-config` then `configure` to reach the top of configuration mode,
  `terminal length 0`, `exit`, `write memory`.
- [RENDER] forms the renderer takes from public IX2215 configurations (provisioner/render/platforms/nec_ix.py)
  and which no NEC reference at hand confirms: ip/ipv6 access-list, ip dhcp profile, proxy-dns, bridge irb,
  snmp-agent, ssh-server, timezone, ip filter, ip unnumbered, tunnel mode 4-over-6 / tunnel destination.
  Accepted here as the renderer emits them; README.md lists them as unverified.
Prompts for the DHCP profile modes ((config-dhcp6c-N), (config-dhcp6s-N), (config-dhcp-N)) and the `show`
layouts are this simulator's own: no public sample was found (README.md says so).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from lab.sim.console import CliSession, InputMode, RouterSimulator
from lab.sim.grammar import (
    IPV4,
    IPV4_PREFIX,
    NUM,
    WORD,
    Failure,
    Grammar,
    GrammarError,
    Match,
    Spec,
    spec,
    tokenize,
)
from lab.sim.nec_show import show_interfaces, show_ipv6_dhcp_client
from lab.sim.store import ConfigStore
from lab.sim.wan import PppoeAccount, WanPort, WanWants

VERSION = {"IX2215": "10.7.18", "IX2235": "10.7.18"}
WAN_PORTS = ("GigaEthernet0.0", "GigaEthernet0.1")   # both ride the simulator's one WAN interface

EXEC, CONFIG = "exec", "config"
IFACE, PPP, DHCP6C, DHCP6S, DHCP = "interface", "ppp", "dhcp6c", "dhcp6s", "dhcp"
CONFIG_MODES = frozenset({CONFIG, IFACE, PPP, DHCP6C, DHCP6S, DHCP})
ANY_MODE = CONFIG_MODES | {EXEC}

ALL = 99   # key_args: every argument identifies the entry (access-list entries accumulate)
ACL_BODY = r"(?:permit|deny) \S+ src \S+(?: sport \S+(?: \d+)*)? dest \S+(?: dport \S+(?: \d+)*)?"


def _in(*modes: str) -> frozenset[str]:
    return frozenset(modes)


SPECS: tuple[Spec, ...] = (
    # --- modes and operations [IX-CLI], [NETMIKO] --------------------------------------------------------
    spec("svintr-config", cite="[IX-CLI] [NETMIKO]", tag="svintr", modes=ANY_MODE),
    spec("enable-config", cite="[NETMIKO]", tag="configure", modes=_in(EXEC)),
    spec("configure", cite="[IX-CLI] [NETMIKO]", tag="configure", modes=ANY_MODE),
    spec("exit", cite="[IX-CLI] [NETMIKO]", tag="exit", modes=ANY_MODE),
    spec("terminal length", NUM, 1, "[NETMIKO] [IX-CLI]", tag="terminal", modes=CONFIG_MODES),
    spec("write memory", cite="[IX-CLI] [NETMIKO]", tag="write", modes=CONFIG_MODES),
    spec("show running-config", cite="[IX-CLI]", tag="show-run", modes=CONFIG_MODES),
    spec("show interfaces", r"(?:GigaEthernet|Tunnel)\d+\.\d+", 1, "[IX-CLI]", tag="show-if", modes=ANY_MODE),
    spec("show ipv6 dhcp client", cite="[CRM-DHCP6]", tag="show-dhcp6c", modes=ANY_MODE),
    # --- global configuration -------------------------------------------------------------------------
    spec("hostname", WORD, 1, "[REF-2.2]", tag="hostname", modes=_in(CONFIG)),
    spec("ip access-list", rf"{WORD} {ACL_BODY}", (6, None), "[RENDER]", key_args=ALL, modes=_in(CONFIG)),
    spec("ipv6 access-list", rf"{WORD} {ACL_BODY}", (6, None), "[RENDER]", key_args=ALL, modes=_in(CONFIG)),
    spec("ip access-list dynamic", rf"{WORD} access {WORD}", 3, "[RENDER]", key_args=1, modes=_in(CONFIG)),
    spec("ipv6 access-list dynamic", rf"{WORD} access {WORD}", 3, "[RENDER]", key_args=1, modes=_in(CONFIG)),
    spec("ipv6 dhcp client-profile", WORD, 1, "[CRM-DHCP6]", tag="enter-dhcp6c", modes=_in(CONFIG)),
    spec("ipv6 dhcp server-profile", WORD, 1, "[CRM-DHCP6]", tag="enter-dhcp6s", modes=_in(CONFIG)),
    spec("ppp profile", WORD, 1, "[CRM-PPP] [REF-2.2]", tag="enter-ppp", modes=_in(CONFIG)),
    spec("ip dhcp enable", cite="[RENDER]", modes=_in(CONFIG)),
    spec("ip dhcp profile", WORD, 1, "[RENDER]", tag="enter-dhcp", modes=_in(CONFIG)),
    spec("proxy-dns ip enable", cite="[RENDER]", modes=_in(CONFIG)),
    spec("bridge irb enable", cite="[RENDER]", modes=_in(CONFIG)),
    spec("bridge", rf"{NUM} bridge ip", 3, "[RENDER]", tag="toggle", key_args=1, modes=_in(CONFIG)),
    spec("interface", r"(?:GigaEthernet|Tunnel|Loopback|BVI)\d+\.\d+", 1, "[REF-2.2]", tag="enter-if",
         modes=_in(CONFIG)),
    spec("ip route", rf"(?:default|{IPV4_PREFIX}) \S+(?: distance {NUM})?", (2, 4), "[REF-2.2]", key_args=1,
         modes=_in(CONFIG)),
    spec("ssh-server ip enable", cite="[RENDER]", modes=_in(CONFIG)),
    spec("snmp-agent ip enable", cite="[RENDER]", modes=_in(CONFIG)),
    spec("snmp-agent ip community", rf"{WORD} {WORD}", 2, "[RENDER]", modes=_in(CONFIG)),
    spec("timezone", r"[+-]\d{2} \d{2}", 2, "[RENDER]", modes=_in(CONFIG)),
    # --- ppp profile mode [CRM-PPP] ------------------------------------------------------------------------
    spec("authentication myname", r"\S{1,59}", 1, "[CRM-PPP]", modes=_in(PPP)),
    spec("authentication password", r"\S{1,59} \S{1,79}", 2, "[CRM-PPP]", key_args=1, modes=_in(PPP)),
    spec("authentication accept", r"chap|pap|chap-pap", 1, "[CRM-PPP]", modes=_in(PPP)),
    # --- DHCPv6 client / server profile modes [CRM-DHCP6] ---------------------------------------------------
    spec("information-request", cite="[CRM-DHCP6]", modes=_in(DHCP6C)),
    spec("ia-pd subscriber", r"\S+ [0-9A-Fa-f:]*/\d{1,3}(?: eui-64)?", (2, 3), "[CRM-DHCP6]", key_args=1,
         modes=_in(DHCP6C)),
    spec("option-request", r"dns-servers|ntp-servers|domain-list|sip-servers", 1, "[CRM-DHCP6]", key_args=1,
         modes=_in(DHCP6C)),
    spec("rapid-commit", cite="[CRM-DHCP6]", modes=_in(DHCP6C)),
    spec("dns-server", r"dhcp|[0-9A-Fa-f:]+", 1, "[CRM-DHCP6]", modes=_in(DHCP6S)),
    # --- DHCPv4 server profile mode [RENDER] ---------------------------------------------------------------
    spec("assignable-range", rf"{IPV4} {IPV4}", 2, "[RENDER]", modes=_in(DHCP)),
    spec("default-gateway", IPV4, 1, "[RENDER]", modes=_in(DHCP)),
    spec("dns-server", rf"{IPV4}(?: {IPV4})?", (1, 2), "[RENDER]", modes=_in(DHCP)),
    spec("lease-time", NUM, 1, "[RENDER]", modes=_in(DHCP)),
    # --- interface mode ------------------------------------------------------------------------------------
    spec("ip address", rf"{IPV4_PREFIX}(?: secondary)?|ipcp|map-e", (1, 2), "[REF-2.2]", tag="toggle",
         modes=_in(IFACE)),
    spec("ip unnumbered", r"\S+", 1, "[RENDER]", modes=_in(IFACE)),
    spec("ip mtu", NUM, 1, "[REF-2.2]", modes=_in(IFACE)),
    spec("ip tcp adjust-mss", rf"auto|{NUM}", 1, "[REF-2.2]", modes=_in(IFACE)),
    spec("ip napt enable", cite="[REF-2.2]", modes=_in(IFACE)),
    spec("ip dhcp binding", WORD, 1, "[RENDER]", modes=_in(IFACE)),
    spec("ip filter", rf"{WORD} {NUM} (?:in|out)", 3, "[RENDER]", key_args=2, modes=_in(IFACE)),
    spec("ipv6 filter", rf"{WORD} {NUM} (?:in|out)", 3, "[RENDER]", key_args=2, modes=_in(IFACE)),
    spec("ipv6 enable", cite="[REF-2.2]", modes=_in(IFACE)),
    spec("ipv6 address autoconfig", r"receive-default", (0, 1), "[REF-2.2]", modes=_in(IFACE)),
    spec("ipv6 dhcp client", WORD, 1, "[CRM-DHCP6] [REF-2.2]", modes=_in(IFACE)),
    spec("ipv6 dhcp server", WORD, 1, "[CRM-DHCP6]", modes=_in(IFACE)),
    spec("ipv6 nd ra enable", cite="[RENDER]", modes=_in(IFACE)),
    spec("ipv6 nd ra other-config-flag", cite="[RENDER]", modes=_in(IFACE)),
    spec("bridge-group", NUM, 1, "[RENDER]", modes=_in(IFACE)),
    spec("encapsulation", r"pppoe", 1, "[REF-2.2]", modes=_in(IFACE)),
    spec("auto-connect", cite="[REF-2.2]", tag="toggle", modes=_in(IFACE)),
    spec("ppp binding", WORD, 1, "[REF-2.2]", modes=_in(IFACE)),
    spec("tunnel mode", r"map-e ocn|4-over-6", (1, 2), "[REF-2.2] [RENDER]", modes=_in(IFACE)),
    spec("tunnel destination", r"\S+", 1, "[RENDER]", modes=_in(IFACE)),
    spec("shutdown", cite="[REF-2.2]", tag="toggle", modes=_in(IFACE)),
)
GRAMMAR = Grammar(SPECS)
SUBMODE_ENTRY = {"enter-if": IFACE, "enter-ppp": PPP, "enter-dhcp6c": DHCP6C, "enter-dhcp6s": DHCP6S,
                 "enter-dhcp": DHCP}
PROMPT_TAG = {IFACE: "", PPP: "ppp-", DHCP6C: "dhcp6c-", DHCP6S: "dhcp6s-", DHCP: "dhcp-"}
SECTION_HEAD = {IFACE: "interface", PPP: "ppp profile", DHCP6C: "ipv6 dhcp client-profile",
                DHCP6S: "ipv6 dhcp server-profile", DHCP: "ip dhcp profile"}


@dataclass
class NecIxConfig:
    """What a simulated IX starts from: its model, WAN interface and the administrator account."""

    model: str = "IX2215"
    wan_iface: str = "wan0"
    login_user: str = "lab"
    login_password: str = ""
    hostname: str = "Router"


class NecIxSimulator(RouterSimulator):
    """A simulated (test double) NEC IX: the CLI grammar above over a real WAN port."""

    def __init__(self, config: NecIxConfig, wan: WanPort | None = None) -> None:
        super().__init__()
        if config.model not in VERSION:
            raise ValueError(f"unknown IX model {config.model!r}; known: {', '.join(VERSION)}")
        self.cfg = config
        self.running = ConfigStore()
        self.saved = ConfigStore()
        self.wan = wan if wan is not None else WanPort(config.wan_iface)
        self.config_owner: NecIxSession | None = None

    def authenticate(self, user: str, password: str) -> bool:
        return bool(self.cfg.login_password) and user == self.cfg.login_user and password == self.cfg.login_password

    def open_session(self, user: str) -> CliSession:
        return NecIxSession(self)

    def close(self) -> None:
        self.wan.close()

    @property
    def hostname(self) -> str:
        line = self.running.get(None, ("hostname",))
        return line.split()[1] if line else self.cfg.hostname

    def apply(self, m: Match, section: tuple[str, str] | None, line: str) -> None:
        """Store (as entered) or remove a line; `no` of an on/off setting is itself shown (`no shutdown`)."""
        if m.negated and m.spec.tag != "toggle":
            self.running.remove(section, m.key)
        else:
            self.running.set(section, m.key, line.strip())
        self.wan.want(self.wan_wants())

    # --- what the configuration asks of the WAN ------------------------------------------------------------
    def _iface(self, name: str) -> tuple[str, str]:
        return (IFACE, name)

    def _up(self, name: str) -> bool:
        return self.running.get(self._iface(name), ("shutdown",)) == "no shutdown"

    def wan_wants(self) -> WanWants:
        pppoe_if = self._iface("GigaEthernet0.1")
        account = None
        if (self._up("GigaEthernet0.1") and self.running.get(pppoe_if, ("encapsulation",)) == "encapsulation pppoe"
                and self.running.get(pppoe_if, ("auto-connect",)) != "no auto-connect"):  # default on
            binding = self.running.get(pppoe_if, ("ppp", "binding"))
            account = self._account(binding.split()[2]) if binding else None
        ipoe = self._iface("GigaEthernet0.0")
        v6_on = self._up("GigaEthernet0.0") and self.running.get(ipoe, ("ipv6", "enable")) is not None
        client = self.running.get(ipoe, ("ipv6", "dhcp", "client"))
        profile = (DHCP6C, client.split()[3]) if client else None
        pd = bool(v6_on and profile and self.running.find(profile, ("ia-pd", "subscriber"))
                  and self.running.get(profile, ("information-request",)) is None)
        slaac = bool(v6_on and self.running.find(ipoe, ("ipv6", "address", "autoconfig")))
        return WanWants(pppoe=account, pd=pd, slaac=slaac)

    def _account(self, profile: str) -> PppoeAccount | None:
        section = (PPP, profile)
        myname = self.running.get(section, ("authentication", "myname"))
        if not myname:
            return None
        user = myname.split()[2]
        password = self.running.get(section, ("authentication", "password", user))
        return PppoeAccount(user, tokenize(password)[3]) if password else None

    def show_running_config(self) -> str:
        out = ["! NEC Portable Internetwork Core Operating System Software",
               f"! IX Series {self.cfg.model} Software, Version {VERSION[self.cfg.model]} (hikari-lab simulator)",
               f"! Current time {time.strftime('%b %d-%a-%Y %H:%M:%S')}", "!"]
        out += self.running.lines(None)
        for section in self.running.sections():
            kind, name = section
            out += ["!", f"{SECTION_HEAD[kind]} {name}"] + [f"  {line}" for line in self.running.lines(section)]
        return "\n".join([*out, "!"])


class NecIxSession(CliSession):
    """One login on the simulated IX (operation mode `host#`, configuration mode `host(config)#`)."""

    def __init__(self, router: NecIxSimulator) -> None:
        self.r = router
        self.mode = EXEC
        self.section: tuple[str, str] | None = None
        self.input_mode = InputMode.LINE
        self.line = ""

    def prompt(self) -> str:
        host = self.r.hostname
        if self.mode == EXEC:
            return f"{host}# "
        if self.section is None:
            return f"{host}(config)# "
        kind, name = self.section
        return f"{host}(config-{PROMPT_TAG[kind]}{name})# "

    def handle_line(self, line: str) -> str:
        with self.r.lock:
            if self.mode != EXEC and self.r.config_owner is not self:
                self.mode, self.section = EXEC, None    # another session took configuration mode over
            if not line.strip():
                return ""
            try:
                m = GRAMMAR.match(tokenize(line), allowed=lambda s: self.mode in s.modes)
            except GrammarError as exc:
                return _error(exc)
            self.line = line
            return self._run(m)

    def _run(self, m: Match) -> str:
        tag = m.spec.tag
        if tag in SUBMODE_ENTRY:
            kind = SUBMODE_ENTRY[tag]
            if m.negated:
                self.r.running.drop_section((kind, m.args[0]))
                return ""
            self.section = (kind, m.args[0])
            self.mode = kind
            self.r.running.open_section(self.section)
            return ""
        handler = getattr(self, "_" + tag.replace("-", "_"), None)
        if handler is not None:
            return handler(m)
        self.r.apply(m, self.section, self.line)
        return ""

    def _toggle(self, m: Match) -> str:
        self.r.apply(m, self.section, self.line)
        return ""

    _set = _toggle

    def _hostname(self, m: Match) -> str:
        self.r.apply(m, None, self.line)
        return ""

    def _svintr(self, m: Match) -> str:
        self.r.config_owner = self
        if self.mode == EXEC:
            self.mode = CONFIG
        return ""

    def _configure(self, m: Match) -> str:
        owner = self.r.config_owner
        if self.mode == EXEC and owner is not None and owner is not self and not owner.closed:
            return "% CONFIG process is occupied."
        self.r.config_owner = self
        self.mode, self.section = CONFIG, None
        return ""

    def _exit(self, m: Match) -> str:
        if self.mode == EXEC:
            self.closed = True
        elif self.section is not None:
            self.mode, self.section = CONFIG, None
        else:
            self.mode = EXEC
            self.r.config_owner = None
        return ""

    def _terminal(self, m: Match) -> str:
        return ""

    def _write(self, m: Match) -> str:
        self.r.saved = self.r.running.snapshot()
        return "Building configuration...\n% Warning: do NOT enter CNTL/Z while saving to avoid config corruption."

    def _show_run(self, m: Match) -> str:
        return self.r.show_running_config()

    def _show_if(self, m: Match) -> str:
        return show_interfaces(self.r, m.args[0])

    def _show_dhcp6c(self, m: Match) -> str:
        return show_ipv6_dhcp_client(self.r)


def _error(exc: GrammarError) -> str:
    """IX diagnostics ([IX-CLI]): the offending word, or an incomplete command."""
    if exc.failure is Failure.ARG_COUNT and not exc.token:
        return "% Incomplete command."
    return f"% {exc.token} -- Invalid command."

"""The router simulators' CLI (lab/sim): grammar, modes and vendor error texts, driven in-process and over
SSH with netmiko's own yamaha / nec_ix drivers. The WAN side is replaced by `RecordingWan` here (it records
what the configuration asks for); test_sim_lab.py runs the real WAN against the lab's BRAS and Kea.
"""

from __future__ import annotations

import threading
from pathlib import Path

import netmiko
import paramiko
import pytest
from netmiko.exceptions import ConfigInvalidException

from lab.sim.nec_ix import NecIxConfig, NecIxSimulator
from lab.sim.ssh_server import SimSshServer
from lab.sim.wan import PdState, PppoeAccount, PppoeState, WanWants
from lab.sim.yamaha import YamahaConfig, YamahaRtxSimulator

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


class RecordingWan:
    """Stands in for lab.sim.wan.WanPort in CLI-only tests: keeps the last WanWants, holds no session."""

    def __init__(self) -> None:
        self.wants = WanWants()
        self.pppoe = PppoeState()
        self.pd = PdState()

    def want(self, wants: WanWants) -> None:
        self.wants = wants

    def close(self) -> None:
        self.wants = WanWants()


def config_lines(text: str, comment: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip() and not line.strip().startswith(comment)]


def yamaha(admin: bool = True, english: bool = True):
    sim = YamahaRtxSimulator(YamahaConfig(login_password="login-pw", admin_password="admin-pw"), wan=RecordingWan())
    session = sim.open_session("lab")
    if english:
        assert session.handle_line("console character en.ascii") == ""
    if admin:
        session.handle_line("administrator")
        assert session.handle_line("admin-pw") == ""
    return sim, session


def nec():
    sim = NecIxSimulator(NecIxConfig(login_password="login-pw"), wan=RecordingWan())
    session = sim.open_session("lab")
    return sim, session


# ---------------------------------------------------------------- every rendered config is accepted
@pytest.mark.parametrize("golden", sorted((GOLDEN / "yamaha-rtx").glob("*.txt")), ids=lambda p: p.stem)
def test_yamaha_accepts_every_rendered_config_and_shows_it(golden):
    sim, s = yamaha()
    lines = config_lines(golden.read_text(), "#")
    refused = [(line, out) for line in lines if (out := s.handle_line(line))]
    assert refused == []
    shown = s.handle_line("show config").splitlines()
    for line in lines:
        if not line.startswith(("pp select", "tunnel select", "pp disable", "tunnel disable")):
            assert line.rstrip() in shown or f" {line.strip()}" in shown, line
    assert sim.wan.wants.pppoe is not None if "pp auth myname" in golden.read_text() else sim.wan.wants.pppoe is None


@pytest.mark.parametrize("golden", sorted((GOLDEN / "nec-ix").glob("*.txt")), ids=lambda p: p.stem)
def test_nec_accepts_every_rendered_config_and_shows_it(golden):
    _sim, s = nec()
    s.handle_line("svintr-config")
    lines = config_lines(golden.read_text(), "!")
    refused = [(line, out) for line in lines if (out := s.handle_line(line))]
    assert refused == []
    shown = {line.strip() for line in s.handle_line("show running-config").splitlines()}
    assert {line.strip() for line in lines if line.strip() != "exit"} <= shown


# ---------------------------------------------------------------- Yamaha console behaviour
@pytest.mark.parametrize(("line", "error"), [
    ("pppoe uze lan2", "Error: Invalid command name"),
    ("ip lan1 address", "Error: Insufficient or too many parameters"),
    ("ip filter 10 allow * *", "Error: Illegal keyword"),
    ("nat descriptor type 1 masq", "Error: Illegal keyword"),
    ("pp auth myname user", "Error: Insufficient or too many parameters"),
])
def test_yamaha_refuses_what_its_grammar_lacks(line, error):
    sim, s = yamaha()
    s.handle_line("pp select 1")
    before = sim.running.snapshot()
    assert s.handle_line(line) == error
    assert sim.running == before  # nothing half-applied


def test_yamaha_general_user_cannot_configure_and_needs_the_admin_password():
    _sim, s = yamaha(admin=False)
    assert s.prompt() == "> "
    assert s.handle_line("ip lan1 address 192.0.2.1/24") == "Error: Administrator use only"
    assert s.handle_line("console lines infinity") == ""        # §4.23: general users may
    s.handle_line("administrator")
    assert s.prompt() == "Password: "
    assert s.handle_line("wrong") == "Error: Incorrect password"
    assert s.prompt() == "> "
    s.handle_line("administrator")
    s.handle_line("admin-pw")
    assert s.prompt() == "# "


def test_yamaha_asks_to_save_on_exit_and_honours_the_answer():
    sim, s = yamaha()
    s.handle_line("ip lan1 address 192.0.2.1/24")
    assert s.handle_line("exit") == "Save new configuration ? (Y/N) "
    assert s.handle_key("x") == "" and s.prompt() == ""        # only Y or N ends the question
    assert s.handle_key("N") == "N"
    assert s.prompt() == "> " and sim.unsaved
    s.handle_line("administrator")
    s.handle_line("admin-pw")
    assert s.handle_line("save") == "Saving ... CONFIG0 Done"
    assert s.handle_line("exit") == "" and s.prompt() == "> "   # nothing unsaved: no question
    assert s.handle_line("exit") == "" and s.closed


def test_yamaha_prompt_follows_console_prompt_and_selection():
    _, s = yamaha()
    s.handle_line("console prompt RTX830")
    s.handle_line("pp select 1")
    assert s.prompt() == "RTX830pp1# "
    assert s.handle_line("tunnel encapsulation map-e") == "Error: Execute tunnel select command beforehand"
    s.handle_line("pp select none")
    assert s.handle_line("pppoe use lan2") == "Error: Execute pp select command beforehand"


def test_yamaha_speaks_japanese_shift_jis_until_told_otherwise():
    _sim, s = yamaha(english=False)
    assert s.encoding == "shift_jis"
    assert s.handle_line("foo") == "エラー: コマンド名を確認してください"
    s.handle_line("console character en.ascii")
    assert s.encoding == "ascii" and s.handle_line("foo") == "Error: Invalid command name"


def test_yamaha_wan_wants_follow_the_pp_state():
    sim, s = yamaha()
    for line in ("pp select 1", "pppoe use lan2", "pp auth myname u@isp.example pw", "pp always-on on"):
        s.handle_line(line)
    assert sim.wan.wants.pppoe is None                          # not enabled yet
    s.handle_line("pp enable 1")
    assert sim.wan.wants.pppoe == PppoeAccount("u@isp.example", "pw")
    s.handle_line("pp disable 1")
    assert sim.wan.wants.pppoe is None
    s.handle_line("ipv6 lan2 dhcp service client ir=on")
    assert not sim.wan.wants.pd
    s.handle_line("ipv6 lan2 dhcp service client")
    assert sim.wan.wants.pd
    s.handle_line("no ipv6 lan2 dhcp service")
    assert not sim.wan.wants.pd


def test_yamaha_lan_addresses_come_from_the_held_prefix():
    sim, s = yamaha()
    s.handle_line("ipv6 lan1 address dhcp-prefix@lan2::1:0:0:0:1/64")
    assert "LAN1" in s.handle_line("show ipv6 address lan1") and "global" not in s.handle_line("show ipv6 address")
    sim.wan.pd = PdState(phase="bound", prefix="2001:db8:100:300::/56", t1=3600, t2=5760)
    assert "global      2001:db8:100:301::1/64 (dhcp-prefix@lan2)" in s.handle_line("show ipv6 address lan1")
    assert "  Prefix: 2001:db8:100:300::/56" in s.handle_line("show status ipv6 dhcp").splitlines()


# ---------------------------------------------------------------- NEC IX behaviour
def test_nec_operation_mode_refuses_configuration_commands():
    _, s = nec()
    assert s.prompt() == "Router# "
    assert s.handle_line("show running-config") == "% running-config -- Invalid command."
    assert s.handle_line("terminal length 0") == "% terminal -- Invalid command."
    assert s.handle_line("hostname x") == "% hostname -- Invalid command."


def test_nec_modes_prompts_and_errors():
    sim, s = nec()
    s.handle_line("configure")
    assert s.prompt() == "Router(config)# "
    s.handle_line("hostname ix1")
    s.handle_line("interface GigaEthernet0.1")
    assert s.prompt() == "ix1(config-GigaEthernet0.1)# "
    assert s.handle_line("encapsulation ppoe") == "% ppoe -- Invalid command."
    assert s.handle_line("ip mtu") == "% Incomplete command."
    assert s.handle_line("hostname y") == "% hostname -- Invalid command."   # a global command needs `exit`
    s.handle_line("configure")                                              # netmiko's way back to the top
    s.handle_line("ppp profile isp")
    assert s.prompt() == "ix1(config-ppp-isp)# "
    s.handle_line("exit")
    assert s.handle_line("write memory").startswith("Building configuration...")
    assert sim.running == sim.saved


def test_nec_configure_is_exclusive_and_svintr_config_takes_it_over():
    sim, first = nec()
    second = sim.open_session("lab")
    first.handle_line("configure")
    assert second.handle_line("configure") == "% CONFIG process is occupied."
    assert second.handle_line("svintr-config") == ""
    assert second.prompt() == "Router(config)# "
    first.handle_line("hostname x")          # the first session was sent back to operation mode
    assert first.prompt() == "Router# "


def test_nec_wan_wants_follow_interfaces_and_profiles():
    sim, s = nec()
    for line in ("configure", "ppp profile isp", "authentication myname u@isp.example",
                 "authentication password u@isp.example pw", "exit", "interface GigaEthernet0.1",
                 "encapsulation pppoe", "ppp binding isp", "ip address ipcp"):
        assert s.handle_line(line) == ""
    assert sim.wan.wants.pppoe is None           # still shut down
    s.handle_line("no shutdown")
    assert sim.wan.wants.pppoe == PppoeAccount("u@isp.example", "pw")
    s.handle_line("no auto-connect")
    assert sim.wan.wants.pppoe is None           # dial on demand: nothing to dial for in the lab


# ---------------------------------------------------------------- over SSH, with netmiko's own drivers
@pytest.fixture
def ssh_router():
    servers = []

    def serve(router):
        server = SimSshServer(router, "127.0.0.1", 0, paramiko.ECDSAKey.generate(bits=256))
        threading.Thread(target=server.serve, daemon=True).start()
        servers.append(server)
        return server.sock.getsockname()[1]

    yield serve
    for server in servers:
        server.stopping.set()


def test_netmiko_yamaha_pushes_saves_and_stops_at_a_refused_line(ssh_router):
    sim = YamahaRtxSimulator(YamahaConfig(login_password="login-pw", admin_password="admin-pw"),
                             wan=RecordingWan())
    port = ssh_router(sim)
    with netmiko.ConnectHandler(device_type="yamaha", host="127.0.0.1", port=port, username="lab",
                                password="login-pw", secret="admin-pw", use_keys=False,
                                allow_agent=False) as conn:
        # The factory console is Shift JIS with a bare `>`/`#` prompt: name it and switch to English first,
        # or netmiko's administrator step waits for a prompt that never comes (README.md).
        conn.send_command_timing("console character en.ascii")
        conn.send_command_timing("console prompt RTX830")
        conn.set_base_prompt()
        conn.send_config_set(["ip lan1 address 192.0.2.1/24", "pp select 1", "pppoe use lan2", "pp select none"],
                             error_pattern=r"Error:")
        assert conn.check_config_mode()
        with pytest.raises(ConfigInvalidException):
            conn.send_config_set(["dns service recursive", "dns servr 192.0.2.53", "sshd service on"],
                                 error_pattern=r"Error:")
        shown = conn.send_command("show config", expect_string=r"RTX830#")
        assert "ip lan1 address 192.0.2.1/24" in shown and "dns service recursive" in shown
        assert "sshd service on" not in shown          # nothing after the refused line was sent
        assert "Saving" in conn.save_config()
        conn.exit_enable_mode()
        assert not conn.check_enable_mode()
    assert not sim.unsaved


def test_netmiko_nec_ix_pushes_and_writes_memory(ssh_router):
    sim = NecIxSimulator(NecIxConfig(login_password="login-pw"), wan=RecordingWan())
    port = ssh_router(sim)
    with netmiko.ConnectHandler(device_type="nec_ix", host="127.0.0.1", port=port, username="lab",
                                password="login-pw", use_keys=False, allow_agent=False) as conn:
        # A new hostname is a new prompt, and netmiko's mode checks wait for the old one: push without leaving
        # configuration mode, then tell netmiko the new name (README.md, "what drivers must do").
        conn.send_config_set(["hostname ix1", "interface GigaEthernet0.0", "ipv6 enable", "no shutdown", "exit"],
                             error_pattern=r"^% ", exit_config_mode=False)
        conn.base_prompt = "ix1"
        conn.exit_config_mode()
        assert conn.find_prompt() == "ix1#"
        with pytest.raises(ConfigInvalidException):
            conn.send_config_set(["interface GigaEthernet0.1", "encapsulation ppoe"], error_pattern=r"^% ")
        conn.config_mode()
        shown = conn.send_command("show running-config", expect_string=r"\(config\)# ")
        assert "interface GigaEthernet0.0" in shown and "  ipv6 enable" in shown
        assert "Building configuration" in conn.save_config()
        conn.exit_config_mode()
    assert sim.running == sim.saved

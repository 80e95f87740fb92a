"""CLI configs as entries, and the push / revert plans the Yamaha, NEC IX and Cisco drivers send."""

from __future__ import annotations

from provisioner.drivers.cli_config import CISCO_SYNTAX, NEC_SYNTAX, YamahaSyntax
from provisioner.service import read_line, render_line
from tests.conftest import EXAMPLES, load_example

Y = YamahaSyntax()

RTX_SHOW_CONFIG = """# RTX830 Rev.15.02.30 (Tue Aug 22 11:45:50 2023)
# MAC Address : 00:a0:de:01:02:03, 00:a0:de:01:02:04
# Memory 256Mbytes, 2LAN
# main:  RTX830 ver=00 serial=S4H000000 MAC-Address=00:a0:de:01:02:03
# Reporting Date: Nov 22 02:00:00 2026
ip route default gateway pp 1
ip lan1 address 192.168.1.1/24
pp select 1
 pppoe use lan2
 pp auth accept pap chap
 pp auth myname user001@isp.example oldpass
 ip pp mtu 1454
 pp enable 1
nat descriptor type 1 masquerade
"""


def test_yamaha_show_config_and_a_rendered_config_give_the_same_entries():
    rendered = (
        "ip route default gateway pp 1\nip lan1 address 192.168.1.1/24\npp disable 1\npp select 1\n"
        "pppoe use lan2\npp auth accept pap chap\npp auth myname user001@isp.example oldpass\n"
        "ip pp mtu 1454\npp enable 1\npp select none\nnat descriptor type 1 masquerade\n"
    )
    assert Y.entries(rendered) == Y.entries(RTX_SHOW_CONFIG)
    assert ("pp select 1", "ip pp mtu 1454") in Y.entries(rendered)
    # the canonical text is stable and drops comments and the reporting date
    text = Y.normalise(RTX_SHOW_CONFIG)
    assert "Reporting Date" not in text and Y.normalise(text) == text


def test_yamaha_push_sends_only_missing_lines_inside_their_pp_context():
    intended = Y.entries(RTX_SHOW_CONFIG.replace("oldpass", "newpass") + "tunnel select 1\n tunnel enable 1\n")
    plan = Y.push_plan(intended, Y.entries(RTX_SHOW_CONFIG))
    assert plan == [
        "pp select 1", "pp auth myname user001@isp.example newpass", "pp select none",
        "tunnel select 1", "tunnel enable 1", "tunnel select none",
    ]
    assert Y.push_plan(Y.entries(RTX_SHOW_CONFIG), Y.entries(RTX_SHOW_CONFIG)) == []


def test_yamaha_revert_plan_converges_back_to_the_backup():
    backup = Y.entries(RTX_SHOW_CONFIG)
    after_push = Y.entries(
        RTX_SHOW_CONFIG.replace(" pp auth myname user001@isp.example oldpass\n",
                                " pp auth myname user001@isp.example newpass\n")
        .replace(" ip pp mtu 1454\n", " ip pp mtu 1500\n") + "ip route 10.0.0.0/8 gateway pp 1\n"
    )
    plan = Y.revert_plan(after_push, backup)
    # the extras are negated first (deepest, last first), then the backup's lines are sent again
    assert plan.index("no ip route 10.0.0.0/8 gateway pp 1") < plan.index("ip pp mtu 1454")
    assert "no ip pp mtu 1500" in plan and "no pp auth myname user001@isp.example newpass" in plan
    assert plan[-3:] == ["pp auth myname user001@isp.example oldpass", "ip pp mtu 1454", "pp select none"]
    assert "no pp select 1" not in plan  # selecting is not configuration


def test_yamaha_enable_is_undone_with_disable():
    before = Y.entries("pp select 2\n pppoe use lan3\n")
    after = Y.entries("pp select 2\n pppoe use lan3\n pp enable 2\n")
    assert Y.revert_plan(after, before) == ["pp select 2", "pp disable 2", "pp select none"]


NEC_RUNNING = """! NEC Portable Internetwork Core Operating System Software
! Current time Nov 22 02:00:00 2026
hostname r1
ppp profile hkl-isp
  authentication myname user002@isp.example
  authentication password user002@isp.example oldpw
interface GigaEthernet0.1
  encapsulation pppoe
  ppp binding hkl-isp
  ip address ipcp
  no shutdown
"""


def test_nec_entries_follow_indentation_and_ignore_exit_lines():
    rendered = NEC_RUNNING.replace("  no shutdown\n", "  no shutdown\n  exit\n")
    assert NEC_SYNTAX.entries(rendered) == NEC_SYNTAX.entries(NEC_RUNNING)
    assert ("interface GigaEthernet0.1", "ip address ipcp") in NEC_SYNTAX.entries(NEC_RUNNING)


def test_nec_revert_removes_an_added_block_whole_and_restores_a_changed_line():
    backup = NEC_SYNTAX.entries(NEC_RUNNING)
    after = NEC_SYNTAX.entries(
        NEC_RUNNING.replace("oldpw", "newpw") + "interface Tunnel0.0\n  tunnel mode map-e ocn\n  ip napt enable\n"
    )
    plan = NEC_SYNTAX.revert_plan(after, backup)
    assert "no interface Tunnel0.0" in plan
    assert "no tunnel mode map-e ocn" not in plan  # removed with its block
    i = plan.index("ppp profile hkl-isp")
    assert plan[i: i + 3] == ["ppp profile hkl-isp", "no authentication password user002@isp.example newpw", "exit"]
    assert plan[-3:] == ["ppp profile hkl-isp", "authentication password user002@isp.example oldpw", "exit"]


def test_cisco_running_config_noise_is_normalised_away():
    a = "Building configuration...\n\nCurrent configuration : 1234 bytes\n!\n! Last configuration change at 02:00\n" \
        "hostname r1\nntp clock-period 17179\ninterface Dialer1\n ip mtu 1454\n!\nend\n"
    b = a.replace("1234", "1240").replace("02:00", "03:15").replace("17179", "17180")
    assert CISCO_SYNTAX.normalise(a) == CISCO_SYNTAX.normalise(b) == "hostname r1\ninterface Dialer1\n ip mtu 1454\n"


def test_every_rendered_cli_example_round_trips_through_its_syntax():
    """What the renderers emit parses into entries whose canonical text parses back to the same entries."""
    syntaxes = {"yamaha-rtx": Y, "nec-ix": NEC_SYNTAX, "cisco-iosxe": CISCO_SYNTAX}
    seen = set()
    for path in EXAMPLES:
        record = read_line(load_example(path))
        for cfg in render_line(record, show_secrets=False):
            syntax = syntaxes.get(cfg.platform)
            if syntax is None:
                continue
            seen.add(cfg.platform)
            entries = syntax.entries("\n".join(cfg.lines()))
            assert entries, path
            assert syntax.entries(syntax.text(entries)) == entries, path
            assert not any(e[-1] in ("exit", "pp select none") for e in entries)
    assert seen == set(syntaxes)

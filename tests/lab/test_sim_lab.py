"""The router simulators (lab/sim, test doubles of Yamaha RTX and NEC IX) in the lab: netmiko's yamaha and
nec_ix drivers push rendered configurations over SSH, and the WAN they configure is real — a PPPoE session on
the lab BRAS, a DHCPv6-PD lease from the lab Kea — and shows in the routers' status commands.

Lines of the default lab: 1 next (PPPoE + RA), 2 next-denwa, 3 cross (PD /56), 4 next-denwa-router
(PPPoE + PD /60).
"""

from __future__ import annotations

import ipaddress
import re
import time

import netmiko
import pytest
from netmiko.exceptions import ConfigInvalidException

from lab.sim.node import stop_sim
from lab.topology import BRAS_AC_NAME, BRAS_ADDR
from provisioner.intent import build_intent
from provisioner.record import parse_line
from provisioner.render import render

pytestmark = pytest.mark.lab

NEXT, CROSS, DENWA_ROUTER = 1, 3, 4
SHOW_TIMEOUT = 30.0


def record(platform, model, product, *, account=None, mape=None, denwa=False):
    data = {"customer_id": "CAF10000201", "region": "east", "product": product,
            "equipment": {"router": {"platform": platform, "model": model}},
            "management": {"address": "198.51.100.201", "credential_ref": "rental-router"}}
    if account:
        data["isp"] = {"name": "Lab ISP", "pppoe": {"username": account[0], "password": account[1]}}
    if mape:
        data["ipv6"] = {"vne": mape, "ipv4_method": "map-e", "mape": {"provider": mape}}
    if denwa:
        data["hikari_denwa"] = "standard"
        data["equipment"]["hgw"] = {"model": "hgw-11ac"}
        data["equipment"]["router"]["placement"] = "behind-hgw"
    return parse_line(data)


def rendered(rec, platform):
    return render(build_intent(rec), platform, show_secrets=True).lines()


def account(lab, line, password=None):
    cpe = lab.cpe(line)
    return cpe.isp_user, password or cpe.isp_password.get_secret_value()


def yamaha_session(sim):
    """netmiko's yamaha driver, after what a real RTX needs first (README.md): English, a named prompt."""
    conn = netmiko.ConnectHandler(**sim.netmiko())
    conn.send_command_timing("console character en.ascii")
    conn.send_command_timing("console prompt SIM")
    conn.set_base_prompt()
    return conn


def nec_session(sim):
    return netmiko.ConnectHandler(**sim.netmiko())


def nec_push(conn, lines, hostname):
    """Push, then follow the new hostname in netmiko's prompt (README.md)."""
    conn.send_config_set(lines, error_pattern=r"^% .*$", exit_config_mode=False)
    conn.base_prompt = hostname
    conn.exit_config_mode()


def poll(conn, command, pattern, expect, timeout=SHOW_TIMEOUT):
    """Run a show command until its output matches `pattern`; return the match and the output."""
    deadline = time.monotonic() + timeout
    while True:
        out = conn.send_command(command, expect_string=expect)
        found = re.search(pattern, out, re.M)
        if found or time.monotonic() > deadline:
            assert found, f"{command!r} never matched {pattern!r}; last output:\n{out}"
            return found, out
        time.sleep(0.5)


def account_addresses(lab, line):
    """The BRAS hands each account a fixed address, and the next one to a second session."""
    acc = next(a for a in lab.state.accounts if a.user == lab.cpe(line).isp_user)
    first = ipaddress.IPv4Address(acc.ip)
    return {str(first), str(first + 1)}


# ---------------------------------------------------------------- Yamaha RTX
def test_yamaha_next_pppoe_session_is_real(lab, sims):
    sim = sims(1, "yamaha-rtx", NEXT)
    lines = rendered(record("yamaha-rtx", "RTX830", "east-family", account=account(lab, NEXT)), "yamaha-rtx")
    conn = yamaha_session(sim)
    conn.send_config_set(lines, error_pattern=r"^Error:.*$")
    found, status = poll(conn, "show status pp 1", r"PP IP Address Local: (\S+), Remote: (\S+)", r"SIM#")
    assert "Current PPPoE session status is Connected." in status
    assert f"Access Concentrator: {BRAS_AC_NAME}" in status
    assert found.group(1) in account_addresses(lab, NEXT) and found.group(2) == str(BRAS_ADDR)
    user = lab.cpe(NEXT).isp_user
    assert _until(lambda: _bras_session(lab, user, found.group(1))), "the BRAS does not list the session"
    # RA line: the WAN takes the NGN's /64 by SLAAC; LAN1 is ra-prefix@lan2::1/64 of it.
    link = ipaddress.IPv6Network(lab.cpe(NEXT).ra_prefix)
    _, addresses = poll(conn, "show ipv6 address", r"LAN2 scope-id", r"SIM#")
    assert f"{link.network_address + 1}/64 (ra-prefix@lan2)" in addresses
    assert any(ipaddress.IPv6Interface(a).ip in link for a in re.findall(r"global\s+(\S+) \(auto\)", addresses))
    assert "Saving" in conn.save_config()
    conn.exit_enable_mode()
    conn.disconnect()
    stop_sim(lab.dir, 1)   # LCP Terminate + PADT: the BRAS ends the session (its ip-down runs)
    assert _until(lambda: not _bras_session(lab, user, found.group(1))), "the BRAS still lists the session"


def _bras_session(lab, user, ip):
    return next((s for s in lab.bras.sessions() if s.get("user") == user and s.get("ip") == ip), None)


def _until(predicate, timeout=5.0):
    """The BRAS writes its session markers from pppd's ip-up/ip-down scripts, a moment after IPCP."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_yamaha_wrong_isp_password_is_an_authentication_failure(lab, sims):
    sim = sims(2, "yamaha-rtx", NEXT)
    rec = record("yamaha-rtx", "RTX830", "east-family", account=account(lab, NEXT, password="not-the-password"))
    conn = yamaha_session(sim)
    conn.send_config_set(rendered(rec, "yamaha-rtx"), error_pattern=r"^Error:.*$")
    _, status = poll(conn, "show status pp 1", r"Disconnection cause: PPP authentication failure", r"SIM#")
    assert "Connected." not in status
    conn.disconnect()


def test_yamaha_cross_mape_holds_a_delegated_prefix(lab, sims):
    sim = sims(3, "yamaha-rtx", CROSS)
    rec = record("yamaha-rtx", "RTX1300", "east-family-cross", mape="jpne")
    conn = yamaha_session(sim)
    conn.send_config_set(rendered(rec, "yamaha-rtx"), error_pattern=r"^Error:.*$")
    found, _ = poll(conn, "show status ipv6 dhcp", r"^  Prefix: (\S+)", r"SIM#")
    prefix = ipaddress.IPv6Network(found.group(1))
    assert prefix.prefixlen == 56 and prefix.subnet_of(ipaddress.IPv6Network(lab.cpe(CROSS).pd_pool))
    assert str(prefix) in {f"{r['address']}/{r['prefix_len']}" for r in lab.kea.leases()}
    # LAN1 = dhcp-prefix@lan2::1:0:0:0:1/64: subnet 1 of the delegated prefix, host ::1.
    lan1 = ipaddress.IPv6Interface((int(prefix.network_address) | (1 << 64) | 1, 64))
    assert f"{lan1} (dhcp-prefix@lan2)" in conn.send_command("show ipv6 address lan1", expect_string=r"SIM#")
    conn.disconnect()
    stop_sim(lab.dir, 3)   # the Release
    assert str(prefix) not in {f"{r['address']}/{r['prefix_len']}" for r in lab.kea.leases()}


def test_yamaha_template_typo_fails_the_push(lab, sims):
    sim = sims(4, "yamaha-rtx", CROSS)
    lines = rendered(record("yamaha-rtx", "RTX830", "east-family-cross", mape="jpne"), "yamaha-rtx")
    broken = [line.replace("tunnel encapsulation", "tunnel encapslation") for line in lines]
    conn = yamaha_session(sim)
    with pytest.raises(ConfigInvalidException, match="Invalid command name"):
        conn.send_config_set(broken, error_pattern=r"^Error:.*$")
    shown = conn.send_command("show config", expect_string=r"SIM\w*#")   # still in `tunnel select 1`
    assert "tunnel map-e type" not in shown and "ip route default gateway tunnel 1" not in shown
    conn.disconnect()


# ---------------------------------------------------------------- NEC IX
def test_nec_next_pppoe_session_and_prefix_are_real(lab, sims):
    sim = sims(5, "nec-ix", DENWA_ROUTER)
    rec = record("nec-ix", "IX2215", "east-family-highspeed", account=account(lab, DENWA_ROUTER), denwa=True)
    conn = nec_session(sim)
    nec_push(conn, rendered(rec, "nec-ix"), "r-caf10000201")
    found, status = poll(conn, "show interfaces GigaEthernet0.1", r"Internet address is (\S+)/32, peer (\S+)", r"#")
    assert status.startswith("Interface GigaEthernet0.1 is up")
    assert found.group(1) in account_addresses(lab, DENWA_ROUTER) and found.group(2) == str(BRAS_ADDR)
    found, _ = poll(conn, "show ipv6 dhcp client", r"IA_PD prefix: (\S+),", r"#")
    prefix = ipaddress.IPv6Network(found.group(1))
    assert prefix.prefixlen == 60 and prefix.subnet_of(ipaddress.IPv6Network(lab.cpe(DENWA_ROUTER).pd_pool))
    conn.config_mode()
    assert "Building configuration" in conn.save_config()
    conn.disconnect()


def test_nec_cross_mape_holds_a_delegated_prefix(lab, sims):
    sim = sims(6, "nec-ix", CROSS)
    conn = nec_session(sim)
    nec_push(conn, rendered(record("nec-ix", "IX2215", "east-family-cross", mape="ocn"), "nec-ix"),
             "r-caf10000201")
    found, out = poll(conn, "show ipv6 dhcp client", r"IA_PD prefix: (\S+),", r"#")
    prefix = ipaddress.IPv6Network(found.group(1))
    assert prefix.prefixlen == 56 and prefix.subnet_of(ipaddress.IPv6Network(lab.cpe(CROSS).pd_pool))
    subnet1 = ipaddress.IPv6Network((int(prefix.network_address) | (1 << 64), 64))
    assert f"Subscriber GigaEthernet2.0: {subnet1}" in out
    conn.disconnect()


def test_nec_wrong_password_and_typo(lab, sims):
    sim = sims(7, "nec-ix", DENWA_ROUTER)
    rec = record("nec-ix", "IX2215", "east-family-highspeed", account=account(lab, DENWA_ROUTER, "wrong-pw"),
                 denwa=True)
    lines = rendered(rec, "nec-ix")
    conn = nec_session(sim)
    nec_push(conn, lines, "r-caf10000201")
    _, status = poll(conn, "show interfaces GigaEthernet0.1", r"Last failure: PPP authentication failure", r"#")
    assert "is down" in status.splitlines()[0]
    conn.config_mode()
    with pytest.raises(ConfigInvalidException, match="-- Invalid command"):
        conn.send_config_set(["interface GigaEthernet0.1", "encapsulation ppoe"], error_pattern=r"^% .*$")
    conn.disconnect()

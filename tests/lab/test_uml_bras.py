"""The UML BRAS (rp-pppoe pppoe-server + pppd) against a UML CPE running the real pppd client.

Everything on the wire is real: the CPE's pppd with the kernel-mode rp-pppoe.so plugin dials the
BRAS's pppoe-server, whose pppd sessions authenticate with the secrets lab.uml wrote.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lab.guest import bras
from lab.guest.boot import GuestConfigError
from lab.pytest_plugin import require_lab
from lab.uml import bras_sessions, bras_set_accounts, bras_start_server, bras_stop_server
from tests.lab import uml_net

U1, U2, U3 = "u1@isp.example", "u2@isp.example", "u3@isp.example"
PASSWORDS = {U1: "pw-u1-Secret", U2: "pw-u2-Secret", U3: "pw-u3-Secret"}
U2_FIXED = "203.0.113.50"
ACCOUNTS = [
    {"user": U1, "password": PASSWORDS[U1], "enabled": True, "max_sessions": 2, "ip": None},
    {"user": U2, "password": PASSWORDS[U2], "enabled": True, "max_sessions": 1, "ip": U2_FIXED},
    {"user": U3, "password": PASSWORDS[U3], "enabled": False, "max_sessions": 1, "ip": None},
]
PEERS = {
    "isp": uml_net.peer_file(U1, 0, "defaultroute"),
    "isp2": uml_net.peer_file(U1, 1),
    "isp3": uml_net.peer_file(U1, 2),
    "pap": uml_net.peer_file(U2, 3, "refuse-chap", "refuse-mschap", "refuse-mschap-v2", "refuse-eap"),
    "wrong": uml_net.peer_file(U1, 4, 'password "not-the-password"'),
    "disabled": uml_net.peer_file(U3, 5),
}
LAB_USER, LAB_PASSWORD = "lab", "lab-Pass-1234"
SNMP = {"community": "hkltu-ro", "v3_user": "hkltu", "auth_key": "auth-Key-1234", "priv_key": "priv-Key-1234"}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    require_lab()
    run_dir = tmp_path_factory.mktemp("uml")
    uml_net.build()
    server = uml_net.bras_guest(run_dir, ACCOUNTS)
    client = uml_net.cpe_guest(run_dir, [{"name": LAB_USER, "password": LAB_PASSWORD}], SNMP)
    try:
        with ThreadPoolExecutor(2) as pool:  # boot both at once
            for fut in [pool.submit(server.start), pool.submit(client.start)]:
                fut.result()
        with uml_net.ssh(LAB_USER, password=LAB_PASSWORD) as shell:
            for name, text in PEERS.items():
                shell.write(f"/etc/ppp/peers/{name}", text)
            secrets = "".join(uml_net.secrets_line(user, pw) for user, pw in PASSWORDS.items())
            for name in ("chap-secrets", "pap-secrets"):
                shell.write(f"/etc/ppp/{name}", secrets, 0o600)
            yield server, client, shell
    finally:
        for guest in (client, server):
            guest.stop()
        uml_net.destroy()
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def ppp(net):
    """The BRAS, the CPE's shell, and a clean slate afterwards (no session, accounts as configured)."""
    server, _client, shell = net
    yield server, shell
    shell.run("poff -a; sleep 1; pkill -x pppd")
    bras_set_accounts(server, ACCOUNTS)
    bras_start_server(server)
    _wait(lambda: not bras_sessions(server), 15, "the BRAS to drop every session")


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def assert_auth_failed(code: int, out: str) -> None:
    # pppd exits 19 (authentication failed) or, when the BRAS's PADT wins the race, 16 (hangup).
    assert code in (16, 19) and "CHAP authentication failed" in out, (code, out)
    assert "Connection terminated" in out and "local  IP address" not in out


def dial(shell, peer: str) -> tuple[int, str]:
    """`pppd call <peer> updetach`: returns once IPCP is up (0) or the attempt failed."""
    return shell.run(f"pppd call {peer} updetach", timeout=60)


def ppp_addr(shell, ifname: str) -> tuple[str, str]:
    _, out = shell.run(f"ip -4 -o addr show dev {ifname}")
    match = re.search(r"inet (\S+) peer (\S+)/32", out)
    assert match, out
    return match[1], match[2]


@pytest.mark.lab
def test_chap_login_gets_pool_address_dns_and_mtu_1454(ppp):
    server, shell = ppp
    code, out = dial(shell, "isp")
    assert code == 0, out
    assert "CHAP authentication succeeded" in out
    assert re.search(r"local  LL address fe80::", out), "IPv6CP did not come up"
    local, peer = ppp_addr(shell, "ppp0")
    assert peer == "203.0.113.1"
    pool_start = ipaddress.ip_address("203.0.113.100")
    assert pool_start <= ipaddress.ip_address(local) < pool_start + 16
    assert shell.run("cat /sys/class/net/ppp0/mtu")[1].strip() == "1454"
    resolv = shell.run("cat /etc/ppp/resolv.conf")[1]
    assert "nameserver 203.0.113.53" in resolv and "nameserver 203.0.113.54" in resolv
    # The BAS proposes CHAP-MD5 and the NGN's MRU.
    assert re.search(r"sent \[LCP ConfReq id=0x\w+ <mru 1454> <auth chap MD5>", server.syslog.read_text())
    sessions = _wait(lambda: bras_sessions(server), 5, "the BRAS's session marker")
    assert [(s["user"], s["ip"]) for s in sessions] == [(U1, local)]


@pytest.mark.lab
def test_pap_only_client_logs_in_and_gets_the_accounts_fixed_address(ppp):
    server, shell = ppp
    code, out = dial(shell, "pap")
    assert code == 0, out
    assert "PAP authentication succeeded" in out
    assert ppp_addr(shell, "ppp3") == (U2_FIXED, "203.0.113.1")
    log = server.syslog.read_text()
    assert re.search(r"rcvd \[LCP ConfNak id=0x\w+ <auth pap>\]", log)  # the client asked for PAP ...
    assert re.search(r"sent \[LCP ConfReq id=0x\w+ <mru 1454> <auth pap>", log)  # ... and got it


@pytest.mark.lab
def test_wrong_password_fails_authentication(ppp):
    server, shell = ppp
    assert_auth_failed(*dial(shell, "wrong"))
    assert not bras_sessions(server)


@pytest.mark.lab
def test_disabled_account_fails_and_account_changes_apply_at_run_time(ppp):
    server, shell = ppp
    assert_auth_failed(*dial(shell, "disabled"))

    enabled = [{**acc, "enabled": True} if acc["user"] == U3 else acc for acc in ACCOUNTS]
    bras_set_accounts(server, enabled)
    code, out = dial(shell, "disabled")
    assert code == 0, out
    shell.run("poff disabled")

    # Fault injection "wrong password": the BRAS's copy changes, the CPE's does not.
    changed = [{**acc, "password": "rotated-Secret"} if acc["user"] == U1 else acc for acc in ACCOUNTS]
    bras_set_accounts(server, changed)
    assert_auth_failed(*dial(shell, "isp"))


@pytest.mark.lab
def test_session_beyond_max_sessions_is_refused_while_two_are_up(ppp):
    server, shell = ppp
    for peer in ("isp", "isp2"):
        code, out = dial(shell, peer)
        assert code == 0, out
    code, out = dial(shell, "isp3")
    assert code != 0, out
    assert "CHAP authentication succeeded" in out  # refused after authentication ...
    assert "LCP terminated by peer (Session limit exceeded)" in out  # ... by the BRAS
    assert f"refused session of {U1}: 2 of max_sessions 2 already up" in server.syslog.read_text()
    time.sleep(1)  # a refused session must not linger in the BRAS's list
    assert sorted(s["user"] for s in bras_sessions(server)) == [U1, U1]
    assert shell.run("ip -o link show ppp2")[0] != 0


@pytest.mark.lab
def test_bras_down_answers_no_padi_and_recovers(ppp):
    server, shell = ppp
    code, out = dial(shell, "isp")
    assert code == 0, out
    bras_stop_server(server)
    assert not bras_sessions(server)
    _wait(lambda: shell.run("ip -o link show ppp0")[0] != 0, 15, "the CPE to lose ppp0 (LCP/PADT)")
    assert "Timeout waiting for PADO packets" in discover(shell)

    bras_start_server(server)
    assert "Access-Concentrator: hkl-BAS" in discover(shell)
    code, out = dial(shell, "isp")
    assert code == 0, out


def discover(shell) -> str:
    """rp-pppoe's discovery alone (`pppoe -A`, which pppd's 35 s PADI back-off would make slow)."""
    return shell.run("timeout 20 pppoe -I wan0 -A -t 1 </dev/null 2>&1")[1]


@pytest.mark.lab
def test_stop_with_live_sessions_leaves_no_process_behind(net):
    server, _client, shell = net
    code, out = dial(shell, "isp")
    assert code == 0, out
    assert server.host_pids() and server.is_running()
    server.stop()
    assert not server.is_running() and server.pid is None
    marker = f"uml_dir={server.uml_dir}".encode()
    assert [pid for pid, cmdline in _host_processes() if marker in cmdline] == []


def _host_processes() -> list[tuple[int, bytes]]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                out.append((int(proc.name), (proc / "cmdline").read_bytes()))
            except OSError:  # exited meanwhile
                continue
    return out


# ---------------------------------------------------------------- config checks (no guest needed)
def test_bras_config_errors_name_the_field_and_never_the_secret(tmp_path):
    bad_user = [{"user": "u 1", "password": "s3cret-xyz", "max_sessions": 1}]
    with pytest.raises(GuestConfigError, match=r"accounts\[0\]\.user") as exc:
        bras.write_accounts(tmp_path, bad_user)
    assert "s3cret-xyz" not in str(exc.value)
    with pytest.raises(GuestConfigError, match=r"accounts\[0\]\.password"):
        bras.write_accounts(tmp_path, [{"user": "u1", "password": "a\nb", "max_sessions": 1}])
    config = {"local_ip": "10.0.0.1", "pool_start": "203.0.113.10", "accounts": []}
    with pytest.raises(GuestConfigError, match=r"local_ip: 10\.0\.0\.1 is outside"):
        bras.prepare(tmp_path, config, {"eth0": "eth0"}, "b")


def test_bras_secrets_quote_passwords_and_leave_disabled_accounts_out(tmp_path):
    accounts = [
        {"user": "a@isp.example", "password": 'we"ird\\pw', "max_sessions": 2, "ip": "203.0.113.40"},
        {"user": "b@isp.example", "password": "pw", "enabled": False},
    ]
    bras.write_accounts(tmp_path, accounts)
    secrets = (tmp_path / "etc/ppp/chap-secrets").read_text()
    assert '"a@isp.example" * "we\\"ird\\\\pw" *' in secrets
    assert "b@isp.example" not in secrets
    assert (tmp_path / "etc/ppp/chap-secrets").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "etc/ppp/hkl-accounts").read_text().splitlines()[1:] == [
        "a@isp.example 2 203.0.113.40"
    ]


def test_with_every_account_disabled_the_bras_still_authenticates_and_refuses(tmp_path):
    # pppd with `auth` and no secret at all exits before LCP: the client would see a hangup, not a refusal.
    bras.write_accounts(tmp_path, [{"user": "b@isp.example", "password": "pw", "enabled": False}])
    for name in ("chap-secrets", "pap-secrets"):
        entries = [line for line in (tmp_path / "etc/ppp" / name).read_text().splitlines()
                   if line and not line.startswith("#")]
        assert len(entries) == 1 and "b@isp.example" not in entries[0] and '"pw"' not in entries[0]

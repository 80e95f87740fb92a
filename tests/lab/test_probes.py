"""`provisioner probe` against the lab's real BRAS (pppoe-server + pppd in UML), Kea and radvd.

Each probe runs as the technician would run it: the CLI inside the probe port's namespace (scapy must start
there), with the password in an environment variable, and the JSON result parsed here.
"""

import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from lab.pytest_plugin import ppp_dial, ppp_hangup
from lab.topology import BRAS_POOL_END, BRAS_POOL_START, NGN_DNS6

pytestmark = pytest.mark.lab

PASSWORD_VAR = "HKL_PROBE_PASSWORD"
PPP_STAGES = ["discovery", "lcp", "auth", "ipcp", "ipv6cp", "teardown"]


@pytest.fixture(autouse=True)
def _probe_port_put_back(lab):
    """These tests walk the probe port from line to line; leave it where the lab had it."""
    home = lab.probe.line
    yield
    if lab.probe.line != home:
        lab.attach_probe(home)


def line_where(lab, wanted) -> int:
    """The first line whose CPE info satisfies `wanted` (the default lab has every kind of line)."""
    return next(cpe.index for cpe in lab.cpes if wanted(cpe))


def pppoe_line(lab) -> int:
    return line_where(lab, lambda cpe: cpe.pppoe)


def ra_line(lab) -> int:
    return line_where(lab, lambda cpe: cpe.ipv6_mode == "ra")


def ipoe_line(lab) -> int:  # Cross: IPoE only, no PPPoE path to the BRAS
    return line_where(lab, lambda cpe: not cpe.pppoe)


def pd_lines(lab) -> list[int]:
    return [cpe.index for cpe in lab.cpes if cpe.ipv6_mode == "pd"]


def probe(lab, line: int, kind: str, *args: str, password: str | None = None, timeout: float = 5.0):
    """Run `provisioner probe <kind> --json` on `line`'s segment: (exit code, result dict, stdout+stderr)."""
    port = lab.attach_probe(line)
    env = {**os.environ, "XDG_CACHE_HOME": tempfile.gettempdir()}
    env.pop(PASSWORD_VAR, None)
    if password is not None:
        env[PASSWORD_VAR] = password
    argv = ["ip", "netns", "exec", port.netns, sys.executable, "-m", "provisioner.cli", "probe", kind,
            "--iface", port.iface, "--timeout", str(timeout), "--json", *args]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    result = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, result, proc.stdout + proc.stderr


def login(lab, line: int, password: str | None = None, *extra: str, timeout: float = 5.0):
    cpe = lab.cpe(line)
    secret = password if password is not None else cpe.isp_password.get_secret_value()
    return probe(lab, line, "pppoe", "--user", cpe.isp_user, "--password-env", PASSWORD_VAR, *extra,
                 password=secret, timeout=timeout)


def stages(result) -> dict:
    return {stage["name"]: stage for stage in result["stages"]}


def bras_session_with(lab, address: str, seconds: float = 10.0) -> dict | None:
    """The BRAS's session holding `address`, if it is still there after giving pppd time to exit."""
    deadline = time.monotonic() + seconds
    while True:
        found = next((s for s in lab.bras.sessions() if s["ip"] == address), None)
        if found is None or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


# --- PPPoE ---------------------------------------------------------------------------------------------

def test_discovery_only_without_credentials(lab):
    rc, result, _ = probe(lab, pppoe_line(lab), "pppoe")
    assert rc == 0, result
    assert [s["name"] for s in result["stages"]] == ["discovery", "teardown"]
    found = stages(result)["discovery"]["evidence"]
    assert found["ac_name"] == lab.bras.ac_name
    assert found["session_id"] > 0
    assert 0 < found["pado_ms"] <= found["pads_ms"]
    assert stages(result)["teardown"]["evidence"]["padt_sent"] is True


def test_login_with_the_right_password_then_hangs_up(lab):
    cpe = lab.cpe(pppoe_line(lab))
    password = cpe.isp_password.get_secret_value()
    rc, result, output = login(lab, pppoe_line(lab))
    assert rc == 0, result
    assert password not in output
    assert [s["name"] for s in result["stages"]] == PPP_STAGES
    got = stages(result)
    assert got["auth"]["evidence"]["method"] == "chap"
    assert got["auth"]["evidence"]["user"] == cpe.isp_user
    ipcp = got["ipcp"]["evidence"]
    address = ipaddress.IPv4Address(ipcp["address"])
    assert BRAS_POOL_START <= address <= BRAS_POOL_END
    assert [ipcp["dns1"], ipcp["dns2"]] == lab.bras.dns
    assert ipcp["peer_address"] == lab.bras.address
    assert ipcp["since_padi_ms"] > got["discovery"]["elapsed_ms"]
    ipv6cp = got["ipv6cp"]["evidence"]
    assert ipv6cp["offered"] is True and len(bytes.fromhex(ipv6cp["interface_id"])) == 8
    assert got["teardown"]["evidence"]["padt_sent"] or got["teardown"]["evidence"]["padt_received"]
    # Nothing left on the BRAS: the session that held our address is gone.
    assert bras_session_with(lab, ipcp["address"]) is None


def test_repeated_logins_never_exhaust_a_two_session_account(lab):
    # If a probe left its session open, the account (max_sessions 2) would be full by the third login.
    for _ in range(3):
        rc, result, _ = login(lab, pppoe_line(lab))
        assert rc == 0, result
        assert bras_session_with(lab, stages(result)["ipcp"]["evidence"]["address"]) is None


def test_pap_when_the_probe_asks_for_it(lab):
    rc, result, _ = login(lab, pppoe_line(lab), None, "--auth", "pap")
    assert rc == 0, result
    assert stages(result)["auth"]["evidence"]["method"] == "pap"


def test_wrong_password_is_rejected_with_the_servers_message(lab):
    rc, result, output = login(lab, pppoe_line(lab), "not-the-password")
    assert rc == 1
    assert "not-the-password" not in output
    failed = stages(result)["auth"]
    assert failed["ok"] is False and failed["reason"] == "auth-rejected"
    assert failed["evidence"]["message"] and failed["evidence"]["message"] in failed["detail"]
    assert result["failed_stage"] == "auth"
    assert stages(result)["lcp"]["ok"] is True
    assert "ipcp" not in stages(result)  # nothing after the failure but the teardown
    assert stages(result)["teardown"]["ok"] is True


def test_session_limit_is_told_apart_from_a_wrong_password(lab):
    # The lab's fault lowers the account's limit to the sessions it holds: the CPE holds one.
    line = pppoe_line(lab)
    code, output = ppp_dial(lab, line)
    assert code == 0, output
    try:
        user = lab.cpe(line).isp_user
        deadline = time.monotonic() + 10  # the BRAS publishes the session right after its IPCP is up
        while not any(s["user"] == user for s in lab.bras.sessions()) and time.monotonic() < deadline:
            time.sleep(0.2)
        lab.fault("session-limit", cpe=line)
        try:
            rc, result, _ = login(lab, line)
        finally:
            lab.clear("session-limit", cpe=line)
    finally:
        ppp_hangup(lab, line)
    assert rc == 1
    got = stages(result)
    assert got["auth"]["ok"] is True  # the password was right...
    assert got["ipcp"]["reason"] == "session-limit"  # ...but the BRAS ended the session straight after
    assert got["ipcp"]["evidence"]["terminated_by"] == "lcp"
    assert result["failed_stage"] == "ipcp"
    # and once the limit is back, the same login works
    rc, result, _ = login(lab, line)
    assert rc == 0, result


def test_no_pado_when_the_bras_is_down(lab):
    lab.fault("bras-down")
    try:
        rc, result, _ = probe(lab, pppoe_line(lab), "pppoe", timeout=1.5)
    finally:
        lab.clear("bras-down")
    assert rc == 1
    discovery = stages(result)["discovery"]
    assert discovery["reason"] == "no-pado" and discovery["evidence"]["padi_sent"] >= 1
    assert stages(result)["teardown"]["detail"] == "no session was opened"


def test_a_cross_line_has_no_pppoe(lab):
    rc, result, _ = probe(lab, ipoe_line(lab), "pppoe", timeout=1.0)
    assert rc == 1 and result["failed_stage"] == "discovery"
    assert stages(result)["discovery"]["reason"] == "no-pado"


# --- DHCPv6-PD ----------------------------------------------------------------------------------------

def test_pd_probe_gets_each_lines_prefix_and_releases_it(lab):
    lines = pd_lines(lab)
    assert lines
    for line in lines:
        cpe = lab.cpe(line)
        rc, result, _ = probe(lab, line, "dhcpv6-pd")
        assert rc == 0, result
        assert [s["name"] for s in result["stages"]] == ["solicit", "request", "release"]
        offered, bound = stages(result)["solicit"]["evidence"], stages(result)["request"]["evidence"]
        prefix = ipaddress.IPv6Network(bound["prefix"])
        assert offered["prefix"] == bound["prefix"]
        assert prefix.prefixlen == bound["prefix_length"] == cpe.pd_length
        assert prefix.subnet_of(ipaddress.IPv6Network(cpe.pd_pool))
        assert 0 < bound["t1"] <= bound["t2"] <= bound["preferred_lifetime"] <= bound["valid_lifetime"]
        assert str(NGN_DNS6) in bound["dns"]
        assert stages(result)["release"]["evidence"]["status"] == 0


def test_repeated_pd_probes_never_exhaust_the_lines_pool(lab):
    # Each probe is a new IA (random IAID) and a line's pool holds two prefixes: without the Release, the
    # third probe at the latest would find no prefix left.
    line = pd_lines(lab)[0]
    for _ in range(3):
        rc, result, _ = probe(lab, line, "dhcpv6-pd")
        assert rc == 0, result


def test_pd_probe_on_an_ra_line_finds_no_prefix(lab):
    rc, result, _ = probe(lab, ra_line(lab), "dhcpv6-pd", timeout=2.0)
    assert rc == 1
    assert result["failed_stage"] == "solicit"
    assert stages(result)["solicit"]["reason"] in ("no-prefix", "no-advertise")


def test_pd_probe_with_kea_down_gets_no_advertise(lab):
    lab.fault("kea-down")
    try:
        rc, result, _ = probe(lab, pd_lines(lab)[0], "dhcpv6-pd", timeout=1.5)
    finally:
        lab.clear("kea-down")
    assert rc == 1
    assert stages(result)["solicit"]["reason"] == "no-advertise"


# --- RA -----------------------------------------------------------------------------------------------

def test_ra_probe_on_a_next_line_reports_the_64_and_dns(lab):
    line = ra_line(lab)
    rc, result, _ = probe(lab, line, "ra")
    assert rc == 0, result
    got = stages(result)
    assert got["ra"]["evidence"]["managed"] is False
    assert got["ra"]["evidence"]["router_lifetime"] > 0
    assert [p["prefix"] for p in got["prefix"]["evidence"]["prefixes"]] == [lab.cpe(line).ra_prefix]
    assert got["prefix"]["evidence"]["prefixes"][0]["autonomous"] is True
    assert got["dns"]["ok"] is True
    assert str(NGN_DNS6) in got["dns"]["evidence"]["rdnss"] or got["ra"]["evidence"]["other"]


def test_ra_probe_on_a_pd_line_points_to_dhcpv6(lab):
    rc, result, _ = probe(lab, pd_lines(lab)[0], "ra")
    assert rc == 0, result
    got = stages(result)
    assert got["ra"]["evidence"]["managed"] is True
    assert got["prefix"]["detail"] == "addresses by DHCPv6 (M flag)"


def test_ra_instead_of_pd_fault_shows_in_both_probes(lab):
    line = pd_lines(lab)[0]
    lab.fault("ra-instead-of-pd", cpe=line)
    try:
        _, ra, _ = probe(lab, line, "ra")
        rc, pd, _ = probe(lab, line, "dhcpv6-pd", timeout=2.0)
    finally:
        lab.clear("ra-instead-of-pd", cpe=line)
    assert stages(ra)["ra"]["evidence"]["managed"] is False
    assert stages(ra)["prefix"]["evidence"]["prefixes"]
    assert rc == 1 and pd["failed_stage"] == "solicit"

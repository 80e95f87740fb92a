"""Live CPE status (checks.cpe_status, service.cpe_status) against a real sshd CPE in a namespace: every getter
answers over one session; an unreachable or refusing CPE is told apart, quickly, without a traceback."""

from __future__ import annotations

import ipaddress
import time

import pytest
from pydantic import SecretStr

from provisioner import service
from provisioner.checks.cpe_status import read_cpe_status
from provisioner.drivers.base import Timeouts

FAST = Timeouts(connect=2.0, banner=3.0, auth=3.0, command=10.0)


def test_every_getter_answers_over_one_session(sshd_cpe):
    status = read_cpe_status(sshd_cpe.target(), pppoe_sessions=2, tunnel=True, wifi=True, timeouts=FAST)
    assert status.reachable and status.error is None, status.error
    assert status.errors == {}
    assert status.facts is not None and status.facts.platform == "linux" and status.facts.uptime_s > 0
    # the management address the session came in on is among the CPE's own addresses
    assert ipaddress.IPv4Address(sshd_cpe.addr) in {a.address.ip for a in status.ipv4}
    # no pppd runs on this CPE: both sessions are reported, both down
    assert [(s.session, s.state) for s in status.pppoe] == [(1, "down"), (2, "down")]
    assert status.tunnels == []
    assert status.wifi is not None and not status.wifi.configured
    # what is not asked for is not read
    bare = read_cpe_status(sshd_cpe.target(), timeouts=FAST)
    assert bare.pppoe == [] and bare.wifi is None and bare.facts is not None


def test_a_closed_port_is_unreachable_with_the_reason_fast(sshd_cpe):
    t0 = time.monotonic()
    status = read_cpe_status(sshd_cpe.target(port=2), timeouts=FAST)
    assert time.monotonic() - t0 < 30
    assert not status.reachable and status.facts is None
    assert status.error_reason == "connect-failed" and sshd_cpe.target().name in status.error


def test_a_wrong_login_is_an_authentication_error_not_a_secret(sshd_cpe):
    status = read_cpe_status(sshd_cpe.target(key_file=None, password=SecretStr("wrong-pw-991")), timeouts=FAST)
    assert not status.reachable
    assert status.error_reason == "auth-failed", status.error
    assert "wrong-pw-991" not in status.model_dump_json()


def test_only_the_rental_router_has_a_live_status(next_pppoe_record):
    record = service.read_line(next_pppoe_record)
    with pytest.raises(service.ProvisionError, match="only the rental router"):
        service.cpe_status(record, role="hgw")
    # a router without a management section cannot be reached either, and says so
    with pytest.raises(service.ProvisionError, match="no management section"):
        service.cpe_status(record, role="router")


def test_the_status_command_reads_a_line_with_the_stored_login(sshd_cpe, next_pppoe_record, tmp_path, monkeypatch,
                                                               request):
    import json

    import yaml
    from typer.testing import CliRunner

    from provisioner.cli import app
    from provisioner.credentials import CredentialStore
    from provisioner.settings import Settings, get_settings

    monkeypatch.setenv("HIKARI_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    request.addfinalizer(get_settings.cache_clear)  # later tests read their own environment's settings
    sshd_cpe.set_password("Cpe-Login-4417")
    CredentialStore.from_settings(Settings()).set("rental-router", "root", "Cpe-Login-4417")
    record = {**next_pppoe_record, "management": {"address": sshd_cpe.addr, "credential_ref": "rental-router"}}
    line = tmp_path / "line.yaml"
    line.write_text(yaml.safe_dump(record))

    result = CliRunner().invoke(app, ["status", str(line), "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["reachable"] and status["facts"]["platform"] == "linux"
    assert [s["state"] for s in status["pppoe"]] == ["down"]  # the line has one session; no pppd runs here
    assert "Cpe-Login-4417" not in result.output

    readable = CliRunner().invoke(app, ["status", str(line)])
    assert readable.exit_code == 0 and "PPPoE 1" in readable.output and sshd_cpe.addr in readable.output
    sshd_cpe.set_password("Changed-Login-5521")  # the stored login no longer works: exit 1, the reason named
    refused = CliRunner().invoke(app, ["status", str(line)])
    assert refused.exit_code == 1 and "auth-failed" in refused.output

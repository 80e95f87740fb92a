"""`provisioner probe …` and `provisioner snmp-poll`: bad input is refused with exit code 2 before any I/O."""

import pytest
from typer.testing import CliRunner

from provisioner.cli import app

runner = CliRunner()


@pytest.mark.parametrize(("argv", "message"), [
    (["probe", "pppoe", "--iface", "hkl-no-such0"], "no network interface 'hkl-no-such0'"),
    (["probe", "dhcpv6-pd", "--iface", "hkl-no-such0"], "no network interface"),
    (["probe", "ra", "--iface", "../etc"], "no network interface"),
    (["probe", "pppoe", "--iface", "lo", "--user", "u@isp.example"], "--user and --password-env go together"),
    (["probe", "pppoe", "--iface", "lo", "--password-env", "HKL_PW"], "--user and --password-env go together"),
    (["probe", "pppoe", "--iface", "lo", "--user", "u@isp.example", "--password-env", "HKL_UNSET_VAR"],
     "HKL_UNSET_VAR"),
    (["probe", "pppoe", "--iface", "lo", "--timeout", "0"], "timeout must be positive"),
    (["snmp-poll", "192.0.2.1"], "give --community-env"),
    (["snmp-poll", "192.0.2.1", "--community-env", "HKL_UNSET_VAR"], "HKL_UNSET_VAR"),
    (["snmp-poll", "192.0.2.1", "--v3-user", "u", "--v3-auth-env", "HKL_A"], "--v3-priv-env"),
    (["snmp-poll", "192.0.2.1:notaport", "--community-env", "HKL_C"], "bad host"),
])
def test_bad_input_exits_2_with_a_clear_message(argv, message, monkeypatch):
    monkeypatch.delenv("HKL_UNSET_VAR", raising=False)
    monkeypatch.setenv("HKL_C", "community-value")
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_v3_keys_too_short_are_bad_input_and_never_echoed(monkeypatch):
    monkeypatch.setenv("HKL_A", "short-a")
    monkeypatch.setenv("HKL_P", "short-p")
    result = runner.invoke(app, ["snmp-poll", "192.0.2.1", "--v3-user", "u", "--v3-auth-env", "HKL_A",
                                 "--v3-priv-env", "HKL_P"])
    assert result.exit_code == 2
    assert "short-a" not in result.output and "short-p" not in result.output

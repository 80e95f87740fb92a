"""`provisioner provision | drift` input handling (no CPE needed): bad input is exit 2 with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from provisioner.drivers import DriverError, Target, drivers, get_driver
from provisioner.render import platforms
from tests.drivers.conftest import rendered

LINE = Path(__file__).resolve().parents[2] / "examples" / "lines" / "west-family-cross-dslite-xpass-linux-wifi.yaml"


def cli(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HIKARI_DATA_DIR": str(tmp / "data"), "HIKARI_STATE_DIR": str(tmp / "state")}
    return subprocess.run([sys.executable, "-m", "provisioner.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_unknown_platform_and_ambiguous_input_are_exit_2(tmp_path):
    r = cli("provision", str(LINE), "--platform", "nokia", tmp=tmp_path)
    assert r.returncode == 2 and "unknown platform 'nokia'" in r.stderr
    r = cli("provision", str(LINE), "--lines", str(tmp_path), tmp=tmp_path)
    assert r.returncode == 2 and "one LINE file or --lines DIR" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("drift", "--lines", str(empty), tmp=tmp_path)
    assert r.returncode == 2 and "no line records" in r.stderr


def test_a_line_whose_credential_is_not_stored_is_refused_before_any_connection(tmp_path):
    r = cli("provision", str(LINE), "--dry-run", tmp=tmp_path)
    assert r.returncode == 2
    assert "no device credential 'rental-router'" in r.stderr and "credentials set" in r.stderr


def test_a_bad_record_names_its_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(LINE.read_text().replace("customer_id: CAF20000017", "customer_id: XX1"))
    r = cli("provision", str(bad), tmp=tmp_path)
    assert r.returncode == 2 and "customer_id" in r.stderr


def test_every_renderer_platform_that_takes_a_push_has_a_driver():
    pushable = {name for name, p in platforms().items() if p.netmiko_device_type != "none"}
    assert pushable == set(drivers())
    for name, cls in drivers().items():
        assert cls.platform == name and cls.netmiko_device_type == platforms()[name].netmiko_device_type
    with pytest.raises(LookupError, match="no driver for platform 'ntt-hgw'"):
        get_driver("ntt-hgw")


def test_a_driver_refuses_another_platforms_target_and_a_masked_render():
    with pytest.raises(ValueError, match="drives linux"):
        get_driver("linux")(Target(host="192.0.2.9", platform="openwrt", username="root"))
    driver = get_driver("linux")(Target(host="192.0.2.9", platform="linux", username="root"))
    with pytest.raises(DriverError, match="masked render"):
        driver.intended(rendered({"/etc/x.conf": "password ********\n"}, masked=True))

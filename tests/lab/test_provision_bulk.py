"""Bulk provisioning: 20 lab CPEs at once through the CLI (progress, per-CPE table, exit code)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.lab

N = 20
PROFILES = ["next-denwa-router", "cross"] * (N // 2)
EXAMPLE = {"next-denwa-router": "next-pppoe-linux.yaml", "cross": "cross-dslite-linux.yaml"}
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "lab"


@pytest.fixture(scope="module")
def lab20(lab_factory):
    return lab_factory(profile=",".join(PROFILES), probe_line=1)


def write_lines(lab, directory: Path) -> None:
    directory.mkdir()
    for cpe in lab.cpes:
        data = yaml.safe_load((EXAMPLES / EXAMPLE[cpe.profile]).read_text())
        data["customer_id"] = f"CAF9{cpe.index:07d}"
        # in the file: the lab CPE's address; `--lab` fills the ISP account from the CPE at that address
        data["management"]["address"] = cpe.mgmt_ip
        (directory / f"line{cpe.index:02d}.yaml").write_text(yaml.safe_dump(data))


def run_cli(directory: Path, state: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "provisioner.cli", "provision", "--lines", str(directory), "--concurrency", str(N),
         "--lab", *extra],
        capture_output=True, text=True, timeout=540, env={**os.environ, "HIKARI_STATE_DIR": str(state)},
    )


def test_twenty_cpes_at_once_then_again_as_a_noop(lab20, tmp_path):
    lines = tmp_path / "lines"
    write_lines(lab20, lines)
    first = run_cli(lines, tmp_path / "state", "--json")
    reports = json.loads(first.stdout)
    failed = [(r["cpe"], r["status"], r["reason"]) for r in reports if not r["ok"]]
    assert first.returncode == 0, failed
    assert len(reports) == N and all(r["verified"] for r in reports)
    assert {r["customer_id"] for r in reports} == {f"CAF9{i:07d}" for i in range(1, N + 1)}
    pppoe = [r for r in reports if any(c["name"] == "pppoe" for c in r["verify"]["checks"])]
    assert len(pppoe) == N // 2
    assert len({s["user"] for s in lab20.bras.sessions()}) >= N // 2

    second = run_cli(lines, tmp_path / "state")  # the table, not JSON
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.count("no-op") == N


def test_a_failing_cpe_makes_the_exit_code_1_and_only_it_is_restored(lab20, tmp_path):
    """CPE 1's PPPoE session is down (hung up, its files unchanged): its push applies a LAN change, fails
    verify and is restored; the other 19 are untouched no-ops; the exit code says something failed."""
    from lab.pytest_plugin import ppp_hangup

    lines = tmp_path / "lines"
    write_lines(lab20, lines)
    bad = lines / "line01.yaml"
    data = yaml.safe_load(bad.read_text())
    data["lan"]["ipv4"] = "192.0.2.1/26"
    bad.write_text(yaml.safe_dump(data))
    ppp_hangup(lab20, 1)
    result = run_cli(lines, tmp_path / "state", "--json", "--verify-timeout", "8")
    reports = {r["customer_id"]: r for r in json.loads(result.stdout)}
    assert result.returncode == 1
    one = reports["CAF90000001"]
    assert one["status"] == "restored" and one["restore_verified"], one["reason"]
    assert "pppoe" in one["reason"]
    others = [r for cid, r in reports.items() if cid != "CAF90000001"]
    assert len(others) == N - 1 and all(r["status"] == "no-op" for r in others)

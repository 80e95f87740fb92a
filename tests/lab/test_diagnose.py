"""The 一次切り分け ladder against the lab's real faults: each fault gives the right stage and party, a
healthy line gives all green. Lines are pushed for real first (Linux CPEs, real pppd and dhcpcd)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from lab.pytest_plugin import ppp_dial, wait_sessions
from provisioner import service
from provisioner.provision import ProvisionOptions

pytestmark = pytest.mark.lab

SPEC = {"profile": "next-denwa-router,cross", "probe_line": 1}  # the provisioning tests' lab: shared
NEXT, CROSS = 1, 2
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "lab"


@pytest.fixture(scope="module")
def lab2(lab_factory):
    return lab_factory(**SPEC)


def record_for(lab, index: int, name: str):
    data = yaml.safe_load((EXAMPLES / name).read_text())
    return service.read_line(service.fill_from_lab(data, lab.cpe(index)))


def cpe_sh(lab, index: int, command: str, timeout: float = 30) -> str:
    cpe = lab.cpe(index)
    r = subprocess.run(
        [
            "ssh",
            "-i",
            cpe.ssh_key_path,
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            f"{cpe.ssh_user}@{cpe.mgmt_ip}",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return r.stdout


def diagnose(lab, record):
    return service.diagnose_line(record, resolver=service.LabCredentials(lab))


def until(lab, record, want, timeout: float = 90.0):
    """Diagnose repeatedly until `want(diagnosis)` holds (pppd and dhcpcd react in seconds, not at once)."""
    deadline = time.monotonic() + timeout
    while True:
        d = diagnose(lab, record)
        if want(d) or time.monotonic() > deadline:
            return d
        time.sleep(2)


@pytest.fixture(scope="module")
def next_line(lab2, tmp_path_factory):
    record = record_for(lab2, NEXT, "next-pppoe-linux.yaml")
    opts = ProvisionOptions(state_dir=tmp_path_factory.mktemp("state"), verify_timeout=60.0)
    report = service.provision_line(record, resolver=service.LabCredentials(lab2), options=opts)
    assert report.verified, report.reason
    return record


@pytest.fixture(scope="module")
def cross_line(lab2, tmp_path_factory):
    record = record_for(lab2, CROSS, "cross-dslite-linux.yaml")
    opts = ProvisionOptions(state_dir=tmp_path_factory.mktemp("state"), verify_timeout=60.0)
    report = service.provision_line(record, resolver=service.LabCredentials(lab2), options=opts)
    assert report.verified, report.reason
    return record


def redial(lab, index: int) -> None:
    cpe_sh(lab, index, "poff flets >/dev/null 2>&1; sleep 1; pon flets")


def renew_ipv6(lab, index: int) -> None:
    cpe_sh(lab, index, "dhcpcd -x >/dev/null 2>&1; sleep 1; dhcpcd -b >/dev/null 2>&1")


def test_healthy_lines_are_all_green(lab2, next_line, cross_line):
    for record in (next_line, cross_line):
        d = until(lab2, record, lambda d: d.ok)
        assert d.ok, d.failed
        assert all(v.status in ("ok", "skipped") for v in d.stages)
        assert {v.stage for v in d.stages if v.status == "ok"} >= {"cpe-reachable", "ipv6", "lan-wifi"}


PPPOE_FAULTS = [
    ("bras-down", None, "pppoe-discovery", "ntt"),
    ("wrong-password", NEXT, "pppoe-auth", "isp"),
    ("account-disabled", NEXT, "pppoe-auth", "isp"),
    ("wan-cut", NEXT, "wan-link", "customer"),
]


@pytest.mark.parametrize(("kind", "cpe", "stage", "party"), PPPOE_FAULTS, ids=[f[0] for f in PPPOE_FAULTS])
def test_pppoe_line_faults(lab2, next_line, kind, cpe, stage, party):
    assert until(lab2, next_line, lambda d: d.ok).ok, "the line must start healthy"
    lab2.fault(kind, cpe=cpe)
    try:
        redial(lab2, NEXT)
        d = until(lab2, next_line, lambda d: d.failed is not None and d.failed.stage == stage)
        assert d.failed is not None, "the fault went unnoticed"
        assert (d.failed.stage, d.failed.party) == (stage, party), d.failed
        assert d.failed.next_action
    finally:
        lab2.clear(kind, cpe=cpe)
        redial(lab2, NEXT)
    assert until(lab2, next_line, lambda d: d.ok).ok, "the line did not recover after clear"


def test_a_session_held_by_another_device_names_the_customer(lab2, next_line):
    """The classic 同時接続数超過: a PC on the customer's side dials PPPoE with the same ID and holds the
    account's sessions, so the router's own pppd authenticates and is then cut by the BAS."""
    assert until(lab2, next_line, lambda d: d.ok).ok, "the line must start healthy"
    try:
        cpe_sh(lab2, NEXT, "poff flets >/dev/null 2>&1; for i in $(seq 50); do pgrep -x pppd >/dev/null || exit 0; "
               "sleep 0.2; done")
        assert wait_sessions(lab2, 0) == []
        code, output = ppp_dial(lab2, NEXT, extra="ifname ppp9", peer="otherpc")  # the customer's PC
        assert code == 0, output
        assert len(wait_sessions(lab2, 1)) == 1
        lab2.fault("session-limit", cpe=NEXT)  # the account's limit drops to the one session the PC holds
        cpe_sh(lab2, NEXT, "pon flets")
        d = until(lab2, next_line, lambda d: d.failed is not None and d.failed.stage == "pppoe-auth")
        assert d.failed is not None and (d.failed.stage, d.failed.party) == ("pppoe-auth", "customer"), d.failed
        assert "sessions are all in use" in d.failed.summary, d.failed  # not a wrong password: not the ISP's
    finally:
        lab2.clear("session-limit", cpe=NEXT)
        cpe_sh(lab2, NEXT, "poff otherpc >/dev/null 2>&1; sleep 1")
        redial(lab2, NEXT)
    assert until(lab2, next_line, lambda d: d.ok).ok, "the line did not recover after the PC hung up"


@pytest.mark.parametrize(("kind", "party"), [("sshd-down", "operator"), ("snmpd-down", "operator")])
def test_management_faults(lab2, next_line, kind, party):
    lab2.fault(kind, cpe=NEXT)
    try:
        d = until(lab2, next_line, lambda d: d.failed is not None, timeout=20)
        assert (d.failed.stage, d.failed.party) == ("cpe-reachable", party)
    finally:
        lab2.clear(kind, cpe=NEXT)
    assert until(lab2, next_line, lambda d: d.ok).ok


@pytest.mark.parametrize(
    ("kind", "cpe", "party"), [("kea-down", None, "ntt"), ("ra-instead-of-pd", CROSS, "operator")]
)
def test_ipoe_line_faults(lab2, cross_line, kind, cpe, party):
    lab2.fault(kind, cpe=cpe)
    try:
        renew_ipv6(lab2, CROSS)
        # Right after a renewal the CPE may have heard nothing yet (which reads as the NGN's silence): wait for
        # the verdict to settle on what the CPE then sees.
        d = until(lab2, cross_line, lambda d: d.failed is not None and (d.failed.stage, d.failed.party) == ("ipv6", party))
        assert (d.failed.stage, d.failed.party) == ("ipv6", party), d.failed
    finally:
        lab2.clear(kind, cpe=cpe)
        renew_ipv6(lab2, CROSS)
    assert until(lab2, cross_line, lambda d: d.ok).ok

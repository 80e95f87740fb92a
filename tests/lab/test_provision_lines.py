"""Pushing lines to the lab's Linux CPEs over real SSH: real pppd to the BRAS, real dhcpcd to Kea.

Line 1 is a Next PPPoE line with ひかり電話 (the router behind the HGW gets a /60), line 2 a Cross IPoE line
(DHCPv6-PD /56, DS-Lite). Each test starts from the CPE as the previous one left it, as in the field.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from provisioner import service
from provisioner.drivers import get_driver
from provisioner.drivers.linux import BACKUP_DIR, LinuxDriver
from provisioner.provision import ProvisionOptions, provision
from provisioner.sessionlog import JobSecrets

pytestmark = pytest.mark.lab

SPEC = {"profile": "next-denwa-router,cross", "probe_line": 1}
NEXT, CROSS = 1, 2
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "lab"
MANAGED = ("/etc/ppp/peers/flets", "/etc/ppp/chap-secrets", "/etc/ppp/pap-secrets", "/etc/dhcpcd.conf",
           "/etc/nftables.conf", "/etc/hikari/network.sh", "/etc/hikari/managed")


@pytest.fixture(scope="module")
def lab2(lab_factory):
    return lab_factory(**SPEC)


@pytest.fixture
def opts(tmp_path):
    return ProvisionOptions(state_dir=tmp_path / "state", verify_timeout=40.0)


def lab_record(lab, index: int, name: str, **changes):
    data = yaml.safe_load((EXAMPLES / name).read_text())
    data = service.fill_from_lab(data, lab.cpe(index))
    for dotted, value in changes.items():
        node = data
        *path, last = dotted.split(".")
        for key in path:
            node = node[key]
        node[last] = value
    return service.read_line(data)


def push(lab, index, name, opts, **changes):
    record = lab_record(lab, index, name, **changes)
    return service.provision_line(record, resolver=service.LabCredentials(lab), options=opts)


def cpe_files(lab, index, paths=MANAGED) -> dict[str, bytes | None]:
    """The CPE's files read over a session of their own (cat over ssh), byte for byte."""
    out = {}
    for p in paths:
        r = subprocess.run(
            ["ssh", "-i", lab.cpe(index).ssh_key_path, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
             f"{lab.cpe(index).ssh_user}@{lab.cpe(index).mgmt_ip}", f"cat {p} 2>/dev/null || echo -n __absent__"],
            capture_output=True, timeout=30,
        )
        out[p] = None if r.stdout == b"__absent__" else r.stdout
    return out


def check(report, name):
    return next(c for c in report.verify.checks if c.name == name)


def test_a_next_pppoe_line_reaches_the_bras_and_verify_sees_its_ipv4(lab2, opts):
    report = push(lab2, NEXT, "next-pppoe-linux.yaml", opts)
    assert report.status in ("ok", "no-op"), report.reason
    assert report.verified and (report.saved or report.status == "no-op")
    pppoe = check(report, "pppoe")
    ipv4 = pppoe.evidence["session1"]["ipv4"]
    account = next(a for a in lab2.state.accounts if a.user == lab2.cpe(NEXT).isp_user)
    assert ipaddress.IPv4Address(ipv4) == ipaddress.IPv4Address(account.ip)
    sessions = lab2.bras.sessions()
    assert (lab2.cpe(NEXT).isp_user, ipv4) in [(s["user"], s["ip"]) for s in sessions]
    pd = check(report, "ipv6-pd")
    assert pd.ok and "/60" in pd.detail


def test_the_same_push_again_is_a_noop_that_says_so(lab2, opts):
    first = push(lab2, NEXT, "next-pppoe-linux.yaml", opts)
    assert first.ok, first.reason
    before = cpe_files(lab2, NEXT)
    again = push(lab2, NEXT, "next-pppoe-linux.yaml", opts)
    assert again.status == "no-op" and again.changes == 0 and again.verified
    assert "nothing to change" in next(s for s in again.stages if s.name == "apply").detail
    assert cpe_files(lab2, NEXT) == before


def test_a_cross_ipoe_line_gets_a_56_and_the_lan_a_64(lab2, opts):
    report = push(lab2, CROSS, "cross-dslite-linux.yaml", opts)
    assert report.ok and report.verified, report.reason
    expected = ipaddress.IPv6Network(lab2.cpe(CROSS).expected_pd)
    pd = check(report, "ipv6-pd")
    assert f"delegated {expected}" in pd.detail
    lan64 = ipaddress.IPv6Network((int(expected.network_address) + (1 << 64), 64))
    assert str(lan64) in pd.detail  # sla id 1 of the /56, on the LAN
    assert check(report, "ds-lite").ok and check(report, "wifi").ok
    with get_driver("linux")(_target(lab2, CROSS)) as d:
        lan = [p for p in d.get_ipv6_prefixes() if p.interface.startswith(("lan0", "br-lan"))]
    assert any(p.prefix == lan64 for p in lan)


def test_a_wrong_isp_password_fails_verify_and_the_cpe_is_byte_identical_to_its_backup(lab2, opts):
    good = push(lab2, NEXT, "next-pppoe-linux.yaml", opts)
    assert good.ok, good.reason
    before = cpe_files(lab2, NEXT)
    bad = push(lab2, NEXT, "next-pppoe-linux.yaml", opts, **{"isp.pppoe.password": "not-the-password-1"})
    assert bad.status == "restored", bad.reason
    assert check(bad, "pppoe").reason == "auth-rejected"
    assert bad.restored and bad.restore_verified and not bad.saved
    assert cpe_files(lab2, NEXT) == before
    assert "not-the-password-1" not in Path(bad.session_log).read_text() + bad.model_dump_json()
    # the restored config dials again with the right password
    with get_driver("linux")(_target(lab2, NEXT)) as d:
        from provisioner.verify import verify

        device = service.line_intent(lab_record(lab2, NEXT, "next-pppoe-linux.yaml")).router
        assert verify(d, device, timeout=40, only={"pppoe"}).ok


class CutSessionAfterFirstWrite(LinuxDriver):
    """The real Linux driver; after its first file write a second SSH session kills this one's sshd."""

    lab = None
    index = 0

    def write_file(self, path: str, content: str, **kw) -> None:
        super().write_file(path, content, **kw)
        if path.startswith("/etc/") and not path.startswith(BACKUP_DIR) and not getattr(self, "_cut", False):
            self._cut = True
            self.lab.cpe_exec(self.index, "pkill -KILL -f 'sshd: lab@pts' ; true")


def test_a_session_cut_mid_push_leaves_the_cpe_restored(lab2, opts):
    good = push(lab2, NEXT, "next-pppoe-linux.yaml", opts)
    assert good.ok, good.reason
    before = cpe_files(lab2, NEXT)
    record = lab_record(lab2, NEXT, "next-pppoe-linux.yaml", **{"lan.ipv4": "192.0.2.1/25"})
    item = service.prepare_push(record, resolver=service.LabCredentials(lab2))
    CutSessionAfterFirstWrite.lab, CutSessionAfterFirstWrite.index = lab2, NEXT
    report = provision(item.target, item.rendered, item.device, options=opts, secrets=item.secrets,
                       driver_factory=CutSessionAfterFirstWrite)
    assert report.status == "restored", report.reason
    apply = next(s for s in report.stages if s.name == "apply")
    assert apply.reason == "session-lost"
    assert report.restore_verified
    assert cpe_files(lab2, NEXT) == before


def test_dry_run_and_drift_from_the_cli(lab2, tmp_path):
    ok = push(lab2, CROSS, "cross-dslite-linux.yaml", ProvisionOptions(state_dir=tmp_path / "s"))
    assert ok.ok, ok.reason
    data = service.fill_from_lab(yaml.safe_load((EXAMPLES / "cross-dslite-linux.yaml").read_text()), lab2.cpe(CROSS))
    data["lan"]["ipv4"] = "192.0.2.1/25"
    line = tmp_path / "cross.yaml"
    line.write_text(yaml.safe_dump(data))
    env = {"HIKARI_STATE_DIR": str(tmp_path / "cli-state")}
    dry = _cli(["provision", str(line), "--lab", "--dry-run", "--json"], env)
    (rep,) = json.loads(dry.stdout)
    assert dry.returncode == 0 and rep["status"] == "dry-run" and rep["changes"] > 0
    assert "192.0.2.1/25" in rep["diff"] and "lab-wifi-passphrase-2" not in dry.stdout
    drift = _cli(["drift", str(line), "--lab"], env)
    assert drift.returncode == 1  # it drifted: exit 1
    assert "192.0.2.1/25" in drift.stdout


def _target(lab, index):
    c = lab.cpe(index)
    from provisioner.drivers import Target

    return Target(host=c.mgmt_ip, platform="linux", username=c.ssh_user, password=c.ssh_password,
                  key_file=c.ssh_key_path, name=c.name)


def _cli(args, env):
    import os

    return subprocess.run([sys.executable, "-m", "provisioner.cli", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})


def test_secrets_of_the_job_are_masked_in_the_session_log(lab2, opts):
    report = push(lab2, CROSS, "cross-dslite-linux.yaml", opts)
    assert report.ok, report.reason
    log = Path(report.session_log).read_text()
    secrets = JobSecrets([lab2.cpe(CROSS).ssh_password, lab2.cpe(CROSS).snmp_community,
                          SecretStr("lab-wifi-passphrase-2")])
    assert secrets.leaks(log) == []

"""The transaction (provisioner.provision) with the real Linux driver over real SSH to a real sshd.

The daemons' side (pppd, dhcpcd) is the lab's (tests/lab/); here the managed files are an nftables ruleset
(loaded by the real nft of the CPE's namespace, which refuses a bad one) and files no daemon reads.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from pathlib import Path

import pytest
from pydantic import SecretStr

from provisioner.drivers import ConnectError, Target
from provisioner.drivers.linux import BACKUP_DIR, LINUX_UNITS, MANAGED_LIST, LinuxDriver, hostapd_gate
from provisioner.intent.models import Ipv6
from provisioner.provision import (
    ProvisionOptions,
    _inflight_path,
    connect_with_retry,
    provision,
    save_backup,
)
from provisioner.sessionlog import JobSecrets
from tests.drivers.conftest import BAD_NFT, GOOD_NFT, plain_device, rendered

pytestmark = pytest.mark.lab

SECRET = "pw-Zq8#x!y"
APP_CONF = "/etc/hikari/app.conf"


def _config(nft: str = GOOD_NFT, secret: str = SECRET):
    return rendered({"/etc/nftables.conf": nft, APP_CONF: f"user = line1@isp.example\npassword = {secret}\n"})


def test_push_verifies_saves_then_the_same_push_is_a_noop(sshd_cpe, options):
    cfg = _config()
    first = provision(sshd_cpe.target(), cfg, plain_device(), options=options)
    assert first.status == "ok", first.reason
    assert first.changes > 0 and first.verified and first.saved and first.restored is None
    assert sshd_cpe.file(APP_CONF) == cfg.files[APP_CONF].encode()
    assert sshd_cpe.file(MANAGED_LIST) == b"/etc/hikari/app.conf\n/etc/nftables.conf\n"
    assert "tcp dport 22 accept" in sshd_cpe.ssh("nft list ruleset")  # loaded, not only written
    assert "backup" not in [s.name for s in first.stages if s.evidence.get("skipped")]

    second = provision(sshd_cpe.target(), cfg, plain_device(), options=options)
    assert second.status == "no-op" and second.ok and second.changes == 0
    apply = next(s for s in second.stages if s.name == "apply")
    assert apply.evidence.get("skipped") and "nothing to change" in apply.detail
    assert "backup" not in [s.name for s in second.stages]


def test_dry_run_reads_and_diffs_but_changes_nothing(sshd_cpe, options):
    before = sshd_cpe.file("/etc/nftables.conf")
    report = provision(sshd_cpe.target(), _config(), plain_device(), options=options, dry_run=True)
    assert report.status == "dry-run" and report.changes > 0
    assert "+++ intended/etc/hikari/app.conf" in report.diff
    assert SECRET not in report.diff and "********" in report.diff
    assert sshd_cpe.file(APP_CONF) is None and sshd_cpe.file("/etc/nftables.conf") == before
    assert not sshd_cpe.exists(BACKUP_DIR)


def test_a_refused_command_restores_the_backup_byte_for_byte(sshd_cpe, options):
    good = provision(sshd_cpe.target(), _config(), plain_device(), options=options)
    assert good.status == "ok"
    before = {p: sshd_cpe.file(p) for p in ("/etc/nftables.conf", APP_CONF, MANAGED_LIST)}

    bad = provision(sshd_cpe.target(), _config(BAD_NFT, secret="other-secret-1"), plain_device(),
                    options=options)
    assert bad.status == "restored" and not bad.ok
    assert bad.restored and bad.restore_verified and not bad.saved
    assert "nftables refused" in bad.reason
    assert [s.name for s in bad.stages if not s.ok] == ["apply"]
    assert {p: sshd_cpe.file(p) for p in before} == before
    assert "tcp dport 22 accept" in sshd_cpe.ssh("nft list ruleset")  # the old ruleset is loaded again
    assert not _inflight_path(options.state_dir, sshd_cpe.target()).exists()
    # the job's backup holds the old secret, encrypted at rest
    (kept,) = (options.state_dir / "jobs" / bad.job_id).glob("*.backup.json")
    assert SECRET not in kept.read_text() and "sealed" in kept.read_text()


def test_a_failed_verify_restores_and_reports_both(sshd_cpe, options):
    device = plain_device(ipv6=Ipv6(mode="ra", expected_prefix_length=64, ngn_dns=(), ngn_domain="x"))
    report = provision(sshd_cpe.target(), _config(), device, options=options)
    assert report.status == "restored"
    assert report.verify is not None and not report.verify.ok
    assert report.verify.checks[0].reason == "no-ra-prefix"
    assert report.restored and report.restore_verified
    names = [s.name for s in report.stages]
    assert names[-3:] == ["verify", "restore", "restore-check"]
    assert sshd_cpe.file(APP_CONF) is None and sshd_cpe.file(MANAGED_LIST) is None


class CutAfterFirstWrite(LinuxDriver):
    """The real Linux driver; after its first config file write the CPE's side of the session is killed."""

    cpe = None

    def write_file(self, path: str, content: str, **kw) -> None:
        super().write_file(path, content, **kw)
        if path.startswith("/etc/") and not path.startswith(BACKUP_DIR) and not getattr(self, "_cut", False):
            self._cut = True
            assert self.cpe.cut_sessions() >= 1


def test_a_session_cut_mid_push_is_restored(sshd_cpe, options):
    good = provision(sshd_cpe.target(), _config(), plain_device(), options=options)
    assert good.status == "ok"
    before = {p: sshd_cpe.file(p) for p in ("/etc/nftables.conf", APP_CONF, MANAGED_LIST)}
    changed = _config(GOOD_NFT.replace("22", "2222"), secret="new-secret-22")

    CutAfterFirstWrite.cpe = sshd_cpe
    report = provision(sshd_cpe.target(), changed, plain_device(), options=options,
                       driver_factory=CutAfterFirstWrite)
    assert report.status == "restored", report.reason
    apply = next(s for s in report.stages if s.name == "apply")
    assert not apply.ok and apply.reason == "session-lost"
    assert report.restore_verified
    assert {p: sshd_cpe.file(p) for p in before} == before
    assert "tcp dport 22 accept" in sshd_cpe.ssh("nft list ruleset")


def test_an_interrupted_job_is_restored_before_the_next_push(sshd_cpe, options):
    """A job that died after its backup (the controller crashed) left the CPE half-applied."""
    first = provision(sshd_cpe.target(), _config(), plain_device(), options=options)
    assert first.status == "ok"
    driver = LinuxDriver(sshd_cpe.target())
    with driver:
        running = driver.get_running_config(_config())
        backup = driver.backup("crashed-job", running)
        driver.write_file(APP_CONF, "half applied\n")  # ... and then the controller died
    path = options.state_dir / "jobs" / "crashed-job" / "b.json"
    save_backup(path, backup)
    inflight = _inflight_path(options.state_dir, sshd_cpe.target())
    inflight.parent.mkdir(parents=True, exist_ok=True)
    inflight.write_text(json.dumps({"job_id": "crashed-job", "backup": str(path)}))

    report = provision(sshd_cpe.target(), _config(), plain_device(), options=options)
    recover = next(s for s in report.stages if s.name == "recover")
    assert recover.ok and "crashed-job" in recover.detail
    assert report.status == "no-op"  # once restored, the CPE already runs this config
    assert sshd_cpe.file(APP_CONF) == _config().files[APP_CONF].encode()
    assert not inflight.exists()


def test_a_file_the_intent_no_longer_needs_is_removed(sshd_cpe, options):
    assert provision(sshd_cpe.target(), _config(), plain_device(), options=options).status == "ok"
    smaller = rendered({"/etc/nftables.conf": GOOD_NFT})
    report = provision(sshd_cpe.target(), smaller, plain_device(), options=options)
    assert report.status == "ok"
    assert sshd_cpe.file(APP_CONF) is None
    assert sshd_cpe.file(MANAGED_LIST) == b"/etc/nftables.conf\n"


def test_session_log_and_report_never_show_a_secret(sshd_cpe, options):
    sshd_cpe.set_password("login-pw-5566")
    target = sshd_cpe.target(key_file=None, password=SecretStr("login-pw-5566"))
    report = provision(target, _config(BAD_NFT), plain_device(), options=options)
    assert report.status == "restored"
    log = Path(report.session_log).read_text(encoding="utf-8")
    assert "nft -f /etc/nftables.conf" in log and "wrote /etc/hikari/app.conf" in log
    secrets = JobSecrets([SECRET, "login-pw-5566"])
    assert secrets.leaks(log) == [] and secrets.leaks(report.model_dump_json()) == []
    assert Path(report.session_log).stat().st_mode & 0o777 == 0o600


def test_connection_errors_are_retried_and_auth_errors_are_not(sshd_cpe):
    calls = {"n": 0}

    class Counting(LinuxDriver):
        def connect(self):
            calls["n"] += 1
            super().connect()

    nobody = Counting(sshd_cpe.target(port=2), timeouts=None)
    with pytest.raises(ConnectError):
        connect_with_retry(nobody, attempts=3, backoff_s=0.01)
    assert calls["n"] == 3

    calls["n"] = 0
    wrong = Counting(sshd_cpe.target(key_file=None, password=SecretStr("not-the-password")))
    report = provision(sshd_cpe.target(key_file=None, password=SecretStr("not-the-password")), _config(),
                       plain_device(), options=ProvisionOptions(state_dir=sshd_cpe.root / "st", backoff_s=0.01),
                       driver_factory=lambda *a, **k: wrong)
    assert report.status == "failed" and "credentials refused" in report.reason
    assert calls["n"] == 1


def test_two_jobs_on_one_cpe_run_one_after_the_other(sshd_cpe, options):
    cfg = _config()
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(
        provision(sshd_cpe.target(), cfg, plain_device(), options=options))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in reports) == ["no-op", "ok"]


def test_a_wifi_config_hostapd_refuses_stops_the_push(sshd_cpe, options):
    """No radio here (nor in the lab): hostapd still parses the file first, and its complaint is a refusal."""
    good = "interface=wlan9\ndriver=nl80211\nssid=hkld\nhw_mode=g\nchannel=6\nwpa=2\nwpa_key_mgmt=WPA-PSK\n" \
           f"wpa_passphrase={SECRET}-wifi\n"
    ok = provision(sshd_cpe.target(), rendered({"/etc/hostapd/hostapd-wlan9.conf": good}), plain_device(),
                   options=options)
    assert ok.status == "ok", ok.reason
    bad = rendered({"/etc/hostapd/hostapd-wlan9.conf": good.replace("hw_mode=g", "hw_mode=q")})
    report = provision(sshd_cpe.target(), bad, plain_device(), options=options)
    assert report.status == "restored" and "hostapd refused" in report.reason
    assert "Line 4" in report.reason and SECRET not in report.model_dump_json()
    assert sshd_cpe.file("/etc/hostapd/hostapd-wlan9.conf") == good.encode()


def test_one_hostapd_gates_every_radio_and_names_the_file_it_refuses(sshd_cpe, options):
    """Two radios, the second file bad: one hostapd reads both (one process per CPE, not per radio), the push
    is refused naming the bad file, and both files are as before; the status getter says the same."""
    def conf(iface: str, mode: str = "g") -> str:
        return f"interface={iface}\ndriver=nl80211\nssid=hkld-{iface}\nhw_mode={mode}\nchannel=6\n"
    good = {"/etc/hostapd/hostapd-wlan7.conf": conf("wlan7"), "/etc/hostapd/hostapd-wlan8.conf": conf("wlan8")}
    assert provision(sshd_cpe.target(), rendered(good), plain_device(), options=options).status == "ok"
    bad = {**good, "/etc/hostapd/hostapd-wlan8.conf": conf("wlan8", "q")}
    report = provision(sshd_cpe.target(), rendered(bad), plain_device(), options=options)
    assert report.status == "restored" and "hostapd refused" in report.reason
    assert "hostapd-wlan8.conf" in report.reason and "hostapd-wlan7.conf" not in report.reason
    assert all(sshd_cpe.file(path) == text.encode() for path, text in good.items())

    sshd_cpe.ssh("sed -i s/hw_mode=g/hw_mode=q/ /etc/hostapd/hostapd-wlan8.conf")  # a change made by hand
    with LinuxDriver(sshd_cpe.target()) as driver:
        wifi = driver.get_wifi_status()
    assert wifi.configured and not wifi.accepted and wifi.ssids == ("hkld-wlan7", "hkld-wlan8")
    assert wifi.detail.startswith("hostapd-wlan8.conf: Line 4"), wifi.detail


@pytest.mark.parametrize("unit", LINUX_UNITS, ids=[u.name for u in LINUX_UNITS])
def test_every_reload_and_stop_is_one_shell_line(unit):
    """A line break would send two commands and leave the session waiting for an echo that never comes."""
    present = [p if not p.endswith("/") else p + "a.conf" for p in unit.paths]
    for shell in (unit.reload(present), unit.reload(present[:1]), unit.stop, hostapd_gate("/etc/hostapd/x")):
        assert "\n" not in shell and "\r" not in shell, shell


def test_a_multi_line_command_is_refused_before_it_is_sent():
    driver = LinuxDriver(Target(host="192.0.2.1", platform="linux", username="u"))
    with pytest.raises(ValueError, match="one line"):
        driver.send("echo one\necho two")  # no session is needed: the check comes first


def test_a_status_poll_reads_only_the_parts_its_getters_need(sshd_cpe):
    with LinuxDriver(sshd_cpe.target()) as driver:
        with driver.status_poll({"tunnel"}):
            assert set(driver._state) == {"tunnels"}
            assert driver.get_tunnel_status() == []
            # not in this poll's read: read on its own, and still right
            assert ipaddress.IPv4Address(sshd_cpe.addr) in [a.address.ip for a in driver.get_ipv4_addresses()]
        with driver.status_poll({"pppoe", "ipv6"}):
            assert set(driver._state) == {"addr", "unreachable", "pppd", "log"}
            assert driver.get_pppoe_status(1).state == "down"
        with driver.status_poll():
            assert set(driver._state) == {"addr", "unreachable", "tunnels", "pppd", "log"}

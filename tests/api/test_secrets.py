"""After a full run, no secret appears in any response, log line, webhook or database file; and the key
handling refuses what it cannot use, clearly."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from provisioner import service
from provisioner.credentials import CredentialStore
from provisioner.render import MASK
from provisioner.secrets import SecretBox, SecretKeyError, expose, load_keys, masked_dump, sealed_dump, unseal
from provisioner.settings import Settings
from provisioner.store.tokens import Role
from tests.api.conftest import EXAMPLES_DIR, PPPOE_PASSWORD, WIFI_KEY, hgw_wifi_line, line
from tests.api.helpers import BannerServer, Receiver, wait_job

CRED_PASSWORD = "dev-Cred-Pass-42"
LEAKED = "pppoe-Leaky-Pass-9"


def leaky_provision_line(record, log=None, **_):
    """Stand-in for provision_line (GitHub issue 4) that does what a careless driver might: logs the
    session with the password and fails with it in the exception. Only here to test the redaction."""
    password = record.isp.pppoe.password.get_secret_value()
    logging.getLogger("netmiko").warning("sent: pp auth myname user %s", password)
    raise RuntimeError(f"CPE rejected line 'pp auth myname x {password}'")


def test_no_secret_anywhere_after_a_full_run(api, settings, monkeypatch, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    env = {**os.environ, "HIKARI_DATA_DIR": str(settings.data_dir), "CRED_PW": CRED_PASSWORD}
    cli = subprocess.run([sys.executable, "-m", "provisioner.cli", "credentials", "set", "lab-cpe",
                          "--username", "admin", "--password-env", "CRED_PW"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert CredentialStore(api.svc.db, api.svc.box).get("lab-cpe").password.get_secret_value() == CRED_PASSWORD

    monkeypatch.setattr(service, "provision_line", leaky_provision_line, raising=False)
    sshd, receiver = BannerServer(), Receiver().start()
    texts: list[str] = [cli.stdout, cli.stderr]
    try:
        leaky = line(management_port=sshd.port)
        leaky["isp"]["pppoe"]["password"] = LEAKED
        r = api.activate(leaky, key="full-1", callback_url=receiver.url)
        texts.append(r.text)
        job = wait_job(api.client, r.json()["job"]["id"], api.auth(),
                       until=lambda j: j.get("webhook") and j["webhook"]["state"] == "delivered")
        r2 = api.activate(hgw_wifi_line(), dry_run=True)
        job2 = wait_job(api.client, r2.json()["job"]["id"], api.auth())
        bad = hgw_wifi_line()
        bad["wifi"]["ssids"][0]["passphrase"] = WIFI_KEY + "\x07"
        for resp in (
            r2,
            api.activate(bad),  # 422: never echoes the value
            api.activate(line(management_port=sshd.port), key="full-1"),  # 409
            api.client.get(f"/v1/jobs/{job['id']}", headers=api.auth()),
            api.client.get(f"/v1/jobs/{job2['id']}", headers=api.auth()),
            api.client.get("/v1/lines/CAF12345678", headers=api.auth()),
            api.client.get("/v1/lines/CAF12345679", headers=api.auth()),
            api.client.get("/v1/lines/CAF12345679/config", headers=api.auth(Role.noc)),
            api.client.get("/v1/lines/CAF12345678/config?platform=nec-ix", headers=api.auth(Role.noc)),
            api.client.post("/v1/lines/CAF12345678/diagnose", headers=api.auth(Role.noc)),
            api.client.get("/v1/cpes/CAF12345678-router/status", headers=api.auth(Role.noc)),
            api.client.get("/metrics", headers=api.auth(Role.noc)),
            api.client.get("/openapi.json", headers=api.auth()),
        ):
            texts.append(resp.text)
    finally:
        sshd.close()
        receiver.close()

    # The leak was caught where it happened, and the job still says why it failed.
    assert job["state"] == "failed"
    assert job["error"] == f"stage push failed: push failed: RuntimeError: CPE rejected line 'pp auth myname x {MASK}'"
    push = next(s for s in job["stages"] if s["name"] == "push")
    assert any(f"sent: pp auth myname user {MASK}" in ln for ln in push["log"])

    texts += [d["body"].decode() for d in receiver.deliveries]
    texts.append(caplog.text)
    texts.append(settings.log_file.read_text())
    assert "pp auth myname user" in settings.log_file.read_text()  # the log file did get the line
    blobs = [p.read_bytes() for p in settings.data_dir.iterdir() if p.name.startswith("provisioner.db")]
    assert blobs
    for secret in (PPPOE_PASSWORD, WIFI_KEY, CRED_PASSWORD, LEAKED, *api.tokens.values()):
        for text in texts:
            assert secret not in text
        for blob in blobs:
            assert secret.encode() not in blob, "secrets are encrypted at rest"


def test_stored_records_roundtrip_every_example(settings):
    from provisioner.record import load_line, parse_line

    box = SecretBox.from_settings(settings)
    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        record = load_line(path)
        sealed = sealed_dump(record, box)
        again = parse_line(unseal(sealed, box))
        assert expose(again).data == expose(record).data, path.name
        shown = masked_dump(record)
        for value in expose(record).values():
            assert value not in str(shown) and value not in str(sealed)


def test_generated_key_file_is_private_and_stable(tmp_path):
    settings = Settings(data_dir=tmp_path / "d")
    first = load_keys(settings)
    path = settings.data_dir / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keys(settings) == first


def test_key_from_environment_and_file(tmp_path, monkeypatch):
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("HIKARI_SECRET_KEY", key)
    assert load_keys(Settings(data_dir=tmp_path)) == [key.encode()]
    monkeypatch.delenv("HIKARI_SECRET_KEY")
    keyfile = tmp_path / "k"
    keyfile.write_text(f"{Fernet.generate_key().decode()}\n{key}\n")
    keyfile.chmod(0o600)
    monkeypatch.setenv("HIKARI_SECRET_KEY_FILE", str(keyfile))
    keys = load_keys(Settings(data_dir=tmp_path))
    assert len(keys) == 2 and keys[1] == key.encode()
    assert not (tmp_path / "secret.key").exists()


def test_rotation_old_key_still_decrypts(tmp_path):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    token = SecretBox([old]).encrypt("s3cret-value")
    assert SecretBox([new, old]).decrypt(token) == "s3cret-value"
    with pytest.raises(SecretKeyError, match="not the key it was written with"):
        SecretBox([new]).decrypt(token)


@pytest.mark.parametrize("bad", ["not-a-key", "", "   "])
def test_bad_keys_are_refused_clearly(tmp_path, bad):
    with pytest.raises(SecretKeyError):
        load_keys(Settings(data_dir=tmp_path, secret_key=bad))


def test_missing_explicit_key_file_is_an_error(tmp_path):
    with pytest.raises(SecretKeyError, match="cannot read the secret key file"):
        load_keys(Settings(data_dir=tmp_path, secret_key_file=tmp_path / "nope"))

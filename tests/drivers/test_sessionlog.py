"""Secrets never reach a session log or a diff: known values, their quoted forms, and secret-bearing lines."""

from __future__ import annotations

from pydantic import SecretStr

from provisioner.render import get_platform
from provisioner.sessionlog import JobSecrets, MaskingSessionLog


def test_known_values_and_their_cli_quoted_forms_are_masked():
    s = JobSecrets([SecretStr('pa"ss\\word'), "short"])
    s.add_quoted(get_platform("yamaha-rtx").quote)
    quoted = get_platform("yamaha-rtx").quote('pa"ss\\word')
    assert quoted != 'pa"ss\\word'
    text = f"pp auth myname u@isp.example {quoted}\nplain pa\"ss\\word and short\n"
    masked = s.mask(text)
    assert s.leaks(masked) == [] and "********" in masked


def test_unknown_old_secrets_are_masked_by_their_line_form():
    s = JobSecrets()
    lines = {
        "wpa_passphrase=an-old-wifi-key": "wpa_passphrase=********",
        "  authentication password user@isp.example old-pw": "  authentication password ********",
        "snmp-server community oldcommunity RO": "snmp-server community ********",
        "rocommunity hkl0123 default": "rocommunity ******** default",
        "-password = old": "-password = ********",
        "nohook resolv.conf": "nohook resolv.conf",
    }
    for line, want in lines.items():
        assert s.mask(line) == want


def test_the_session_log_masks_a_secret_split_across_reads(tmp_path):
    secrets = JobSecrets(["split-secret-123"])
    log = MaskingSessionLog(tmp_path / "job" / "cpe.session.log", secrets)
    log.open()
    for chunk in ("router# show config\r\n pp auth myname u@x spl", "it-secret-123\r\n wpa_psk=0123", "4567\r\nrouter# "):
        log.write(chunk)
    log.close()
    text = (tmp_path / "job" / "cpe.session.log").read_text()
    assert "split-secret-123" not in text and "01234567" not in text
    assert "pp auth myname u@x ********" in text and "router# " in text
    assert (tmp_path / "job" / "cpe.session.log").stat().st_mode & 0o777 == 0o600

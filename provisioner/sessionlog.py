"""Per-job session logs (netmiko SessionLog) with every secret of the job masked.

A job knows its own secrets: the login, the PPPoE password, Wi-Fi keys and SNMP credentials of the intent,
raw and in each quoted form a CLI shows. It does not know the secrets already on the CPE (the old PPPoE
password a `show config` prints, or a diff's "-" side), so text is also masked by *line patterns*: the value
after a secret-bearing keyword (password, secret, passphrase, psk, community ...) and platform forms such
as Yamaha's `pp auth myname USER PASS`. `JobSecrets.mask` applies both to any text (logs, diffs, errors);
`MaskingSessionLog` applies it to whole lines (a secret never spans two lines, whatever the reads' chunks).
Treat the log as sensitive anyway (netmiko#3307): it is written with mode 0600.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from netmiko.session_log import SessionLog
from pydantic import SecretStr

from provisioner.intent.models import DeviceIntent
from provisioner.render import MASK

# Shorter values would mask ordinary words all over the log.
_MIN_LOG_MASK = 4

# The group `v` of each pattern is replaced by the mask. A keyword counts when no letter touches it, so
# `wpa_passphrase=`, `sae_password=` and `password = ` all match and `passwordless` does not.
GENERIC_SECRET_LINES: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"(?i)(?<![a-z])(password|passwd|secret|passphrase|psk|community|auth_?key|priv_?key)(?![a-z])"
        r"(?:\s*[=:]\s*|\s+)(?P<v>\S.*?)\s*$"
    ),
    re.compile(r"(?i)^\s*[+\- ]?\s*(?:ro|rw)community6?\s+(?P<v>\S+)"),
    re.compile(r"(?i)^\s*[+\- ]?\s*createUser\s+\S+\s+(?P<v>.+)$"),
)


def _clear(value: SecretStr | str | None) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def device_secrets(device: DeviceIntent) -> list[SecretStr]:
    """Every secret a DeviceIntent carries."""
    out: list[SecretStr] = [p.password for p in device.pppoe]
    out += [s.passphrase for radio in device.wifi for s in radio.ssids]
    if device.tunnel and device.tunnel.ipip and device.tunnel.ipip.update_password:
        out.append(device.tunnel.ipip.update_password)
    return out


def mask_line(line: str, patterns: Iterable[re.Pattern[str]]) -> str:
    for pattern in patterns:
        m = pattern.search(line)
        if m and m.group("v") and m.group("v") != MASK:
            line = line[: m.start("v")] + MASK + line[m.end("v"):]
    return line


class JobSecrets:
    """The secret strings and secret-line patterns of one job, and the masking of any text with them."""

    def __init__(self, values: Iterable[SecretStr | str | None] = ()):
        self._values: set[str] = set()
        self.patterns: list[re.Pattern[str]] = list(GENERIC_SECRET_LINES)
        self.add(*values)

    def add(self, *values: SecretStr | str | None) -> JobSecrets:
        for value in values:
            clear = _clear(value)
            if clear:
                self._values.add(clear)
        return self

    def add_patterns(self, *patterns: re.Pattern[str]) -> JobSecrets:
        self.patterns += [p for p in patterns if p not in self.patterns]
        return self

    def add_quoted(self, quote: Callable[[str], str]) -> JobSecrets:
        """Also mask each secret as `quote` writes it (a CLI escapes quotes and backslashes)."""
        for value in list(self._values):
            try:
                quoted = quote(value)
            except Exception:  # a value the platform cannot carry never reaches its CLI
                continue
            self._values.add(quoted)
            inner = quoted[1:-1] if len(quoted) > 2 and quoted[0] == quoted[-1] == '"' else quoted
            self._values.add(inner)
        return self

    def __len__(self) -> int:
        return len(self._values)

    def _ordered(self) -> list[str]:
        # Longest first: a secret that contains another must be masked whole.
        return sorted(self._values, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for value in self._ordered():
            text = text.replace(value, MASK)
        return "".join(mask_line(line, self.patterns) for line in text.splitlines(keepends=True))

    def leaks(self, text: str) -> list[int]:
        """Lengths of the known secrets found in `text` (for tests and audits; never the values)."""
        return [len(v) for v in self._ordered() if v in text]

    def no_log(self) -> dict[str, str]:
        """netmiko's no_log mapping (names are positional: a name could say what the secret is)."""
        values = [v for v in self._ordered() if len(v) >= _MIN_LOG_MASK] or self._ordered()
        return {f"secret{i}": v for i, v in enumerate(values)}


class MaskingSessionLog(SessionLog):
    """A netmiko SessionLog that writes whole lines only, each masked by the job's JobSecrets (values and
    line patterns; a driver adds its platform's patterns to the same JobSecrets after the log is made).
    Several connections of one job (reconnects, the restore) append to the same file."""

    def __init__(self, path: Path, secrets: JobSecrets):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        super().__init__(file_name=str(path), file_mode="append", no_log=secrets.no_log())
        self.secrets = secrets
        self._pending = ""

    def write(self, data: str) -> None:
        self._pending += data
        if "\n" in self._pending:
            complete, self._pending = self._pending.rsplit("\n", 1)
            self._emit(complete + "\n")

    def flush(self) -> None:
        """A partial line stays pending: it may be the first half of a secret."""

    def _emit(self, text: str) -> None:
        if self.session_log is not None and text:
            self._write(self.secrets.mask(text))

    def close(self) -> None:
        pending, self._pending = self._pending, ""
        self._emit(pending)
        super().close()

    def note(self, text: str) -> None:
        """A line of our own (what went out of band, e.g. a file written over SFTP)."""
        with open(str(self.file_name), "a", encoding="utf-8") as fh:
            fh.write(f"\n# hikari: {self.secrets.mask(text)}\n")


def open_session_log(path: Path, secrets: JobSecrets) -> MaskingSessionLog:
    return MaskingSessionLog(path, secrets)


def note(log: SessionLog | None, text: str, secrets: JobSecrets) -> None:
    """Add a line of our own to a session log (any SessionLog with a file)."""
    if isinstance(log, MaskingSessionLog):
        log.note(text)
    elif log is not None and log.file_name:
        with open(log.file_name, "a", encoding="utf-8") as fh:
            fh.write(f"\n# hikari: {secrets.mask(text)}\n")

"""`CpeDriver`: the one interface every platform implements (NAPALM's NetworkDriver idea).

A driver owns one SSH session to one CPE through netmiko. It knows how to read the CPE's running config in
a normalised form, compare it with a rendered config, apply, save and restore, and answer the typed status
getters (models.py). It takes no decision about *when* to do these: provision.py runs the transaction.

Contract of each operation (every platform honours it):
- get_running_config(): the managed configuration, normalised (no timestamps, no comments, no counters),
  so two reads of an unchanged CPE are equal and a restore can be checked byte for byte.
- diff(running, rendered): what a push would change; changes == 0 means the push is a no-op.
- apply(rendered, running): sends only what differs; raises CommandRejected at the first command the CPE
  refuses (error_pattern) and SessionLost when the session dies; leaves the CPE unsaved.
- save(): makes the running config survive a reboot (a no-op where the config is already persistent).
- backup(): the snapshot to restore; restore(backup) puts it back and reloads what depends on it.
"""

from __future__ import annotations

import difflib
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import paramiko
from netmiko import ConnectHandler
from netmiko.exceptions import (
    ConfigInvalidException,
    NetmikoAuthenticationException,
    NetmikoTimeoutException,
    ReadException,
    ReadTimeout,
)
from netmiko.session_log import SessionLog
from pydantic import SecretStr

from provisioner.drivers.errors import (
    AuthError,
    CommandRejected,
    ConnectError,
    DriverError,
    SessionLost,
    UnsupportedOperation,
)
from provisioner.drivers.models import (
    ConfigDiff,
    ConfigSnapshot,
    Facts,
    Ipv4Address,
    Ipv6Prefix,
    PppoeStatus,
    TunnelStatus,
    WifiStatus,
)
from provisioner.render import RenderedConfig
from provisioner.sessionlog import JobSecrets


@dataclass(frozen=True)
class Target:
    """Where a CPE is and how to log in. `secret` is the enable/administrator (or sudo) password."""

    host: str
    platform: str
    username: str
    password: SecretStr | None = None
    secret: SecretStr | None = None
    port: int = 22
    key_file: str | None = None
    name: str = ""  # a label for reports and locks (the CPE or the customer), never a secret

    @property
    def label(self) -> str:
        return self.name or f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Timeouts:
    """Seconds. banner >= 30 because sshd's MaxStartups drops banners under bulk load (engineering §3.3)."""

    connect: float = 10.0
    banner: float = 30.0
    auth: float = 20.0
    command: float = 30.0  # one command's output
    apply: float = 120.0  # a whole config push or a daemon reload


@dataclass
class Backup:
    """What restore() puts back: the snapshot, where a copy sits on the CPE (if the platform keeps one)."""

    snapshot: ConfigSnapshot
    taken_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    on_device: str | None = None


# Errors that mean "the transport is gone", whatever layer noticed it first.
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    paramiko.SSHException,
    ReadException,
)


class CpeDriver(ABC):
    platform: ClassVar[str]
    netmiko_device_type: ClassVar[str]
    vendor: ClassVar[str]
    # A line of output matching this means the CPE refused a command: the push stops there.
    error_pattern: ClassVar[str]
    # Platforms with a real commit-confirmed could let the CPE roll back by itself; none here does.
    has_commit_confirm: ClassVar[bool] = False
    # True where save() has nothing to do because the running config already is the persistent one.
    save_is_noop: ClassVar[bool] = False
    # Lines of this platform's config that carry a secret (group `v`), masked in logs and diffs even when
    # the job does not know the value (an old password on the CPE).
    secret_patterns: ClassVar[tuple[re.Pattern[str], ...]] = ()

    def __init__(
        self,
        target: Target,
        *,
        secrets: JobSecrets | None = None,
        session_log: SessionLog | None = None,
        timeouts: Timeouts | None = None,
    ):
        if target.platform != self.platform:
            raise ValueError(f"{type(self).__name__} drives {self.platform}, not {target.platform}")
        self.target = target
        self.secrets = (secrets or JobSecrets()).add(target.password, target.secret)
        self.secrets.add_patterns(*self.secret_patterns)
        self.session_log = session_log
        self.timeouts = timeouts or Timeouts()
        self.conn: Any = None  # netmiko BaseConnection while connected
        self.warnings: list[str] = []  # what the job report must say besides success or failure

    # ------------------------------------------------------------------ session
    def connection_params(self) -> dict[str, Any]:
        t, to = self.target, self.timeouts
        params: dict[str, Any] = {
            "device_type": self.netmiko_device_type,
            "host": t.host,
            "port": t.port,
            "username": t.username,
            "password": t.password.get_secret_value() if t.password else "",
            "conn_timeout": to.connect,
            "banner_timeout": to.banner,
            "auth_timeout": to.auth,
            "blocking_timeout": to.command,
            "session_timeout": to.apply,
            "fast_cli": True,
            "allow_agent": False,
            "use_keys": bool(t.key_file),
            "key_file": t.key_file,
            "ssh_config_file": None,
            "session_log": self.session_log,
        }
        if t.secret is not None:
            params["secret"] = t.secret.get_secret_value()
        return params

    def connect(self) -> None:
        """Open the session. Raises ConnectError (worth a retry), AuthError (not) or DriverError."""
        if self.conn is not None:
            return
        try:
            self.conn = ConnectHandler(**self.connection_params())
        except NetmikoAuthenticationException:
            raise AuthError(f"{self.target.label}: credentials refused") from None
        except (NetmikoTimeoutException, *_TRANSPORT_ERRORS, TimeoutError) as exc:
            raise ConnectError(f"{self.target.label}: {_short(exc)}") from None
        except (ReadTimeout, ValueError) as exc:
            # Connected but the CLI never showed the expected prompt: the wrong platform, or a hung CLI.
            raise ConnectError(f"{self.target.label}: no usable CLI prompt ({_short(exc)})") from None
        self.after_connect()

    def after_connect(self) -> None:
        """Per-platform session set-up (character set, terminal); nothing by default."""
        return None

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            self.before_close(conn)
        except Exception:  # closing must never raise: it runs in cleanup paths
            pass
        try:
            conn.disconnect()
        except Exception:
            pass

    def before_close(self, conn: Any) -> None:
        """Leave the CLI cleanly (e.g. Yamaha answers N to 'Save new configuration?'); nothing by default."""
        return None

    def drop(self) -> None:
        """Forget a dead session without talking to the CPE."""
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.remote_conn_pre.close()
            except Exception:
                pass

    def is_alive(self) -> bool:
        if self.conn is None:
            return False
        try:
            return bool(self.conn.is_alive())
        except Exception:
            return False

    def __enter__(self) -> CpeDriver:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transport_guard(self, what: str) -> Iterator[None]:
        """Turn any transport failure into SessionLost (the caller must assume a partial change)."""
        if self.conn is None:
            raise SessionLost(f"{self.target.label}: not connected ({what})")
        try:
            yield
        except DriverError:
            raise
        except ReadTimeout as exc:
            if not self.is_alive():
                self.drop()
                raise SessionLost(f"{self.target.label}: session lost during {what}") from exc
            raise DriverError(f"{self.target.label}: no prompt after {what} ({_short(exc)})") from exc
        except _TRANSPORT_ERRORS as exc:
            if _is_remote_refusal(exc) and self.is_alive():
                # e.g. SFTP "permission denied": the CPE said no, the session is fine.
                raise CommandRejected(f"{self.target.label}: {what} failed ({_short(exc)})") from exc
            self.drop()
            raise SessionLost(f"{self.target.label}: session lost during {what} ({_short(exc)})") from exc

    def send(self, command: str, *, read_timeout: float | None = None, check: bool = True, **kw: Any) -> str:
        """One command, its output; CommandRejected when the output matches error_pattern."""
        if "\n" in command or "\r" in command:
            # A line break sends two commands and leaves the session waiting for an echo that never comes.
            raise ValueError(f"a driver command must be one line: {command.split(chr(10))[0][:60]!r}...")
        with self._transport_guard(command.split(" ", 1)[0]):
            out = self.conn.send_command(command, read_timeout=read_timeout or self.timeouts.command, **kw)
        if check:
            self.check_output(out)
        return out

    def send_config(self, commands: list[str], *, check: bool = True, **kw: Any) -> str:
        """A config push through netmiko's send_config_set; with `check`, the platform's error_pattern
        stops it at the first refused line (ConfigInvalidException -> CommandRejected)."""
        if not commands:
            return ""
        with self._transport_guard("config push"):
            try:
                return self.conn.send_config_set(
                    commands,
                    error_pattern=self.error_pattern if check else "",
                    read_timeout=self.timeouts.apply,
                    **kw,
                )
            except ConfigInvalidException as exc:
                first = (str(exc).strip().splitlines() or [""])[0]  # "Invalid input detected at command: ..."
                raise CommandRejected(
                    self.secrets.mask(f"{self.target.label}: the CPE refused a command ({first})"),
                    output=self.secrets.mask(str(exc)),
                ) from None

    def check_output(self, output: str) -> None:
        for number, line in enumerate(output.splitlines()):
            if re.search(self.error_pattern, line):
                raise CommandRejected(
                    f"{self.target.label}: the CPE answered with an error: {self.secrets.mask(line.strip())}",
                    command_index=number,
                    output=self.secrets.mask(output),
                )

    # ------------------------------------------------------------------ configuration
    @abstractmethod
    def get_running_config(self, rendered: RenderedConfig | None = None) -> ConfigSnapshot:
        """The managed running configuration, normalised. `rendered` widens the scope where the platform
        manages files: the snapshot then also covers what that render would write."""

    def snapshot_like(self, snapshot: ConfigSnapshot) -> ConfigSnapshot:
        """The running configuration over the same scope as `snapshot` (to check a restore)."""
        return self.get_running_config()

    @abstractmethod
    def intended(self, rendered: RenderedConfig) -> ConfigSnapshot:
        """The rendered config in the same normalised form as get_running_config()."""

    def diff(self, running: ConfigSnapshot, rendered: RenderedConfig) -> ConfigDiff:
        """File-by-file unified diff (masked). CLI platforms override with a line-set diff."""
        want = self.intended(rendered)
        text, changed, changes = [], [], 0
        for name, new in want.files.items():
            old = running.files.get(name)
            if old == new:
                continue
            changed.append(name)
            chunk = unified(name, old, new)
            changes += sum(1 for line in chunk.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---"))
            text.append(self.mask_file_text(name, chunk))
        return ConfigDiff(changes=max(changes, len(changed)), text="".join(text), files=tuple(changed))

    def mask_file_text(self, name: str, text: str) -> str:
        """Mask a managed file's text (or a diff of it) for display."""
        return self.secrets.mask(text)

    @abstractmethod
    def apply(self, rendered: RenderedConfig, running: ConfigSnapshot) -> None:
        """Push what differs. Unsaved on platforms where saving is a separate step."""

    @abstractmethod
    def save(self) -> None:
        """Make the running configuration the one the CPE boots with."""

    def backup(self, job_id: str, snapshot: ConfigSnapshot) -> Backup:
        """Keep `snapshot` (read with get_running_config(rendered) just before) as this job's backup.
        The job holds it; platforms that can also keep a copy on the CPE do so."""
        return Backup(snapshot=snapshot)

    @abstractmethod
    def restore(self, backup: Backup) -> None:
        """Put the backup's configuration back and reload what depends on it (unsaved changes undone)."""

    def discard_backup(self, backup: Backup) -> None:
        """Remove the on-device copy of a backup once the job no longer needs it (none by default)."""
        return None

    # ------------------------------------------------------------------ typed getters
    @contextmanager
    def status_poll(self, needs: Collection[str] | None = None) -> Iterator[None]:
        """Within the block, getters may answer from one read of the CPE's state (verify polls with it).
        `needs`: the getters the block will ask ("pppoe", "ipv4", "ipv6", "tunnel"); None for all."""
        yield
    @abstractmethod
    def get_facts(self) -> Facts: ...

    @abstractmethod
    def get_pppoe_status(self, session: int = 1) -> PppoeStatus: ...

    @abstractmethod
    def get_ipv4_addresses(self) -> list[Ipv4Address]: ...

    @abstractmethod
    def get_ipv6_prefixes(self) -> list[Ipv6Prefix]: ...

    @abstractmethod
    def get_tunnel_status(self) -> list[TunnelStatus]: ...

    def get_wifi_status(self) -> WifiStatus:
        raise UnsupportedOperation(f"{self.platform} has no Wi-Fi")


def unified(name: str, old: str | None, new: str | None) -> str:
    """A unified diff of one file; an absent file diffs as /dev/null."""
    a = (old or "").splitlines(keepends=True)
    b = (new or "").splitlines(keepends=True)
    lines = difflib.unified_diff(
        a, b, fromfile=f"running/{name.lstrip('/')}" if old is not None else "/dev/null",
        tofile=f"intended/{name.lstrip('/')}" if new is not None else "/dev/null", lineterm="\n",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _is_remote_refusal(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and not isinstance(exc, (ConnectionError, TimeoutError))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Poll `predicate` until it returns something truthy or `timeout` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))

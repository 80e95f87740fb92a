"""Push a rendered config to one CPE as a transaction, or to many at once.

    lock → connect → read → diff → backup → apply → verify → save        (ok, or no-op when nothing differs)
                                       └── any failure or lost session ──► restore → check the restore

None of the platforms has a commit-confirmed, so the transaction is the controller's: the backup is taken
before the first change, nothing is saved before verify passed, and on any failure (a refused command, a
lost session, a failed verify or save) the backup is put back and re-read to prove it: the CPE ends either
verified and saved, or as it was, with the reason. Connection errors, and only they, are retried with
backoff (sshd MaxStartups drops banners under bulk load); nothing is ever re-pushed over a half-applied
config: a job that dies between backup and its end leaves an in-flight marker, and the next job on that CPE
restores its backup before anything else.

State (per CPE lock, in-flight markers, per-job session logs and backups, all mode 0600) lives under
`ProvisionOptions.state_dir` (default $HIKARI_STATE_DIR, else <data_dir>/provision).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

from provisioner.checks.results import StageResult
from provisioner.drivers import (
    Backup,
    ConfigSnapshot,
    ConnectError,
    CpeDriver,
    DriverError,
    Target,
    Timeouts,
    get_driver,
)
from provisioner.intent.models import DeviceIntent
from provisioner.render import RenderedConfig
from provisioner.sessionlog import JobSecrets, device_secrets, open_session_log
from provisioner.verify import DEFAULT_TIMEOUT, VerifyResult, verify

STATE_ENV = "HIKARI_STATE_DIR"

Status = Literal["ok", "no-op", "dry-run", "failed", "restored", "restore-failed"]


def default_state_dir() -> Path:
    """$HIKARI_STATE_DIR, else <data_dir>/provision (the service's data directory, see settings)."""
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    from provisioner.settings import get_settings

    return get_settings().data_dir / "provision"


@dataclass(frozen=True)
class ProvisionOptions:
    state_dir: Path = field(default_factory=default_state_dir)
    timeouts: Timeouts = field(default_factory=Timeouts)
    verify_timeout: float = DEFAULT_TIMEOUT
    connect_attempts: int = 4  # first try + retries, connection errors only
    backoff_s: float = 0.5  # doubles per retry, with jitter
    lock_wait_s: float = 60.0
    start_jitter_s: float = 0.0  # bulk: spread the SSH handshakes
    keep_backup_on_device: bool = False


class ProvisionReport(BaseModel):
    """What happened to one CPE. Never carries a secret: the diff and every detail are masked."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    cpe: str  # its management address
    customer_id: str = ""
    platform: str
    status: Status
    dry_run: bool = False
    changes: int = 0
    diff: str = ""
    unmanaged: int = 0
    verified: bool = False
    saved: bool = False
    restored: bool | None = None  # None: nothing had to be restored
    restore_verified: bool | None = None
    reason: str | None = None
    warnings: list[str] = []
    stages: list[StageResult]
    verify: VerifyResult | None = None
    session_log: str | None = None
    started_at: datetime
    elapsed_ms: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.status in ("ok", "no-op", "dry-run")

    @property
    def changed(self) -> bool:
        return self.status == "ok" and self.changes > 0


class _Failed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Run:
    """The mutable record of one transaction while it runs."""

    job_id: str
    target: Target
    t0: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    stages: list[StageResult] = field(default_factory=list)

    @contextlib.contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[dict]:
        info: dict = {"detail": detail, "evidence": {}}
        t = time.monotonic()
        try:
            yield info
        except DriverError as exc:
            self._add(name, t, False, str(exc), exc.reason, info["evidence"])
            raise _Failed(f"{name}: {exc}") from exc
        except _Failed as exc:
            self._add(name, t, False, exc.reason, info.get("reason") or "failed", info["evidence"])
            raise
        except Exception as exc:  # a bug or an unexpected answer is still this CPE's result, not a crash
            self._add(name, t, False, f"{type(exc).__name__}: {exc}", "error", info["evidence"])
            raise _Failed(f"{name}: {type(exc).__name__}: {exc}") from exc
        self._add(name, t, True, info["detail"], None, info["evidence"])

    def skipped(self, name: str, detail: str) -> None:
        self.stages.append(StageResult(name=name, ok=True, detail=detail, elapsed_ms=0.0,
                                       evidence={"skipped": True}))

    def _add(self, name: str, t: float, ok: bool, detail: str, reason: str | None, evidence: dict) -> None:
        self.stages.append(StageResult(name=name, ok=ok, detail=detail, reason=reason, evidence=evidence,
                                       elapsed_ms=round((time.monotonic() - t) * 1000, 3)))


# ---------------------------------------------------------------------- state on disk
def cpe_key(target: Target) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{target.host}_{target.port}")


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_private(path: Path, text: str) -> None:
    _private_dir(path.parent)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


class CpeLocked(DriverError):
    reason = "cpe-locked"


@contextlib.contextmanager
def cpe_lock(state_dir: Path, target: Target, wait_s: float) -> Iterator[None]:
    """One job per CPE at a time, across threads and processes (flock on a per-CPE file)."""
    path = _private_dir(state_dir / "locks") / f"{cpe_key(target)}.lock"
    with open(path, "w") as fh:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise CpeLocked(f"{target.label}: another job holds this CPE") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _inflight_path(state_dir: Path, target: Target) -> Path:
    return state_dir / "inflight" / f"{cpe_key(target)}.json"


def _box():
    """The service's SecretBox (provisioner.secrets): a backup holds the CPE's old secrets in clear."""
    from provisioner.secrets import SecretBox
    from provisioner.settings import get_settings

    return SecretBox.from_settings(get_settings())


def save_backup(path: Path, backup: Backup) -> None:
    """The job's backup on disk, encrypted at rest (mode 0600 too): what a later job restores from when
    this one dies half-way."""
    clear = json.dumps({"snapshot": backup.snapshot.model_dump(mode="json")})
    _write_private(path, json.dumps({
        "sealed": _box().encrypt(clear),
        "taken_at": backup.taken_at.isoformat(),
        "on_device": backup.on_device,
    }))


def load_backup(path: Path) -> Backup:
    data = json.loads(path.read_text(encoding="utf-8"))
    snapshot = json.loads(_box().decrypt(data["sealed"]))["snapshot"]
    return Backup(
        snapshot=ConfigSnapshot.model_validate(snapshot),
        taken_at=datetime.fromisoformat(data["taken_at"]),
        on_device=data.get("on_device"),
    )


# ---------------------------------------------------------------------- connecting
def connect_with_retry(driver: CpeDriver, attempts: int, backoff_s: float) -> int:
    """Connect; retry ConnectError only (never AuthError), with exponential backoff and jitter.
    Returns the number of attempts used."""
    for attempt in range(1, attempts + 1):
        try:
            driver.connect()
            return attempt
        except ConnectError:
            if attempt == attempts:
                raise
            time.sleep(backoff_s * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------- one CPE
def provision(
    target: Target,
    rendered: RenderedConfig,
    device: DeviceIntent,
    *,
    dry_run: bool = False,
    options: ProvisionOptions | None = None,
    job_id: str | None = None,
    secrets: JobSecrets | None = None,
    driver_factory: Callable[..., CpeDriver] | None = None,
) -> ProvisionReport:
    """Run the transaction on one CPE and report; never raises for a CPE-side problem."""
    opts = options or ProvisionOptions()
    job_id = job_id or new_job_id()
    run = _Run(job_id=job_id, target=target)
    job_secrets = (secrets or JobSecrets()).add(*device_secrets(device), target.password, target.secret)
    log_path = opts.state_dir / "jobs" / job_id / f"{cpe_key(target)}.session.log"
    session_log = open_session_log(log_path, job_secrets)
    factory = driver_factory or get_driver(target.platform)
    driver = factory(target, secrets=job_secrets, session_log=session_log, timeouts=opts.timeouts)
    tx = _Transaction(run, driver, rendered, device, opts, dry_run, job_secrets)
    try:
        if opts.start_jitter_s:
            time.sleep(random.uniform(0, opts.start_jitter_s))
        with contextlib.ExitStack() as held:
            with run.stage("lock"):
                held.enter_context(cpe_lock(opts.state_dir, target, opts.lock_wait_s))
            tx.run()
    except _Failed as exc:
        tx.reason = tx.reason or exc.reason
    finally:
        driver.close()
        session_log.close()
    return tx.report(str(log_path), rendered.customer_id)


def new_job_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]


class _Transaction:
    def __init__(self, run: _Run, driver: CpeDriver, rendered: RenderedConfig, device: DeviceIntent,
                 opts: ProvisionOptions, dry_run: bool, secrets: JobSecrets):
        self.run_ = run
        self.driver = driver
        self.rendered = rendered
        self.device = device
        self.opts = opts
        self.dry_run = dry_run
        self.secrets = secrets
        self.status: Status = "failed"
        self.reason: str | None = None
        self.changes = 0
        self.diff_text = ""
        self.unmanaged = 0
        self.verified = False
        self.saved = False
        self.restored: bool | None = None
        self.restore_verified: bool | None = None
        self.verify_result: VerifyResult | None = None
        self.backup: Backup | None = None
        self.backup_file = opts.state_dir / "jobs" / run.job_id / f"{cpe_key(run.target)}.backup.json"
        self.inflight = _inflight_path(opts.state_dir, run.target)

    # ----- the steps
    def run(self) -> None:
        stage = self.run_.stage
        with stage("connect") as st:
            n = connect_with_retry(self.driver, self.opts.connect_attempts, self.opts.backoff_s)
            st["detail"] = f"connected (attempt {n})"
        if self.dry_run and self.inflight.exists():
            self.driver.warnings.append("a previous job left this CPE half-applied; a real push restores its "
                                        "backup first")
        elif not self.dry_run:
            self._recover_half_applied()
        with stage("read") as st:
            running = self.driver.get_running_config(self.rendered)
            st["detail"] = f"{len(running.files)} managed item(s) read"
        with stage("diff") as st:
            diff = self.driver.diff(running, self.rendered)
            self.changes, self.diff_text, self.unmanaged = diff.changes, diff.text, len(diff.unmanaged)
            st["detail"] = f"{diff.changes} change(s)" + (f", {len(diff.unmanaged)} unmanaged" if diff.unmanaged else "")
        if self.dry_run:
            self.status = "dry-run"
            return
        if not diff.changed:
            self.run_.skipped("apply", "nothing to change: the CPE already runs this configuration")
            self._verify()
            self.status = "no-op" if self.verified else "failed"
            return
        with stage("backup") as st:
            self.backup = self.driver.backup(self.run_.job_id, running)
            save_backup(self.backup_file, self.backup)
            _write_private(self.inflight, json.dumps({"job_id": self.run_.job_id, "backup": str(self.backup_file)}))
            st["detail"] = f"kept {len(running.files)} item(s)" + (f"; copy on the CPE at {self.backup.on_device}"
                                                                    if self.backup.on_device else "")
        try:
            with stage("apply") as st:
                self.driver.apply(self.rendered, running)
                st["detail"] = f"{diff.changes} change(s) applied"
            self._verify()
            if not self.verified:
                raise _Failed(f"verify: {self.verify_result.reason() if self.verify_result else 'failed'}")
            with stage("save") as st:
                self.driver.save()
                st["detail"] = "nothing to save: the files are the persistent config" if self.driver.save_is_noop \
                    else "saved"
            self.saved = True
            self.status = "ok"
            self._finish()
        except _Failed as exc:
            self.reason = exc.reason
            self._restore()

    def _verify(self) -> None:
        with self.run_.stage("verify") as st:
            result = verify(self.driver, self.device, timeout=self.opts.verify_timeout)
            self.verify_result = result
            self.verified = result.ok
            st["detail"] = "; ".join(c.detail for c in result.checks) or "nothing to check"
            st["evidence"] = {c.name: c.ok for c in result.checks}
            if not result.ok:
                st["reason"] = result.failed[0].reason
                raise _Failed(f"verify: {result.reason()}")

    def _reconnect(self) -> None:
        if not self.driver.is_alive():
            self.driver.drop()
            connect_with_retry(self.driver, self.opts.connect_attempts, self.opts.backoff_s)

    def _restore(self) -> None:
        assert self.backup is not None
        self.restored, self.restore_verified = False, False
        try:
            with self.run_.stage("restore") as st:
                self._reconnect()
                self.driver.restore(self.backup)
                st["detail"] = "backup put back"
            self.restored = True
            with self.run_.stage("restore-check") as st:
                now = self.driver.snapshot_like(self.backup.snapshot)
                differs = sorted(k for k in self.backup.snapshot.files if now.files.get(k) != self.backup.snapshot.files[k])
                if differs:
                    st["evidence"] = {"differs": differs}
                    st["reason"] = "restore-mismatch"
                    raise _Failed(f"restore-check: {len(differs)} item(s) differ from the backup")
                st["detail"] = "running config identical to the backup"
            self.restore_verified = True
            self.status = "restored"
            self._finish()
        except _Failed:
            self.status = "restore-failed"

    def _recover_half_applied(self) -> None:
        """A previous job on this CPE died between its backup and its end: restore that backup first."""
        if not self.inflight.exists():
            return
        with self.run_.stage("recover") as st:
            info = json.loads(self.inflight.read_text())
            backup = load_backup(Path(info["backup"]))
            self.driver.restore(backup)
            now = self.driver.snapshot_like(backup.snapshot)
            if not now.same_as(backup.snapshot):
                st["reason"] = "recover-failed"
                raise _Failed(f"recover: job {info['job_id']} left this CPE half-applied and its backup "
                              "could not be put back")
            self.inflight.unlink()
            st["detail"] = f"restored the backup of interrupted job {info['job_id']}"

    def _finish(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.inflight.unlink()
        if self.backup and not self.opts.keep_backup_on_device:
            with contextlib.suppress(DriverError):
                self.driver.discard_backup(self.backup)

    def report(self, session_log: str, customer_id: str) -> ProvisionReport:
        if self.status == "failed" and self.reason is None:
            failed = next((s for s in self.run_.stages if not s.ok), None)
            self.reason = f"{failed.name}: {failed.detail}" if failed else "failed"
        return ProvisionReport(
            job_id=self.run_.job_id, cpe=_address(self.run_.target), customer_id=customer_id,
            platform=self.run_.target.platform, status=self.status, dry_run=self.dry_run,
            changes=self.changes, diff=self.diff_text, unmanaged=self.unmanaged,
            verified=self.verified, saved=self.saved, restored=self.restored,
            restore_verified=self.restore_verified,
            warnings=sorted(set(self.driver.warnings)),
            reason=None if self.status in ("ok", "no-op", "dry-run") else self.secrets.mask(self.reason or ""),
            stages=self.run_.stages, verify=self.verify_result, session_log=session_log,
            started_at=self.run_.started_at, elapsed_ms=round((time.monotonic() - self.run_.t0) * 1000, 3),
        )


def _address(target: Target) -> str:
    return target.host if target.port == 22 else f"{target.host}:{target.port}"


# ---------------------------------------------------------------------- many CPEs
@dataclass(frozen=True)
class ProvisionItem:
    target: Target
    rendered: RenderedConfig
    device: DeviceIntent
    secrets: JobSecrets | None = None


def provision_many(
    items: Sequence[ProvisionItem],
    *,
    concurrency: int = 50,
    dry_run: bool = False,
    options: ProvisionOptions | None = None,
    job_id: str | None = None,
    on_done: Callable[[ProvisionReport], None] | None = None,
) -> list[ProvisionReport]:
    """Every item in a bounded thread pool (each thread its own SSH session); reports in item order."""
    opts = options or ProvisionOptions()
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if not opts.start_jitter_s and len(items) > 1:
        # Spread the handshakes a little: sshd counts unauthenticated connections (MaxStartups).
        opts = dataclasses.replace(opts, start_jitter_s=0.2)
    job_id = job_id or new_job_id()
    reports: list[ProvisionReport | None] = [None] * len(items)
    with ThreadPoolExecutor(max_workers=min(concurrency, max(1, len(items)))) as pool:
        futures = {
            pool.submit(provision, it.target, it.rendered, it.device, dry_run=dry_run, options=opts,
                        job_id=job_id, secrets=it.secrets): i
            for i, it in enumerate(items)
        }
        for fut in as_completed(futures):
            report = fut.result()
            reports[futures[fut]] = report
            if on_done:
                on_done(report)
    return [r for r in reports if r is not None]


__all__ = [
    "ProvisionItem",
    "ProvisionOptions",
    "ProvisionReport",
    "connect_with_retry",
    "cpe_lock",
    "new_job_id",
    "provision",
    "provision_many",
]

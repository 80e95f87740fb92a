"""The activation pipeline as named stages: validate -> intent -> render -> reach -> push -> verify -> report.

Each stage is a function taking the job context and returning (summary, data), or raising StageFailed with
the reason. The runner times it, captures its log lines (masked), and stops at the first failure.
A dry run skips the stages that touch the CPE (reach, push, verify).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from provisioner import service
from provisioner.credentials import CredentialStore
from provisioner.intent import Intent
from provisioner.jobs import bridge
from provisioner.jobs.logs import STAGE_LOGS
from provisioner.jobs.types import ClaimedJob, JobState, Outcome, StageResult, StageStatus
from provisioner.record import LineRecord, RecordError, parse_line
from provisioner.render import RenderedConfig, RenderError
from provisioner.secrets import REDACTOR, SecretBox, SecretKeyError, secret_values, unseal
from provisioner.settings import Settings
from provisioner.store.models import utcnow

log = logging.getLogger("provisioner.job")
BANNER_MAX = 255  # RFC 4253 §4.2


class StageFailed(Exception):
    def __init__(self, summary: str, data: dict[str, Any] | None = None):
        super().__init__(summary)
        self.summary = summary
        self.data = data or {}


class LeaseLost(Exception):
    """Another worker recovered this job (this one was presumed dead): stop without writing anything."""


@dataclass
class JobContext:
    job: ClaimedJob
    settings: Settings
    box: SecretBox
    credentials: CredentialStore | None = None
    lease_lost: threading.Event = field(default_factory=threading.Event)
    record: LineRecord | None = None
    intent: Intent | None = None
    configs: list[RenderedConfig] = field(default_factory=list)
    provision: Any = None
    touched_cpe: bool = False
    verified: bool | None = None
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def cpe_id(self, role: str) -> str:
        return f"{self.job.line_id}-{role}"


def _problems(err: RecordError) -> dict[str, Any]:
    return {"problems": [p.model_dump() for p in err.problems]}


def validate(ctx: JobContext) -> tuple[str, dict[str, Any]]:
    try:
        data = unseal(ctx.job.record, ctx.box)
    except SecretKeyError as exc:
        raise StageFailed(str(exc)) from None
    try:
        ctx.record = parse_line(data, today=ctx.job.accepted_on)
    except RecordError as err:
        raise StageFailed(f"line record invalid ({len(err.problems)} problems)", _problems(err)) from None
    ctx.stack.enter_context(REDACTOR.hold(secret_values(ctx.record)))
    return "line record valid", {"customer_id": ctx.record.customer_id, "product": ctx.record.product}


def intent(ctx: JobContext) -> tuple[str, dict[str, Any]]:
    assert ctx.record is not None
    try:
        ctx.intent = service.line_intent(ctx.record)
    except RecordError as err:
        raise StageFailed(f"the line cannot have what the record asks for ({len(err.problems)} problems)",
                          _problems(err)) from None
    devices = {d.role: {"platform": d.platform, "features": sorted(d.features())}
               for d in (ctx.intent.router, ctx.intent.hgw) if d is not None}
    return f"intent for {ctx.intent.product} ({ctx.intent.family})", {"devices": devices}


def render(ctx: JobContext) -> tuple[str, dict[str, Any]]:
    assert ctx.record is not None
    try:
        ctx.configs = service.render_line(ctx.record, show_secrets=False)
    except (RenderError, LookupError, RecordError) as exc:
        raise StageFailed(f"cannot render: {exc}") from None
    data = {"configs": [
        {"cpe_id": ctx.cpe_id(c.role), "platform": c.platform, "role": c.role,
         "masked_secrets": list(c.masked_secrets), "text": c.text}
        for c in ctx.configs
    ]}
    return "rendered " + ", ".join(f"{c.role}: {c.platform}" for c in ctx.configs), data


def reach(ctx: JobContext) -> tuple[str, dict[str, Any]]:
    """The CPE's management SSH answers with a banner: a cheap, precise failure before any login."""
    assert ctx.record is not None
    mgmt = ctx.record.management
    if mgmt is None:
        raise StageFailed("the line record has no management section: no address to reach the CPE at")
    where = f"{mgmt.address}:{mgmt.port}"
    timeout = ctx.settings.reach_timeout_seconds
    log.info("connecting to %s for the SSH banner", where)
    try:
        with socket.create_connection((str(mgmt.address), mgmt.port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            banner = sock.makefile("rb").readline(BANNER_MAX)
    except TimeoutError:
        raise StageFailed(f"CPE management {where}: no SSH banner within {timeout:g} s") from None
    except OSError as exc:
        raise StageFailed(f"CPE management {where} unreachable: {exc.strerror or exc}") from None
    text = banner.decode("ascii", "replace").strip()
    text = "".join(c if c.isprintable() else "?" for c in text)[:80]
    if not text.startswith("SSH-"):
        raise StageFailed(f"CPE management {where} answers but not with SSH ({text!r})")
    return f"{where} answers: {text}", {"address": str(mgmt.address), "port": mgmt.port, "banner": text}


def push(ctx: JobContext) -> tuple[str, dict[str, Any]]:
    try:
        provision_line = bridge.service_function("provision_line")
    except bridge.NotAvailable as exc:
        raise StageFailed(f"push not available: {exc}") from None
    ctx.touched_cpe = True
    resolver = bridge.credential_resolver(ctx.credentials)  # device logins from this service's store
    options_cls = getattr(service, "ProvisionOptions", None)  # its state (backups, markers) in our data dir
    options = options_cls(state_dir=ctx.settings.data_dir / "provision") if options_cls else None
    try:
        ctx.provision = bridge.call(provision_line, ctx.record, resolver=resolver, options=options,
                                    job_id=ctx.job.id)
    except Exception as exc:
        raise StageFailed(REDACTOR.redact(f"push failed: {type(exc).__name__}: {exc}")) from None
    data = {"result": bridge.to_data(ctx.provision)}
    ok = bridge.field(ctx.provision, "ok")
    if ok is False and bridge.field(ctx.provision, "verify") is None:  # it never got as far as verifying
        reason = bridge.field(ctx.provision, "reason") or "no reason given"
        raise StageFailed(REDACTOR.redact(f"push failed: {reason}"), data)
    summary = bridge.field(ctx.provision, "summary", "status")
    return f"pushed: {summary}" if summary else "configuration pushed", data


def verify(ctx: JobContext) -> tuple[str, dict[str, Any]]:
    result = ctx.provision
    verified = bridge.field(result, "verified", "ok", "success")
    data = {"verification": bridge.to_data(bridge.field(result, "verify", "verification", "checks") or {})}
    if verified is None:
        raise StageFailed("provision_line returned no verification result (no verified/ok field)", data)
    ctx.verified = bool(verified)
    if not ctx.verified:
        reason = bridge.field(result, "reason", "error", "message") or "no reason given"
        raise StageFailed(REDACTOR.redact(f"CPE not verified: {reason}"), data)
    return "CPE verified", data


def report(ctx: JobContext) -> tuple[str, dict[str, Any]]:
    what = "verified" if ctx.verified else "rendered (dry run)" if ctx.job.dry_run else "done"
    return f"line {ctx.job.line_id} {what}", {"cpe_ids": ctx.job.cpe_ids}


StageFn = Callable[[JobContext], tuple[str, dict[str, Any]]]
STAGES: tuple[tuple[str, StageFn], ...] = (
    ("validate", validate),
    ("intent", intent),
    ("render", render),
    ("reach", reach),
    ("push", push),
    ("verify", verify),
    ("report", report),
)
DRY_RUN_SKIPS = frozenset({"reach", "push", "verify"})


def run_stage(ctx: JobContext, name: str, fn: StageFn) -> StageResult:
    started = utcnow()
    with STAGE_LOGS.capture(ctx.job.id) as lines:
        try:
            summary, data = fn(ctx)
            status = StageStatus.succeeded
        except StageFailed as exc:
            summary, data, status = exc.summary, exc.data, StageStatus.failed
        except Exception as exc:  # a bug must fail the job with a reason, not leave it running
            log.exception("stage %s crashed", name)
            summary, data, status = REDACTOR.redact(f"internal error: {type(exc).__name__}: {exc}"), {}, \
                StageStatus.failed
    (log.info if status is StageStatus.succeeded else log.warning)(
        "stage %s %s: %s", name, status.value, summary, extra={"stage": name})
    return StageResult(name=name, status=status, summary=REDACTOR.redact(summary), started_at=started,
                       finished_at=utcnow(), data=REDACTOR.redact_obj(data), log=list(lines))


class Progress:
    """What the runner reports to (the job queue)."""

    def start_stage(self, job: ClaimedJob, stage: str) -> bool: ...
    def record_stages(self, job: ClaimedJob, results: list[StageResult]) -> None: ...


def run_pipeline(ctx: JobContext, progress: Progress) -> Outcome:
    pending: list[StageResult] = []
    failed: StageResult | None = None
    with ctx.stack:
        for name, fn in STAGES:
            if ctx.job.dry_run and name in DRY_RUN_SKIPS:
                now = utcnow()
                pending.append(StageResult(name, StageStatus.skipped, "dry run", now, now))
                continue
            if ctx.lease_lost.is_set() or not progress.start_stage(ctx.job, name):
                raise LeaseLost(ctx.job.id)
            result = run_stage(ctx, name, fn)
            progress.record_stages(ctx.job, [*pending, result])
            pending = []
            if not result.ok:
                failed = result
                break
    return _outcome(ctx, failed)


def _outcome(ctx: JobContext, failed: StageResult | None) -> Outcome:
    configs = {ctx.cpe_id(c.role): c.text for c in ctx.configs}
    result = {"verified": ctx.verified, "dry_run": ctx.job.dry_run, "failed_stage": failed.name if failed else None}
    if failed is not None:
        return Outcome(state=JobState.failed, error=f"stage {failed.name} failed: {failed.summary}", result=result,
                       cpe_status="failed" if ctx.touched_cpe else None, configs=configs)
    return Outcome(state=JobState.succeeded, error=None, result=result,
                   cpe_status="verified" if ctx.verified else None, configs=configs)

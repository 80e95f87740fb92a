"""The durable job queue in the database: claim with a lease, one running job per CPE, stage events,
completion (with the webhook outbox row in the same transaction), and recovery of jobs whose worker died."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provisioner.jobs.types import ACTIVE_STATES, ClaimedJob, JobState, Outcome, StageResult, StageStatus
from provisioner.jobs.webhooks import enqueue_webhook
from provisioner.settings import Settings
from provisioner.store.audit import text_diff
from provisioner.store.db import Database
from provisioner.store.models import AuditEntry, Cpe, CpeLock, Job, JobEvent, utcnow

log = logging.getLogger(__name__)
CLAIM_WINDOW = 500  # queued jobs looked at per claim


class JobQueue:
    def __init__(self, db: Database, settings: Settings, owner: str):
        self.db = db
        self.settings = settings
        self.owner = owner
        self.lease = dt.timedelta(seconds=settings.job_lease_seconds)

    # ---- claiming ----------------------------------------------------------------------------------------------

    def claim(self) -> ClaimedJob | None:
        """The oldest queued job none of whose CPEs is busy, now leased to this worker; None if none."""
        try:
            with self.db.write() as s:
                return self._claim(s)
        except IntegrityError:  # another worker locked one of the CPEs first (PostgreSQL); try again later
            return None

    def _claim(self, s: Session) -> ClaimedJob | None:
        blocked = set(s.scalars(select(CpeLock.cpe_id)))
        rows = s.execute(
            select(Job.seq, Job.cpe_ids).where(Job.state == JobState.queued).order_by(Job.seq).limit(CLAIM_WINDOW)
        ).all()
        pick = None
        for row in rows:
            if blocked.isdisjoint(row.cpe_ids):
                pick = row
                break
            blocked.update(row.cpe_ids)  # a newer job for a busy CPE must not overtake an older one
        if pick is None:
            return None
        now = utcnow()
        claimed = s.execute(
            update(Job)
            .where(Job.seq == pick.seq, Job.state == JobState.queued)
            .values(state=JobState.running, attempt=Job.attempt + 1, lease_owner=self.owner,
                    lease_expires_at=now + self.lease, started_at=func.coalesce(Job.started_at, now),
                    stage=None, stage_started_at=None, error=None)
            .returning(Job.id, Job.attempt, Job.line_id, Job.cpe_ids, Job.record, Job.accepted_on, Job.dry_run,
                       Job.callback_url)
        ).first()
        if claimed is None:
            return None
        s.execute(CpeLock.__table__.insert(), [{"cpe_id": c, "job_id": claimed.id, "acquired_at": now}
                                               for c in claimed.cpe_ids])
        s.add(JobEvent(job_id=claimed.id, attempt=claimed.attempt, at=now, status="started",
                       message=f"claimed by worker {self.owner}"))
        return ClaimedJob(**claimed._asdict())

    # ---- progress ------------------------------------------------------------------------------------------------

    def start_stage(self, job: ClaimedJob, stage: str) -> bool:
        """Record the stage now running; False when this worker no longer holds the job."""
        with self.db.write() as s:
            n = s.execute(
                update(Job).where(Job.id == job.id, Job.lease_owner == self.owner, Job.state == JobState.running)
                .values(stage=stage, stage_started_at=utcnow())
            ).rowcount
        return n == 1

    def record_stages(self, job: ClaimedJob, results: Iterable[StageResult]) -> None:
        with self.db.write() as s:
            s.add_all(_stage_event(job, r) for r in results)

    def heartbeat(self, job_ids: list[str]) -> set[str]:
        """Extend the leases of these jobs; returns the ids this worker has lost."""
        if not job_ids:
            return set()
        with self.db.write() as s:
            kept = set(s.scalars(
                update(Job)
                .where(Job.id.in_(job_ids), Job.lease_owner == self.owner, Job.state == JobState.running)
                .values(lease_expires_at=utcnow() + self.lease)
                .returning(Job.id)
            ))
        return set(job_ids) - kept

    # ---- the end ---------------------------------------------------------------------------------------------------

    def complete(self, job: ClaimedJob, outcome: Outcome) -> bool:
        """Finish a job this worker holds; False (and nothing written) if its lease was lost meanwhile."""
        with self.db.write() as s:
            row = s.execute(
                select(Job).where(Job.id == job.id, Job.lease_owner == self.owner, Job.state == JobState.running)
            ).scalar_one_or_none()
            if row is None:
                return False
            finish(s, row, outcome, actor=f"worker:{self.owner}")
        return True

    def release(self, job: ClaimedJob, reason: str) -> None:
        """Give a job back to the queue (worker shutting down) with the reason in its events."""
        with self.db.write() as s:
            row = s.execute(
                select(Job).where(Job.id == job.id, Job.lease_owner == self.owner, Job.state == JobState.running)
            ).scalar_one_or_none()
            if row is not None:
                _requeue_or_fail(s, row, reason)

    def recover_expired(self) -> list[str]:
        """Requeue (or fail, when out of attempts) every running job whose lease ran out. Returns their ids."""
        now = utcnow()
        with self.db.write() as s:
            rows = list(s.scalars(select(Job).where(Job.state == JobState.running, Job.lease_expires_at < now)))
            for row in rows:
                stage = row.stage or "(between stages)"
                _requeue_or_fail(
                    s, row,
                    f"worker {row.lease_owner} stopped renewing its lease during stage {stage} "
                    f"(attempt {row.attempt}); presumed dead",
                )
            # Locks left by jobs that are no longer running (e.g. a crash between two statements elsewhere).
            s.execute(delete(CpeLock).where(CpeLock.job_id.not_in(
                select(Job.id).where(Job.state == JobState.running))))
        for row in rows:
            log.warning("recovered job %s: lease expired", row.id, extra={"job_id": row.id})
        return [r.id for r in rows]

    def active_count(self) -> int:
        with self.db.read() as s:
            return s.scalar(select(func.count()).select_from(Job).where(Job.state.in_(ACTIVE_STATES))) or 0


def _stage_event(job: ClaimedJob, r: StageResult) -> JobEvent:
    return JobEvent(job_id=job.id, attempt=job.attempt, at=r.finished_at, stage=r.name, status=r.status.value,
                    started_at=r.started_at, message=r.summary, data=r.data or None,
                    log="\n".join(r.log) or None)


def _requeue_or_fail(s: Session, row: Job, reason: str) -> None:
    s.execute(delete(CpeLock).where(CpeLock.job_id == row.id))
    now = utcnow()
    if row.attempt < row.max_attempts:
        row.state, row.lease_owner, row.lease_expires_at = JobState.queued.value, None, None
        row.stage = row.stage_started_at = None
        s.add(JobEvent(job_id=row.id, attempt=row.attempt, at=now, stage=None, status="requeued",
                       message=f"{reason}; re-queued for attempt {row.attempt + 1} of {row.max_attempts}"))
        return
    s.add(JobEvent(job_id=row.id, attempt=row.attempt, at=now, stage=row.stage, status="lost", message=reason))
    finish(s, row, Outcome(
        state=JobState.failed,
        error=f"{reason}; not retried: {row.attempt} of {row.max_attempts} attempts used",
        result={"verified": None, "stage": row.stage},
        cpe_status="failed",
    ), actor="recovery")


def finish(s: Session, row: Job, outcome: Outcome, *, actor: str) -> None:
    """Terminal state, CPE status and config audit, lock release and the webhook row: one transaction."""
    now = utcnow()
    row.state = outcome.state.value
    row.error = outcome.error
    row.result = outcome.result
    row.finished_at = now
    row.lease_owner = row.lease_expires_at = None
    s.execute(delete(CpeLock).where(CpeLock.job_id == row.id))
    s.add(JobEvent(job_id=row.id, attempt=row.attempt, at=now, status=outcome.state.value,
                   message=outcome.error or "done"))
    _update_cpes(s, row, outcome, now, actor)
    if row.callback_url:
        s.flush()
        enqueue_webhook(s, row)


def _update_cpes(s: Session, row: Job, outcome: Outcome, now: dt.datetime, actor: str) -> None:
    for cpe in s.scalars(select(Cpe).where(Cpe.id.in_(row.cpe_ids))):
        new_config = outcome.configs.get(cpe.id)
        if new_config is not None and not row.dry_run and outcome.state is JobState.succeeded:
            diff = text_diff(cpe.config_masked, new_config, f"{cpe.id} config")
            if diff:
                s.add(AuditEntry(at=now, actor=actor, action="cpe.config", target=cpe.id, job_id=row.id,
                                 request_id=row.request_id, diff=diff))
            cpe.config_masked = new_config
        if outcome.cpe_status and not row.dry_run:
            cpe.status = outcome.cpe_status
            if outcome.cpe_status == "verified":
                cpe.verified_at = now
        cpe.last_job_id = row.id
        cpe.updated_at = now


def job_events(s: Session, job_id: str) -> list[JobEvent]:
    return list(s.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)))


def stage_summaries(events: list[JobEvent], attempt: int) -> list[dict[str, Any]]:
    return [
        {"name": e.stage, "status": e.status, "summary": e.message}
        for e in events
        if e.attempt == attempt and e.stage and e.status in {s.value for s in StageStatus}
    ]

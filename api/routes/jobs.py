"""GET /v1/jobs/{id}: state, stages with results and masked logs, events, webhook deliveries."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from api.deps import AnyCaller, JobId, ServicesDep
from api.schemas import DeliveryAttempt, ErrorResponse, Event, JobOut, Stage, Webhook
from provisioner.jobs.queue import job_events
from provisioner.jobs.types import JobState, StageStatus
from provisioner.store.models import Job, JobEvent, WebhookAttempt
from provisioner.store.models import Webhook as WebhookRow
from provisioner.store.tokens import Role

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
STAGE_DONE = {s.value for s in StageStatus}


def _stages(job: Job, events: list[JobEvent]) -> list[Stage]:
    out = [
        Stage(name=e.stage, status=e.status, summary=e.message, started_at=e.started_at, finished_at=e.at,
              result=e.data, log=(e.log or "").splitlines())
        for e in events
        if e.attempt == job.attempt and e.stage and e.status in STAGE_DONE
    ]
    if job.state == JobState.running and job.stage and job.stage not in {s.name for s in out}:
        out.append(Stage(name=job.stage, status="running", started_at=job.stage_started_at))
    return out


@router.get("/{job_id}", response_model=JobOut, responses={401: {"model": ErrorResponse},
                                                          403: {"model": ErrorResponse},
                                                          404: {"model": ErrorResponse}})
def get_job(job_id: JobId, svc: ServicesDep, caller: AnyCaller) -> JobOut:
    """A job with its stages; the activation role sees only the jobs it created."""
    with svc.db.read() as s:
        job = s.scalar(select(Job).where(Job.id == job_id))
        if job is None or (caller.role is Role.activation and job.caller != caller.id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, {"error": "not-found", "message": f"no job {job_id}"})
        events = job_events(s, job_id)
        hook = s.scalar(select(WebhookRow).where(WebhookRow.job_id == job_id))
        attempts = list(s.scalars(select(WebhookAttempt).where(WebhookAttempt.webhook_id == hook.id)
                                  .order_by(WebhookAttempt.attempt))) if hook else []
    return JobOut(
        id=job.id, kind=job.kind, state=job.state, line_id=job.line_id, cpe_ids=job.cpe_ids, dry_run=job.dry_run,
        attempt=job.attempt, max_attempts=job.max_attempts,
        stage=job.stage if job.state == JobState.running else None, error=job.error, result=job.result,
        created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
        stages=_stages(job, events),
        events=[Event(at=e.at, attempt=e.attempt, stage=e.stage, status=e.status, message=e.message)
                for e in events],
        webhook=Webhook(url=hook.url, state=hook.state, attempts=[
            DeliveryAttempt(attempt=a.attempt, at=a.at, status_code=a.status_code, error=a.error,
                            duration_ms=a.duration_ms, next_attempt_at=a.next_attempt_at) for a in attempts
        ]) if hook else None,
    )

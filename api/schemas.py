"""Request and response bodies. Every secret in a response is the fixed mask."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints

from provisioner.record import LineRecord

CallbackUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2000, allowed_schemes=["http", "https"])]


class ActivationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: LineRecord = Field(description="the line record, as in examples/lines/*.yaml")
    callback_url: CallbackUrl | None = Field(
        default=None, description="POSTed a signed job.finished event when the job ends (X-Hikari-Signature)"
    )
    dry_run: bool = Field(default=False, description="validate, build the intent and render; touch no CPE")


class Problem(BaseModel):
    field: str
    reason: str


class ProblemReport(BaseModel):
    """422: every bad field with its reason (never the submitted value)."""

    error: str = Field(examples=["invalid-request", "line-refused"])
    problems: list[Problem]


class ErrorBody(BaseModel):
    error: str
    message: str


class ErrorResponse(BaseModel):
    detail: ErrorBody


class JobRef(BaseModel):
    id: str
    state: str
    created_at: dt.datetime
    href: str


class ActivationAccepted(BaseModel):
    job: JobRef
    replayed: bool = Field(description="true when this Idempotency-Key was seen before: the original job")


class Stage(BaseModel):
    name: str
    status: str = Field(description="running|succeeded|failed|skipped")
    summary: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    result: dict[str, Any] | None = Field(default=None, description="stage data, secrets masked")
    log: list[str] = Field(default_factory=list, description="log lines of the stage, secrets masked")


class Event(BaseModel):
    at: dt.datetime
    attempt: int
    stage: str | None
    status: str
    message: str | None


class DeliveryAttempt(BaseModel):
    attempt: int
    at: dt.datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    next_attempt_at: dt.datetime | None


class Webhook(BaseModel):
    url: str
    state: str = Field(description="pending|delivered|gave-up")
    attempts: list[DeliveryAttempt]


class JobOut(BaseModel):
    id: str
    kind: str
    state: str = Field(description="queued|running|succeeded|failed")
    line_id: str
    cpe_ids: list[str]
    dry_run: bool
    attempt: int
    max_attempts: int
    stage: str | None = Field(description="the stage running now, when running")
    error: str | None
    result: dict[str, Any] | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    stages: list[Stage] = Field(description="the current attempt's stages")
    events: list[Event] = Field(description="everything that happened to the job, all attempts")
    webhook: Webhook | None


class CpeOut(BaseModel):
    id: str
    line_id: str
    role: str
    platform: str
    model: str
    status: str = Field(description="new|verified|failed (set by jobs that touched the CPE)")
    last_job_id: str | None
    verified_at: dt.datetime | None
    updated_at: dt.datetime


class LineOut(BaseModel):
    id: str
    version: int
    accepted_on: dt.date
    record: dict[str, Any] = Field(description="the current line record, secrets masked")
    cpes: list[CpeOut]
    updated_at: dt.datetime


class RenderedConfigOut(BaseModel):
    platform: str
    role: str
    masked_secrets: list[str]
    files: dict[str, str]
    text: str


class ConfigPreview(BaseModel):
    line_id: str
    configs: list[RenderedConfigOut]


class Health(BaseModel):
    status: str
    database: str

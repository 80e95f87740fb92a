"""Job states and the typed records passed between the queue, the pipeline and the worker."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


ACTIVE_STATES = (JobState.queued.value, JobState.running.value)
TERMINAL_STATES = (JobState.succeeded.value, JobState.failed.value)


class StageStatus(StrEnum):
    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker needs to run a job it holds the lease of."""

    id: str
    attempt: int
    line_id: str
    cpe_ids: list[str]
    record: dict[str, Any]  # sealed
    accepted_on: dt.date
    dry_run: bool
    callback_url: str | None


@dataclass
class StageResult:
    name: str
    status: StageStatus
    summary: str
    started_at: dt.datetime
    finished_at: dt.datetime
    data: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status is not StageStatus.failed


@dataclass
class Outcome:
    """How a job ended, as the pipeline's last word."""

    state: JobState
    error: str | None
    result: dict[str, Any]
    cpe_status: str | None = None  # new status of the job's CPEs (None: leave unchanged)
    configs: dict[str, str] = field(default_factory=dict)  # cpe_id -> masked config rendered

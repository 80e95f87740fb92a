"""Typed results shared by every check: a check is a list of timed stages.

A stage either passed or failed with a machine-readable ``reason`` (e.g. ``no-pado``, ``auth-rejected``,
``session-limit``) that the diagnose ladder maps to a responsible party; ``detail`` is for humans and
``evidence`` carries the values seen on the wire. No secret ever goes into a result.

`CheckRecorder` times stages and turns failures into results, so a check reads as a straight sequence::

    rec = CheckRecorder("pppoe", iface)
    try:
        with rec.stage("discovery") as st:
            st.evidence["ac_name"] = ...
            if not answered:
                raise StageFailed("no-pado", "no PADO within 3 s")
    except StageFailed:
        pass                 # already recorded; later stages are skipped
    return rec.result()
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field


class StageResult(BaseModel):
    """One step of a check, with what was seen and how long it took."""

    model_config = ConfigDict(frozen=True)

    name: str
    ok: bool
    detail: str = ""
    reason: str | None = Field(default=None, description="machine-readable failure code; None when ok")
    evidence: dict[str, Any] = Field(default_factory=dict)
    elapsed_ms: float


class ProbeResult(BaseModel):
    """A whole check: its stages in the order they ran; ok only if every stage passed."""

    model_config = ConfigDict(frozen=True)

    probe: str
    iface: str | None = None
    stages: list[StageResult]
    started_at: datetime
    elapsed_ms: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return bool(self.stages) and all(stage.ok for stage in self.stages)

    @property
    def failed_stage(self) -> StageResult | None:
        """The first stage that failed (the cause; later failures are often consequences)."""
        return next((stage for stage in self.stages if not stage.ok), None)

    def stage(self, name: str) -> StageResult | None:
        return next((stage for stage in self.stages if stage.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (timestamps as ISO strings)."""
        data = self.model_dump(mode="json")
        failed = self.failed_stage
        data["failed_stage"] = failed.name if failed else None
        return data


class StageFailed(Exception):
    """Raised inside `CheckRecorder.stage` to fail that stage with a reason code."""

    def __init__(self, reason: str, detail: str, **evidence: Any) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.evidence = evidence


class StageDraft:
    """The mutable side of a running stage: fill `detail` and `evidence`, or raise StageFailed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.detail = ""
        self.evidence: dict[str, Any] = {}


class CheckRecorder:
    """Collects timed stages of one check run."""

    def __init__(self, probe: str, iface: str | None = None) -> None:
        self.probe = probe
        self.iface = iface
        self.started_at = datetime.now(UTC)
        self._t0 = time.monotonic()
        self.stages: list[StageResult] = []

    @property
    def failed(self) -> bool:
        return any(not stage.ok for stage in self.stages)

    def since_start_ms(self) -> float:
        return _ms(time.monotonic() - self._t0)

    @contextmanager
    def stage(self, name: str, *, reraise: bool = True) -> Iterator[StageDraft]:
        """Time a stage. A StageFailed (or any error) records a failed stage and re-raises as StageFailed
        unless ``reraise`` is False (for stages that must never stop the check, e.g. teardown)."""
        draft = StageDraft(name)
        t0 = time.monotonic()
        try:
            yield draft
        except StageFailed as failure:
            self._add(draft, t0, ok=False, reason=failure.reason, detail=failure.detail, extra=failure.evidence)
            if reraise:
                raise
        except Exception as exc:
            # An unexpected error is still a result of this stage, never a traceback for the technician.
            detail = f"{type(exc).__name__}: {exc}"
            self._add(draft, t0, ok=False, reason="error", detail=detail, extra={})
            if reraise:
                raise StageFailed("error", detail) from exc
        else:
            self._add(draft, t0, ok=True, reason=None, detail=draft.detail, extra={})

    def _add(self, draft: StageDraft, t0: float, *, ok: bool, reason: str | None, detail: str,
             extra: dict[str, Any]) -> None:
        self.stages.append(StageResult(
            name=draft.name, ok=ok, reason=reason, detail=detail or draft.detail,
            evidence={**draft.evidence, **extra}, elapsed_ms=_ms(time.monotonic() - t0),
        ))

    def result(self) -> ProbeResult:
        return ProbeResult(probe=self.probe, iface=self.iface, stages=list(self.stages),
                           started_at=self.started_at, elapsed_ms=self.since_start_ms())


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)

"""POST /v1/activations: validate, store one job, answer 202 at once; the worker does the rest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse

from api.deps import ActivationCaller, ServicesDep
from api.errors import problems_response
from api.schemas import ActivationAccepted, ActivationRequest, ErrorResponse, JobRef, ProblemReport
from provisioner import service
from provisioner.jobs.intake import IdempotencyConflict, Saturated, StoreUnavailable, prepare
from provisioner.jobs.logs import request_id_var
from provisioner.record import RecordError
from provisioner.secrets import REDACTOR, expose

router = APIRouter(prefix="/v1/activations", tags=["activations"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
           description="the same key again (same caller) returns the original job instead of a new one"),
]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ActivationAccepted,
    responses={
        401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
        409: {"model": ErrorResponse, "description": "Idempotency-Key reused for a different request"},
        413: {"model": ErrorResponse}, 422: {"model": ProblemReport},
        503: {"model": ErrorResponse, "description": "too many jobs waiting; retry after Retry-After seconds"},
    },
)
async def create_activation(
    body: ActivationRequest,
    request: Request,
    response: Response,
    svc: ServicesDep,
    caller: ActivationCaller,
    idempotency_key: IdempotencyKey = None,
) -> ActivationAccepted | JSONResponse:
    """Queue the activation of a line: validate → intent → render → reach → push → verify → report."""
    metrics = request.app.state.metrics
    exposed = expose(body.line)
    REDACTOR.scope(exposed.values())
    try:
        service.line_intent(body.line)  # catalog refusals are the caller's to fix: 422 now, not a failed job
    except RecordError as err:
        metrics.activations.labels("refused").inc()
        return problems_response("line-refused", err.problems, prefix="line.")
    act = prepare(body.line, box=svc.box, caller=caller, idempotency_key=idempotency_key,
                  callback_url=str(body.callback_url) if body.callback_url else None, dry_run=body.dry_run,
                  request_id=request_id_var.get(), exposed=exposed)
    try:
        accepted = await svc.intake.submit(act)
    except IdempotencyConflict as exc:
        metrics.activations.labels("conflict").inc()
        raise HTTPException(status.HTTP_409_CONFLICT, {"error": "idempotency-conflict", "message": str(exc)}) \
            from None
    except (Saturated, StoreUnavailable) as exc:
        metrics.activations.labels("saturated").inc()
        message = "too many jobs waiting" if isinstance(exc, Saturated) else "the job store is busy"
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            {"error": "saturated", "message": f"{message}; retry later with the same Idempotency-Key"},
            headers={"Retry-After": str(svc.settings.retry_after_seconds)},
        ) from None
    metrics.activations.labels("replayed" if accepted.replayed else "accepted").inc()
    href = f"/v1/jobs/{accepted.job_id}"
    response.headers["Location"] = href
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return ActivationAccepted(
        job=JobRef(id=accepted.job_id, state=accepted.state, created_at=accepted.created_at, href=href),
        replayed=accepted.replayed,
    )

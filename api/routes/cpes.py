"""CPEs: what the service knows (last job, verification) and, when available, their live status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from api.deps import AnyCaller, CpeId, OpsCaller, ServicesDep
from api.lookup import get_cpe, get_line, line_record
from api.schemas import CpeOut, ErrorResponse
from provisioner.credentials import CredentialStore
from provisioner.jobs import bridge
from provisioner.store.models import Cpe

router = APIRouter(prefix="/v1/cpes", tags=["cpes"])
ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
                                           404: {"model": ErrorResponse}}


def cpe_out(c: Cpe) -> CpeOut:
    return CpeOut(id=c.id, line_id=c.line_id, role=c.role, platform=c.platform, model=c.model, status=c.status,
                  last_job_id=c.last_job_id, verified_at=c.verified_at, updated_at=c.updated_at)


@router.get("/{cpe_id}", response_model=CpeOut, responses=ERRORS)
def get_cpe_route(cpe_id: CpeId, svc: ServicesDep, caller: AnyCaller) -> CpeOut:
    with svc.db.read() as s:
        return cpe_out(get_cpe(s, cpe_id))


@router.get("/{cpe_id}/status", responses={**ERRORS, 409: {"model": ErrorResponse},
                                           501: {"model": ErrorResponse}})
def cpe_status(cpe_id: CpeId, svc: ServicesDep, caller: OpsCaller) -> dict[str, Any]:
    """Live status read from the CPE (sessions, prefixes, uptime), secrets masked."""
    try:
        status_fn = bridge.service_function("cpe_status")
    except bridge.NotAvailable as exc:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, {"error": "not-available", "message": str(exc)}) \
            from None
    with svc.db.read() as s:
        cpe = get_cpe(s, cpe_id)
        record = line_record(get_line(s, cpe.line_id), svc.box)
    store = CredentialStore(svc.db, svc.box)
    try:
        live = bridge.call(status_fn, record, role=cpe.role, resolver=bridge.credential_resolver(store),
                           credentials=store)
    except ValueError as exc:  # service.ProvisionError: no management session, no credential for it
        raise HTTPException(status.HTTP_409_CONFLICT, {"error": "no-live-status", "message": str(exc)}) \
            from None
    return {"cpe": cpe_out(cpe).model_dump(mode="json"), "status": bridge.to_data(live)}

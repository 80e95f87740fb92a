"""Lines: the stored record (masked), a render preview, and diagnosis."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.deps import AnyCaller, LineId, OpsCaller, ServicesDep
from api.errors import problems_response
from api.lookup import get_line, line_record
from api.routes.cpes import cpe_out
from api.schemas import ConfigPreview, ErrorResponse, LineOut, ProblemReport, RenderedConfigOut
from provisioner import service
from provisioner.credentials import CredentialStore
from provisioner.jobs import bridge
from provisioner.jobs.logs import request_id_var
from provisioner.record import FieldProblem, RecordError
from provisioner.render import RenderError, platforms
from provisioner.secrets import mask_sealed
from provisioner.store.models import AuditEntry, Cpe, utcnow

router = APIRouter(prefix="/v1/lines", tags=["lines"])
ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
                                           404: {"model": ErrorResponse}}


@router.get("/{line_id}", response_model=LineOut, responses=ERRORS)
def get_line_route(line_id: LineId, svc: ServicesDep, caller: AnyCaller) -> LineOut:
    """The line's current record (secrets masked) and its CPEs."""
    with svc.db.read() as s:
        line = get_line(s, line_id)
        cpes = list(s.scalars(select(Cpe).where(Cpe.line_id == line_id).order_by(Cpe.id)))
    return LineOut(id=line.id, version=line.version, accepted_on=line.accepted_on, record=mask_sealed(line.record),
                   cpes=[cpe_out(c) for c in cpes], updated_at=line.updated_at)


@router.get("/{line_id}/config", response_model=ConfigPreview,
            responses={**ERRORS, 409: {"model": ErrorResponse}, 422: {"model": ProblemReport}})
def preview_config(
    line_id: LineId,
    svc: ServicesDep,
    caller: OpsCaller,
    platform: Annotated[str | None, Query(pattern=r"^[a-z0-9\-]{1,32}$",
                                          description="render for this platform; default: the line's own")] = None,
) -> ConfigPreview | JSONResponse:
    """What the CPE would get, secrets masked."""
    if platform is not None and platform not in platforms():
        known = ", ".join(sorted(platforms())) or "(none registered)"
        return problems_response("invalid-request", [FieldProblem(
            field="query.platform", reason=f"unknown platform {platform!r}; known: {known}")])
    with svc.db.read() as s:
        record = line_record(get_line(s, line_id), svc.box)
    try:
        configs = service.render_line(record, platform, show_secrets=False)
    except RecordError as err:
        return problems_response("line-refused", err.problems, prefix="line.")
    except (RenderError, LookupError) as exc:
        return problems_response("cannot-render", [FieldProblem(field="platform", reason=str(exc))])
    return ConfigPreview(line_id=line_id, configs=[
        RenderedConfigOut(platform=c.platform, role=c.role, masked_secrets=list(c.masked_secrets),
                          files=dict(c.files), text=c.text) for c in configs
    ])


@router.post("/{line_id}/diagnose", responses={**ERRORS, 409: {"model": ErrorResponse},
                                               501: {"model": ErrorResponse}})
def diagnose(line_id: LineId, svc: ServicesDep, caller: OpsCaller) -> dict[str, Any]:
    """Run the diagnosis ladder for the line and name the responsible party."""
    try:
        diagnose_line = bridge.service_function("diagnose_line")
    except bridge.NotAvailable as exc:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, {"error": "not-available", "message": str(exc)}) \
            from None
    with svc.db.read() as s:
        record = line_record(get_line(s, line_id), svc.box)
    store = CredentialStore(svc.db, svc.box)
    result = bridge.to_data(bridge.call(diagnose_line, record, resolver=bridge.credential_resolver(store),
                                        credentials=store))
    with svc.db.write() as s:
        s.add(AuditEntry(at=utcnow(), actor=caller.id, role=caller.role.value, action="line.diagnose",
                         target=line_id, request_id=request_id_var.get()))
    return {"line_id": line_id, "result": result}

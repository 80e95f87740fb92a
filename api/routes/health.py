"""/healthz (unauthenticated, for probes; says nothing but ok), /metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from api.deps import AnyCaller, NocCaller, ServicesDep
from api.schemas import Health

router = APIRouter(tags=["service"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(svc: ServicesDep) -> Health | JSONResponse:
    # SELECT 1 on the pool is well under a millisecond: not worth a thread hop.
    try:
        with svc.db.read() as s:
            s.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse(Health(status="unavailable", database="unreachable").model_dump(), status_code=503)
    return Health(status="ok", database="ok")


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request, caller: NocCaller) -> Response:
    """Prometheus exposition (noc, admin)."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, caller: AnyCaller) -> dict[str, Any]:
    return request.app.openapi()

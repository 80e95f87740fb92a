"""Error bodies: 422 lists every bad field (never the submitted value, which may be a secret)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from provisioner.record import FieldProblem


def _field(loc: Sequence[Any]) -> str:
    where, *rest = loc or ("(request)",)
    if where == "body":
        return ".".join(str(p) for p in rest) or "(body)"
    return ".".join(str(p) for p in (where, *rest))


def _reason(err: dict[str, Any]) -> str:
    if err.get("type") == "json_invalid":
        return "the body is not valid JSON"
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")


def problems_response(error: str, problems: Iterable[FieldProblem], prefix: str = "") -> JSONResponse:
    body = {"error": error, "problems": [{"field": prefix + p.field, "reason": p.reason} for p in problems]}
    return JSONResponse(body, status_code=422)


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [FieldProblem(field=_field(e.get("loc", ())), reason=_reason(e)) for e in exc.errors()]
    return problems_response("invalid-request", problems)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]

"""Typed dependencies: routes read as `def get_job(job_id: JobId, svc: ServicesDep, caller: AnyCaller)`.

They are coroutines so that FastAPI does not hop to a thread for each (a hop costs more than they do); the
token check asks the database only on a cache miss."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.services import AppServices
from provisioner.secrets import REDACTOR
from provisioner.store.tokens import Role, TokenInfo

bearer = HTTPBearer(auto_error=False, description="API token (`provisioner tokens create --role R`)")


async def get_services(request: Request) -> AppServices:
    return request.app.state.services


ServicesDep = Annotated[AppServices, Depends(get_services)]


def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> TokenInfo:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, {"error": "unauthenticated",
                            "message": "send Authorization: Bearer <token>"},
                            headers={"WWW-Authenticate": "Bearer"})
    REDACTOR.scope([credentials.credentials])  # the token itself is a secret in this request's logs
    info = request.app.state.services.tokens.verify(credentials.credentials)
    if info is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, {"error": "unauthenticated",
                            "message": "unknown or revoked token"},
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    request.state.caller = info
    return info


def require(*roles: Role):
    allowed = frozenset(roles) | {Role.admin}

    async def check(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> TokenInfo:
        caller = authenticate(request, credentials)  # a plain call: one dependency less to solve
        if caller.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, {
                "error": "forbidden",
                "message": f"role {caller.role.value} may not do this; allowed: "
                           + ", ".join(sorted(r.value for r in allowed)),
            })
        return caller

    return check


AnyCaller = Annotated[TokenInfo, Depends(require(*Role))]
ActivationCaller = Annotated[TokenInfo, Depends(require(Role.activation))]
OpsCaller = Annotated[TokenInfo, Depends(require(Role.noc, Role.technician))]
NocCaller = Annotated[TokenInfo, Depends(require(Role.noc))]

LineId = Annotated[str, Path(pattern=r"^(CAF|COP)\d{8}$", description="お客様ID, e.g. CAF12345678")]
CpeId = Annotated[str, Path(pattern=r"^(CAF|COP)\d{8}-(router|hgw)$", description="<お客様ID>-<router|hgw>")]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="job id (32 hex digits)")]

"""The FastAPI app: `create_app()` builds it over the service layer; `provisioner serve` runs it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.routing import APIRoute

import provisioner
from api import errors
from api.metrics import Metrics
from api.middleware import RequestContextMiddleware
from api.routes import activations, cpes, health, jobs, lines
from api.services import AppServices, TokenCache
from provisioner.jobs.intake import Intake
from provisioner.jobs.logs import configure_logging
from provisioner.jobs.worker import Worker
from provisioner.secrets import SecretBox
from provisioner.settings import Settings, get_settings
from provisioner.store.db import open_database

log = logging.getLogger(__name__)

DESCRIPTION = """Activation API of hikari-provisioner.

The order system POSTs a line record to `/v1/activations` and gets a job at once (202). The job runs
validate → intent → render → reach → push → verify → report in a worker; follow it at `/v1/jobs/{id}` or
receive a signed `job.finished` webhook. Every route but `/healthz` needs `Authorization: Bearer <token>`;
roles: activation, noc, technician, admin. Secrets are masked in every response.
"""


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        db = open_database(settings)
        box = SecretBox.from_settings(settings)
        worker = Worker(settings, db, box) if settings.embedded_worker else None
        intake = Intake(db, settings, box, on_queued=worker.wake if worker else None)
        app.state.services = AppServices(settings=settings, db=db, box=box, intake=intake, worker=worker,
                                         tokens=TokenCache(db, settings.token_cache_seconds))
        intake.start()
        if worker:
            worker.start()
        log.info("API ready on %s (embedded worker: %s)", settings.sqlalchemy_url.split("://")[0],
                 "on" if worker else "off")
        try:
            yield
        finally:
            intake.stop()
            if worker:
                worker.stop()
            db.dispose()

    app = FastAPI(
        title="hikari-provisioner",
        version=provisioner.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,  # served by health.openapi, behind a token
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=_operation_id,
    )
    app.state.metrics = Metrics(lambda: app.state.services.db)
    app.add_middleware(RequestContextMiddleware, max_body=settings.max_request_bytes, metrics=app.state.metrics)
    errors.install(app)
    for module in (activations, jobs, lines, cpes, health):
        app.include_router(module.router)
    return app


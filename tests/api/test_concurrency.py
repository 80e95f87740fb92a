"""1,000 concurrent activations through a real server: 1,000 jobs, none lost or duplicated, all terminal."""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import func, select

from provisioner.jobs.types import TERMINAL_STATES
from provisioner.store.db import Database
from provisioner.store.models import Job, JobEvent
from provisioner.store.tokens import Role, create_token
from tests.api.conftest import line
from tests.api.helpers import served_api

N = 1000
RETRIED = 200  # requests sent twice, as a client does after a lost response


async def _fire(base: str, token: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=httpx.Timeout(60, pool=None),
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        async def one(i: int) -> httpx.Response:
            # As the order system does: a request whose answer was lost is sent again with the same key.
            for attempt in range(5):
                try:
                    return await client.post("/v1/activations",
                                             json={"line": line(f"CAF{i:08d}"), "dry_run": True},
                                             headers={"Idempotency-Key": f"order-{i}"})
                except httpx.TransportError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.1)
            raise AssertionError("unreachable")

        return await asyncio.gather(*(one(i) for i in [*range(N), *range(RETRIED)]))


def test_thousand_concurrent_activations(settings):
    # The default lease: under this load a 3 s lease can lapse and the job run twice (harmless for dry runs,
    # but not what this test is about).
    settings = settings.model_copy(update={"worker_concurrency": 8, "job_lease_seconds": 30})
    with served_api(settings) as base:
        db = Database.from_settings(settings)
        _, token = create_token(db, Role.activation, "load")
        responses = asyncio.run(_fire(base, token))
        assert [r.status_code for r in responses] == [202] * (N + RETRIED)
        ids = [r.json()["job"]["id"] for r in responses]
        assert len(set(ids[:N])) == N, "one distinct job per activation"
        assert ids[N:] == ids[:RETRIED], "a retried key returns the job of the first request"

        deadline = time.monotonic() + 240
        while True:
            with db.read() as s:
                active = s.scalar(select(func.count()).select_from(Job).where(Job.state.not_in(TERMINAL_STATES)))
            if active == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)

    with db.read() as s:
        states = dict(s.execute(select(Job.state, func.count()).group_by(Job.state)).all())
        assert states == {"succeeded": N}, states
        assert set(s.scalars(select(Job.id))) == set(ids[:N])
        # Each job ran exactly once: one acceptance, one claim, one end.
        per_job = s.execute(select(JobEvent.status, func.count()).where(
            JobEvent.status.in_(["accepted", "started", "succeeded"]), JobEvent.stage.is_(None)
        ).group_by(JobEvent.status)).all()
        assert dict(per_job) == {"accepted": N, "started": N, "succeeded": N}
        assert s.scalar(select(func.max(Job.attempt))) == 1
    db.dispose()

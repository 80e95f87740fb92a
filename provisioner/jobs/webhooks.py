"""Webhooks: a job's callback is an outbox row written with its terminal state; a dispatcher POSTs it,
signed with HMAC-SHA256, and retries with exponential backoff, logging every attempt.

Signature header: `X-Hikari-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>." + body)>`; the
receiver checks it with `verify_signature()` (also rejecting stale timestamps, against replays).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import threading
import time
from typing import Any

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from provisioner.settings import Settings
from provisioner.store.db import Database
from provisioner.store.models import Job, JobEvent, Webhook, WebhookAttempt, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hikari-Signature"
DELIVERY_HEADER = "X-Hikari-Delivery"
EVENT = "job.finished"
STAGE_STATUSES = {"succeeded", "failed", "skipped"}


def sign(key: bytes, body: bytes, timestamp: int) -> str:
    mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(key: bytes, header: str, body: bytes, *, tolerance: float = 300, now: float | None = None) -> bool:
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(key, body, timestamp).split("v1=", 1)[1], given)


def backoff_delay(settings: Settings, failures: int, rand: random.Random | None = None) -> float:
    """Seconds to wait after the `failures`-th failed attempt (1-based)."""
    base = settings.webhook_backoff_seconds * settings.webhook_backoff_factor ** (failures - 1)
    delay = min(base, settings.webhook_backoff_max_seconds)
    return delay * (1 + settings.webhook_jitter * (rand or random).random())


def webhook_body(job: Job, events: list[JobEvent]) -> str:
    stages = [
        {"name": e.stage, "status": e.status, "summary": e.message}
        for e in events
        if e.attempt == job.attempt and e.stage and e.status in STAGE_STATUSES
    ]
    payload = {
        "event": EVENT,
        "job": {
            "id": job.id,
            "state": job.state,
            "line_id": job.line_id,
            "cpe_ids": job.cpe_ids,
            "dry_run": job.dry_run,
            "error": job.error,
            "result": job.result,
            "attempt": job.attempt,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "stages": stages,
        },
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def enqueue_webhook(s: Session, job: Job) -> None:
    """Called inside the transaction that finishes the job, so a finished job always has its webhook."""
    events = list(s.scalars(select(JobEvent).where(JobEvent.job_id == job.id).order_by(JobEvent.id)))
    now = utcnow()
    s.add(Webhook(job_id=job.id, url=job.callback_url, body=webhook_body(job, events), state="pending",
                  attempts=0, next_attempt_at=now, created_at=now))


class Dispatcher:
    """Delivers due webhooks; several dispatchers (processes) may run, a lease keeps each row to one."""

    def __init__(self, db: Database, settings: Settings, key: bytes, *, transport: httpx.BaseTransport | None = None):
        self.db = db
        self.settings = settings
        self.key = key
        self.client = httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False,
                                   transport=transport, headers={"User-Agent": "hikari-provisioner-webhook/1"})
        self.wake = threading.Event()

    def close(self) -> None:
        self.client.close()

    def due(self, limit: int = 50) -> list[int]:
        now = utcnow()
        with self.db.read() as s:
            return list(s.scalars(
                select(Webhook.id)
                .where(Webhook.state == "pending", Webhook.next_attempt_at <= now,
                       or_(Webhook.lease_expires_at.is_(None), Webhook.lease_expires_at < now))
                .order_by(Webhook.next_attempt_at).limit(limit)
            ))

    def _lease(self, webhook_id: int) -> Webhook | None:
        now = utcnow()
        hold = dt.timedelta(seconds=self.settings.webhook_timeout_seconds * 2 + 5)
        with self.db.write() as s:
            n = s.execute(
                update(Webhook)
                .where(Webhook.id == webhook_id, Webhook.state == "pending",
                       or_(Webhook.lease_expires_at.is_(None), Webhook.lease_expires_at < now))
                .values(lease_expires_at=now + hold)
            ).rowcount
            return s.get(Webhook, webhook_id) if n else None

    def deliver(self, webhook_id: int) -> bool | None:
        """One attempt; True delivered, False failed (retry or gave up), None if another dispatcher has it."""
        hook = self._lease(webhook_id)
        if hook is None:
            return None
        body = hook.body.encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.key, body, timestamp),
            DELIVERY_HEADER: f"{hook.id}.{hook.attempts + 1}",
        }
        started = time.perf_counter()
        status, error = None, None
        try:
            response = self.client.post(hook.url, content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration_ms = (time.perf_counter() - started) * 1000
        return self._record(hook, status, error, duration_ms)

    def _record(self, hook: Webhook, status: int | None, error: str | None, duration_ms: float) -> bool:
        now = utcnow()
        attempt = hook.attempts + 1
        values: dict[str, Any] = {"attempts": attempt, "lease_expires_at": None}
        next_at = None
        if error is None:
            values.update(state="delivered", delivered_at=now)
        elif attempt >= self.settings.webhook_max_attempts:
            values.update(state="gave-up")
        else:
            next_at = now + dt.timedelta(seconds=backoff_delay(self.settings, attempt))
            values.update(next_attempt_at=next_at)
        with self.db.write() as s:
            s.execute(update(Webhook).where(Webhook.id == hook.id).values(**values))
            s.add(WebhookAttempt(webhook_id=hook.id, attempt=attempt, at=now, status_code=status, error=error,
                                 duration_ms=round(duration_ms, 2), next_attempt_at=next_at))
        extra = {"job_id": hook.job_id, "webhook_id": hook.id, "attempt": attempt, "status_code": status}
        if error is None:
            log.info("webhook delivered", extra=extra)
        else:
            log.warning("webhook attempt failed: %s%s", error,
                        "; giving up" if next_at is None else f"; next try at {next_at.isoformat()}", extra=extra)
        return error is None

    def run_once(self) -> int:
        delivered = 0
        for webhook_id in self.due():
            delivered += bool(self.deliver(webhook_id))
        return delivered

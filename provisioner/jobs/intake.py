"""The accept path of activations: validate (done by the caller), then one short insert, then 202.

A single writer thread takes the activations of all concurrent requests and commits them in batches
(group commit): on SQLite that turns many tiny write transactions into few, which is what makes a thousand
concurrent activations cheap. Each batch also applies the idempotency rule (one job per caller and
Idempotency-Key) and admission control (at most `max_active_jobs` queued + running, else 503).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from provisioner.jobs.types import ACTIVE_STATES, JobState
from provisioner.record import LineRecord
from provisioner.secrets import (
    Exposed,
    SecretBox,
    expose,
    fingerprint_sealed,
    fingerprinted_dump,
    request_digest,
    sealed_dump,
)
from provisioner.service import HGW_PLATFORM
from provisioner.settings import Settings
from provisioner.store.audit import data_diff
from provisioner.store.db import Database
from provisioner.store.models import AuditEntry, Cpe, Job, JobEvent, Line, utcnow
from provisioner.store.tokens import TokenInfo
from provisioner.store.upsert import upsert

log = logging.getLogger(__name__)
MAX_BATCH = 256
MAX_PENDING = 4096  # activations waiting for the writer; beyond that, 503 at once
# Under load, wait this long after the first activation for more to join its transaction: each transaction
# has a fixed cost (statements, commit) that a bigger batch shares. Idle, the first one commits at once.
BATCH_WINDOW = float(os.environ.get("HKL_BATCH_WINDOW", "0.003"))


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before by this caller for a different request."""

    def __init__(self, job_id: str):
        super().__init__(f"Idempotency-Key already used for a different request (job {job_id})")
        self.job_id = job_id


class Saturated(Exception):
    """Too many jobs waiting: come back later (503 + Retry-After)."""


class StoreUnavailable(Exception):
    """The database could not take the write (locked too long, gone)."""


@dataclass(frozen=True)
class Activation:
    line_id: str
    cpes: tuple[tuple[str, str, str, str], ...]  # (cpe_id, role, platform, model)
    sealed: dict[str, Any]
    audit_view: dict[str, Any]
    caller: TokenInfo
    idempotency_key: str | None
    digest: str
    callback_url: str | None
    dry_run: bool
    request_id: str | None
    accepted_on: dt.date


@dataclass(frozen=True)
class Accepted:
    job_id: str
    state: str
    created_at: dt.datetime
    replayed: bool


def line_cpes(record: LineRecord) -> tuple[tuple[str, str, str, str], ...]:
    eq = record.equipment
    out = []
    if eq.router:
        out.append((f"{record.customer_id}-router", "router", eq.router.platform, eq.router.model))
    if eq.hgw:
        out.append((f"{record.customer_id}-hgw", "hgw", HGW_PLATFORM, eq.hgw.model))
    return tuple(out)


def prepare(record: LineRecord, *, box: SecretBox, caller: TokenInfo, idempotency_key: str | None,
            callback_url: str | None, dry_run: bool, request_id: str | None,
            today: dt.date | None = None, exposed: Exposed | None = None) -> Activation:
    """The CPU part of accepting (encryption, digests), done in the request before the insert."""
    exposed = exposed or expose(record)
    return Activation(
        line_id=record.customer_id,
        cpes=line_cpes(record),
        sealed=sealed_dump(exposed, box),
        audit_view=fingerprinted_dump(exposed, box),
        caller=caller,
        idempotency_key=idempotency_key,
        digest=request_digest(exposed, box, callback_url=callback_url, dry_run=dry_run),
        callback_url=callback_url,
        dry_run=dry_run,
        request_id=request_id,
        accepted_on=today or dt.date.today(),
    )


class Intake:
    def __init__(self, db: Database, settings: Settings, box: SecretBox,
                 on_queued: Callable[[], None] | None = None):
        self.db = db
        self.settings = settings
        self.box = box
        self.on_queued = on_queued
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._busy = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._writer, name="intake-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread:
            self._q.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    async def submit(self, act: Activation) -> Accepted:
        if self._q.qsize() >= MAX_PENDING:
            raise Saturated()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Accepted] = loop.create_future()
        self._q.put((act, fut, loop))
        return await fut

    def submit_now(self, act: Activation) -> Accepted:
        """Synchronous accept in the caller's thread (CLI, tests)."""
        result = self._commit([act])[0]
        if isinstance(result, Exception):
            raise result
        return result

    # ---- the writer --------------------------------------------------------------------------------------------

    def _writer(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            batch = [item]
            if self._busy:
                time.sleep(BATCH_WINDOW)
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._q.put(None)
                    break
                batch.append(nxt)
            self._busy = len(batch) > 1
            try:
                results = self._commit([act for act, _, _ in batch])
            except Exception as exc:  # never leave a request waiting on a dead writer
                log.exception("activation batch failed")
                results = [StoreUnavailable(type(exc).__name__) for _ in batch]
            for (_, fut, loop), res in zip(batch, results, strict=True):
                loop.call_soon_threadsafe(_settle, fut, res)

    def _commit(self, acts: list[Activation]) -> list[Accepted | Exception]:
        try:
            results = self._commit_batch(acts)
        except IntegrityError:
            # Another API process took one of the same Idempotency-Keys meanwhile: settle one by one.
            results = [self._commit_one(a) for a in acts]
        except OperationalError as exc:
            log.error("activation batch not stored: %s", exc.orig)
            results = [StoreUnavailable(str(exc.orig)) for _ in acts]
        if self.on_queued and any(isinstance(r, Accepted) and not r.replayed for r in results):
            self.on_queued()
        return results

    def _commit_one(self, act: Activation) -> Accepted | Exception:
        for _ in range(2):  # the second round sees the other process's row and replays it
            try:
                return self._commit_batch([act])[0]
            except IntegrityError:
                continue
            except OperationalError as exc:
                return StoreUnavailable(str(exc.orig))
        log.error("activation for %s not stored: integrity error persists", act.line_id)
        return StoreUnavailable("integrity error")

    def _commit_batch(self, acts: list[Activation]) -> list[Accepted | Exception]:
        with self.db.write() as s:
            return _apply(s, acts, self.settings, self.box)


def _settle(fut: asyncio.Future[Accepted], res: Accepted | Exception) -> None:
    if fut.cancelled():
        return
    if isinstance(res, Exception):
        fut.set_exception(res)
    else:
        fut.set_result(res)


# Built once: constructing statements costs more than running them on this path.
_KNOWN_KEYS = select(Job.caller, Job.idempotency_key, Job.id, Job.state, Job.created_at, Job.request_digest).where(
    Job.idempotency_key.in_(bindparam("keys", expanding=True)))
_ACTIVE = select(func.count()).select_from(Job).where(Job.state.in_(ACTIVE_STATES))
_OLD_LINES = select(Line.id, Line.record, Line.version).where(Line.id.in_(bindparam("ids", expanding=True)))
_INSERT_JOB = Job.__table__.insert()
_INSERT_EVENT = JobEvent.__table__.insert()
_INSERT_AUDIT = AuditEntry.__table__.insert()


def _apply(session: Session, acts: list[Activation], settings: Settings, box: SecretBox) -> list[Accepted | Exception]:
    s = session.connection()  # Core statements on the connection: the ORM layer costs more than they do
    now = utcnow()
    keys = {a.idempotency_key for a in acts if a.idempotency_key}
    known: dict[tuple[str, str], Any] = {}
    if keys:  # by key alone (indexed through the unique constraint), then per caller here
        known = {(r.caller, r.idempotency_key): r for r in s.execute(_KNOWN_KEYS, {"keys": list(keys)})}
    active = s.scalar(_ACTIVE) or 0

    results: list[Accepted | Exception] = []
    new: list[tuple[Activation, str]] = []
    for act in acts:
        key = (act.caller.id, act.idempotency_key) if act.idempotency_key else None
        prior = known.get(key) if key else None
        if prior is not None:
            if prior.request_digest != act.digest:
                results.append(IdempotencyConflict(prior.id))
            else:
                results.append(Accepted(prior.id, prior.state, prior.created_at, replayed=True))
            continue
        if active >= settings.max_active_jobs:
            results.append(Saturated())
            continue
        active += 1
        job_id = uuid.uuid4().hex
        new.append((act, job_id))
        accepted = Accepted(job_id, JobState.queued.value, now, replayed=False)
        results.append(accepted)
        if key:
            known[key] = _Row(caller=key[0], idempotency_key=key[1], id=job_id, state=accepted.state,
                              created_at=now, request_digest=act.digest)
    if new:
        _insert(s, new, now, settings, box)
    return results


@dataclass
class _Row:
    caller: str
    idempotency_key: str
    id: str
    state: str
    created_at: dt.datetime
    request_digest: str


def _insert(s: Connection, new: list[tuple[Activation, str]], now: dt.datetime, settings: Settings,
            box: SecretBox) -> None:
    line_ids = {a.line_id for a, _ in new}
    old = {r.id: r for r in s.execute(_OLD_LINES, {"ids": list(line_ids)})}
    lines: dict[str, dict[str, Any]] = {}
    audits = []
    for act, job_id in new:  # in order: the last activation of a line in the batch is its current record
        prev = lines.get(act.line_id)
        prev_view = prev["_view"] if prev else (fingerprint_sealed(old[act.line_id].record, box)
                                                if act.line_id in old else None)
        version = prev["version"] + 1 if prev else (old[act.line_id].version + 1 if act.line_id in old else 1)
        lines[act.line_id] = {"id": act.line_id, "record": act.sealed, "accepted_on": act.accepted_on,
                              "version": version, "created_at": now, "updated_at": now, "_view": act.audit_view}
        audits.append({
            "at": now, "actor": act.caller.id, "role": act.caller.role.value, "action": "activation.accept",
            "target": act.line_id, "request_id": act.request_id, "job_id": job_id,
            # A new line's record goes whole into detail (cheap); a change is a unified diff.
            "diff": data_diff(prev_view, act.audit_view, f"line {act.line_id} record") if prev_view else None,
            "detail": {"dry_run": act.dry_run, "idempotency_key": act.idempotency_key,
                       "callback_url": act.callback_url, "record_version": version,
                       **({} if prev_view else {"record": act.audit_view})},
        })
    line_rows = [{k: v for k, v in row.items() if k != "_view"} for row in lines.values()]
    upsert(s, Line.__table__, line_rows, ["id"], keep=["created_at"])
    cpes = {c[0]: {"id": c[0], "line_id": a.line_id, "role": c[1], "platform": c[2], "model": c[3],
                   "updated_at": now} for a, _ in new for c in a.cpes}
    upsert(s, Cpe.__table__, list(cpes.values()), ["id"])
    s.execute(_INSERT_JOB, [{
        "id": job_id, "kind": "activation", "state": JobState.queued.value, "line_id": act.line_id,
        "cpe_ids": [c[0] for c in act.cpes], "record": act.sealed, "accepted_on": act.accepted_on,
        "dry_run": act.dry_run, "caller": act.caller.id, "idempotency_key": act.idempotency_key,
        "request_digest": act.digest, "callback_url": act.callback_url, "request_id": act.request_id,
        "attempt": 0, "max_attempts": settings.job_max_attempts, "created_at": now,
    } for act, job_id in new])
    s.execute(_INSERT_EVENT, [{
        "job_id": job_id, "attempt": 0, "at": now, "status": "accepted",
        "message": f"accepted from {act.caller.name} ({act.caller.role.value})"
                   + (" as a dry run" if act.dry_run else ""),
    } for act, job_id in new])
    s.execute(_INSERT_AUDIT, audits)

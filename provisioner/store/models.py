"""The tables: lines, CPEs, jobs and their events, CPE locks, webhooks, the audit log, API tokens, and
device credentials. Secrets never sit in clear in any column."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite has no BIGINT autoincrement; INTEGER PRIMARY KEY is its rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out, also on SQLite (which stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Line(Base):
    __tablename__ = "lines"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # お客様ID
    record: Mapped[dict[str, Any]] = mapped_column(JSON)  # secrets sealed as {"$enc": token}
    accepted_on: Mapped[dt.date] = mapped_column(Date)  # the order date its record is validated against
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class Cpe(Base):
    __tablename__ = "cpes"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # <customer_id>-<role>
    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="new")  # new|provisioning|verified|failed
    last_job_id: Mapped[str | None] = mapped_column(String(32))
    verified_at: Mapped[dt.datetime | None]
    config_masked: Mapped[str | None] = mapped_column(Text)  # last rendered config, secrets masked
    updated_at: Mapped[dt.datetime]


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        # Key first: the accept path looks keys up by key alone.
        UniqueConstraint("idempotency_key", "caller", name="uq_jobs_idempotency_key_caller"),
        Index("ix_jobs_state_seq", "state", "seq"),
        Index("ix_jobs_line_id", "line_id"),
    )
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # queued|running|succeeded|failed
    line_id: Mapped[str] = mapped_column(String(16))
    cpe_ids: Mapped[list[Any]] = mapped_column(JSON)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)  # the record as accepted, secrets sealed
    accepted_on: Mapped[dt.date] = mapped_column(Date)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    caller: Mapped[str] = mapped_column(String(32))  # API token id
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_digest: Mapped[str | None] = mapped_column(String(64))
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    request_id: Mapped[str | None] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str | None] = mapped_column(String(32))
    stage_started_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class CpeLock(Base):
    """One running job per CPE: the primary key makes a second claim fail."""

    __tablename__ = "cpe_locks"
    cpe_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    acquired_at: Mapped[dt.datetime]


class JobEvent(Base):
    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime]
    stage: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # accepted|succeeded|failed|skipped|recovered|...
    started_at: Mapped[dt.datetime | None]
    message: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # stage result, secrets masked
    log: Mapped[str | None] = mapped_column(Text)  # captured log lines, secrets masked


class Webhook(Base):
    """The outbox: one delivery per finished job with a callback; attempts are logged in webhook_attempts."""

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_state_next", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    body: Mapped[str] = mapped_column(Text)  # sent byte for byte on every attempt
    state: Mapped[str] = mapped_column(String(16))  # pending|delivered|gave-up
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime]
    lease_expires_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    delivered_at: Mapped[dt.datetime | None]


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
    next_attempt_at: Mapped[dt.datetime | None]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))  # token id, or "cli:<user>" / "worker"
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(48))
    target: Mapped[str] = mapped_column(String(64), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(32))
    diff: Mapped[str | None] = mapped_column(Text)  # unified diff, secrets masked
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the random token
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class Credential(Base):
    __tablename__ = "credentials"
    ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    username: Mapped[str] = mapped_column(String(128))
    password: Mapped[str] = mapped_column(Text)  # Fernet token
    secret: Mapped[str | None] = mapped_column(Text)  # Fernet token (enable secret), optional
    updated_at: Mapped[dt.datetime]

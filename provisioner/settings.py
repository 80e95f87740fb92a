"""Service settings, read from the environment (prefix HIKARI_). Every field documents its default.

Example: `HIKARI_DATABASE_URL=postgresql+psycopg://prov@db/prov HIKARI_PORT=8080 provisioner serve`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hikari-provisioner"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HIKARI_", extra="ignore")

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="where the SQLite database, the generated secret key and the logs live "
        "(default: $XDG_DATA_HOME/hikari-provisioner or ~/.local/share/hikari-provisioner)",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/provisioner.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) for secrets at rest, comma-separated (the first encrypts, all decrypt)",
    )
    secret_key_file: Path | None = Field(
        default=None, description="file holding the key(s); default <data_dir>/secret.key, generated 0600"
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC key for webhook signatures; default <data_dir>/webhook.key, generated"
    )

    host: str = Field(default="127.0.0.1", description="address `provisioner serve` binds")
    port: int = Field(default=8080, ge=1, le=65535, description="port `provisioner serve` binds")
    embedded_worker: bool = Field(
        default=True, description="run the job worker inside the API process (off: run `provisioner worker`)"
    )
    max_request_bytes: int = Field(default=256 * 1024, ge=1024, description="request bodies above are 413")
    token_cache_seconds: float = Field(
        default=5.0, ge=0, description="how long a verified bearer token is trusted before the DB is asked again"
    )

    max_active_jobs: int = Field(
        default=5000, ge=1, description="queued + running jobs above which activations get 503 + Retry-After"
    )
    retry_after_seconds: int = Field(default=5, ge=1, description="Retry-After sent with 503")
    worker_concurrency: int = Field(default=4, ge=1, le=256, description="jobs one worker runs at once")
    worker_poll_seconds: float = Field(default=0.5, gt=0, description="how often an idle worker looks for jobs")
    job_lease_seconds: float = Field(
        default=30.0, gt=0, description="a running job whose worker stops renewing its lease this long is recovered"
    )
    job_max_attempts: int = Field(
        default=2, ge=1, description="attempts per job; a job whose worker died on the last one is failed"
    )
    reach_timeout_seconds: float = Field(
        default=10.0, gt=0, description="how long the reach stage waits for the CPE's SSH banner"
    )

    webhook_max_attempts: int = Field(default=8, ge=1, description="deliveries tried before giving up")
    webhook_backoff_seconds: float = Field(default=2.0, gt=0, description="delay before the first retry")
    webhook_backoff_factor: float = Field(default=2.0, ge=1, description="each retry waits this much longer")
    webhook_backoff_max_seconds: float = Field(default=600.0, gt=0, description="longest delay between tries")
    webhook_jitter: float = Field(default=0.1, ge=0, le=1, description="random extra delay, as a fraction")
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, description="per delivery HTTP timeout")

    log_level: str = Field(default="INFO", description="root log level")
    log_file: Path | None = Field(default=None, description="also write the JSON log lines to this file")

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return v

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'provisioner.db'}"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.data_dir


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()

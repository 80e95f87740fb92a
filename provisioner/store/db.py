"""Engines and sessions. SQLite runs in WAL mode with short write transactions that take the write lock up
front (BEGIN IMMEDIATE), so concurrent writers queue on busy_timeout instead of failing mid-transaction."""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from provisioner.settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_MS = 30_000
_PG_MIGRATION_LOCK = 0x48494B41  # any constant shared by all processes


def _json_serializer() -> Callable[[Any], str]:
    """orjson when installed (several times faster on the accept path), else the standard library."""
    try:
        import orjson
    except ImportError:
        return json.dumps
    return lambda obj: orjson.dumps(obj).decode()


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, pool_size=8, max_overflow=16, connect_args={"check_same_thread": False},
                           json_serializer=_json_serializer())

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",  # WAL + NORMAL: durable across process crashes, fsync at checkpoints
            f"busy_timeout={SQLITE_BUSY_MS}",
            "foreign_keys=ON",
        ):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # type: ignore[no-untyped-def]
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, json_serializer=_json_serializer())


class Database:
    """One per process: `read()` for queries, `write()` for a short transaction that commits on exit."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.write_engine = self.engine.execution_options(sqlite_immediate=True) if self.is_sqlite else self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        settings.ensure_data_dir()
        return cls(settings.sqlalchemy_url)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        with self._write() as session, session.begin():
            yield session

    def upgrade(self, lock_dir: Path) -> None:
        """Bring the schema to the newest migration; several processes starting at once take turns."""
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / ".migrate.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings) -> Database:
    db = Database.from_settings(settings)
    db.upgrade(settings.data_dir)
    return db

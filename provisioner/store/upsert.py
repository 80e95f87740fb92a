"""INSERT ... ON CONFLICT DO UPDATE for the two dialects we run on."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert(session: Session | Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str],
           keep: Sequence[str] = ()) -> None:
    """Insert rows, or update every column given but the keys and `keep` when the key exists."""
    if not rows:
        return
    cols = tuple(c for c in rows[0] if c not in keys and c not in keep)
    dialect = session.dialect if isinstance(session, Connection) else session.get_bind().dialect
    session.execute(_statement(dialect.name, table, tuple(keys), cols), rows)


@functools.cache
def _statement(dialect: str, table: Table, keys: tuple[str, ...], cols: tuple[str, ...]) -> Insert:
    """Built once per shape: constructing it costs more than running it on the accept path."""
    mod = {"sqlite": sqlite, "postgresql": postgresql}.get(dialect)
    if mod is None:
        raise NotImplementedError(f"upsert on {dialect}")
    stmt = mod.insert(table)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in cols})

"""API bearer tokens: random, shown once, stored as SHA-256 (they are 256-bit random, so no slow hash is
needed), each with one role."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, update

from provisioner.store.db import Database
from provisioner.store.models import ApiToken, AuditEntry, utcnow

TOKEN_PREFIX = "hkp_"


class Role(StrEnum):
    activation = "activation"  # the order system: activates lines, follows its own jobs
    noc = "noc"  # reads everything, diagnoses, scrapes metrics
    technician = "technician"  # on-site work: reads lines and CPEs, previews configs, diagnoses
    admin = "admin"  # everything


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    role: Role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, role: Role, name: str, *, actor: str = "cli") -> tuple[TokenInfo, str]:
    """A new token; the clear token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    info = TokenInfo(id=secrets.token_hex(8), name=name, role=Role(role))
    now = utcnow()
    with db.write() as s:
        s.add(ApiToken(id=info.id, name=name, role=info.role.value, token_hash=hash_token(token), created_at=now))
        s.add(AuditEntry(at=now, actor=actor, action="token.create", target=info.id, detail={"role": role, "name": name}))
    return info, token


def lookup_token(db: Database, token: str) -> TokenInfo | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    with db.read() as s:
        row = s.execute(
            select(ApiToken.id, ApiToken.name, ApiToken.role).where(
                ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
            )
        ).first()
    return TokenInfo(id=row.id, name=row.name, role=Role(row.role)) if row else None


def list_tokens(db: Database) -> list[ApiToken]:
    with db.read() as s:
        return list(s.scalars(select(ApiToken).order_by(ApiToken.created_at)))


def revoke_token(db: Database, token_id: str, *, actor: str = "cli") -> bool:
    now = utcnow()
    with db.write() as s:
        n = s.execute(
            update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
        ).rowcount
        if n:
            s.add(AuditEntry(at=now, actor=actor, action="token.revoke", target=token_id))
    return bool(n)

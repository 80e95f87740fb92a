"""Device credentials: `credential_ref` (named in a line record's management section) -> username,
password and optional enable secret, encrypted at rest in the database.

Drivers get them with `CredentialStore.from_settings().get(ref)`; the clear values are registered with the
log redactor as soon as they are read, so a driver that logs a session transcript cannot leak them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import delete, select

from provisioner.secrets import REDACTOR, SecretBox
from provisioner.settings import Settings, get_settings
from provisioner.store.db import Database, open_database
from provisioner.store.models import AuditEntry, Credential, utcnow

REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")


class CredentialError(LookupError):
    pass


@dataclass(frozen=True)
class DeviceCredential:
    ref: str
    username: str
    password: SecretStr
    secret: SecretStr | None = None  # enable secret (Cisco/NEC), when the platform needs one


class CredentialStore:
    def __init__(self, db: Database, box: SecretBox):
        self.db = db
        self.box = box

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> CredentialStore:
        settings = settings or get_settings()
        return cls(open_database(settings), SecretBox.from_settings(settings))

    @staticmethod
    def check_ref(ref: str) -> str:
        if not REF.match(ref):
            raise CredentialError(
                f"credential ref {ref!r} is not valid: letters, digits and . _ : - (1-128, first alphanumeric)"
            )
        return ref

    def set(self, ref: str, username: str, password: str, secret: str | None = None, *, actor: str = "cli") -> None:
        self.check_ref(ref)
        if not username or not password:
            raise CredentialError("username and password must not be empty")
        now = utcnow()
        with self.db.write() as s:
            row = s.get(Credential, ref)
            action = "credential.update" if row else "credential.create"
            if row is None:
                row = Credential(ref=ref)
                s.add(row)
            row.username = username
            row.password = self.box.encrypt(password)
            row.secret = self.box.encrypt(secret) if secret else None
            row.updated_at = now
            # What changed is recorded, never the values.
            s.add(AuditEntry(at=now, actor=actor, action=action, target=ref,
                             detail={"username": username, "has_secret": bool(secret)}))

    def get(self, ref: str) -> DeviceCredential:
        with self.db.read() as s:
            row = s.get(Credential, ref)
        if row is None:
            raise CredentialError(f"no device credential {ref!r}; add it with: provisioner credentials set {ref} "
                                  "--username USER")
        password = self.box.decrypt(row.password)
        secret = self.box.decrypt(row.secret) if row.secret else None
        REDACTOR.add_permanent([v for v in (password, secret) if v])
        return DeviceCredential(
            ref=ref, username=row.username, password=SecretStr(password),
            secret=SecretStr(secret) if secret else None,
        )

    def refs(self) -> list[tuple[str, str]]:
        """(ref, username) pairs; never the passwords."""
        with self.db.read() as s:
            return [(r.ref, r.username) for r in s.execute(select(Credential.ref, Credential.username))]

    def delete(self, ref: str, *, actor: str = "cli") -> bool:
        with self.db.write() as s:
            n = s.execute(delete(Credential).where(Credential.ref == ref)).rowcount
            if n:
                s.add(AuditEntry(at=utcnow(), actor=actor, action="credential.delete", target=ref))
        return bool(n)

"""What the API process holds for its lifetime: settings, database, secret box, the intake writer, the
embedded worker, and the token cache."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from provisioner.jobs.intake import Intake
from provisioner.jobs.worker import Worker
from provisioner.secrets import SecretBox
from provisioner.settings import Settings
from provisioner.store.db import Database
from provisioner.store.tokens import TokenInfo, hash_token, lookup_token


class TokenCache:
    """Verified tokens for a few seconds, so the hot path does not ask the database on every request.
    A revoked token stops working within `token_cache_seconds`."""

    def __init__(self, db: Database, ttl: float):
        self.db = db
        self.ttl = ttl
        self._cache: dict[str, tuple[float, TokenInfo | None]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> TokenInfo | None:
        key = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit and hit[0] > now:
            return hit[1]
        info = lookup_token(self.db, token)
        if self.ttl > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = (now + self.ttl, info)
        return info


@dataclass
class AppServices:
    settings: Settings
    db: Database
    box: SecretBox
    intake: Intake
    tokens: TokenCache
    worker: Worker | None = None
    started: float = field(default_factory=time.time)

"""Secrets at rest and in output: Fernet encryption with a key from the environment or a file, masks for
responses, and a redactor that keeps known secret values out of every log line.

Key source, in order: HIKARI_SECRET_KEY, HIKARI_SECRET_KEY_FILE, else <data_dir>/secret.key (generated with
mode 0600 on first use). Several comma-separated keys allow rotation: the first encrypts, any decrypts.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import hashlib
import hmac
import json
import logging
import os
import secrets as _random
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel, SecretStr

from provisioner.render.secretview import MASK
from provisioner.settings import Settings

ENC_MARK = "$enc"  # a stored secret is {"$enc": "<fernet token>"}
MIN_REDACT_LEN = 4  # shorter values would blank out ordinary words

log = logging.getLogger(__name__)


class SecretKeyError(RuntimeError):
    """The encryption key is missing, malformed, or not the one the data was written with."""


# ---- key files ---------------------------------------------------------------------------------------------


def _create_once(path: Path, content: bytes) -> None:
    """Write `content` to `path` with mode 0600 unless it exists; safe when two processes race."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{_random.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, and refuses to replace a key another process wrote first
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def _read_key_file(path: Path, what: str) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretKeyError(f"cannot read the {what} file {path}: {exc.__class__.__name__}") from None
    if mode & 0o077:
        log.warning("%s file %s is readable by others (mode %o); chmod 600 it", what, path, mode & 0o777)
    if not text:
        raise SecretKeyError(f"the {what} file {path} is empty")
    return text


def load_keys(settings: Settings) -> list[bytes]:
    if settings.secret_key is not None:
        raw, where = settings.secret_key.get_secret_value(), "HIKARI_SECRET_KEY"
    else:
        path = settings.secret_key_file or settings.data_dir / "secret.key"
        if settings.secret_key_file is None and not path.exists():
            _create_once(path, Fernet.generate_key() + b"\n")
            log.info("generated a new secret key in %s", path)
        raw, where = _read_key_file(path, "secret key"), str(path)
    keys = [k.strip().encode() for k in raw.replace("\n", ",").split(",") if k.strip()]
    if not keys:
        raise SecretKeyError(f"no key in {where}")
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise SecretKeyError(
                f"{where} holds a value that is not a Fernet key (32 url-safe base64 bytes); make one with "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            ) from None
    return keys


def load_webhook_secret(settings: Settings) -> bytes:
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value().encode()
    path = settings.data_dir / "webhook.key"
    if not path.exists():
        _create_once(path, _random.token_hex(32).encode() + b"\n")
    return _read_key_file(path, "webhook key").encode()


# ---- encryption ----------------------------------------------------------------------------------------------


class SecretBox:
    """Encrypts and decrypts single strings; also a keyed digest for comparing requests without storing them."""

    def __init__(self, keys: list[bytes]):
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self._digest_key = hmac.new(keys[0], b"hikari-request-digest", hashlib.sha256).digest()

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(load_keys(settings))

    def encrypt(self, clear: str) -> str:
        return self._fernet.encrypt(clear.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                "a stored secret cannot be decrypted: HIKARI_SECRET_KEY is not the key it was written with"
            ) from None

    def digest(self, data: bytes) -> str:
        return hmac.new(self._digest_key, data, hashlib.sha256).hexdigest()


# ---- models with secrets ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exposed:
    """A model's JSON data with its secrets in clear, and where they sit. Short-lived: only to derive the
    stored, shown and digested forms below; never store or log it."""

    data: dict[str, Any]
    paths: tuple[tuple[Any, ...], ...]

    def values(self) -> list[str]:
        return [_get(self.data, p) for p in self.paths]

    def replace(self, fn: Callable[[str], Any]) -> dict[str, Any]:
        """A copy with fn(clear) at each secret (containers on the way are copied, the rest shared)."""
        out = dict(self.data)
        for path in self.paths:
            node: Any = out
            for key in path[:-1]:
                node[key] = node[key].copy()
                node = node[key]
            node[path[-1]] = fn(_get(self.data, path))
        return out


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def expose(model: BaseModel) -> Exposed:
    """One JSON dump, with the clear secret values put back where the dump masked them."""
    found: list[tuple[tuple[Any, ...], str]] = []
    _find_secrets(model, (), found)
    data = model.model_dump(mode="json")
    for path, clear in found:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = clear
    return Exposed(data, tuple(p for p, _ in found))


_LEAF = (str, int, float, bool, type(None))


def _find_secrets(obj: Any, path: tuple[Any, ...], out: list[tuple[tuple[Any, ...], str]]) -> None:
    """Walk the model objects (cheaper than a second dump): every SecretStr with its dump path."""
    if isinstance(obj, _LEAF):
        return
    if isinstance(obj, SecretStr):
        out.append((path, obj.get_secret_value()))
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            _find_secrets(getattr(obj, name), (*path, name), out)
    elif isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            _find_secrets(item, (*path, i), out)
    elif isinstance(obj, dict):
        for key, item in obj.items():
            _find_secrets(item, (*path, key), out)


def sealed_dump(model: BaseModel | Exposed, box: SecretBox) -> dict[str, Any]:
    """JSON data to store: every secret encrypted as {"$enc": token}."""
    return _exposed(model).replace(lambda clear: {ENC_MARK: box.encrypt(clear)})


def masked_dump(model: BaseModel | Exposed) -> dict[str, Any]:
    """JSON data to show: every secret replaced by the fixed mask."""
    return _exposed(model).replace(lambda clear: MASK)


def fingerprinted_dump(model: BaseModel | Exposed, box: SecretBox) -> dict[str, Any]:
    """JSON data for audit diffs: each secret as the mask plus a short keyed fingerprint, so a changed
    password shows as changed without revealing anything about it."""
    return _exposed(model).replace(lambda clear: _fingerprint(clear, box))


def _fingerprint(clear: str, box: SecretBox) -> str:
    return f"{MASK} #{box.digest(clear.encode())[:8]}"


def _exposed(model: BaseModel | Exposed) -> Exposed:
    return model if isinstance(model, Exposed) else expose(model)


def fingerprint_sealed(data: Any, box: SecretBox) -> Any:
    """The same view of stored (sealed) data."""
    if _is_sealed(data):
        return _fingerprint(box.decrypt(data[ENC_MARK]), box)
    if isinstance(data, dict):
        return {k: fingerprint_sealed(v, box) for k, v in data.items()}
    if isinstance(data, list):
        return [fingerprint_sealed(v, box) for v in data]
    return data


def request_digest(model: BaseModel | Exposed, box: SecretBox, **extra: Any) -> str:
    """A keyed digest of the whole request, secrets included, to tell a retry from a different request."""
    body = {"model": _exposed(model).data, **extra}
    return box.digest(json.dumps(body, sort_keys=True, default=str).encode())


def secret_values(model: BaseModel) -> list[str]:
    return expose(model).values()


def _is_sealed(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and ENC_MARK in node


def unseal(data: Any, box: SecretBox) -> Any:
    """Stored JSON data with its secrets decrypted (to validate back into the model)."""
    if _is_sealed(data):
        return box.decrypt(data[ENC_MARK])
    if isinstance(data, dict):
        return {k: unseal(v, box) for k, v in data.items()}
    if isinstance(data, list):
        return [unseal(v, box) for v in data]
    return data


def mask_sealed(data: Any) -> Any:
    """Stored JSON data with its encrypted secrets shown as the mask (no key needed)."""
    if _is_sealed(data):
        return MASK
    if isinstance(data, dict):
        return {k: mask_sealed(v) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_sealed(v) for v in data]
    return data


def mask(value: str | SecretStr | None) -> str | None:
    """The fixed mask for any non-empty secret (its length is not revealed)."""
    if value is None:
        return None
    clear = value.get_secret_value() if isinstance(value, SecretStr) else value
    return MASK if clear else ""


# ---- redaction of known values -----------------------------------------------------------------------------------


class Redactor:
    """Replaces known secret values by the mask in any text.

    Values are known in two ways: `hold()` registers them process-wide while a block runs (a job's secrets,
    seen by every thread, e.g. paramiko's transport thread), `scope()` only for the current context (one
    request: thousands at once would make a process-wide list long).
    """

    def __init__(self) -> None:
        self._held: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._scoped: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("secrets", default=())

    @staticmethod
    def _usable(values: Iterable[str]) -> list[str]:
        return [v for v in values if v and len(v) >= MIN_REDACT_LEN]

    @contextlib.contextmanager
    def hold(self, values: Iterable[str]) -> Iterator[None]:
        vals = self._usable(values)
        with self._lock:
            self._held.update(vals)
        try:
            yield
        finally:
            with self._lock:
                self._held.subtract(vals)
                for v in vals:
                    if self._held[v] <= 0:
                        del self._held[v]

    def add_permanent(self, values: Iterable[str]) -> None:
        """For process-lifetime secrets (device credentials in use, keys)."""
        with self._lock:
            self._held.update({v: 1 << 30 for v in self._usable(values)})

    def scope(self, values: Iterable[str]) -> None:
        self._scoped.set(self._scoped.get() + tuple(self._usable(values)))

    def known(self) -> list[str]:
        with self._lock:
            vals = set(self._held)
        vals.update(self._scoped.get())
        return sorted(vals, key=len, reverse=True)  # longest first: a secret containing another stays whole

    def redact(self, text: str) -> str:
        for v in self.known():
            if v in text:
                text = text.replace(v, MASK)
        return text

    def redact_obj(self, obj: Any) -> Any:
        known = self.known()
        if not known:
            return obj

        def walk(o: Any) -> Any:
            if isinstance(o, str):
                for v in known:
                    if v in o:
                        o = o.replace(v, MASK)
                return o
            if isinstance(o, dict):
                return {walk(k): walk(v) for k, v in o.items()}
            if isinstance(o, list | tuple):
                return [walk(v) for v in o]
            return o

        return walk(obj)


REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    """Attach to handlers: rewrites a record's message and traceback with known secrets masked."""

    def __init__(self, redactor: Redactor = REDACTOR):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = str(record.msg)
        clean = self.redactor.redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        return True

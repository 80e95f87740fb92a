"""Structured JSON logs with the request id and job id on every line, secrets redacted; and the per-stage
log capture a job keeps (masked) for `GET /v1/jobs/{id}`."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys
import threading
from collections.abc import Iterator

from provisioner.secrets import REDACTOR, RedactingFilter
from provisioner.settings import Settings

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "color_message"}
MAX_STAGE_LOG_LINES = 500


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
            "job_id": getattr(record, "job_id", None) or job_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in out:
                out[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        # Last line of defence: whatever got into an extra field is redacted too.
        return REDACTOR.redact(json.dumps(out, ensure_ascii=False, default=str))


class StageLogCapture(logging.Handler):
    """Collects the log lines emitted in a job's own thread while a stage runs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._buffers: dict[tuple[int, str], list[str]] = {}
        self._lock = threading.Lock()
        self.addFilter(RedactingFilter())

    @contextlib.contextmanager
    def capture(self, job_id: str) -> Iterator[list[str]]:
        key = (threading.get_ident(), job_id)
        lines: list[str] = []
        with self._lock:
            self._buffers[key] = lines
        try:
            yield lines
        finally:
            with self._lock:
                self._buffers.pop(key, None)

    def emit(self, record: logging.LogRecord) -> None:
        job_id = job_id_var.get()
        if job_id is None:
            return
        lines = self._buffers.get((threading.get_ident(), job_id))
        if lines is None or len(lines) >= MAX_STAGE_LOG_LINES:
            return
        stamp = dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%H:%M:%S.%f")[:-3]
        lines.append(REDACTOR.redact(f"{stamp} {record.levelname} {record.name}: {record.getMessage()}"))


STAGE_LOGS = StageLogCapture()
_configured_marker = "_hikari_json_handler"


def configure_logging(settings: Settings) -> None:
    """Route every logger (ours, uvicorn's, netmiko's) through one JSON handler; idempotent."""
    root = logging.getLogger()
    root.setLevel(settings.log_level)
    for h in list(root.handlers):
        if getattr(h, _configured_marker, False):
            root.removeHandler(h)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if settings.log_file:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(settings.log_file, encoding="utf-8"))
    for h in handlers:
        h.addFilter(RedactingFilter())
        h.setFormatter(JsonFormatter())
        setattr(h, _configured_marker, True)
        root.addHandler(h)
    if STAGE_LOGS not in root.handlers:
        root.addHandler(STAGE_LOGS)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the API logs its own access line with ids

"""One pure-ASGI middleware for every request: request id (X-Request-ID in and out), body size limit (413),
one JSON access log line, and the HTTP metrics."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
from typing import Any

from api.metrics import Metrics
from provisioner.jobs.logs import request_id_var

log = logging.getLogger("api.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
# Process prefix + counter: unique, and cheaper than uuid4 (os.urandom is a syscall per request).
_PREFIX = os.urandom(6).hex()
_COUNTER = itertools.count(1)

Scope = dict[str, Any]


class RequestContextMiddleware:
    def __init__(self, app: Any, *, max_body: int, metrics: Metrics):
        self.app = app
        self.max_body = max_body
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = given if REQUEST_ID.match(given) else f"{_PREFIX}{next(_COUNTER):012x}"
        token = request_id_var.set(rid)
        started = time.perf_counter()
        state = {"status": 500, "started": False, "rejected": False}

        async def send_with_id(message: dict[str, Any]) -> None:
            if state["rejected"]:  # we already answered 413; whatever the app says after is dropped
                return
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        received = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body and not state["rejected"]:
                    if not state["started"]:
                        await self._reject(send_with_id, 413, "body-too-large",
                                           f"request bodies are limited to {self.max_body} bytes")
                    state["rejected"] = True
                if state["rejected"]:
                    return {"type": "http.disconnect"}  # the app stops reading; nothing more is buffered
            return message

        try:
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                await self._reject(send_with_id, 413 if length.isdigit() else 400,
                                   "body-too-large" if length.isdigit() else "bad-request",
                                   f"request bodies are limited to {self.max_body} bytes"
                                   if length.isdigit() else "invalid Content-Length")
                return
            await self.app(scope, limited_receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            label = getattr(route, "path", None) or "(unmatched)"
            self.metrics.requests.labels(scope["method"], label, str(state["status"])).inc()
            self.metrics.latency.labels(label).observe(elapsed)
            log.info("%s %s %s", scope["method"], scope["path"], state["status"],
                     extra={"method": scope["method"], "path": scope["path"], "status": state["status"],
                            "duration_ms": round(elapsed * 1000, 2)})
            request_id_var.reset(token)

    @staticmethod
    async def _reject(send: Any, status: int, error: str, message: str) -> None:
        body = json.dumps({"detail": {"error": error, "message": message}}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

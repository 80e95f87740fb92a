"""Real local servers the API tests talk to: the API under uvicorn, an SSH-banner endpoint (the reach
stage's peer), and an HTTP webhook receiver. All bind 127.0.0.1 only."""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from api.main import create_app
from provisioner.jobs.types import TERMINAL_STATES
from provisioner.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_api(settings: Settings):
    """The app under a real uvicorn on 127.0.0.1 (in a thread); yields its base URL."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None,
                            access_log=False, lifespan="on", timeout_keep_alive=120, backlog=4096)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class BannerServer:
    """Accepts TCP connections like a CPE's sshd: sends an SSH banner after `delay` seconds, or nothing at
    all while `silent` (to hold a job in its reach stage). Records when each connection came and went."""

    def __init__(self, delay: float = 0.0, silent: bool = False):
        self.delay = delay
        self.silent = threading.Event()
        if silent:
            self.silent.set()
        self.connections: list[tuple[float, float]] = []
        self.connected = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        start = time.monotonic()
        self.connected.set()
        with conn:
            while self.silent.is_set() and not self._stop.is_set():
                time.sleep(0.05)
            time.sleep(self.delay)
            try:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 hkl-test\r\n")
            except OSError:
                pass
        self.connections.append((start, time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self._sock.close()


@dataclass
class Receiver:
    """A webhook receiver that answers 500 to the first `fail_first` deliveries, then 204."""

    fail_first: int = 0
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    def start(self) -> Receiver:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.deliveries.append({"at": time.monotonic(), "headers": dict(self.headers), "body": body})
                self.send_response(500 if len(outer.deliveries) <= outer.fail_first else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/activation"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_job(client: httpx.Client | Any, job_id: str, headers: dict[str, str], *, timeout: float = 30,
             until: Any = None) -> dict[str, Any]:
    """Poll GET /v1/jobs/{id} until terminal (or `until(job)`), failing the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if (until(job) if until else job.get("state") in TERMINAL_STATES):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} not done in {timeout}s: {json.dumps(job)[:2000]}")
        time.sleep(0.05)

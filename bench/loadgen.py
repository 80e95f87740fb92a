"""A small HTTP/1.1 keep-alive load generator on raw asyncio streams (httpx costs more CPU per request than
the server under test). Closed loop: `connections` clients each send their next request when the previous
answer arrives. Open loop: requests start at a fixed rate whatever the answers do (latency is then honest
about queueing). Runs in its own process; results go back as JSON on stdout."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable


class Conn:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


def build(method: str, path: str, token: str, body: bytes | None, extra: dict[str, str]) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
    head += [f"{k}: {v}" for k, v in extra.items()]
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


async def closed_loop(host: str, port: int, make: Callable[[int], bytes], total: int, connections: int) -> dict:
    counter = iter(range(total))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def client() -> None:
        conn = Conn(host, port)
        for i in counter:
            raw = make(i)
            t = time.perf_counter()
            status = await conn.request(raw)
            latencies.append(time.perf_counter() - t)
            statuses[status] = statuses.get(status, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    return _summary(latencies, statuses, time.perf_counter() - start)


async def open_loop(host: str, port: int, make: Callable[[int], bytes], rate: float, seconds: float,
                    pool: int) -> dict:
    """Start rate/s requests for `seconds`; each waits for a free connection (counted in its latency)."""
    conns: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(pool):
        conns.put_nowait(Conn(host, port))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def one(i: int, due: float) -> None:
        conn = await conns.get()
        try:
            status = await conn.request(make(i))
        finally:
            conns.put_nowait(conn)
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1

    total = int(rate * seconds)
    start = time.perf_counter()
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    return _summary(latencies, statuses, time.perf_counter() - start)


def _summary(latencies: list[float], statuses: dict[int, int], elapsed: float) -> dict:
    lat = sorted(latencies)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    return {"requests": len(lat), "seconds": elapsed, "rate": len(lat) / elapsed, "p50_ms": pct(0.50),
            "p99_ms": pct(0.99), "max_ms": lat[-1] * 1000 if lat else float("nan"),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def main() -> None:
    spec = json.loads(sys.stdin.read())
    host, port, token = spec["host"], spec["port"], spec["token"]
    template = spec.get("body")  # with {i} placeholders for a per-request customer id / key

    def make(i: int) -> bytes:
        body = template.replace("{i}", f"{i + spec.get('offset', 0):08d}").encode() if template else None
        extra = {"Idempotency-Key": f"bench-{spec.get('offset', 0) + i}"} if template else {}
        return build(spec["method"], spec["path"], token, body, extra)

    if spec["mode"] == "closed":
        result = asyncio.run(closed_loop(host, port, make, spec["total"], spec["connections"]))
    else:
        result = asyncio.run(open_loop(host, port, make, spec["rate"], spec["seconds"], spec["connections"]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Activation API benchmark: activations accepted per second and p99 latency on SQLite.

The server runs as `provisioner serve` in its own process (accept path only: --no-worker, unless
--with-worker); the load generator (bench/loadgen.py, raw asyncio HTTP/1.1 keep-alive) runs in a second
process. Side by side on the same server: GET /healthz as the baseline (the framework's floor on this
machine), then activations closed-loop (max rate) and open-loop at --rate (latency under a fixed load).

    python bench/api.py                      # defaults: 4000 closed-loop, 1000/s for 5 s open-loop
    python bench/api.py --rate 500 --seconds 10 --with-worker
    python bench/api.py --processes 2      # two API processes on the port

Goals (issue 6): >= 1000 activations/s and p99 < 50 ms on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LINE = {
    "customer_id": "CAF{i}",
    "region": "east",
    "product": "east-family",
    "isp": {"name": "Example ISP", "pppoe": {"username": "abc123@isp.example", "password": "bench-Secret-1"}},
    "equipment": {"router": {"platform": "yamaha-rtx", "model": "RTX830"}},
    "management": {"address": "192.0.2.10", "credential_ref": "bench"},
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load(spec: dict) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "loadgen.py")], input=json.dumps(spec),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--total", type=int, default=4000, help="requests per closed-loop phase")
    ap.add_argument("--connections", type=int, default=8, help="closed-loop connections")
    ap.add_argument("--rate", type=float, default=1000, help="open-loop activations per second")
    ap.add_argument("--seconds", type=float, default=5, help="open-loop duration")
    ap.add_argument("--with-worker", action="store_true", help="run the embedded worker too (dry-run jobs)")
    ap.add_argument("--processes", type=int, default=1, help="API processes (provisioner serve --processes)")
    ap.add_argument("--keep", action="store_true", help="keep the data dir (database, logs) for inspection")
    args = ap.parse_args()

    from provisioner.settings import Settings
    from provisioner.store.db import open_database
    from provisioner.store.models import Job
    from provisioner.store.tokens import Role, create_token

    tmp = Path(tempfile.mkdtemp(prefix="hkl-bench-api-"))
    env = {**os.environ, "HIKARI_DATA_DIR": str(tmp), "HIKARI_MAX_ACTIVE_JOBS": str(10**8),
           "HIKARI_LOG_FILE": str(tmp / "service.log")}
    settings = Settings(data_dir=tmp)
    db = open_database(settings)
    _, token = create_token(db, Role.activation, "bench")
    port = _port()
    cmd = [sys.executable, "-m", "provisioner.cli", "serve", "--port", str(port), "--processes", str(args.processes)]
    if not args.with_worker:
        cmd.append("--no-worker")
    stderr = (tmp / "stderr.log").open("wb")
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start; see " + str(tmp / "stderr.log")) from None
                time.sleep(0.1)
        base = {"host": "127.0.0.1", "port": port, "token": token}
        body = json.dumps({"line": LINE, "dry_run": True})
        activation = {**base, "method": "POST", "path": "/v1/activations", "body": body}
        _load({**activation, "mode": "closed", "total": 300, "connections": 4, "offset": 90_000_000})  # warm-up
        healthz = _load({**base, "method": "GET", "path": "/healthz", "mode": "closed", "total": args.total,
                         "connections": args.connections})
        closed = _load({**activation, "mode": "closed", "total": args.total, "connections": args.connections})
        opened = _load({**activation, "mode": "open", "rate": args.rate, "seconds": args.seconds,
                        "connections": 64, "offset": 50_000_000})
    finally:
        server.terminate()
        server.wait(timeout=30)
        stderr.close()
    with db.read() as s:
        from sqlalchemy import func, select

        jobs = s.scalar(select(func.count()).select_from(Job))
    db.dispose()
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    accepted = sum(r["statuses"].get("202", 0) for r in (closed, opened)) + 300

    print(f"activation API on SQLite, {os.cpu_count()} cores, {args.processes} API process(es), "
          f"worker {'on' if args.with_worker else 'off'}; load generator in a second process")
    print(f"{'phase':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  statuses")
    for name, r in (("GET /healthz (baseline, closed)", healthz),
                    (f"POST /v1/activations (closed, {args.connections})", closed),
                    (f"POST /v1/activations (open {args.rate:g}/s)", opened)):
        print(f"{name:<34}{r['rate']:>9.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['max_ms']:>9.1f}  "
              f"{r['statuses']}")
    print(f"ratio activations/baseline (closed loop): {closed['rate'] / healthz['rate']:.2f}")
    print(f"jobs stored {jobs} for {accepted} accepted: {'ok' if jobs == accepted else 'MISMATCH'}")
    goal_rate, goal_p99 = closed["rate"] >= 1000, opened["p99_ms"] < 50
    print(f"goal >= 1000/s: {'met' if goal_rate else 'NOT met'}; goal p99 < 50 ms at {args.rate:g}/s: "
          f"{'met' if goal_p99 else 'NOT met'}")


if __name__ == "__main__":
    main()

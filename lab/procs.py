"""Start processes inside the lab's namespaces and signal only those the lab started.

A process is identified by (pid, kernel start time): a reused pid never matches, so the lab never signals a
process it did not start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from lab.network import in_ns
from lab.state import ProcRecord


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    head, _, tail = raw.rpartition(")")
    return [head.partition("(")[2], *tail.split()]


def starttime(pid: int) -> int | None:
    fields = _stat_fields(pid)
    # After comm: field 3 (state) is tail[0], starttime is field 22 -> index 22 - 2.
    return int(fields[20]) if fields else None


def is_zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return bool(fields) and fields[1] in ("Z", "X")


def is_ours(rec: ProcRecord) -> bool:
    """True if the recorded process still runs (same pid and start time)."""
    return starttime(rec.pid) == rec.starttime and not is_zombie(rec.pid)


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    netns: str | None,
    log: Path,
    env: Mapping[str, str] | None = None,
) -> tuple[subprocess.Popen, ProcRecord]:
    """Start a foreground daemon in a namespace (`ip netns exec` execs it, so the pid is the daemon's)."""
    full_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", **(env or {})}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            in_ns(netns, argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,  # a Ctrl-C on `lab up` must not kill the daemons it left running
        )
    started = starttime(proc.pid)
    if started is None:
        raise RuntimeError(f"{name} exited at once; see {log}")
    return proc, ProcRecord(name=name, pid=proc.pid, starttime=started, exe=Path(argv[0]).name, netns=netns)


def signal_proc(rec: ProcRecord, sig: int) -> bool:
    if not is_ours(rec):
        return False
    try:
        os.kill(rec.pid, sig)
    except ProcessLookupError:
        return False
    return True


def _reap(pid: int) -> None:
    # The daemon may be our child (same Python process that started it): collect it so it is not a zombie.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_gone(recs: Sequence[ProcRecord], timeout: float) -> list[ProcRecord]:
    """Wait until the processes exit; return those still running."""
    deadline = time.monotonic() + timeout
    alive = list(recs)
    while alive and time.monotonic() < deadline:
        for rec in alive:
            _reap(rec.pid)
        alive = [rec for rec in alive if is_ours(rec)]
        if alive:
            time.sleep(0.02)
    return alive


def stop(recs: Sequence[ProcRecord], timeout: float = 2.0) -> None:
    """SIGTERM, then SIGKILL what is left; only processes the records still identify."""
    live = [rec for rec in recs if signal_proc(rec, signal.SIGTERM)]
    for rec in wait_gone(live, timeout):
        signal_proc(rec, signal.SIGKILL)
    wait_gone(live, 1.0)


def kill_pids_in_netns(pids: Sequence[int], timeout: float = 2.0) -> None:
    """Last resort for an aborted run: the processes inside a namespace of ours are ours."""
    recs = []
    for pid in pids:
        started = starttime(pid)
        if started is not None and pid != os.getpid():
            recs.append(ProcRecord(name="stale", pid=pid, starttime=started, exe="?"))
    stop(recs, timeout)


def pss_kib(pid: int) -> int:
    """Proportional set size of a process (shared pages split among their users)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

"""A worker killed with SIGKILL mid-job: the job is resumed (re-queued) or failed with the reason after
its lease expires; never left running. Workers are separate `provisioner worker` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from provisioner.jobs.intake import Intake, prepare
from provisioner.record import parse_line
from provisioner.secrets import SecretBox
from provisioner.settings import Settings
from provisioner.store.db import Database, open_database
from provisioner.store.models import Job, JobEvent
from provisioner.store.tokens import Role, create_token
from tests.api.conftest import line
from tests.api.helpers import BannerServer

LEASE = 2.0


def _worker(settings: Settings, log: Path, max_attempts: int) -> subprocess.Popen:
    env = {**os.environ, "HIKARI_DATA_DIR": str(settings.data_dir), "HIKARI_JOB_LEASE_SECONDS": str(LEASE),
           "HIKARI_WORKER_POLL_SECONDS": "0.1", "HIKARI_REACH_TIMEOUT_SECONDS": "120",
           "HIKARI_JOB_MAX_ATTEMPTS": str(max_attempts), "HIKARI_WEBHOOK_SECRET": "x"}
    return subprocess.Popen([sys.executable, "-m", "provisioner.cli", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(log, "ab"))


def _job(db: Database, job_id: str) -> Job:
    with db.read() as s:
        return s.scalar(select(Job).where(Job.id == job_id))


def _wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def setup(tmp_path: Path, request):
    settings = Settings(data_dir=tmp_path / "data", job_lease_seconds=LEASE, job_max_attempts=request.param)
    db = open_database(settings)
    box = SecretBox.from_settings(settings)
    info, _ = create_token(db, Role.activation, "order-system")
    sshd = BannerServer(silent=True)  # holds the job in its reach stage until told otherwise
    act = prepare(parse_line(line(management_port=sshd.port)), box=box, caller=info, idempotency_key="k",
                  callback_url=None, dry_run=False, request_id=None)
    job_id = Intake(db, settings, box).submit_now(act).job_id
    procs: list[subprocess.Popen] = []
    yield settings, db, sshd, job_id, procs, tmp_path / "workers.log", request.param
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    sshd.close()
    db.dispose()


@pytest.mark.parametrize("setup", [2, 1], indirect=True, ids=["resumed", "failed"])
def test_sigkilled_worker_job_is_recovered(setup):
    settings, db, sshd, job_id, procs, log, max_attempts = setup
    first = _worker(settings, log, max_attempts)
    procs.append(first)
    # Genuinely mid-flight: the worker holds the job, is in the reach stage, connected to our sshd.
    _wait(lambda: sshd.connected.is_set() and _job(db, job_id).stage == "reach", 30, "the job to reach")
    holder = _job(db, job_id).lease_owner
    assert holder and holder.split(":")[1] == str(first.pid)

    standby = _worker(settings, log, max_attempts)
    procs.append(standby)
    time.sleep(LEASE * 2)  # the live worker renews its lease: the standby must not take the job
    job = _job(db, job_id)
    assert (job.state, job.attempt, job.lease_owner) == ("running", 1, holder)

    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert _job(db, job_id).state == "running"  # nothing could write anything at the kill
    sshd.silent.clear()  # from now on the CPE answers

    job = _wait(lambda: (j := _job(db, job_id)).state in ("succeeded", "failed") and j, 60, "recovery")
    with db.read() as s:
        events = list(s.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)))
    reason = f"worker {holder} stopped renewing its lease during stage reach (attempt 1); presumed dead"
    if max_attempts == 2:
        requeued = [e for e in events if e.status == "requeued"]
        assert len(requeued) == 1 and requeued[0].message == f"{reason}; re-queued for attempt 2 of 2"
        assert job.attempt == 2
        # The second attempt ran the pipeline again on the standby worker, past reach this time.
        reach2 = [e for e in events if e.attempt == 2 and e.stage == "reach"]
        assert reach2 and reach2[0].status == "succeeded"
        assert job.error and "stage push" in job.error
    else:
        assert job.state == "failed" and job.attempt == 1
        assert job.error == f"{reason}; not retried: 1 of 1 attempts used"
        assert [e.status for e in events][-2:] == ["lost", "failed"]
    assert job.lease_owner is None

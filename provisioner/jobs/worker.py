"""The worker: claims jobs from the database, runs each pipeline in a thread pool, keeps their leases alive,
recovers jobs whose worker died, and delivers webhooks. Runs inside the API process (default) or alone
(`provisioner worker`); any number of workers can share one database."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

from provisioner.credentials import CredentialStore
from provisioner.jobs.logs import job_id_var
from provisioner.jobs.pipeline import JobContext, LeaseLost, run_pipeline
from provisioner.jobs.queue import JobQueue
from provisioner.jobs.types import ClaimedJob, JobState, Outcome
from provisioner.jobs.webhooks import Dispatcher
from provisioner.secrets import REDACTOR, SecretBox, load_webhook_secret
from provisioner.settings import Settings
from provisioner.store.db import Database

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, settings: Settings, db: Database, box: SecretBox, *, owner: str | None = None):
        self.settings = settings
        self.db = db
        self.box = box
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.queue = JobQueue(db, settings, self.owner)
        self.credentials = CredentialStore(db, box)
        self.dispatcher = Dispatcher(db, settings, load_webhook_secret(settings))
        self.pool = ThreadPoolExecutor(settings.worker_concurrency, thread_name_prefix="job")
        self.running: dict[str, tuple[JobContext, Future[None]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    # ---- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.queue.recover_expired()
        for name, target in (("claim", self._claim_loop), ("lease", self._lease_loop),
                             ("webhooks", self._webhook_loop)):
            t = threading.Thread(target=target, name=f"worker-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        log.info("worker %s started (%d slots)", self.owner, self.settings.worker_concurrency)

    def wake(self) -> None:
        """New work may be waiting (called by the API after it queued a job)."""
        self._wake.set()
        self.dispatcher.wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; give running jobs `timeout` seconds, then hand them back to the queue explicitly."""
        self._stop.set()
        self._wake.set()
        self.dispatcher.wake.set()
        with self._lock:
            running = list(self.running.values())
        deadline = time.monotonic() + timeout
        for _, fut in running:
            try:
                fut.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:
                pass
        with self._lock:
            left = list(self.running.values())
        for ctx, _ in left:
            ctx.lease_lost.set()  # whatever the thread does next is not written
            self.queue.release(ctx.job, f"worker {self.owner} shut down during the job")
        for t in self._threads:
            t.join(timeout=5)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.dispatcher.close()
        log.info("worker %s stopped", self.owner)

    # ---- loops ---------------------------------------------------------------------------------------------------

    def _free_slots(self) -> int:
        with self._lock:
            return self.settings.worker_concurrency - len(self.running)

    def _claim_loop(self) -> None:
        recover_every = max(1.0, self.settings.job_lease_seconds / 2)
        next_recovery = 0.0
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if now >= next_recovery:
                    self.queue.recover_expired()
                    next_recovery = now + recover_every
                claimed_any = False
                while self._free_slots() > 0 and not self._stop.is_set():
                    job = self.queue.claim()
                    if job is None:
                        break
                    claimed_any = True
                    self._submit(job)
                if claimed_any:
                    continue
            except Exception:
                log.exception("claim loop error; retrying")
                self._stop.wait(1.0)
            self._wake.wait(self.settings.worker_poll_seconds)
            self._wake.clear()

    def _submit(self, job: ClaimedJob) -> None:
        ctx = JobContext(job=job, settings=self.settings, box=self.box, credentials=self.credentials)
        with self._lock:
            self.running[job.id] = (ctx, self.pool.submit(self._run, ctx))

    def _run(self, ctx: JobContext) -> None:
        token = job_id_var.set(ctx.job.id)
        try:
            log.info("job started (attempt %d)", ctx.job.attempt)
            try:
                outcome = run_pipeline(ctx, self.queue)
            except LeaseLost:
                log.warning("job lease lost; another worker recovered it")
                return
            except Exception as exc:
                log.exception("job crashed")
                outcome = Outcome(state=JobState.failed, result={"verified": None},
                                  error=REDACTOR.redact(f"internal error: {type(exc).__name__}: {exc}"))
            try:
                done = not ctx.lease_lost.is_set() and self.queue.complete(ctx.job, outcome)
            except Exception:  # the lease runs out and recovery settles the job, with the reason
                log.exception("could not record the job's end")
                return
            if not done:
                log.warning("job finished after its lease was lost; result discarded")
                return
            log.info("job %s%s", outcome.state.value, f": {outcome.error}" if outcome.error else "")
            if ctx.job.callback_url:
                self.dispatcher.wake.set()
        finally:
            with self._lock:
                self.running.pop(ctx.job.id, None)
            job_id_var.reset(token)
            self._wake.set()

    def _lease_loop(self) -> None:
        interval = self.settings.job_lease_seconds / 3
        while not self._stop.wait(interval):
            with self._lock:
                ids = list(self.running)
            try:
                lost = self.queue.heartbeat(ids)
            except Exception:
                log.exception("lease renewal failed")
                continue
            for job_id in lost:
                with self._lock:
                    entry = self.running.get(job_id)
                if entry:
                    entry[0].lease_lost.set()

    def _webhook_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.dispatcher.run_once()
            except Exception:
                log.exception("webhook dispatch error")
            self.dispatcher.wake.wait(min(1.0, self.settings.webhook_backoff_seconds / 2))
            self.dispatcher.wake.clear()

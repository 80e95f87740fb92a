"""Webhooks against a real HTTP receiver on 127.0.0.1 that fails the first tries."""

from __future__ import annotations

import json
import time

from provisioner.jobs.webhooks import SIGNATURE_HEADER, backoff_delay, sign, verify_signature
from tests.api.conftest import line
from tests.api.helpers import Receiver, wait_job

KEY = b"test-webhook-key"


def test_signed_delivery_with_retries_and_backoff(api, settings):
    receiver = Receiver(fail_first=2).start()
    try:
        r = api.activate(line(), dry_run=True, callback_url=receiver.url)
        job_id = r.json()["job"]["id"]
        job = wait_job(api.client, job_id, api.auth(), timeout=30,
                       until=lambda j: j.get("webhook") and j["webhook"]["state"] != "pending")
    finally:
        receiver.close()

    assert len(receiver.deliveries) == 3
    bodies = {d["body"] for d in receiver.deliveries}
    assert len(bodies) == 1, "every attempt sends the same bytes"
    for d in receiver.deliveries:
        assert verify_signature(KEY, d["headers"][SIGNATURE_HEADER], d["body"])
        assert not verify_signature(b"wrong-key", d["headers"][SIGNATURE_HEADER], d["body"])
    payload = json.loads(bodies.pop())
    assert payload["event"] == "job.finished"
    assert payload["job"]["id"] == job_id and payload["job"]["state"] == "succeeded"
    assert [s["name"] for s in payload["job"]["stages"]][:3] == ["validate", "intent", "render"]

    hook = job["webhook"]
    assert hook["state"] == "delivered" and hook["url"] == receiver.url
    assert [a["status_code"] for a in hook["attempts"]] == [500, 500, 204]
    assert [a["error"] for a in hook["attempts"]] == ["HTTP 500", "HTTP 500", None]
    # The schedule in the delivery log follows the backoff (0.3 s, then 0.6 s; no jitter in this test)...
    sched = [a["next_attempt_at"] for a in hook["attempts"]]
    assert sched[2] is None
    # ...and the receiver saw the retries no earlier than scheduled (the dispatcher may be a bit late).
    gaps = [b["at"] - a["at"] for a, b in zip(receiver.deliveries, receiver.deliveries[1:], strict=False)]
    assert gaps[0] >= 0.3 - 0.02 and gaps[1] >= 0.6 - 0.02, gaps
    assert gaps[0] < 2.0 and gaps[1] < 2.5, gaps


def test_gives_up_after_max_attempts(settings):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from tests.api.conftest import Api

    settings = settings.model_copy(update={"webhook_max_attempts": 2, "webhook_backoff_seconds": 0.1})
    receiver = Receiver(fail_first=100).start()
    try:
        with TestClient(create_app(settings)) as client:
            api = Api(client)
            job_id = api.activate(line(), dry_run=True, callback_url=receiver.url).json()["job"]["id"]
            job = wait_job(api.client, job_id, api.auth(),
                           until=lambda j: j.get("webhook") and j["webhook"]["state"] != "pending")
            time.sleep(0.5)  # no further attempt comes after giving up
    finally:
        receiver.close()
    assert job["webhook"]["state"] == "gave-up"
    assert len(job["webhook"]["attempts"]) == 2 == len(receiver.deliveries)


def test_unreachable_receiver_is_logged_as_an_error(api):
    from tests.api.helpers import free_port

    url = f"http://127.0.0.1:{free_port()}/nobody"
    job_id = api.activate(line(), dry_run=True, callback_url=url).json()["job"]["id"]
    job = wait_job(api.client, job_id, api.auth(), until=lambda j: j.get("webhook") and j["webhook"]["attempts"])
    assert job["webhook"]["attempts"][0]["status_code"] is None
    assert job["webhook"]["attempts"][0]["error"].startswith("ConnectError")


def test_signature_rejects_tampering_and_stale_timestamps():
    body = b'{"event":"job.finished"}'
    header = sign(KEY, body, 1_700_000_000)
    assert verify_signature(KEY, header, body, now=1_700_000_100)
    assert not verify_signature(KEY, header, body + b" ", now=1_700_000_100)
    assert not verify_signature(KEY, header, body, now=1_700_001_000)
    assert not verify_signature(KEY, "garbage", body)


def test_backoff_grows_and_is_capped(settings):
    s = settings.model_copy(update={"webhook_backoff_seconds": 2, "webhook_backoff_factor": 3,
                                    "webhook_backoff_max_seconds": 60, "webhook_jitter": 0})
    assert [backoff_delay(s, n) for n in range(1, 6)] == [2, 6, 18, 54, 60]

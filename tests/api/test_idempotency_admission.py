"""One job per caller and Idempotency-Key; bounded queue with 503 + Retry-After."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.main import create_app
from provisioner.store.models import Job
from provisioner.store.tokens import Role
from tests.api.conftest import Api, line


def _jobs(api) -> int:
    with api.svc.db.read() as s:
        return s.scalar(select(func.count()).select_from(Job))


def test_same_key_twice_gives_one_job(api):
    first = api.activate(line(), key="order-4711", dry_run=True)
    second = api.activate(line(), key="order-4711", dry_run=True)
    assert first.status_code == second.status_code == 202
    assert first.json()["job"]["id"] == second.json()["job"]["id"]
    assert first.json()["replayed"] is False and second.json()["replayed"] is True
    assert second.headers["idempotent-replayed"] == "true"
    assert _jobs(api) == 1


def test_same_key_with_a_different_request_is_a_conflict(api):
    assert api.activate(line(), key="order-1").status_code == 202
    changed = line()
    changed["lan"] = {"ipv4": "192.168.7.1/24"}
    r = api.activate(changed, key="order-1")
    assert r.status_code == 409
    assert r.json()["detail"]["error"] == "idempotency-conflict"
    # The secret is part of the request too: a different password under the same key is a conflict.
    other_pw = line()
    other_pw["isp"]["pppoe"]["password"] = "different-Secret-1"
    assert api.activate(other_pw, key="order-1").status_code == 409
    assert _jobs(api) == 1


def test_keys_are_per_caller(api):
    a = api.activate(line(), role=Role.activation, key="same", dry_run=True).json()["job"]["id"]
    b = api.activate(line(), role=Role.admin, key="same", dry_run=True).json()["job"]["id"]
    assert a != b and _jobs(api) == 2


def test_without_a_key_every_post_is_a_new_job(api):
    ids = {api.activate(line(), dry_run=True).json()["job"]["id"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize("key", ["", "x" * 201, "has space", "ünicode"])
def test_bad_keys_are_422(api, key):
    r = api.client.post("/v1/activations", json={"line": line()},
                        headers=api.auth(Role.activation) | {"Idempotency-Key": key.encode("utf-8")})
    assert r.status_code == 422
    assert r.json()["problems"][0]["field"] == "header.Idempotency-Key"


def test_full_queue_answers_503_with_retry_after(settings):
    settings = settings.model_copy(update={"max_active_jobs": 3, "embedded_worker": False,
                                           "retry_after_seconds": 7})
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        codes = [api.activate(line(f"CAF0000000{i}"), key=f"k{i}").status_code for i in range(5)]
        assert codes == [202, 202, 202, 503, 503]
        r = api.activate(line("CAF00000009"), key="k9")
        assert r.headers["retry-after"] == "7"
        assert r.json()["detail"]["error"] == "saturated"
        # A replay of an accepted key is still answered when full: it creates nothing.
        assert api.activate(line("CAF00000000"), key="k0").status_code == 202
        assert _jobs(api) == 3

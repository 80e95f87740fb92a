"""Bearer tokens with roles on every route; request size limits."""

from __future__ import annotations

import pytest

from provisioner.store.tokens import Role, revoke_token
from tests.api.conftest import line

A, N, T, ADM = Role.activation, Role.noc, Role.technician, Role.admin
JOB = "0" * 32
# route -> roles allowed (admin always is). A denied role gets 403; an allowed one anything but 401/403.
MATRIX = [
    ("POST", "/v1/activations", {A}),
    ("GET", f"/v1/jobs/{JOB}", {A, N, T}),
    ("GET", "/v1/lines/CAF12345678", {A, N, T}),
    ("GET", "/v1/lines/CAF12345678/config", {N, T}),
    ("POST", "/v1/lines/CAF12345678/diagnose", {N, T}),
    ("GET", "/v1/cpes/CAF12345678-router", {A, N, T}),
    ("GET", "/v1/cpes/CAF12345678-router/status", {N, T}),
    ("GET", "/metrics", {N}),
    ("GET", "/openapi.json", {A, N, T}),
]


def _call(api, method, path, headers):
    body = {"json": {"line": line(), "dry_run": True}} if path == "/v1/activations" else {}
    return api.client.request(method, path, headers=headers, **body)


@pytest.mark.parametrize(("method", "path", "allowed"), MATRIX)
def test_route_by_role(api, method, path, allowed):
    api.activate(line(), role=ADM, dry_run=True)  # so the line and CPE exist
    for role in Role:
        r = _call(api, method, path, api.auth(role))
        if role in allowed or role is ADM:
            assert r.status_code not in (401, 403), (role, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, r.status_code)
            assert r.json()["detail"]["error"] == "forbidden"


@pytest.mark.parametrize(("method", "path", "allowed"), MATRIX)
def test_no_or_bad_token_is_401(api, method, path, allowed):
    assert _call(api, method, path, {}).status_code == 401
    bad = _call(api, method, path, {"Authorization": "Bearer hkp_not-a-real-token"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith("Bearer")
    assert _call(api, method, path, {"Authorization": "Basic dXNlcjpwdw=="}).status_code == 401


def test_healthz_is_open_and_says_nothing_more(api):
    r = api.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}


def test_revoked_token_is_refused(api):
    headers = api.auth(Role.noc)
    assert api.client.get("/v1/cpes/CAF12345678-router", headers=headers).status_code == 404
    info = api.svc.tokens.verify(api.tokens[Role.noc])
    assert revoke_token(api.svc.db, info.id)
    assert api.client.get("/v1/cpes/CAF12345678-router", headers=headers).status_code == 401


def test_tokens_are_stored_hashed(api):
    from sqlalchemy import select

    from provisioner.store.models import ApiToken

    with api.svc.db.read() as s:
        stored = list(s.scalars(select(ApiToken.token_hash)))
    assert len(stored) == len(Role)
    assert not set(api.tokens.values()) & set(stored)


def test_request_body_limit(api, settings):
    big = {"line": line(), "pad": "x" * (settings.max_request_bytes + 1)}
    r = api.client.post("/v1/activations", json=big, headers=api.auth(A))
    assert r.status_code == 413 and r.json()["detail"]["error"] == "body-too-large"

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(settings.max_request_bytes // 1024 + 2):
            yield b" " * 1024

    r = api.client.post("/v1/activations", content=chunks(), headers=api.auth(A) | {
        "Content-Type": "application/json"})
    assert r.status_code == 413


def test_request_id_is_echoed_or_made(api):
    r = api.client.get("/healthz", headers={"X-Request-ID": "order-abc.1"})
    assert r.headers["x-request-id"] == "order-abc.1"
    r = api.client.get("/healthz", headers={"X-Request-ID": "bad id\twith controls"})
    made = r.headers["x-request-id"]
    assert len(made) == 24 and made != api.client.get("/healthz").headers["x-request-id"]


def test_metrics_count_activations_and_jobs(api):
    from tests.api.helpers import wait_job

    job_id = api.activate(line(), dry_run=True).json()["job"]["id"]
    wait_job(api.client, job_id, api.auth())
    api.activate(line(), key="same", dry_run=True)
    api.activate(line(), key="same", dry_run=True)
    text = api.client.get("/metrics", headers=api.auth(N)).text
    assert 'hikari_activations_total{outcome="accepted"} 2.0' in text
    assert 'hikari_activations_total{outcome="replayed"} 1.0' in text
    assert 'hikari_jobs{state="succeeded"}' in text
    assert 'hikari_http_requests_total{method="POST",route="/v1/activations",status="202"} 3.0' in text

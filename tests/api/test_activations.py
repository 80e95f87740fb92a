"""The accept path and the pipeline through the API: 202 + job, stages, validation, refusals, previews."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from provisioner import service
from provisioner.render import MASK
from provisioner.store.models import AuditEntry, Cpe, Job
from provisioner.store.tokens import Role
from tests.api.conftest import PPPOE_PASSWORD, WIFI_KEY, hgw_wifi_line, line
from tests.api.helpers import BannerServer, free_port, wait_job


def test_dry_run_activation_runs_every_stage_but_the_cpe_ones(api):
    r = api.activate(line(), dry_run=True)
    assert r.status_code == 202, r.text
    job_id = r.json()["job"]["id"]
    assert r.headers["location"] == f"/v1/jobs/{job_id}"
    assert r.json()["job"]["state"] == "queued"

    job = wait_job(api.client, job_id, api.auth())
    assert job["state"] == "succeeded", job
    assert [(s["name"], s["status"]) for s in job["stages"]] == [
        ("validate", "succeeded"), ("intent", "succeeded"), ("render", "succeeded"),
        ("reach", "skipped"), ("push", "skipped"), ("verify", "skipped"), ("report", "succeeded"),
    ]
    render = next(s for s in job["stages"] if s["name"] == "render")
    config = render["result"]["configs"][0]
    assert config["platform"] == "yamaha-rtx" and config["cpe_id"] == "CAF12345678-router"
    assert "pppoe-password" in config["masked_secrets"]
    assert MASK in config["text"] and PPPOE_PASSWORD not in config["text"]
    assert job["result"] == {"verified": None, "dry_run": True, "failed_stage": None}
    # A dry run leaves the CPE's status alone.
    cpe = api.client.get("/v1/cpes/CAF12345678-router", headers=api.auth()).json()
    assert cpe["status"] == "new" and cpe["last_job_id"] == job_id


def test_push_is_refused_clearly_while_provision_line_is_missing(api, monkeypatch):
    monkeypatch.delattr(service, "provision_line", raising=False)
    sshd = BannerServer()
    try:
        r = api.activate(line(management_port=sshd.port))
        job = wait_job(api.client, r.json()["job"]["id"], api.auth())
    finally:
        sshd.close()
    assert job["state"] == "failed"
    statuses = {s["name"]: s["status"] for s in job["stages"]}
    assert statuses == {"validate": "succeeded", "intent": "succeeded", "render": "succeeded",
                        "reach": "succeeded", "push": "failed"}
    reach = next(s for s in job["stages"] if s["name"] == "reach")
    assert reach["result"]["banner"].startswith("SSH-2.0-OpenSSH_9.2p1")
    assert job["error"].startswith("stage push failed: push not available: provisioner.service.provision_line")
    # Nothing touched the CPE, so its status says so.
    cpe = api.client.get("/v1/cpes/CAF12345678-router", headers=api.auth()).json()
    assert cpe["status"] == "new" and cpe["last_job_id"] == job["id"]


def test_reach_fails_with_the_reason_when_the_record_has_no_management(api):
    job = wait_job(api.client, api.activate(line()).json()["job"]["id"], api.auth())
    assert job["state"] == "failed"
    assert job["error"] == ("stage reach failed: the line record has no management section: "
                            "no address to reach the CPE at")
    assert job["result"]["failed_stage"] == "reach"


def test_a_closed_management_port_fails_reach_with_the_os_reason(api):
    port = free_port()  # nothing listens there
    job = wait_job(api.client, api.activate(line(management_port=port)).json()["job"]["id"], api.auth())
    assert f"CPE management 127.0.0.1:{port} unreachable: Connection refused" in job["error"]


def test_every_bad_field_is_listed_and_no_value_echoed(api):
    record = line()
    record["customer_id"] = "XYZ"
    record["region"] = "south"
    record["isp"]["pppoe"]["password"] = "bad\nsecret-value"
    record["lan"] = {"ipv4": "192.168.1.1/30"}
    r = api.activate(record, callback_url="ftp://example.invalid/x")
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid-request"
    fields = {p["field"] for p in body["problems"]}
    assert {"line.customer_id", "line.region", "line.isp.pppoe.password", "line.lan", "callback_url"} <= fields
    assert "secret-value" not in r.text and "XYZ" not in r.text


def test_missing_body_and_bad_json_are_422(api):
    r = api.client.post("/v1/activations", content=b"{not json", headers=api.auth(Role.activation)
                        | {"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["problems"][0]["reason"] == "the body is not valid JSON"
    r = api.client.post("/v1/activations", json={}, headers=api.auth(Role.activation))
    assert r.status_code == 422 and r.json()["problems"] == [{"field": "line", "reason": "Field required"}]


def test_catalog_refusal_is_422_before_any_job(api):
    record = line()
    record["product"] = "east-family-cross"  # Cross has no PPPoE
    r = api.activate(record)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "line-refused"
    assert all(p["field"].startswith("line.") for p in r.json()["problems"])
    with api.svc.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_line_and_config_preview_mask_secrets(api):
    api.activate(hgw_wifi_line(), dry_run=True)
    got = api.client.get("/v1/lines/CAF12345679", headers=api.auth(Role.technician))
    assert got.status_code == 200
    rec = got.json()["record"]
    assert rec["isp"]["pppoe"]["password"] == MASK
    assert rec["wifi"]["ssids"][0]["passphrase"] == MASK
    assert [c["id"] for c in got.json()["cpes"]] == ["CAF12345679-hgw"]

    preview = api.client.get("/v1/lines/CAF12345679/config", headers=api.auth(Role.technician))
    assert preview.status_code == 200, preview.text
    (cfg,) = preview.json()["configs"]
    assert cfg["platform"] == "ntt-hgw"
    assert WIFI_KEY not in preview.text and PPPOE_PASSWORD not in preview.text
    assert cfg["masked_secrets"]

    other = api.client.get("/v1/lines/CAF12345679/config?platform=no-such", headers=api.auth(Role.noc))
    assert other.status_code == 422 and other.json()["problems"][0]["field"] == "query.platform"


def test_second_activation_of_a_line_updates_it_and_audits_the_masked_diff(api):
    first = line()
    api.activate(first, dry_run=True)
    second = line()
    second["isp"]["pppoe"]["password"] = "another-Secret-99"
    second["lan"] = {"ipv4": "192.168.10.1/24"}
    r = api.activate(second, dry_run=True)
    assert r.status_code == 202
    got = api.client.get("/v1/lines/CAF12345678", headers=api.auth()).json()
    assert got["version"] == 2 and got["record"]["lan"]["ipv4"] == "192.168.10.1/24"
    with api.svc.db.read() as s:
        audits = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "activation.accept")
                                .order_by(AuditEntry.id)))
    assert len(audits) == 2
    diff = audits[1].diff
    assert '-  "ipv4": "192.168.1.1/24"' in diff and '+  "ipv4": "192.168.10.1/24"' in diff
    # The password change shows as a changed fingerprint, never the values.
    pw_lines = [ln for ln in diff.splitlines() if '"password"' in ln and ln[:1] in "+-"]
    assert len(pw_lines) == 2 and all(MASK in ln for ln in pw_lines)
    assert PPPOE_PASSWORD not in diff and "another-Secret-99" not in diff
    assert audits[1].actor == api.svc.tokens.verify(api.tokens[Role.activation]).id


@pytest.mark.parametrize("path", ["/v1/lines/CAF00000000", "/v1/cpes/CAF00000000-router",
                                  "/v1/jobs/" + "0" * 32])
def test_unknown_ids_are_404(api, path):
    assert api.client.get(path, headers=api.auth()).status_code == 404


def test_malformed_ids_are_422(api):
    assert api.client.get("/v1/jobs/nope", headers=api.auth()).status_code == 422
    assert api.client.get("/v1/lines/CAF1", headers=api.auth()).status_code == 422


def test_the_order_system_sees_only_its_own_jobs(api):
    job_id = api.activate(line(), role=Role.admin, dry_run=True).json()["job"]["id"]
    assert api.client.get(f"/v1/jobs/{job_id}", headers=api.auth(Role.activation)).status_code == 404
    assert api.client.get(f"/v1/jobs/{job_id}", headers=api.auth(Role.noc)).status_code == 200


def test_jobs_mark_cpes_of_a_line_with_both_devices(api):
    record = hgw_wifi_line()
    record["equipment"]["router"] = {"platform": "yamaha-rtx", "model": "RTX830", "placement": "behind-hgw"}
    r = api.activate(record, dry_run=True)
    assert r.status_code == 202, r.text
    job = wait_job(api.client, r.json()["job"]["id"], api.auth())
    assert sorted(job["cpe_ids"]) == ["CAF12345679-hgw", "CAF12345679-router"]
    with api.svc.db.read() as s:
        assert sorted(s.scalars(select(Cpe.id))) == ["CAF12345679-hgw", "CAF12345679-router"]


def test_diagnose_runs_the_ladder_for_a_stored_line(api):
    api.activate(line(), dry_run=True)  # no management section: nothing to log in to, no traffic
    r = api.client.post("/v1/lines/CAF12345678/diagnose", headers=api.auth(Role.technician))
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert result["customer_id"] == "CAF12345678" and isinstance(result["stages"], list)
    with api.svc.db.read() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.target == "CAF12345678")))
    assert "line.diagnose" in actions


def test_a_missing_service_function_is_501_with_the_reason(api, monkeypatch):
    monkeypatch.delattr(service, "cpe_status", raising=False)
    api.activate(line(), dry_run=True)
    r = api.client.get("/v1/cpes/CAF12345678-router/status", headers=api.auth(Role.noc))
    assert r.status_code == 501
    assert r.json()["detail"] == {"error": "not-available", "message":
                                  "provisioner.service.cpe_status is not implemented yet (GitHub issue 5)"}

"""End to end in the lab: an activation through the API provisions a real lab CPE (Linux in user-mode-linux,
real pppd to the BRAS, real sshd), the job verifies it, and the order system's webhook says so."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from api.main import create_app
from provisioner import service
from provisioner.credentials import CredentialStore
from provisioner.store.tokens import Role
from tests.api.conftest import Api
from tests.api.helpers import Receiver, wait_job

pytestmark = pytest.mark.lab

SPEC = {"profile": "next-denwa-router,cross", "probe_line": 1}  # the provisioning tests' lab: no rebuild
LAB_LINES = Path(__file__).resolve().parents[2] / "examples" / "lab"


def test_activation_through_the_api_verifies_a_lab_cpe(lab_factory, settings):
    lab = lab_factory(**SPEC)
    cpe = lab.cpe(1)
    data = service.fill_from_lab(yaml.safe_load((LAB_LINES / "next-pppoe-linux.yaml").read_text()), cpe)
    settings = settings.model_copy(update={"reach_timeout_seconds": 30})
    receiver = Receiver().start()
    try:
        with TestClient(create_app(settings)) as client:
            api = Api(client)
            CredentialStore(api.svc.db, api.svc.box).set(
                data["management"]["credential_ref"], cpe.ssh_user, cpe.ssh_password.get_secret_value())
            r = api.activate(data, key="lab-e2e-1", callback_url=receiver.url)
            assert r.status_code == 202, r.text
            job = wait_job(api.client, r.json()["job"]["id"], api.auth(), timeout=300,
                           until=lambda j: j.get("webhook") and j["webhook"]["state"] != "pending")
            cpe_out = api.client.get(f"/v1/cpes/{data['customer_id']}-router", headers=api.auth(Role.noc)).json()
            live = api.client.get(f"/v1/cpes/{data['customer_id']}-router/status", headers=api.auth(Role.technician))
            for _ in range(5):  # the NOC's ladder over the CPE's CLI; a fresh session may need a moment
                diagnosis = api.client.post(f"/v1/lines/{data['customer_id']}/diagnose", headers=api.auth(Role.noc))
                if diagnosis.status_code != 200 or diagnosis.json()["result"]["ok"]:
                    break
                time.sleep(3)
    finally:
        receiver.close()
    assert job["state"] == "succeeded", job["error"]
    assert [(s["name"], s["status"]) for s in job["stages"]] == [
        (name, "succeeded") for name in ("validate", "intent", "render", "reach", "push", "verify", "report")]
    assert job["result"]["verified"] is True
    assert cpe_out["status"] == "verified" and cpe_out["verified_at"]
    assert job["webhook"]["state"] == "delivered"
    assert b'"state": "succeeded"' in receiver.deliveries[-1]["body"]
    assert cpe.isp_password.get_secret_value() not in str(job)
    # The live status is the CPE's own word: the PPPoE session is up with an address from the lab ISP's pool.
    assert live.status_code == 200, live.text
    status = live.json()["status"]
    assert status["reachable"] and status["facts"]["platform"] == "linux", status
    session = status["pppoe"][0]
    assert session["state"] == "up" and session["ipv4"].startswith("203.0.113."), session
    assert cpe.isp_password.get_secret_value() not in live.text
    assert diagnosis.status_code == 200 and diagnosis.json()["result"]["ok"], diagnosis.text

import copy
import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from provisioner.settings import Settings
from provisioner.store.tokens import Role, create_token

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples" / "lines"
PPPOE_PASSWORD = "pppoe-Secret-7Qx!"
WIFI_KEY = "wifi-Key-3Zr9-long"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fast timings, a private data dir; no environment leaks in (fields given explicitly win)."""
    return Settings(
        data_dir=tmp_path / "data",
        log_file=tmp_path / "service.log",
        worker_poll_seconds=0.05,
        job_lease_seconds=3,
        token_cache_seconds=0,
        reach_timeout_seconds=5,
        webhook_backoff_seconds=0.3,
        webhook_jitter=0,
        webhook_secret="test-webhook-key",
    )


def line(customer_id: str = "CAF12345678", *, management_port: int | None = None) -> dict:
    """A valid FLET'S Next PPPoE line with a Yamaha router; management on 127.0.0.1 when a port is given
    (the tests' own banner server), none otherwise (no traffic leaves the machine)."""
    record = {
        "customer_id": customer_id,
        "region": "east",
        "product": "east-family",
        "isp": {"name": "Example ISP", "pppoe": {"username": "abc123@isp.example", "password": PPPOE_PASSWORD}},
        "equipment": {"router": {"platform": "yamaha-rtx", "model": "RTX830"}},
    }
    if management_port:
        record["management"] = {"address": "127.0.0.1", "port": management_port, "credential_ref": "lab-cpe"}
    return copy.deepcopy(record)


def hgw_wifi_line(customer_id: str = "CAF12345679") -> dict:
    return {
        "customer_id": customer_id,
        "region": "east",
        "product": "east-family-gigaline-smart",
        "isp": {"name": "Example ISP", "pppoe": {"username": "abc124@isp.example", "password": PPPOE_PASSWORD}},
        "equipment": {"hgw": {"model": "hgw-11ac", "wifi_card": "card-11n"}},
        "wifi": {"ssids": [{"name": "hikari-TEST", "passphrase": WIFI_KEY}]},
    }


class Api:
    """A TestClient over the app (lifespan on, embedded worker) and one token per role."""

    def __init__(self, client: TestClient):
        self.client = client
        self.svc = client.app.state.services
        self.tokens = {role: create_token(self.svc.db, role, f"test-{role.value}")[1] for role in Role}

    def auth(self, role: Role = Role.admin) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def activate(self, record: dict, role: Role = Role.activation, key: str | None = None, **extra):
        headers = self.auth(role) | ({"Idempotency-Key": key} if key else {})
        return self.client.post("/v1/activations", json={"line": record, **extra}, headers=headers)


@pytest.fixture
def api(settings: Settings):
    with TestClient(create_app(settings)) as client:
        yield Api(client)


@pytest.fixture
def today() -> dt.date:
    return dt.date.today()

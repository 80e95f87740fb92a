"""Migrations match the models; the CLI creates tokens and credentials and serves the API."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from provisioner.settings import Settings
from provisioner.store.db import open_database
from provisioner.store.models import Base
from provisioner.store.tokens import lookup_token
from tests.api.helpers import free_port


def test_migrations_create_exactly_the_models(tmp_path):
    db = open_database(Settings(data_dir=tmp_path))
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert "alembic_version" in inspect(conn).get_table_names()
    db.upgrade(tmp_path)  # a second start changes nothing
    db.dispose()


def _cli(tmp_path, *args, env_extra=None, timeout=60):
    env = {**os.environ, "HIKARI_DATA_DIR": str(tmp_path / "data"), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "provisioner.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_tokens_create_prints_the_token_once(tmp_path):
    out = _cli(tmp_path, "tokens", "create", "--role", "noc", "--name", "nagios")
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert token.startswith("hkp_") and token not in out.stderr
    db = open_database(Settings(data_dir=tmp_path / "data"))
    info = lookup_token(db, token)
    assert info and info.role.value == "noc" and info.name == "nagios"
    listed = _cli(tmp_path, "tokens", "list")
    assert "nagios" in listed.stdout and token not in listed.stdout
    assert _cli(tmp_path, "tokens", "create", "--role", "root").returncode == 2


def test_credentials_set_needs_a_password_source(tmp_path):
    out = _cli(tmp_path, "credentials", "set", "rental-router", "--username", "admin")
    assert out.returncode == 2 and "no terminal to prompt on" in out.stderr
    out = _cli(tmp_path, "credentials", "set", "rental-router", "--username", "admin", "--password-env", "PW",
               env_extra={"PW": "Router-Pass-1"})
    assert out.returncode == 0
    listed = _cli(tmp_path, "credentials", "list")
    assert listed.stdout.split() == ["rental-router", "admin"] and "Router-Pass-1" not in listed.stdout
    bad = _cli(tmp_path, "credentials", "set", "bad ref", "--username", "a", "--password-env", "PW",
               env_extra={"PW": "x"})
    assert bad.returncode == 2 and "not valid" in bad.stderr


def test_serve_listens_on_the_given_port(tmp_path):
    port = free_port()
    env = {**os.environ, "HIKARI_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "provisioner.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        assert r.json() == {"status": "ok", "database": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, -15)  # uvicorn re-raises SIGTERM once it has shut down
    assert "Application shutdown complete" in err and "stopped" in err
    lines = [ln for ln in err.splitlines() if ln.startswith("{")]
    assert lines and all('"request_id"' in ln and '"job_id"' in ln for ln in lines)

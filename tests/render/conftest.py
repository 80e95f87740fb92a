"""Render tests: golden files under tests/golden/<platform>/<scenario>.txt, refreshed with --update-golden."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    try:
        parser.addoption("--update-golden", action="store_true", default=False,
                         help="rewrite tests/golden/<platform>/<scenario>.txt from the current renderers")
    except ValueError:   # already registered by a conftest higher up (so `pytest --update-golden` works)
        pass


def _update_requested(config: pytest.Config) -> bool:
    try:
        return bool(config.getoption("--update-golden"))
    except ValueError:   # option not registered (conftest not loaded as an initial conftest)
        return os.environ.get("HIKARI_UPDATE_GOLDEN") == "1"


@pytest.fixture
def golden(request: pytest.FixtureRequest):
    """golden(platform, scenario, text): compare with the stored file, or rewrite it with --update-golden."""
    update = _update_requested(request.config)

    def check(platform: str, scenario: str, text: str) -> None:
        path = GOLDEN_DIR / platform / f"{scenario}.txt"
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"no golden file {path}; run pytest --update-golden and review the diff"
        assert text == path.read_text(encoding="utf-8"), f"{path} differs (pytest --update-golden to accept)"

    return check


def require_tool(name: str) -> str:
    """Path of a real tool the test drives. Missing is a skip on a dev box, a failure in CI."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        if os.environ.get("HIKARI_REQUIRE_LAB") == "1":
            pytest.fail(f"{name} is not installed")
        pytest.skip(f"{name} is not installed")
    return path

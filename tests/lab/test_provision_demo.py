"""`provisioner demo`: the README's first command ends here. Lab up, the example lab lines activated,
rendered, pushed and verified; exit 0 only when every line verified."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.lab


def test_the_demo_pushes_and_verifies_both_lines(lab_factory, tmp_path):
    from lab.pytest_plugin import require_lab

    require_lab()
    with lab_factory.exclusive():  # the demo brings its own lab up
        r = subprocess.run([sys.executable, "-m", "provisioner.cli", "demo"], capture_output=True, text=True,
                           timeout=540, env={**os.environ, "HIKARI_STATE_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert r.stdout.count("verified and saved") + r.stdout.count("already as intended") == 2
    assert "CAF90000001" in r.stdout and "CAF90000002" in r.stdout
    assert "PPPoE up, IPv4 203.0.113." in r.stdout and "ds-lite tunnel" in r.stdout

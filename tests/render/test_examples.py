"""Every example line (examples/lines/*.yaml) through build_intent, rendered on every platform: it renders
when the platform supports the device's features and limits, and is refused with Unsupported otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.intent import build_intent
from provisioner.record import load_line
from provisioner.render import MASK, Unsupported, platforms, render
from provisioner.textsafety import find_control_chars

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "lines").glob("*.yaml"))
MY_PLATFORMS = ("linux", "openwrt", "ntt-hgw")


def _cases():
    for path in EXAMPLES:
        for platform in MY_PLATFORMS:
            yield pytest.param(path, platform, id=f"{path.stem}-{platform}")


def test_there_are_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("path,platform", list(_cases()))
def test_example_renders_or_is_refused(path, platform):
    intent = build_intent(load_line(path))
    plat = platforms()[platform]
    for role in ("router", "hgw"):
        device = getattr(intent, role)
        if device is None:
            continue
        reasons = plat.unsupported(device)
        if reasons:
            with pytest.raises(Unsupported) as err:
                render(intent, platform, role=role)
            assert err.value.reasons == tuple(reasons)
            continue
        rendered = render(intent, platform, role=role)
        assert rendered.files and all(body.endswith("\n") for body in rendered.files.values())
        for body in rendered.files.values():
            assert all(not find_control_chars(line) for line in body.split("\n"))
        for p in device.pppoe:
            assert p.password.get_secret_value() not in rendered.text
        assert MASK in rendered.text or not rendered.masked_secrets


def test_examples_meant_for_my_platforms_render_there():
    """An example whose equipment names one of my platforms must render on it, or the reason is known."""
    refused = {}
    for path in EXAMPLES:
        intent = build_intent(load_line(path))
        for role in ("router", "hgw"):
            device = getattr(intent, role)
            if device is not None and device.platform in MY_PLATFORMS:
                reasons = platforms()[device.platform].unsupported(device)
                if reasons:
                    refused[f"{path.stem}/{role}"] = reasons
    known_gaps = ("SNMPv3 user", "snmp", "ssh")
    for case, reasons in refused.items():
        assert all(r.startswith(known_gaps) for r in reasons), (case, reasons)

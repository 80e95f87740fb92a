"""Golden renders (masked) of every scenario on the linux, openwrt and ntt-hgw platforms; a scenario whose
features a platform lacks must be refused with Unsupported naming them."""

from __future__ import annotations

import pytest

from provisioner.render import MASK, Unsupported, get_platform, render
from tests.render.scenarios import SCENARIOS

PLATFORMS = ("linux", "openwrt", "ntt-hgw")


def _role(intent):
    return "router" if intent.router else "hgw"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("platform", PLATFORMS)
def test_scenario(platform, scenario, golden):
    intent = SCENARIOS[scenario]
    device = intent.device(_role(intent))
    plat = get_platform(platform)
    reasons = plat.unsupported(device)
    if reasons:
        with pytest.raises(Unsupported) as err:
            render(intent, platform, role=_role(intent))
        assert str(err.value).startswith(f"unsupported on {platform}: ")
        assert err.value.reasons == tuple(reasons)
        for feature in device.features() - plat.features:   # every missing feature is named
            assert any(r.startswith(feature) for r in err.value.reasons), (feature, err.value.reasons)
        return
    rendered = render(intent, platform, role=_role(intent))
    assert rendered.masked and rendered.masked_secrets
    for secret in ("pppoe-secret-1", "wifi-passphrase-1", "guest-passphrase"):
        assert secret not in rendered.text
    assert MASK in rendered.text
    golden(platform, scenario, rendered.text)


def test_every_scenario_renders_somewhere():
    """Guards against a scenario that is silently Unsupported everywhere (then its golden proves nothing)."""
    expected_unsupported_everywhere = {"cross-ipip"}   # ipip is yamaha-rtx only, see the matrix
    for name, intent in SCENARIOS.items():
        device = intent.device(_role(intent))
        supported = [p for p in PLATFORMS if not get_platform(p).unsupported(device)]
        assert bool(supported) != (name in expected_unsupported_everywhere), (name, supported)

"""The renderer core: registry, Unsupported, masking, the control-character pass, RenderedConfig."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from provisioner.intent.models import ALL_FEATURES, DeviceIntent
from provisioner.render import (
    MASK,
    Platform,
    RenderedConfig,
    RenderError,
    UnsafeValue,
    Unsupported,
    get_platform,
    matrix,
    platforms,
    render,
    render_device,
)
from provisioner.render.renderer import refuse_control_lines
from tests.render.scenarios import SCENARIOS, pppoe, router


def test_registry_has_my_platforms_with_valid_features():
    known = platforms()
    for name in ("linux", "openwrt", "ntt-hgw"):
        assert known[name].name == name
    for plat in known.values():
        assert isinstance(plat, Platform)
        assert plat.features <= set(ALL_FEATURES), plat.name


def test_unknown_platform_is_a_clear_error():
    with pytest.raises(LookupError, match=r"unknown platform 'juniper'.*linux"):
        get_platform("juniper")


def test_unsupported_lists_every_missing_feature():
    intent = SCENARIOS["cross-mape"]
    with pytest.raises(Unsupported) as err:
        render(intent, "ntt-hgw", role="router")
    assert str(err.value).startswith("unsupported on ntt-hgw: ")
    for feature in ("map-e", "snmp", "ssh", "filters"):
        assert feature in str(err.value)


def test_default_role_follows_the_platform():
    intent = SCENARIOS["hgw-wifi"]                    # only an hgw device
    assert render(intent, "ntt-hgw").role == "hgw"
    with pytest.raises(LookupError, match="has no router"):
        render(intent, "linux")                       # linux defaults to the router


def test_secrets_masked_unless_asked_for():
    intent = SCENARIOS["hgw-wifi"]
    masked = render(intent, "openwrt", role="hgw")
    clear = render(intent, "openwrt", role="hgw", show_secrets=True)
    assert masked.masked and not clear.masked
    assert "pppoe-secret-1" not in masked.text and MASK in masked.text
    assert "pppoe-secret-1" in clear.text and "wifi-passphrase-1" in clear.text
    assert set(masked.masked_secrets) >= {"pppoe password", "wifi key radio 1 ssid 1"}
    assert clear.masked_secrets == ()


def test_credentials_by_reference_are_required_in_clear_only():
    intent = SCENARIOS["next-pppoe"]                  # snmp community "noc-ro" by reference
    assert "rocommunity ******** default" in render(intent, "linux").text
    with pytest.raises(RenderError, match="credential 'noc-ro'"):
        render(intent, "linux", show_secrets=True)
    text = render(intent, "linux", show_secrets=True, credentials={"noc-ro": SecretStr("ro-c0mm")}).text
    assert "rocommunity ro-c0mm default" in text


def test_unsafe_secret_fails_the_masked_render_too():
    dev = router(pppoe=(pppoe(password=SecretStr("bad\npass")),))
    for platform in ("linux", "openwrt"):
        with pytest.raises(UnsafeValue, match="U\\+000A") as err:
            render_device(dev, platform)
        assert "bad" not in str(err.value)            # the message never carries the value


def test_control_pass_names_file_and_line_not_content():
    refuse_control_lines("linux", "f", "ok\nfine\n")
    with pytest.raises(UnsafeValue, match="f line 2 contains control characters \\(U\\+0009\\)") as err:
        refuse_control_lines("linux", "f", "ok\nsecret\there\n")
    assert "secret" not in str(err.value)


def test_rendered_config_text_and_lines():
    one = RenderedConfig("p", "router", "C", {"config.txt": "a\n# c\n\nb\n"}, True, (), "#")
    assert one.text == "a\n# c\n\nb\n"
    assert one.lines() == ["a", "b"]
    two = RenderedConfig("p", "router", "C", {"x": "1\n", "y": "2\n"}, True, ())
    assert two.text == "# ==> x <==\n1\n# ==> y <==\n2\n"


def test_linux_refuses_what_it_cannot_do_with_reasons():
    dev = router(pppoe=(pppoe(), pppoe(session=2)), ipv6=SCENARIOS["next-ra-pppoe"].router.ipv6)
    reasons = get_platform("linux").unsupported(dev)
    assert "2 PPPoE sessions (one pppd peer per CPE)" in reasons


def test_matrix_is_generated_from_the_classes():
    table = matrix.feature_matrix()
    assert table["linux"]["wifi"] and table["linux"]["ipv6-ra"] and not table["linux"]["ipip"]
    assert table["ntt-hgw"]["wifi-wpa3"] and not table["ntt-hgw"]["map-e"]
    md = matrix.markdown()
    assert md.splitlines()[0].startswith("| feature | ")
    assert "| wifi | " in md and len(md.splitlines()) == 2 + len(ALL_FEATURES)


def test_device_features_drive_the_check():
    dev: DeviceIntent = SCENARIOS["next-pppoe"].router
    assert get_platform("openwrt").unsupported(dev) == []
    assert "snmp" in get_platform("ntt-hgw").unsupported(dev)

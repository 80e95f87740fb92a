"""yamaha-rtx, nec-ix, cisco-iosxe: golden configs per scenario (masked), and a clear Unsupported for every
scenario a platform cannot express. Regenerate goldens with `pytest --update-golden`."""

from __future__ import annotations

import ipaddress as ip

import pytest
from pydantic import SecretStr

from provisioner.intent.models import DeviceIntent, Intent, MapeTunnel, Nat
from provisioner.render import UnsafeValue, Unsupported, get_platform, render
from tests.render.scenarios import SCENARIOS

MODELS = {"yamaha-rtx": "RTX830", "nec-ix": "IX2215", "cisco-iosxe": "C1111-4P"}


def _with_router(intent: Intent, **update) -> Intent:
    assert intent.router
    return intent.model_copy(update={"router": intent.router.model_copy(update=update)})


def _mape_provider(provider: str) -> Intent:
    base = SCENARIOS["cross-mape"]
    assert base.router and base.router.tunnel and base.router.tunnel.mape
    t = base.router.tunnel
    return _with_router(base, tunnel=t.model_copy(update={"mape": t.mape.model_copy(update={"provider": provider})}))


# Scenarios beyond the shared list, for what only these platforms do (built-in MAP-E services, LAN-type block)
EXTRA: dict[str, Intent] = {
    "cross-mape-jpne": _mape_provider("jpne"),
    "cross-mape-ocn": _mape_provider("ocn"),
    "next-pppoe-unnumbered": _with_router(
        SCENARIOS["next-pppoe"],
        pppoe=(SCENARIOS["next-pppoe"].router.pppoe[0].model_copy(
            update={"unnumbered_block": ip.IPv4Network("203.0.113.8/29")}),)),
    "next-ra-pppoe-nofilters": _with_router(SCENARIOS["next-ra-pppoe"], filters=False),
}
ALL = {**SCENARIOS, **EXTRA}

# What each platform must render; every other (platform, scenario) pair must raise Unsupported.
EXPECTED = {
    "yamaha-rtx": {"next-pppoe", "next-pppoe-fixed", "next-ra-pppoe", "next-denwa-pd", "cross-dslite",
                   "cross-ipip", "cross-mape-jpne", "cross-mape-ocn", "next-pppoe-unnumbered",
                   "next-ra-pppoe-nofilters"},
    "nec-ix": {"next-pppoe", "next-pppoe-fixed", "next-denwa-pd", "cross-dslite", "cross-mape-ocn",
               "next-ra-pppoe-nofilters"},
    "cisco-iosxe": {"next-pppoe", "next-pppoe-fixed", "next-denwa-pd"},
}
CASES = [(p, s) for p in EXPECTED for s in ALL]


def _on(platform: str, intent: Intent) -> Intent:
    dev = intent.router or intent.hgw
    assert dev
    moved: DeviceIntent = dev.model_copy(update={"platform": platform, "model": MODELS[platform], "role": "router"})
    return intent.model_copy(update={"router": moved, "hgw": None})


@pytest.mark.parametrize(("platform", "scenario"), [c for c in CASES if c[1] in EXPECTED[c[0]]])
def test_golden(platform: str, scenario: str, golden) -> None:
    rendered = render(_on(platform, ALL[scenario]), platform)
    golden(platform, scenario, rendered.text)
    assert rendered.masked and "pppoe-secret-1" not in rendered.text
    assert rendered.lines(), "a CLI platform renders a command list"


@pytest.mark.parametrize(("platform", "scenario"), [c for c in CASES if c[1] not in EXPECTED[c[0]]])
def test_unsupported_scenarios_are_refused(platform: str, scenario: str) -> None:
    with pytest.raises(Unsupported, match=f"^unsupported on {platform}: ") as err:
        render(_on(platform, ALL[scenario]), platform)
    assert err.value.reasons


@pytest.mark.parametrize("platform", list(EXPECTED))
def test_every_feature_outside_the_set_is_refused_and_inside_is_rendered(platform: str) -> None:
    plat = get_platform(platform)
    rendered_features: set[str] = set()
    for scenario in EXPECTED[platform]:
        dev = _on(platform, ALL[scenario]).router
        assert dev and dev.features() <= plat.features
        rendered_features |= dev.features()
    # the golden scenarios exercise the whole advertised feature set
    assert rendered_features == set(plat.features)
    wifi = _on(platform, SCENARIOS["hgw-wifi"]).router
    assert wifi
    with pytest.raises(Unsupported, match="wifi"):
        plat.check(wifi)


def test_pppoe_block_order_yamaha() -> None:
    """Live-as-entered CLI: the pp is selected, configured and enabled before the default route uses it."""
    lines = render(_on("yamaha-rtx", SCENARIOS["next-pppoe"]), "yamaha-rtx").lines()
    idx = {s: lines.index(s) for s in ("pp select 1", " pp enable 1", "pp select none",
                                      "ip route default gateway pp 1")}
    assert idx["pp select 1"] < idx[" pp enable 1"] < idx["pp select none"] < idx["ip route default gateway pp 1"]
    assert " ppp lcp mru on 1454" in lines and " ip pp mtu 1454" in lines and " ip pp tcp mss limit 1414" in lines


def test_clear_render_needs_the_community_and_carries_it_quoted() -> None:
    intent = _on("yamaha-rtx", SCENARIOS["next-pppoe"])
    with pytest.raises(Exception, match="noc-ro"):
        render(intent, "yamaha-rtx", show_secrets=True)
    text = render(intent, "yamaha-rtx", show_secrets=True,
                  credentials={"noc-ro": SecretStr("ro com#1")}).text
    assert 'snmpv2c community read-only "ro com#1"' in text
    assert 'pp auth myname user001@isp.example pppoe-secret-1' in text


def test_community_too_long_for_yamaha_is_refused() -> None:
    intent = _on("yamaha-rtx", SCENARIOS["next-pppoe"])
    with pytest.raises(UnsafeValue, match="longer than 16"):
        render(intent, "yamaha-rtx", show_secrets=True, credentials={"noc-ro": SecretStr("x" * 17)})


def test_snmpv3_keys_are_credentials() -> None:
    dev = _on("cisco-iosxe", SCENARIOS["next-pppoe"]).router
    assert dev
    snmp = dev.management.snmp.model_copy(update={"v3_user": "noc"})
    intent = _with_router(_on("cisco-iosxe", SCENARIOS["next-pppoe"]),
                          management=dev.management.model_copy(update={"snmp": snmp}))
    creds = {"noc-ro": SecretStr("public1"), "snmpv3/noc/auth": SecretStr("auth-key-1"),
             "snmpv3/noc/priv": SecretStr("priv-key-1")}
    text = render(intent, "cisco-iosxe", show_secrets=True, credentials=creds).text
    assert "snmp-server user noc HKL-NOC v3 auth sha auth-key-1 priv aes 128 priv-key-1" in text
    masked = render(intent, "cisco-iosxe")
    assert "auth-key-1" not in masked.text and "snmpv3 auth key" in masked.masked_secrets
    with pytest.raises(Unsupported, match="snmpv3"):
        render(_on("nec-ix", intent), "nec-ix")


def test_provider_specific_refusals() -> None:
    with pytest.raises(Unsupported, match="map-e provider example"):
        render(_on("yamaha-rtx", SCENARIOS["cross-mape"]), "yamaha-rtx")
    with pytest.raises(Unsupported, match="map-e provider jpne"):
        render(_on("nec-ix", EXTRA["cross-mape-jpne"]), "nec-ix")
    both = _with_router(_on("yamaha-rtx", EXTRA["cross-mape-ocn"]),
                        pppoe=SCENARIOS["next-pppoe"].router.pppoe, nat=Nat(outside="pppoe"))
    with pytest.raises(Unsupported, match="nat with both pppoe and a tunnel"):
        render(both, "yamaha-rtx")
    assert isinstance(EXTRA["cross-mape-ocn"].router.tunnel.mape, MapeTunnel)

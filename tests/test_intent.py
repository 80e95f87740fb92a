"""Record + catalog → intent: FLET'S rules applied, refusals name the field and the reason."""

import ipaddress

import pytest

from provisioner.catalog import get_catalog
from provisioner.intent import IntentRefused, build_intent
from provisioner.record import load_line, parse_line

from .conftest import EXAMPLES


def intent_of(data):
    return build_intent(parse_line(data))


def refusal(data) -> dict[str, str]:
    with pytest.raises(IntentRefused) as exc:
        intent_of(data)
    return {p.field: p.reason for p in exc.value.problems}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_builds(path):
    intent = build_intent(load_line(path))
    assert intent.router or intent.hgw


def test_examples_cover_every_product_and_ipv4_method():
    products, methods = set(), set()
    for path in EXAMPLES:
        rec = load_line(path)
        products.add(rec.product)
        methods.add(rec.ipv6.ipv4_method)
    assert products == set(get_catalog().product_ids())
    assert methods == {"pppoe", "map-e", "ds-lite", "ipip"}


def test_next_pppoe_parameters(next_pppoe_record):
    dev = intent_of(next_pppoe_record).router
    (s,) = dev.pppoe
    assert (s.mtu, s.mru, s.mss) == (1454, 1454, 1414)
    assert set(s.auth_accept) == {"pap", "chap"}
    assert dev.wan_mode == "pppoe" and dev.nat.outside == "pppoe"
    # No ひかり電話 on Next: RA /64 (reference §1.4)
    assert (dev.ipv6.mode, dev.ipv6.expected_prefix_length) == ("ra", 64)
    assert str(dev.ipv6.ngn_dns[0]) == "2404:1a8:7f01:a::3" and dev.ipv6.ngn_domain == "flets-east.jp"


def test_west_uses_west_ngn_dns(next_pppoe_record):
    r = next_pppoe_record
    r.update(region="west", product="west-family")
    assert intent_of(r).router.ipv6.ngn_domain == "flets-west.jp"


def test_hikari_denwa_gives_pd56_to_hgw_and_pd60_behind(next_pppoe_record):
    r = next_pppoe_record
    r["hikari_denwa"] = "standard"
    r["equipment"] = {
        "hgw": {"model": "hgw-11ac"},
        "router": {"platform": "linux", "model": "linux-cpe", "placement": "behind-hgw"},
    }
    intent = intent_of(r)
    assert (intent.hgw.ipv6.mode, intent.hgw.ipv6.expected_prefix_length) == ("pd", 56)
    assert (intent.router.ipv6.mode, intent.router.ipv6.expected_prefix_length) == ("pd", 60)
    assert not intent.hgw.management.ssh  # NTT's HGW is not reachable by the operator


def test_hikari_denwa_without_hgw_refused(next_pppoe_record):
    next_pppoe_record["hikari_denwa"] = "standard"
    assert "equipment.hgw" in refusal(next_pppoe_record)


def test_router_on_onu_with_denwa_refused(next_pppoe_record):
    r = next_pppoe_record
    r["hikari_denwa"] = "standard"
    r["equipment"]["hgw"] = {"model": "hgw-11ac"}
    assert "behind-hgw" in refusal(r)["equipment.router.placement"]


def cross_record(**ipv6):
    return {
        "customer_id": "CAF00000001",
        "region": "east",
        "product": "east-family-cross",
        "ipv6": ipv6 or {"vne": "jpne", "ipv4_method": "map-e", "mape": {"provider": "jpne"}},
        "equipment": {"router": {"platform": "linux", "model": "linux-cpe"}},
    }


def test_cross_is_pd56_and_ipoe_only():
    dev = intent_of(cross_record()).router
    assert (dev.ipv6.mode, dev.ipv6.expected_prefix_length) == ("pd", 56)
    assert dev.wan_mode == "ipoe" and not dev.pppoe
    assert dev.tunnel.kind == "map-e" and dev.nat.outside == "tunnel"
    assert dev.tunnel.mape.draft03 and dev.tunnel.mtu == 1460


def test_pppoe_on_cross_refused(next_pppoe_record):
    r = next_pppoe_record
    r.update(product="east-family-cross")
    reasons = refusal(r)
    assert "IPoE only" in reasons["ipv6.ipv4_method"]


def test_cross_excludes_hikari_denwa_and_virus_clear():
    r = cross_record()
    r["hikari_denwa"] = "standard"
    r["options"] = ["virus-clear"]
    reasons = refusal(r)
    assert "hikari_denwa" in reasons and "options.0" in reasons
    assert "ウイルスクリア" in reasons["options.0"]


@pytest.mark.parametrize("opt", ["hikari-denwa-office-pack", "ip-resend", "vpn-wide", "vpn-gate"])
def test_lightplus_exclusions(next_pppoe_record, opt):
    r = next_pppoe_record
    r.update(product="east-family-lightplus", options=[opt])
    assert "cannot be used on" in refusal(r)["options.0"]


def test_lightplus_office_phone_refused(next_pppoe_record):
    r = next_pppoe_record
    r.update(product="west-family-lightplus", region="west", hikari_denwa="office")
    r["equipment"] = {"hgw": {"model": "hgw-11ac"}}
    assert "hikari_denwa" in refusal(r)


def test_session_limits(next_pppoe_record):
    r = next_pppoe_record
    r["pppoe_sessions"] = 3
    assert "allows 2 PPPoE" in refusal(r)["pppoe_sessions"]
    r["options"] = ["session-plus"]
    r["extra_pppoe_sessions"] = 1
    assert intent_of(r).router.pppoe


def test_mansion_variant_and_access_method(next_pppoe_record):
    r = next_pppoe_record
    r.update(product="east-mansion", variant="mini-b", access_method="hikari-haisen")
    assert "access_method" in refusal(r)
    r["access_method"] = "vdsl"
    assert intent_of(r)
    r.pop("variant")
    assert "variant" in refusal(r)


def test_product_region_mismatch(next_pppoe_record):
    next_pppoe_record["product"] = "west-family-hayabusa"
    assert "west product" in refusal(next_pppoe_record)["product"]


def test_ipoe_on_next_needs_v6_option(next_pppoe_record):
    r = next_pppoe_record
    r["ipv6"] = {"vne": "transix", "ipv4_method": "ds-lite", "dslite": {"aftr": "gw.transix.jp"}}
    assert "v6オプション" in refusal(r)["v6_option"]
    r["v6_option"] = True
    assert intent_of(r).router.tunnel.dslite.aftr == "gw.transix.jp"


def test_vne_method_mismatch():
    r = cross_record(vne="transix", ipv4_method="map-e", mape={"provider": "jpne"})
    assert "ipv6.ipv4_method" in refusal(r)


def test_mape_with_known_prefix_precomputes():
    r = cross_record()
    r["ipv6"]["delegated_prefix"] = "240b:10:abcd:ef00::/56"
    t = intent_of(r).router.tunnel.mape
    assert str(t.ipv4) == "106.72.171.205" and t.psid == 239
    assert t.ce_ipv6 == ipaddress.IPv6Address("240b:10:abcd:ef00:6a:48ab:cd00:ef00")


def test_mape_prefix_outside_rules_refused():
    r = cross_record()
    r["ipv6"]["delegated_prefix"] = "2001:db8:1:100::/56"
    assert "ipv6.delegated_prefix" in refusal(r)


def test_wrong_prefix_length_for_line_refused():
    r = cross_record()
    r["ipv6"]["delegated_prefix"] = "240b:10:abcd:ef00::/64"
    assert "receives a /56" in refusal(r)["ipv6.delegated_prefix"]


def wifi_record(card, **wifi):
    return {
        "customer_id": "CAF00000002",
        "region": "east",
        "product": "east-family-gigaline-smart",
        "isp": {"name": "x", "pppoe": {"username": "a@isp.example", "password": "pw"}},
        "equipment": {"hgw": {"model": "hgw-11ac", "wifi_card": card}},
        "wifi": {"ssids": [{"name": "home", "passphrase": "passphrase1"}], **wifi},
    }


def test_wifi_radios_come_from_the_card():
    dev = intent_of(wifi_record("card-11n")).hgw
    assert [(r.band, r.standard) for r in dev.wifi] == [("2.4", "11n"), ("5", "11n")]
    assert dev.wan_mode == "pppoe"  # no router: the HGW runs the PPPoE session
    ac = intent_of(wifi_record("card-11ac")).hgw
    assert ac.wifi[1].standard == "11ac" and ac.wifi[1].width_mhz == 80


def test_wifi_request_the_card_cannot_serve():
    reasons = refusal(wifi_record("card-11n", width_5g=80))
    assert "at most 40 MHz" in reasons["wifi.width_5g"]
    r = wifi_record("card-11n")
    r["wifi"]["ssids"][0]["security"] = "wpa2-wpa3"
    assert "wifi.ssids.0.security" in refusal(r)
    r = wifi_record("card-11ac", channel_5g=14)
    assert "wifi.channel_5g" in refusal(r)


def test_wifi_without_radio_refused(next_pppoe_record):
    r = next_pppoe_record
    r["equipment"] = {"router": {"platform": "yamaha-rtx", "model": "RTX830"}}
    r["wifi"] = {"ssids": [{"name": "x", "passphrase": "passphrase1"}]}
    assert "no radio" in refusal(r)["wifi"]


def test_wpa3_transition_sets_pmf():
    r = wifi_record("card-11ac")
    r["wifi"]["ssids"][0]["security"] = "wpa2-wpa3"
    ssid = intent_of(r).hgw.wifi[0].ssids[0]
    assert ssid.pmf == "optional"

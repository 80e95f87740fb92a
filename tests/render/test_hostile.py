"""Hostile user strings: every device that passes the record rules renders on every platform that supports
it, no rendered line carries a control character, and each user string reads back (through an independent
re-implementation of the daemon's parser) as exactly itself, in its one expected place."""

from __future__ import annotations

import shlex
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from provisioner import record
from provisioner.intent.models import DeviceIntent, DsliteTunnel, Nat, Tunnel, WifiRadio, WifiSsid
from provisioner.render import UnsafeValue, render_device
from provisioner.textsafety import find_control_chars
from tests.render import parsers
from tests.render.scenarios import ipv6, lan, management, pppoe

SPECIALS = [*"'\"\\;$`#=&|<>(){}[]*?!~% ", "ｶﾌｪ", "日本", "é", "\u200b", "🙂"]
# Unicode text without control characters (textsafety's set: Cc, U+2028/2029, U+0085) or lone surrogates
_char = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"))
hostile = st.lists(st.one_of(st.sampled_from(SPECIALS), _char), min_size=1, max_size=24).map("".join)
ssid_names = hostile.map(lambda s: unicodedata.normalize("NFC", s)).filter(
    lambda s: len(s.encode()) <= 32)
wpa_keys = st.text(alphabet=[chr(c) for c in range(0x20, 0x7F)], min_size=8, max_size=63)
communities = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!$%;&",
                      min_size=1, max_size=32)

CASE_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ssid(name, key, security="wpa2"):
    # the record's own rules decide what is valid (it is the edge that builds these strings)
    record.Ssid(name=name, passphrase=key, security=security)
    pmf = "optional" if security == "wpa2-wpa3" else "disabled"
    return WifiSsid(name=name, passphrase=SecretStr(key), security=security, pmf=pmf)


def _radios(names, key):
    return (WifiRadio(index=1, band="2.4", standard="11n", channel=6, width_mhz=20,
                      ssids=tuple(_ssid(n, key, "wpa2-wpa3" if i == 0 else "wpa2") for i, n in enumerate(names))),)


def _router(user, password, names, key, aftr) -> DeviceIntent:
    return DeviceIntent(
        role="router", platform="any", model="t", wan_mode="pppoe",
        pppoe=(pppoe(username=user, password=SecretStr(password)),), ipv6=ipv6("pd", 56),
        tunnel=Tunnel(kind="ds-lite", vne="x", dslite=DsliteTunnel(aftr=aftr)), nat=Nat(), lan=lan(),
        wifi=_radios(names, key), management=management())


def _hgw(user, password, names, key) -> DeviceIntent:
    return DeviceIntent(
        role="hgw", platform="ntt-hgw", model="t", wan_mode="pppoe",
        pppoe=(pppoe(username=user, password=SecretStr(password)),), ipv6=ipv6("pd", 56), nat=Nat(),
        lan=lan(), wifi=_radios(names, key), filters=False, management=management(snmp=False, ssh=False))


def _no_controls(rendered) -> None:
    for name, body in rendered.files.items():
        for number, line in enumerate(body.split("\n"), start=1):
            assert find_control_chars(line) == [], (name, number)


def check_openwrt(rendered, user, password, names, key, aftr, community) -> None:
    values: dict[str, list[str]] = {}
    for line in rendered.text.split("\n"):
        words = parsers.uci_words(line)
        if not words:
            continue
        if words == ["commit"]:
            continue
        verb = words[0]
        assert verb in ("set", "add_list", "delete") and len(words) == 2, line   # nothing split or added
        if verb != "delete":
            k, _, v = words[1].partition("=")
            values.setdefault(k, []).append(v)
    assert values["network.wan.username"] == [user]
    assert values["network.wan.password"] == [password]
    assert values["network.dslite.peeraddr"] == [aftr]
    assert values["snmpd.public.community"] == [community]
    sections = ["wireless.default_radio0"] + [f"wireless.hikari_radio0_{i}" for i in range(1, len(names))]
    for section, name in zip(sections, names, strict=True):
        assert values[f"{section}.ssid"] == [name]
        assert values[f"{section}.key"] == [key]


def check_linux(rendered, user, password, names, key, aftr, community) -> None:
    files = rendered.files
    peer = parsers.pppd_words(files["/etc/ppp/peers/flets"])
    assert [w for w in peer if w[0] == "user"] == [["user", user]]
    assert all(len(w) <= 2 for w in peer)                       # every option line is option [value]
    for secrets_file in ("/etc/ppp/chap-secrets", "/etc/ppp/pap-secrets"):
        assert parsers.pppd_words(files[secrets_file]) == [[user, "*", password, "*"]]
    pairs = parsers.hostapd_pairs(files["/etc/hostapd/hostapd-wlan0.conf"])
    ssids = [parsers.hostapd_string(v) if k == "ssid2" else v for k, v in pairs if k in ("ssid", "ssid2")]
    assert ssids == list(names)
    assert [v for k, v in pairs if k == "wpa_passphrase"] == [key] * len(names)
    known = {"interface", "driver", "bridge", "country_code", "ieee80211d", "hw_mode", "channel", "ieee80211n",
             "wmm_enabled", "ssid", "ssid2", "utf8_ssid", "wpa", "wpa_key_mgmt", "rsn_pairwise", "ieee80211w",
             "sae_require_mfp", "wpa_passphrase", "bss"}
    assert {k for k, _ in pairs} <= known
    aftr_lines = [line for line in files["/etc/hikari/tunnel.sh"].split("\n") if line.startswith("aftr=")]
    assert [shlex.split(line.removeprefix("aftr=")) for line in aftr_lines] == [[aftr]]
    snmp_lines = [line.split() for line in files["/etc/snmp/snmpd.conf.d/hikari.conf"].split("\n")
                  if line.startswith("rocommunity")]
    assert snmp_lines == [["rocommunity", community, "default"], ["rocommunity6", community, "default"]]


def check_ntt_hgw(rendered, user, password, names, key) -> None:
    params = {}
    for line in rendered.text.split("\n"):
        if line and not line.startswith("#"):
            params[line.split(" = ", 1)[0]] = parsers.tr181_value(line)
    assert params["Device.PPP.Interface.1.Username"] == user
    assert params["Device.PPP.Interface.1.Password"] == password
    for k, name in enumerate(names, start=1):
        assert params[f"Device.WiFi.SSID.{k}.SSID"] == name
        assert params[f"Device.WiFi.AccessPoint.{k}.Security.KeyPassphrase"] == key


@CASE_SETTINGS
@given(user=hostile, password=hostile, names=st.lists(ssid_names, min_size=1, max_size=3, unique=True),
       key=wpa_keys, aftr=hostile, community=communities)
def test_hostile_strings_round_trip(user, password, names, key, aftr, community):
    creds = {"noc-ro": SecretStr(community)}
    router = _router(user, password, names, key, aftr)
    for platform, check in (("openwrt", check_openwrt), ("linux", check_linux)):
        rendered = render_device(router, platform, show_secrets=True, credentials=creds)
        _no_controls(rendered)
        check(rendered, user, password, names, key, aftr, community)
    rendered = render_device(_hgw(user, password, names, key), "ntt-hgw", show_secrets=True)
    _no_controls(rendered)
    check_ntt_hgw(rendered, user, password, names, key)


@settings(max_examples=60, deadline=None)
@given(prefix=hostile, control=st.sampled_from(["\n", "\r", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\t"]),
       suffix=hostile)
def test_controls_are_refused_by_the_record_and_by_every_quoter(prefix, control, suffix):
    bad = prefix + control + suffix
    with pytest.raises(ValidationError):
        record.PppoeAccount(username="u@isp.example", password=bad)
    with pytest.raises(ValidationError):
        record.Ssid(name=f"{prefix[:4]}{control}{suffix[:4]}", passphrase="password1")
    # and if a string got past the record anyway, the renderers refuse it (masked renders too)
    router = _router("u@isp.example", bad, ["ok"], "password1", "gw.example.jp")
    for platform in ("openwrt", "linux"):
        with pytest.raises(UnsafeValue):
            render_device(router, platform, credentials={"noc-ro": SecretStr("c")})
    with pytest.raises(UnsafeValue):
        render_device(_hgw("u@isp.example", bad, ["ok"], "password1"), "ntt-hgw")


@pytest.mark.parametrize("community", ["two words", 'quo"te', "hash#tag", "back\\slash"])
def test_snmpd_community_that_cannot_be_one_token_is_refused(community):
    router = _router("u@isp.example", "pw", ["ok"], "password1", "gw.example.jp")
    for platform in ("openwrt", "linux"):
        with pytest.raises(UnsafeValue, match="SNMP community"):
            render_device(router, platform, show_secrets=True, credentials={"noc-ro": SecretStr(community)})

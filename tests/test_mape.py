"""MAP-E calculator: reference vectors, rule boundaries, rule data, properties and the CLI."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from provisioner.mape import (
    MapeError,
    MapeInputError,
    MapeResult,
    MapeRule,
    NoMatchingRule,
    RulesFileError,
    UnknownProvider,
    compute_mape,
    find_rule,
    load_providers,
)

PROVIDERS = load_providers()
ALL_RULES = [rule for provider in PROVIDERS.values() for rule in provider.rules]


# --- an independent re-derivation, via bit strings, used as the oracle -----------------------------


def bits_of(value: int, width: int) -> str:
    return format(value, f"0{width}b")


def derive(prefix: IPv6Network, rule: MapeRule) -> tuple[IPv4Address, int, IPv6Address]:
    """IPv4, PSID and CE address from the prefix's bit string (RFC 7597 5.2 / draft-03 layout)."""
    prefix_bits = bits_of(int(prefix.network_address), 128)
    p6, p4, o = rule.ipv6_prefix.prefixlen, rule.ipv4_prefix.prefixlen, rule.ea_length
    ea = prefix_bits[p6 : p6 + o]
    ipv4_bits = bits_of(int(rule.ipv4_prefix.network_address), 32)[:p4] + ea[: 32 - p4]
    psid_bits = ea[32 - p4 :]
    psid16 = psid_bits.rjust(16, "0")
    iid = ("0" * 8 + ipv4_bits + psid16 + "0" * 8) if rule.draft03 else ("0" * 16 + ipv4_bits + psid16)
    ce_bits = prefix_bits[: p6 + o] + "0" * (64 - p6 - o) + iid
    return IPv4Address(int(ipv4_bits, 2)), int(psid_bits or "0", 2), IPv6Address(int(ce_bits, 2))


def ports_by_definition(psid: int, psid_len: int, offset: int) -> set[int]:
    """Every port whose PSID field equals `psid`, excluding A = 0 (RFC 7597 5.1, read backwards)."""
    m = 16 - offset - psid_len
    return {
        port for port in range(1 << (16 - offset), 1 << 16) if (port >> m) & ((1 << psid_len) - 1) == psid
    }


def expand(ranges: list[tuple[int, int]]) -> list[int]:
    return [port for first, last in ranges for port in range(first, last + 1)]


def end_user_prefix(rule: MapeRule, ea_value: int) -> IPv6Network:
    shift = 128 - rule.end_user_prefix_len
    return IPv6Network(
        (int(rule.ipv6_prefix.network_address) | (ea_value << shift), rule.end_user_prefix_len)
    )


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


JPNE_LIKE = """
providers:
  x:
    name: X
    source: test
    br: "2001:db8::64"
    psid_offset: 4
    ea_length: 25
    draft03: {draft03}
    rules:
      - {{ipv6: "240b:10::/31", ipv4: "106.72.0.0/15"}}
"""


# --- reference §3.3 worked examples -----------------------------------------------------------------


def test_jpne_worked_example():
    result = compute_mape("240b:10:abcd:ef00::/56")
    assert result.provider == "jpne"
    assert str(result.rule.ipv6_prefix) == "240b:10::/31"
    assert result.ipv4 == IPv4Address("106.72.171.205")
    assert result.psid == 239
    assert (result.psid_len, result.psid_offset, result.ea_len) == (8, 4, 25)
    assert result.port_ranges[:3] == [(7920, 7935), (12016, 12031), (16112, 16127)]
    assert result.port_ranges[-1] == (65264, 65279)
    assert len(result.port_ranges) == 15
    assert result.port_count == 240
    assert result.ce_ipv6 == IPv6Address("240b:10:abcd:ef00:6a:48ab:cd00:ef00")
    assert result.br == IPv6Address("2404:9200:225:100::64")
    assert result.draft03 is True
    assert result.tunnel_mtu == 1460


def test_jpne_worked_example_with_bit_31_set():
    result = compute_mape("240b:11:1234:5600::/56")
    assert result.ipv4 == IPv4Address("106.73.18.52")
    assert result.psid == 86
    assert result.ce_ipv6 == IPv6Address("240b:11:1234:5600:6a:4912:3400:5600")


def test_ocn_worked_example():
    result = compute_mape("2400:4050:12:3400::/56")
    assert result.provider == "ocn"
    assert str(result.rule.ipv6_prefix) == "2400:4050::/38"
    assert str(result.rule.ipv4_prefix) == "153.240.0.0/20"
    assert result.ipv4 == IPv4Address("153.240.0.72")
    assert result.psid == 52
    assert (result.psid_len, result.psid_offset, result.ea_len) == (6, 6, 18)
    assert result.port_ranges[:2] == [(1856, 1871), (2880, 2895)]
    assert result.port_ranges[-1] == (65344, 65359)
    assert len(result.port_ranges) == 63
    assert result.port_count == 1008
    assert result.ce_ipv6 == IPv6Address("2400:4050:12:3400:99:f000:4800:3400")
    assert result.br == IPv6Address("2001:380:a120::9")


def test_rfc7597_interface_id_layout(tmp_path):
    rfc = load_providers(write_rules(tmp_path, JPNE_LIKE.format(draft03="false")))
    result = compute_mape("240b:10:abcd:ef00::/56", providers=rfc)
    assert (result.ipv4, result.psid) == (IPv4Address("106.72.171.205"), 239)
    assert result.ce_ipv6 == IPv6Address("240b:10:abcd:ef00:0:6a48:abcd:ef")
    assert result.draft03 is False


# --- boundaries -----------------------------------------------------------------------------------


def test_low_bit_of_the_31_flips_the_second_octet():
    even = compute_mape("240b:10:abcd:ef00::/56")
    odd = compute_mape("240b:11:abcd:ef00::/56")
    assert even.rule == odd.rule
    assert (even.ipv4, odd.ipv4) == (IPv4Address("106.72.171.205"), IPv4Address("106.73.171.205"))
    assert even.psid == odd.psid == 239
    # the last /56 with bit 31 clear and the first with it set are adjacent IPv4 addresses
    assert compute_mape("240b:10:ffff:ff00::/56").ipv4 == IPv4Address("106.72.255.255")
    assert compute_mape("240b:11::/56").ipv4 == IPv4Address("106.73.0.0")


def test_first_and_last_56_of_a_jpne_rule():
    first = compute_mape("240b:10::/56")
    assert (first.ipv4, first.psid) == (IPv4Address("106.72.0.0"), 0)
    assert first.port_ranges[0] == (4096, 4111)
    assert first.ce_ipv6 == IPv6Address("240b:10::6a:4800:0:0")
    last = compute_mape("240b:11:ffff:ff00::/56")
    assert (last.ipv4, last.psid) == (IPv4Address("106.73.255.255"), 255)
    assert last.port_ranges[0] == (8176, 8191)
    assert last.port_ranges[-1] == (65520, 65535)
    assert last.ce_ipv6 == IPv6Address("240b:11:ffff:ff00:6a:49ff:ff00:ff00")
    assert compute_mape("240b:12::/56").rule.ipv4_prefix != last.rule.ipv4_prefix


def test_first_and_last_56_of_an_ocn_rule_and_the_next_rule():
    first = compute_mape("2400:4050::/56")
    assert (first.ipv4, first.psid) == (IPv4Address("153.240.0.0"), 0)
    last = compute_mape("2400:4050:3ff:ff00::/56")
    assert str(last.rule.ipv6_prefix) == "2400:4050::/38"
    assert (last.ipv4, last.psid) == (IPv4Address("153.240.15.255"), 63)
    following = compute_mape("2400:4050:400::/56")
    assert str(following.rule.ipv6_prefix) == "2400:4050:400::/38"
    assert following.ipv4 == IPv4Address("153.240.16.0")


def test_prefix_outside_every_rule_names_prefix_and_providers():
    with pytest.raises(NoMatchingRule) as caught:
        compute_mape("2001:db8:ffff:ff00::/56")
    message = str(caught.value)
    assert "2001:db8:ffff:ff00::/56" in message
    for key in ("jpne", "ocn", "biglobe", "nuro", "lab"):
        assert key in message
    assert caught.value.prefix == IPv6Network("2001:db8:ffff:ff00::/56")
    assert set(caught.value.providers) == set(PROVIDERS)


def test_ra_64_inside_a_rule_gives_the_56_result_with_ce_in_subnet_0():
    subnet_5 = compute_mape("240b:10:abcd:ef05::/64")
    reference = compute_mape("240b:10:abcd:ef00::/56")
    assert (subnet_5.ipv4, subnet_5.psid, subnet_5.ce_ipv6) == (
        reference.ipv4,
        reference.psid,
        reference.ce_ipv6,
    )
    assert subnet_5.end_user_prefix == IPv6Network("240b:10:abcd:ef00::/56")
    assert subnet_5.ce_in_prefix is False
    assert compute_mape("240b:10:abcd:ef00::/64").ce_in_prefix is True


def test_prefix_too_short_for_the_ea_bits_says_what_is_missing():
    with pytest.raises(NoMatchingRule) as caught:
        compute_mape("240b:10:ab00::/48")
    message = str(caught.value)
    assert "240b:10:ab00::/48" in message
    assert "240b:10::/31" in message
    assert "/56" in message
    assert "8 missing" in message


def test_prefix_shorter_than_the_rules_it_covers():
    with pytest.raises(NoMatchingRule) as caught:
        compute_mape("240b:10::/30")
    message = str(caught.value)
    assert "shorter than the rule prefixes" in message
    assert "240b:10::/31" in message and "240b:12::/31" in message


def test_rule_whose_ea_bits_extend_past_64_is_refused(tmp_path):
    text = JPNE_LIKE.format(draft03="true").replace("ea_length: 25", "ea_length: 34")
    with pytest.raises(RulesFileError) as caught:
        load_providers(write_rules(tmp_path, text))
    assert "past /64" in str(caught.value)
    assert "240b:10::/31" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("240b:10:abcd:ef00::1", "no prefix length"),
        ("240b:10:abcd:ef00::1/128", "longer than /64"),
        ("240b:10:abcd:ef01::/56", "not an IPv6 prefix"),  # host bits set
        ("106.72.171.205/32", "not an IPv6 prefix"),
        ("", "no prefix length"),
    ],
)
def test_invalid_prefix_is_refused_clearly(text, expected):
    with pytest.raises(MapeInputError) as caught:
        compute_mape(text)
    assert expected in str(caught.value)


def test_provider_filter():
    assert compute_mape("240b:10:abcd:ef00::/56", "JPNE").provider == "jpne"
    assert find_rule("240b:10:abcd:ef00::/56", "jpne") == compute_mape("240b:10:abcd:ef00::/56").rule
    with pytest.raises(NoMatchingRule) as caught:
        compute_mape("240b:10:abcd:ef00::/56", "ocn")
    assert caught.value.providers == ("ocn",)
    assert "--provider jpne" in str(caught.value)
    with pytest.raises(UnknownProvider) as unknown:
        compute_mape("240b:10:abcd:ef00::/56", "softbank")
    assert "softbank" in str(unknown.value) and "jpne" in str(unknown.value)


# --- the other providers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "br", "ipv4", "psid"),
    [
        ("2404:7a80:1234:5600::/56", "2001:260:700:1::1:275", "133.200.18.52", 86),
        ("2404:7a85:1234:5600::/56", "2001:260:700:1::1:276", "133.207.18.52", 86),
        # 2404:7a82::/38 → 125.196.208.0/22; EA = low 10 bits of 0x0312, then 0x34
        ("2404:7a82:312:3400::/56", "2001:260:700:1::1:275", "125.196.211.18", 52),
        # 2404:7a86:a800::/38 → 221.171.120.0/22
        ("2404:7a86:abcd:ef00::/56", "2001:260:700:1::1:276", "221.171.123.205", 239),
    ],
)
def test_biglobe_rules_and_their_two_brs(prefix, br, ipv4, psid):
    result = compute_mape(prefix)
    assert result.provider == "biglobe"
    assert (result.br, result.ipv4, result.psid) == (IPv6Address(br), IPv4Address(ipv4), psid)
    assert result.port_count == 240


def test_nuro_rule_and_the_excluded_conflicting_range():
    result = compute_mape("240d:f:1234:5600::/56")
    assert str(result.rule.ipv6_prefix) == "240d:f:1000::/36"
    assert (result.ipv4, result.psid) == (IPv4Address("219.104.146.52"), 86)
    assert result.ce_ipv6 == IPv6Address("240d:f:1234:5600:db:6892:3400:5600")
    assert result.br == IPv6Address("2001:3b8:200:ff9::1")
    with pytest.raises(NoMatchingRule):
        compute_mape("240d:f:8000::/56")


def test_lab_rule_uses_documentation_ranges_only():
    result = compute_mape("2001:db8:10a:2a00::/56")
    assert result.provider == "lab"
    assert (result.ipv4, result.psid) == (IPv4Address("203.0.113.138"), 42)
    assert result.ce_ipv6 == IPv6Address("2001:db8:10a:2a00:cb:71:8a00:2a00")
    assert result.br == IPv6Address("2001:db8:0:fffe::64")
    last = compute_mape("2001:db8:17f:ff00::/56")
    assert (last.ipv4, last.psid) == (IPv4Address("203.0.113.255"), 255)
    for rule in PROVIDERS["lab"].rules:
        assert rule.ipv6_prefix.subnet_of(IPv6Network("2001:db8::/32"))
        assert rule.ipv4_prefix.subnet_of(IPv4Network("203.0.113.0/24"))
        assert rule.br in IPv6Network("2001:db8::/32")


# --- the rule data against reference §3.1/§3.2 ------------------------------------------------------


def shapes(key: str) -> set[tuple[int, int, int, int, int]]:
    return {
        (r.ipv6_prefix.prefixlen, r.ipv4_prefix.prefixlen, r.ea_length, r.psid_len, r.psid_offset)
        for r in PROVIDERS[key].rules
    }


def test_rule_parameters_match_the_reference_table():
    assert shapes("jpne") == {(31, 15, 25, 8, 4)}
    assert shapes("biglobe") == {(31, 15, 25, 8, 4), (38, 22, 18, 8, 4)}
    assert shapes("nuro") == {(36, 20, 20, 8, 4)}
    assert shapes("ocn") == {(38, 20, 18, 6, 6)}
    assert shapes("lab") == {(41, 25, 15, 8, 4)}


def test_rule_sets_from_the_reference():
    jpne = {(str(r.ipv6_prefix), str(r.ipv4_prefix)) for r in PROVIDERS["jpne"].rules}
    assert jpne == {
        ("240b:10::/31", "106.72.0.0/15"),
        ("240b:12::/31", "14.8.0.0/15"),
        ("240b:250::/31", "14.10.0.0/15"),
        ("240b:252::/31", "14.12.0.0/15"),
    }
    counts = {key: len(provider.rules) for key, provider in PROVIDERS.items()}
    assert counts == {"jpne": 4, "ocn": 428, "biglobe": 258, "nuro": 10, "lab": 1}
    brs = {key: {str(r.br) for r in p.rules} for key, p in PROVIDERS.items()}
    assert brs == {
        "jpne": {"2404:9200:225:100::64"},
        "ocn": {"2001:380:a120::9"},
        "biglobe": {"2001:260:700:1::1:275", "2001:260:700:1::1:276"},
        "nuro": {"2001:3b8:200:ff9::1"},
        "lab": {"2001:db8:0:fffe::64"},
    }
    for provider in PROVIDERS.values():
        assert provider.source.strip()
        assert all(r.draft03 and r.tunnel_mtu == 1460 and r.end_user_prefix_len == 56 for r in provider.rules)


# --- loader errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra_rule", "expected"),
    [
        ('{ipv6: "240b:11::/32", ipv4: "192.0.2.0/24", ea_length: 16}', "overlap in ipv6_prefix"),
        ('{ipv6: "2001:db8::/31", ipv4: "106.73.0.0/16", ea_length: 24}', "overlap in ipv4_prefix"),
        ('{ipv6: "2001:db8::/32", ipv4: "192.0.2.0/24", colour: red}', "unknown keys ['colour']"),
        ('{ipv6: "2001:db8::/32", ipv4: "192.0.2.0/24", ea_length: 4}', "shorter than the 8 IPv4 suffix"),
        ('{ipv6: "2001:db8::1/32", ipv4: "192.0.2.0/24"}', "ipv6_prefix"),
    ],
)
def test_loader_refuses_bad_rules(tmp_path, extra_rule, expected):
    text = JPNE_LIKE.format(draft03="true") + f"      - {extra_rule}\n"
    with pytest.raises(RulesFileError) as caught:
        load_providers(write_rules(tmp_path, text))
    assert expected in str(caught.value)


def test_loader_requires_every_parameter(tmp_path):
    text = JPNE_LIKE.format(draft03="true").replace('    br: "2001:db8::64"\n', "")
    with pytest.raises(RulesFileError) as caught:
        load_providers(write_rules(tmp_path, text))
    assert "provider 'x'" in str(caught.value) and "no br" in str(caught.value)


def test_loader_reports_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(RulesFileError, match="cannot read"):
        load_providers(tmp_path / "missing.yaml")
    with pytest.raises(RulesFileError, match="not valid YAML"):
        load_providers(write_rules(tmp_path, "providers: [unclosed"))
    with pytest.raises(RulesFileError, match="'providers' mapping"):
        load_providers(write_rules(tmp_path, "- just a list"))


# --- properties -------------------------------------------------------------------------------------


@st.composite
def prefixes_in_rules(draw, length: int | None = None) -> tuple[MapeRule, IPv6Network]:
    rule = draw(st.sampled_from(ALL_RULES))
    base = end_user_prefix(rule, draw(st.integers(0, (1 << rule.ea_length) - 1)))
    if length is None:
        return rule, base
    subnet = draw(st.integers(0, (1 << (length - base.prefixlen)) - 1))
    return rule, IPv6Network((int(base.network_address) | (subnet << (128 - length)), length))


@settings(max_examples=300, deadline=None)
@given(prefixes_in_rules())
def test_any_56_inside_a_rule_agrees_with_the_bit_string_derivation(case):
    rule, prefix = case
    result = compute_mape(prefix)
    assert result.rule == rule
    assert (result.ipv4, result.psid, result.ce_ipv6) == derive(prefix, rule)
    assert result.ipv4 in rule.ipv4_prefix
    assert result.ce_ipv6 in prefix
    assert result.ce_in_prefix


@settings(max_examples=100, deadline=None)
@given(prefixes_in_rules(length=64))
def test_any_64_inside_a_rule_maps_like_its_56(case):
    rule, prefix = case
    result = compute_mape(prefix)
    assert (result.ipv4, result.psid, result.ce_ipv6) == derive(prefix, rule)
    assert result.ce_ipv6 in result.end_user_prefix
    assert result.ce_in_prefix == (result.ce_ipv6 in prefix)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ALL_RULES), st.data())
def test_port_sets_of_different_psids_never_overlap(rule, data):
    psids = st.integers(0, (1 << rule.psid_len) - 1)
    first, second = data.draw(psids), data.draw(psids)
    ports_first = expand(_result_for_psid(rule, first).port_ranges)
    ports_second = expand(_result_for_psid(rule, second).port_ranges)
    reserved = 1 << (16 - rule.psid_offset)
    assert min(ports_first) >= reserved and min(ports_second) >= reserved
    assert len(ports_first) == len(set(ports_first)) == _result_for_psid(rule, first).port_count
    if first != second:
        assert not set(ports_first) & set(ports_second)
    else:
        assert ports_first == ports_second


def _result_for_psid(rule: MapeRule, psid: int) -> MapeResult:
    return compute_mape(end_user_prefix(rule, psid))  # IPv4 suffix 0, PSID = psid


@pytest.mark.parametrize(("psid_len", "offset"), sorted({(r.psid_len, r.psid_offset) for r in ALL_RULES}))
def test_port_sets_tile_the_usable_ports_exactly(psid_len, offset):
    rule = next(r for r in ALL_RULES if (r.psid_len, r.psid_offset) == (psid_len, offset))
    seen: list[int] = []
    for psid in range(1 << psid_len):
        ports = expand(_result_for_psid(rule, psid).port_ranges)
        if psid in (0, 1, (1 << psid_len) - 1):
            assert set(ports) == ports_by_definition(psid, psid_len, offset)
        seen.extend(ports)
    assert sorted(seen) == list(range(1 << (16 - offset), 1 << 16))


def test_to_dict_is_json_ready_and_complete():
    data = json.loads(json.dumps(compute_mape("2400:4050:12:3400::/56").to_dict()))
    assert data["ipv4"] == "153.240.0.72"
    assert data["psid"] == 52
    assert data["port_count"] == 1008
    assert data["port_ranges"][0] == [1856, 1871]
    assert data["ce_ipv6"] == "2400:4050:12:3400:99:f000:4800:3400"
    assert data["rule"]["ipv6_prefix"] == "2400:4050::/38"
    assert data["br"] == "2001:380:a120::9"
    assert data["tunnel_mtu"] == 1460


# --- CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def invoke():
    from provisioner.cli import app

    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["mape", *args], env={"COLUMNS": "200"})


def test_cli_summary(invoke):
    result = invoke("240b:10:abcd:ef00::/56")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in (
        "JPNE v6プラス (jpne)",
        "240b:10::/31 → 106.72.0.0/15",
        "106.72.171.205",
        "239 (8 bits)",
        "240 = 15 ranges of 16, every 4096: 7920-7935, 12016-12031, 16112-16127, …, 65264-65279",
        "240b:10:abcd:ef00:6a:48ab:cd00:ef00",
        "2404:9200:225:100::64",  # printed as text: rich would turn ":100:" into an emoji
        "1460",
    ):
        assert expected in out


def test_cli_summary_notes_a_64_that_is_not_subnet_0(invoke):
    result = invoke("240b:10:abcd:ef05::/64", "--provider", "jpne")
    assert result.exit_code == 0, result.output
    assert "not subnet 0" in result.stdout


def test_cli_json(invoke):
    result = invoke("2400:4050:12:3400::/56", "--json", "--provider", "ocn")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == compute_mape("2400:4050:12:3400::/56").to_dict()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("240b:10:abcd:ef00::/56", "--provider", "ocn"), "try --provider jpne"),
        (("2001:db8:ffff:ff00::/56",), "no MAP-E rule of jpne, ocn, biglobe, nuro, lab"),
        (("not-a-prefix/56",), "not an IPv6 prefix"),
        (("240b:10:abcd:ef00::/56", "--provider", "softbank"), "unknown MAP-E provider"),
    ],
)
def test_cli_refuses_with_exit_2(invoke, args, expected):
    result = invoke(*args)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert result.stdout == ""


def test_mape_errors_are_value_errors():
    assert issubclass(NoMatchingRule, MapeError) and issubclass(MapeError, ValueError)

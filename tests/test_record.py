"""Line records: every bad field is named with its reason; secrets never echo back."""

import datetime as dt

import pytest

from provisioner.record import RecordError, load_line, parse_line

from .conftest import EXAMPLES


def fields(err: RecordError) -> set[str]:
    return {p.field for p in err.problems}


def test_valid_record_parses(next_pppoe_record):
    rec = parse_line(next_pppoe_record)
    assert rec.isp.pppoe.username == "abc123@isp.example"
    assert rec.lan.dhcp_start is not None and rec.lan.dhcp_end is not None
    assert "s3cret-pw" not in repr(rec)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_parse(path):
    assert load_line(path).customer_id.startswith(("CAF", "COP"))


def test_every_bad_field_is_listed_at_once(next_pppoe_record):
    r = next_pppoe_record
    r["customer_id"] = "12345"
    r["region"] = "north"
    r["isp"]["pppoe"]["username"] = "abc123"
    r["lan"] = {"ipv4": "192.168.1.1/24", "dhcp_start": "192.168.1.1"}
    with pytest.raises(RecordError) as exc:
        parse_line(r)
    got = fields(exc.value)
    assert {"customer_id", "region", "isp.pppoe.username", "lan"} <= got
    assert "realm" in str(exc.value)  # the reason explains why @domain matters
    assert exc.value.to_dict()["error"] == "invalid-line-record"


@pytest.mark.parametrize("evil", ["pw\nsave", "pw\r", "a\x00b", "x\u2028y", "tab\there", "del\x7f"])
def test_control_characters_are_refused_and_not_echoed(next_pppoe_record, evil):
    next_pppoe_record["isp"]["pppoe"]["password"] = evil
    with pytest.raises(RecordError) as exc:
        parse_line(next_pppoe_record)
    assert fields(exc.value) == {"isp.pppoe.password"}
    assert evil not in str(exc.value)
    assert "control characters" in str(exc.value)


def test_ssid_with_newline_refused(next_pppoe_record):
    next_pppoe_record["wifi"] = {"ssids": [{"name": "home\nip route", "passphrase": "longenough"}]}
    with pytest.raises(RecordError) as exc:
        parse_line(next_pppoe_record)
    assert "wifi.ssids.0.name" in fields(exc.value)


def test_wpa_passphrase_rules(next_pppoe_record):
    next_pppoe_record["wifi"] = {
        "ssids": [
            {"name": "a", "passphrase": "short"},
            {"name": "b", "passphrase": "日本語のパスフレーズです"},
        ]
    }
    with pytest.raises(RecordError) as exc:
        parse_line(next_pppoe_record)
    assert {"wifi.ssids.0.passphrase", "wifi.ssids.1.passphrase"} <= fields(exc.value)


def test_ssid_32_bytes_utf8(next_pppoe_record):
    next_pppoe_record["wifi"] = {"ssids": [{"name": "光" * 11, "passphrase": "longenough"}]}  # 33 bytes
    with pytest.raises(RecordError) as exc:
        parse_line(next_pppoe_record)
    assert "32 bytes" in str(exc.value)


def _migration(kind, number, issued, received=None):
    m = {"kind": kind, "approval_number": number, "issued_on": issued}
    if received:
        m["received_on"] = received
    return m


def test_tenyou_window_counts_issue_day(next_pppoe_record):
    r = next_pppoe_record
    r["migration"] = _migration("tenyou", "F0123456789", "2026-11-01")
    assert parse_line(r, today=dt.date(2026, 11, 15)).migration.kind == "tenyou"  # day 15
    with pytest.raises(RecordError) as exc:
        parse_line(r, today=dt.date(2026, 11, 16))  # day 16
    assert "expired on 2026-11-15" in str(exc.value)


def test_received_on_fixes_the_window(next_pppoe_record):
    r = next_pppoe_record
    r["migration"] = _migration("tenyou", "F0123456789", "2026-01-01", "2026-01-10")
    assert parse_line(r, today=dt.date(2026, 12, 31))  # re-provisioned much later: still fine


def test_approval_letter_must_match_region(next_pppoe_record):
    r = next_pppoe_record
    r["migration"] = _migration("tenyou", "T0123456789", "2026-11-01")
    with pytest.raises(RecordError) as exc:
        parse_line(r, today=dt.date(2026, 11, 2))
    assert "starts with 'F'" in str(exc.value)


def test_jigyousha_henkou_encoded_expiry(next_pppoe_record):
    r = next_pppoe_record
    r["migration"] = _migration("jigyousha-henkou", "F1115000001", "2026-11-01")  # MMDD 1115 = day 15
    assert parse_line(r, today=dt.date(2026, 11, 3))
    r["migration"] = _migration("jigyousha-henkou", "F1231000001", "2026-11-01")
    with pytest.raises(RecordError) as exc:
        parse_line(r, today=dt.date(2026, 11, 3))
    assert "encodes expiry 12/31" in str(exc.value)


def test_bad_approval_format(next_pppoe_record):
    next_pppoe_record["migration"] = _migration("tenyou", "F12345", "2026-11-01")
    with pytest.raises(RecordError) as exc:
        parse_line(next_pppoe_record, today=dt.date(2026, 11, 2))
    assert "10 digits" in str(exc.value)


def test_ipv4_method_needs_its_section(next_pppoe_record):
    next_pppoe_record["ipv6"] = {"vne": "jpne", "ipv4_method": "map-e"}
    with pytest.raises(RecordError) as exc:
        parse_line(next_pppoe_record)
    assert "needs the 'mape' section" in str(exc.value)


def test_unreadable_and_malformed_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("customer_id: [unclosed\n")
    with pytest.raises(RecordError) as exc:
        load_line(bad)
    assert "not valid YAML" in str(exc.value)
    with pytest.raises(RecordError):
        load_line(tmp_path / "missing.yaml")

"""SNMP poller pieces that need no agent: the v3 discovery message, target validation, CLI host parsing."""

import pytest
from pyasn1.codec.ber import decoder, encoder
from pydantic import SecretStr, ValidationError
from pysnmp.proto.mpmod.rfc3412 import SNMPv3Message
from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters

from provisioner.checks.cli import parse_host
from provisioner.checks.snmp_poller import SnmpTarget, _ber_int, discovery_request, engine_id_from_report


def test_ber_integers_are_minimal_and_positive():
    assert _ber_int(0) == bytes.fromhex("020100")
    assert _ber_int(127) == bytes.fromhex("02017f")
    assert _ber_int(128) == bytes.fromhex("02020080")
    assert _ber_int(65507) == bytes.fromhex("020300ffe3")


def test_discovery_request_is_a_reportable_v3_message_with_empty_usm_parameters():
    message, rest = decoder.decode(discovery_request(1234, 99), asn1Spec=SNMPv3Message())
    assert rest == b""
    assert int(message["msgVersion"]) == 3
    header = message["msgGlobalData"]
    assert int(header["msgID"]) == 1234
    assert bytes(header["msgFlags"]) == b"\x04"  # reportable, noAuthNoPriv
    assert int(header["msgSecurityModel"]) == 3  # USM
    params, _ = decoder.decode(bytes(message["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters())
    assert bytes(params["msgAuthoritativeEngineId"]) == b""
    assert bytes(params["msgUserName"]) == b""


def report_from(engine_id: bytes, msg_id: int) -> bytes:
    """An agent's Report as the wire carries it: our request with the agent's engine ID filled in."""
    message, _ = decoder.decode(discovery_request(msg_id, 7), asn1Spec=SNMPv3Message())
    params, _ = decoder.decode(bytes(message["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters())
    params["msgAuthoritativeEngineId"] = engine_id
    message["msgSecurityParameters"] = encoder.encode(params)
    return encoder.encode(message)


def test_engine_id_is_read_from_the_report_of_our_message_only():
    engine_id = bytes.fromhex("80001f88807c9e3a5a1c6b1d6900000000")
    assert engine_id_from_report(report_from(engine_id, 42), 42) == engine_id
    with pytest.raises(ValueError):
        engine_id_from_report(report_from(engine_id, 41), 42)
    with pytest.raises(ValueError):
        engine_id_from_report(report_from(b"", 42), 42)


def test_target_needs_exactly_one_security_model():
    with pytest.raises(ValidationError):
        SnmpTarget(host="192.0.2.1")
    with pytest.raises(ValidationError):
        SnmpTarget(host="192.0.2.1", community=SecretStr("c"), v3_user="u",
                   v3_auth_key=SecretStr("12345678"), v3_priv_key=SecretStr("12345678"))
    with pytest.raises(ValidationError, match="v3_priv_key"):
        SnmpTarget(host="192.0.2.1", v3_user="u", v3_auth_key=SecretStr("12345678"), v3_priv_key=SecretStr("short"))
    assert SnmpTarget(host="192.0.2.1", community=SecretStr("c")).version == "v2c"


def test_target_repr_hides_the_secrets():
    target = SnmpTarget(host="192.0.2.1", v3_user="labv3", v3_auth_key=SecretStr("auth-secret-1"),
                        v3_priv_key=SecretStr("priv-secret-1"))
    text = repr(target) + str(target) + target.model_dump_json()
    assert "auth-secret-1" not in text and "priv-secret-1" not in text
    assert target.version == "v3"


@pytest.mark.parametrize(("spec", "expected"), [
    ("192.0.2.1", ("192.0.2.1", 161)),
    ("192.0.2.1:1161", ("192.0.2.1", 1161)),
    ("[2001:db8::1]:1161", ("2001:db8::1", 1161)),
    ("[2001:db8::1]", ("2001:db8::1", 161)),
    ("2001:db8::1", ("2001:db8::1", 161)),
    ("cpe1.lab.example", ("cpe1.lab.example", 161)),
])
def test_parse_host(spec, expected):
    assert parse_host(spec) == expected


@pytest.mark.parametrize("spec", ["", ":161", "192.0.2.1:x", "[2001:db8::1]:x"])
def test_parse_host_refuses_bad_specs(spec):
    with pytest.raises(ValueError):
        parse_host(spec)

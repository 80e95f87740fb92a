"""The ladder's judgement for each fault, from observations (the lab tests observe the same faults for real)."""

import pytest

from provisioner.checks.ladder import Ipv6Observation, Observations, PppoeObservation, judge
from provisioner.intent import build_intent
from provisioner.record import parse_line


def device(record):
    return build_intent(parse_line(record)).router


@pytest.fixture
def next_dev(next_pppoe_record):
    return device(next_pppoe_record)


@pytest.fixture
def cross_dev():
    return device(
        {
            "customer_id": "CAF00000001",
            "region": "east",
            "product": "east-family-cross",
            "ipv6": {"vne": "transix", "ipv4_method": "ds-lite", "dslite": {"aftr": "gw.transix.jp"}},
            "equipment": {"router": {"platform": "linux", "model": "linux-cpe"}},
        }
    )


HEALTHY_NEXT = dict(
    cli_ok=True,
    snmp_ok=True,
    wan_link_up=True,
    pppoe=PppoeObservation(up=True, ipv4="203.0.113.10", dns=["203.0.113.53"]),
    ipv6=Ipv6Observation(mode="ra", prefix="2001:db8:0:1::/64", prefix_length=64),
    dns_servers=["203.0.113.53"],
    lan_ok=True,
)


def obs(**changes):
    return Observations(**{**HEALTHY_NEXT, **changes})


def test_healthy_line_is_all_green(next_dev):
    d = judge("CAF12345678", next_dev, obs())
    assert d.ok and d.failed is None
    assert [v.stage for v in d.stages if v.status == "ok"] == [
        "cpe-reachable",
        "wan-link",
        "pppoe-discovery",
        "pppoe-auth",
        "ipcp",
        "ipv6",
        "dns",
        "lan-wifi",
    ]


@pytest.mark.parametrize(
    ("changes", "stage", "party"),
    [
        (dict(cli_ok=False, snmp_ok=False), "cpe-reachable", "operator"),
        (dict(cli_ok=False, cli_error="connection refused"), "cpe-reachable", "operator"),  # sshd down
        (dict(snmp_ok=False, snmp_error="timeout"), "cpe-reachable", "operator"),  # snmpd down
        (dict(wan_link_up=False), "wan-link", "customer"),
        (dict(pppoe=PppoeObservation(up=False, failure="no-pado")), "pppoe-discovery", "ntt"),
        (dict(pppoe=PppoeObservation(up=False, failure="auth-rejected")), "pppoe-auth", "isp"),
        (dict(pppoe=PppoeObservation(up=False, failure="session-limit")), "pppoe-auth", "customer"),
        (dict(pppoe=PppoeObservation(up=True, ipv4=None, failure="ipcp-no-address")), "ipcp", "isp"),
        (dict(ipv6=Ipv6Observation(mode="none")), "ipv6", "ntt"),
        (dict(ipv6=Ipv6Observation(mode="none"), v6_option=False), "ipv6", "operator"),
        (
            dict(ipv6=Ipv6Observation(mode="pd", prefix="2001:db8:200::/56", prefix_length=56)),
            "ipv6",
            "operator",
        ),
        (dict(dns_servers=[]), "dns", "isp"),
    ],
)
def test_fault_gives_stage_and_party(next_dev, changes, stage, party):
    d = judge("CAF12345678", next_dev, obs(**changes))
    assert not d.ok
    assert (d.failed.stage, d.failed.party) == (stage, party)
    assert d.failed.next_action and d.failed.cause
    after = d.stages[[v.stage for v in d.stages].index(stage) + 1 :]
    assert all(v.status == "skipped" for v in after)


def test_cross_ra_where_pd_expected(cross_dev):
    o = Observations(
        cli_ok=True,
        snmp_ok=True,
        wan_link_up=True,
        ipv6=Ipv6Observation(mode="ra", prefix="2001:db8::/64", prefix_length=64),
    )
    d = judge("CAF00000001", cross_dev, o)
    assert (d.failed.stage, d.failed.party) == ("ipv6", "operator")
    assert "RA" in d.failed.summary and "PD" in d.failed.summary


def test_cross_pd_without_lan_prefix(cross_dev):
    o = Observations(
        cli_ok=True,
        snmp_ok=True,
        wan_link_up=True,
        ipv6=Ipv6Observation(mode="pd", prefix="2001:db8:100::/56", prefix_length=56),
    )
    assert judge("x", cross_dev, o).failed.stage == "ipv6"


def test_cross_tunnel_down_is_vne(cross_dev):
    o = Observations(
        cli_ok=True,
        snmp_ok=True,
        wan_link_up=True,
        tunnel_up=False,
        ipv6=Ipv6Observation(
            mode="pd", prefix="2001:db8:100::/56", prefix_length=56, lan_prefix="2001:db8:100:1::/64"
        ),
    )
    d = judge("x", cross_dev, o)
    assert (d.failed.stage, d.failed.party) == ("ipv4-over-ipv6", "vne")


def test_cross_has_no_pppoe_stages(cross_dev):
    o = Observations(
        cli_ok=True,
        snmp_ok=True,
        wan_link_up=True,
        tunnel_up=True,
        dns_servers=["2001:db8::53"],
        lan_ok=True,
        ipv6=Ipv6Observation(
            mode="pd", prefix="2001:db8:100::/56", prefix_length=56, lan_prefix="2001:db8:100:1::/64"
        ),
    )
    d = judge("x", cross_dev, o)
    assert d.ok
    assert not any(v.stage.startswith("pppoe") for v in d.stages)


def test_unobserved_is_skipped_not_failed(next_dev):
    d = judge("x", next_dev, Observations(cli_ok=True))
    assert d.ok
    assert {v.stage for v in d.stages if v.status == "skipped"} >= {
        "wan-link",
        "pppoe-discovery",
        "ipv6",
        "dns",
    }

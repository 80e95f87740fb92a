"""The lab's address plan, renderers and fault bookkeeping: pure functions, no root needed."""

import ipaddress

import pytest

from lab.daemons import Kea, Radvd, _ra_block
from lab.faults import FAULTS, bras_accounts
from lab.network import pppoe_filter
from lab.state import Account, FaultRecord, LabState
from lab.topology import (
    AFTR_ADDR,
    AFTR_NET,
    BRAS_POOL_END,
    CROSS_PD_NET,
    DENWA_PD_NET,
    MAX_CPES,
    ROUTER_PD_NET,
    Profile,
    Topology,
    TopologyError,
    parse_profiles,
)

ALL = list(Profile)


def test_one_profile_applies_to_every_cpe():
    assert parse_profiles("cross", 4) == [Profile.CROSS] * 4
    assert parse_profiles("next", None) == [Profile.NEXT] * 3


def test_comma_list_assigns_profiles_in_order():
    assert parse_profiles("next,cross,next-denwa", None) == [Profile.NEXT, Profile.CROSS, Profile.NEXT_DENWA]


@pytest.mark.parametrize(
    ("spec", "cpes", "message"),
    [
        ("nxt", 2, "unknown profile"),
        ("next,cross", 3, "lists 2 profiles but --cpes is 3"),
        ("next", 0, "1 to"),
        ("next", MAX_CPES + 1, "1 to"),
        ("", 1, "empty"),
    ],
)
def test_bad_profiles_are_refused_clearly(spec, cpes, message):
    with pytest.raises(TopologyError, match=message):
        parse_profiles(spec, cpes)


def test_probe_line_must_exist():
    with pytest.raises(TopologyError, match="probe-line"):
        Topology.build([Profile.NEXT], probe_line=2)


def _big(profile: Profile) -> Topology:
    return Topology.build([profile] * MAX_CPES)


@pytest.mark.parametrize(
    ("profile", "net", "length"),
    [
        (Profile.CROSS, CROSS_PD_NET, 56),
        (Profile.NEXT_DENWA, DENWA_PD_NET, 56),
        (Profile.NEXT_DENWA_ROUTER, ROUTER_PD_NET, 60),
    ],
)
def test_delegated_prefixes_stay_in_their_range_and_never_overlap(profile, net, length):
    pools = [line.pd_pool for line in _big(profile).lines]
    for line, pool in zip(_big(profile).lines, pools, strict=True):
        assert pool.subnet_of(net)
        assert line.expected_pd.prefixlen == length and line.expected_pd.subnet_of(pool)
    for i, a in enumerate(pools):
        for b in pools[i + 1 :]:
            assert not a.overlaps(b)


def test_cross_prefixes_fall_in_the_mape_rule():
    # The lab's MAP-E rule: 2001:db8:100::/41 -> 203.0.113.128/25, EA 15 bits (41 + 15 = 56).
    for line in _big(Profile.CROSS).lines:
        assert line.expected_pd.subnet_of(ipaddress.IPv6Network("2001:db8:100::/41"))
        assert line.expected_pd.prefixlen == 41 + 15


def test_names_fit_the_kernel_and_carry_the_prefix():
    topo = _big(Profile.NEXT)
    for line in topo.lines:
        names = [
            line.cpe_ns,
            line.lan_ns,
            line.bridge,
            line.wan_port,
            line.pppoe_line_port,
            line.pppoe_bras_port,
            line.mgmt_port,
            line.cpe_wan_if,
            line.cpe_mgmt_if,
            line.cpe_lan_if,
        ]
        for name in names:
            assert name.startswith("hkl") and len(name) <= 15, name


def test_addresses_are_documentation_ranges_only():
    docs4 = [ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
    docs6 = ipaddress.IPv6Network("2001:db8::/32")
    for line in _big(Profile.CROSS).lines + _big(Profile.NEXT).lines:
        assert any(line.mgmt_addr.ip in n for n in docs4)
        assert line.link_net.subnet_of(docs6)
    assert AFTR_ADDR in AFTR_NET and AFTR_NET.subnet_of(docs6)
    # The PPPoE pool must stay below the MAP-E rule's 203.0.113.128/25.
    assert ipaddress.IPv4Address("203.0.113.128") > BRAS_POOL_END


def test_every_line_gets_its_own_mgmt_address_and_isp_account():
    topo = _big(Profile.NEXT)
    assert len({line.mgmt_addr for line in topo.lines}) == MAX_CPES
    assert len({line.isp_user for line in topo.lines}) == MAX_CPES


def test_kea_delegates_only_on_pd_lines_and_drops_the_pool_for_ra_faults(tmp_path, monkeypatch):
    monkeypatch.setattr("lab.daemons._run_script_hook", lambda: "/hook.so")
    topo = Topology.build([Profile.NEXT, Profile.CROSS, Profile.NEXT_DENWA_ROUTER])
    subnets = Kea(tmp_path).render(topo, ra_only=set())["Dhcp6"]["subnet6"]
    assert "pd-pools" not in subnets[0]
    assert subnets[1]["pd-pools"][0]["delegated-len"] == 56
    assert subnets[2]["pd-pools"][0]["delegated-len"] == 60
    assert [s["interface"] for s in subnets] == ["hkl-ln1", "hkl-ln2", "hkl-ln3"]
    faulted = Kea(tmp_path).render(topo, ra_only={2})["Dhcp6"]["subnet6"]
    assert "pd-pools" not in faulted[1] and "pd-pools" in faulted[2]


def test_radvd_sends_prefix_on_ra_lines_and_managed_flag_on_pd_lines(tmp_path):
    topo = Topology.build([Profile.NEXT, Profile.CROSS])
    ra, pd = _ra_block(topo.lines[0], False), _ra_block(topo.lines[1], False)
    assert "AdvManagedFlag off" in ra and "prefix 2001:db8:0:1::/64" in ra
    assert "AdvManagedFlag on" in pd and "prefix" not in pd
    assert "RDNSS 2001:db8:0:ffff::53" in ra and "RDNSS 2001:db8:0:ffff::53" in pd
    faulted = _ra_block(topo.lines[1], True)
    assert "AdvManagedFlag off" in faulted and "prefix 2001:db8:0:2::/64" in faulted
    radvd = Radvd(tmp_path)
    radvd.write(topo, set())
    assert radvd.conf.read_text().count("interface hkl-ln") == 2


def test_pppoe_filter_covers_every_pppoe_link_and_no_cross_line():
    topo = Topology.build([Profile.NEXT, Profile.CROSS, Profile.NEXT_DENWA])
    rules = pppoe_filter(topo)
    assert '"hkl-ln1p"' in rules and '"hkl-pp3"' in rules and '"hkl-brasp"' in rules
    assert "hkl-ln2p" not in rules and "hkl-pp2" not in rules
    assert rules.count("ether type != { 0x8863, 0x8864 } drop") == 2


def _state(*faults: FaultRecord) -> LabState:
    return LabState(
        started_at=0,
        profiles=["next", "next"],
        accounts=[
            Account(user="line1@isp.example", password="right-1", max_sessions=2),
            Account(user="line2@isp.example", password="right-2", max_sessions=2),
        ],
        faults=list(faults),
    )


def test_bras_accounts_follow_the_active_faults():
    clean = bras_accounts(_state())
    assert [a["password"] for a in clean] == ["right-1", "right-2"]
    faulted = bras_accounts(
        _state(
            FaultRecord(kind="wrong-password", cpe=1, undo={"bras_password": "other"}),
            FaultRecord(kind="account-disabled", cpe=2),
            FaultRecord(kind="session-limit", cpe=2, undo={"limit": 1}),
        )
    )
    assert faulted[0]["password"] == "other" and faulted[0]["enabled"] is True
    assert faulted[1] == {
        "user": "line2@isp.example",
        "password": "right-2",
        "enabled": False,
        "max_sessions": 1,
        "ip": None,
    }


def test_every_documented_fault_kind_exists():
    assert set(FAULTS) == {
        "bras-down",
        "wrong-password",
        "account-disabled",
        "session-limit",
        "kea-down",
        "ra-instead-of-pd",
        "wan-cut",
        "sshd-down",
        "snmpd-down",
    }

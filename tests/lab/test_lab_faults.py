"""Every fault, seen from a real CPE (UML guest), and gone again after `clear`."""

import ipaddress

import pytest

from lab.pytest_plugin import (
    cpe_dhcpcd,
    cpe_dhcpcd_stop,
    got_pado,
    ppp_dial,
    ppp_discovery,
    ppp_hangup,
    wait_sessions,
)
from lab.status import snmp_up, tcp_open

pytestmark = pytest.mark.lab

NEXT, DENWA, CROSS = 1, 2, 3


def _health(lab, node):
    return next(r.health for r in lab.status() if r.name == node)


@pytest.fixture
def pppoe(lab):
    yield lab
    lab.clear()
    ppp_hangup(lab, NEXT)


@pytest.mark.parametrize("kind", ["wrong-password", "account-disabled"])
def test_authentication_faults_refuse_the_cpe_until_cleared(pppoe, kind):
    assert pppoe.fault(kind, cpe=NEXT)
    assert _health(pppoe, "hkl-cpe1") == f"fault: {kind} (cpe1)"
    code, out = ppp_dial(pppoe, NEXT)
    assert code != 0 and "CHAP authentication failed" in out, out  # PADO answered, authentication refused
    assert pppoe.bras.sessions() == []
    pppoe.clear(kind, cpe=NEXT)
    code, out = ppp_dial(pppoe, NEXT)
    assert code == 0, out


def test_session_limit_refuses_a_new_session_until_cleared(pppoe):
    assert ppp_dial(pppoe, NEXT)[0] == 0  # the CPE holds one of its two sessions
    assert len(wait_sessions(pppoe, 1)) == 1
    with pytest.raises(Exception, match="session-limit needs"):
        pppoe.fault("session-limit", cpe=DENWA)  # line 2 holds none: nothing to fill the limit with
    pppoe.fault("session-limit", cpe=NEXT)
    code, out = ppp_dial(pppoe, NEXT)
    assert code != 0 and "Session limit exceeded" in out
    pppoe.clear("session-limit")
    assert ppp_dial(pppoe, NEXT)[0] == 0
    assert len(wait_sessions(pppoe, 2)) == 2


def test_bras_down_means_no_pado_until_cleared(pppoe):
    pppoe.fault("bras-down")
    log = ppp_discovery(pppoe, NEXT)
    assert "Send PPPOE Discovery V1T1 PADI" in log and not got_pado(log)
    assert _health(pppoe, "bras") == "fault: bras-down"
    pppoe.clear("bras-down")
    assert got_pado(ppp_discovery(pppoe, NEXT))
    assert _health(pppoe, "bras") == "ok"


def test_wan_cut_silences_the_line_until_cleared(pppoe):
    pppoe.fault("wan-cut", cpe=NEXT)
    assert not got_pado(ppp_discovery(pppoe, NEXT))
    pppoe.clear()
    assert got_pado(ppp_discovery(pppoe, NEXT))


@pytest.fixture
def dhcp(lab):
    yield lab
    lab.clear()
    cpe_dhcpcd_stop(lab, CROSS)


def test_kea_down_leaves_a_cpe_without_prefix_until_cleared(dhcp):
    dhcp.fault("kea-down")
    out = cpe_dhcpcd(dhcp, CROSS, wait=4)
    assert "inet6 2001:db8:100:" not in out
    dhcp.clear("kea-down")
    cpe_dhcpcd_stop(dhcp, CROSS)
    out = cpe_dhcpcd(dhcp, CROSS)
    assert f"inet6 {ipaddress.IPv6Network(dhcp.cpe(CROSS).expected_pd).network_address + 1}/64" in out


def test_ra_instead_of_pd_gives_the_cpe_a_slaac_address_and_no_prefix(dhcp):
    dhcp.fault("ra-instead-of-pd", cpe=CROSS)
    out = cpe_dhcpcd(dhcp, CROSS, until="wan")
    assert "inet6 2001:db8:0:3:" in out  # SLAAC from the line's /64
    assert "inet6 2001:db8:100:" not in out  # no delegated prefix
    dhcp.clear()
    cpe_dhcpcd_stop(dhcp, CROSS)
    out = cpe_dhcpcd(dhcp, CROSS)
    assert "inet6 2001:db8:100:" in out


def test_sshd_down_refuses_ssh_until_cleared(lab):
    cpe = lab.cpe(DENWA)
    try:
        lab.fault("sshd-down", cpe=DENWA)
        assert not tcp_open(cpe.mgmt_ip, 22)
        assert snmp_up([cpe]) == [True]  # only sshd is down
        assert _health(lab, cpe.name) == "fault: sshd-down (cpe2)"
    finally:
        lab.clear()
    assert tcp_open(cpe.mgmt_ip, 22)
    assert lab.cpe_exec(DENWA, "hostname").stdout.strip() == cpe.name


def test_snmpd_down_silences_snmp_until_cleared(lab):
    cpe = lab.cpe(DENWA)
    try:
        lab.fault("snmpd-down", cpe=DENWA)
        assert snmp_up([cpe]) == [False]
        assert tcp_open(cpe.mgmt_ip, 22)
    finally:
        lab.clear()
    assert snmp_up([cpe]) == [True]
    assert _health(lab, cpe.name) == "ok"

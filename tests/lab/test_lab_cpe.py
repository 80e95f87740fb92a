"""The lab's CPEs (UML guests) against the lab's NGN: real pppd, dhcpcd, sshd and snmpd."""

import asyncio
import ipaddress
import re
import subprocess

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
from lab.topology import BRAS_ADDR, BRAS_DNS, CROSS_PD_NET, PPPOE_MRU

pytestmark = pytest.mark.lab

NEXT, DENWA, CROSS, ROUTER = 1, 2, 3, 4  # the default lab's lines


@pytest.fixture
def pppoe(lab):
    yield lab
    ppp_hangup(lab, NEXT)


@pytest.fixture
def dhcp(lab):
    used = []
    yield lab, used.append
    for index in used:
        cpe_dhcpcd_stop(lab, index)


def _ppp_addresses(lab, index):
    out = lab.cpe_exec(index, "ip -o addr show | grep ' ppp'").stdout
    return re.findall(r"inet (\S+) peer (\S+)/32", out), "inet6 fe80::" in out


# ---------------------------------------------------------------- PPPoE
def test_cpe_pppd_logs_in_with_chap_and_gets_ipcp_address_and_dns(pppoe):
    code, out = ppp_dial(pppoe, NEXT)
    assert code == 0, out
    assert "CHAP authentication succeeded" in out
    (addrs, ipv6cp) = _ppp_addresses(pppoe, NEXT)
    assert addrs == [(pppoe.state.accounts[0].ip, str(BRAS_ADDR))]
    assert ipv6cp, "IPv6CP should give the PPP link link-local addresses"
    dns = pppoe.cpe_exec(NEXT, "cat /etc/ppp/resolv.conf").stdout.split()
    assert dns == ["nameserver", str(BRAS_DNS[0]), "nameserver", str(BRAS_DNS[1])]
    mtu = pppoe.cpe_exec(NEXT, "cat /sys/class/net/ppp0/mtu").stdout.strip()
    assert int(mtu) == PPPOE_MRU
    sessions = wait_sessions(pppoe, 1)
    assert [(s["user"], s["ip"]) for s in sessions] == [(pppoe.cpe(NEXT).isp_user, addrs[0][0])]


def test_cpe_pppd_logs_in_with_pap_when_it_refuses_chap(pppoe):
    code, out = ppp_dial(pppoe, NEXT, extra="refuse-chap")
    assert code == 0, out
    assert "PAP authentication succeeded" in out


def test_a_wrong_password_is_refused(pppoe):
    code, out = ppp_dial(pppoe, NEXT, password="not-the-password")
    assert code != 0 and "CHAP authentication failed" in out, out
    assert pppoe.bras.sessions() == []


def test_a_third_session_on_a_two_session_account_is_refused(pppoe):
    user = pppoe.cpe(NEXT).isp_user
    assert [a.max_sessions for a in pppoe.bras.accounts if a.user == user] == [2]
    for _ in range(2):
        code, out = ppp_dial(pppoe, NEXT)
        assert code == 0, out
    code, out = ppp_dial(pppoe, NEXT)
    assert code != 0 and "Session limit exceeded" in out
    assert len([s for s in wait_sessions(pppoe, 2) if s["user"] == user]) == 2


def test_a_cross_line_reaches_no_bras_but_a_next_line_does(lab):
    cross = ppp_discovery(lab, CROSS)
    assert "Send PPPOE Discovery V1T1 PADI" in cross and not got_pado(cross)
    assert got_pado(ppp_discovery(lab, NEXT))


# ---------------------------------------------------------------- IPv6
@pytest.mark.parametrize(("index", "length"), [(DENWA, 56), (CROSS, 56), (ROUTER, 60)])
def test_cpe_dhcpcd_gets_its_prefix_from_kea_and_numbers_its_lan(dhcp, index, length):
    lab, uses = dhcp
    uses(index)
    cpe = lab.cpe(index)
    out = cpe_dhcpcd(lab, index)
    expected = ipaddress.IPv6Network(cpe.expected_pd)
    assert expected.prefixlen == length
    lan64 = next(expected.subnets(new_prefix=64))
    assert f"inet6 {lan64.network_address + 1}/64" in out, out
    if cpe.profile == "cross":
        assert expected.subnet_of(CROSS_PD_NET)  # inside the lab's MAP-E rule
    routes = subprocess.run(["ip", "-n", "hkl-core", "-6", "route"], capture_output=True, text=True).stdout
    assert f"{expected} via fe80::" in routes


def test_next_line_without_denwa_gets_slaac_and_no_prefix(dhcp):
    lab, uses = dhcp
    uses(NEXT)
    cpe = lab.cpe(NEXT)
    out = cpe_dhcpcd(lab, NEXT, until="wan")  # it asks for a prefix too: the NGN has none for it
    wan = re.findall(r"inet6 (2001:db8:\S+) scope global", out)
    assert wan and all(
        ipaddress.IPv6Interface(a).network == ipaddress.IPv6Network(cpe.ra_prefix) for a in wan
    )
    lab.cpe_exec(NEXT, "sleep 2")  # give a (wrong) delegation time to show up
    lan = lab.cpe_exec(NEXT, f"ip -6 addr show dev {cpe.lan_iface} scope global").stdout
    assert "inet6" not in lan  # nothing delegated on an RA-only line


def test_each_cpe_has_a_lan_side(lab):
    for cpe in lab.cpes:
        ping = subprocess.run(
            ["ip", "netns", "exec", cpe.lan_netns, "ping", "-c", "1", "-W", "2", cpe.lan_addr4.split("/")[0]],
            capture_output=True,
            text=True,
        )
        assert ping.returncode == 0, ping.stdout


# ---------------------------------------------------------------- management plane
def test_ssh_login_with_password_and_with_key(lab):
    from netmiko import ConnectHandler

    cpe = lab.cpe(CROSS)
    with ConnectHandler(
        device_type="linux",
        host=cpe.mgmt_ip,
        username=cpe.ssh_user,
        password=cpe.ssh_password.get_secret_value(),
        use_keys=False,
        allow_agent=False,
    ) as conn:
        assert conn.send_command("hostname").strip() == cpe.name
    assert lab.cpe_exec(CROSS, "hostname").stdout.strip() == cpe.name  # key login (OpenSSH client)


def test_ssh_refuses_a_wrong_password(lab):
    from netmiko import ConnectHandler
    from netmiko.exceptions import NetmikoAuthenticationException

    cpe = lab.cpe(CROSS)
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(
            device_type="linux",
            host=cpe.mgmt_ip,
            username=cpe.ssh_user,
            password="wrong-pass",
            use_keys=False,
            allow_agent=False,
        )


async def _snmp(cpe, auth, oid, walk=False):
    from pysnmp.hlapi.v3arch.asyncio import (
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        get_cmd,
        walk_cmd,
    )

    engine = SnmpEngine()
    target = await UdpTransportTarget.create((cpe.mgmt_ip, 161), timeout=1, retries=2)
    try:
        if not walk:
            err, status, _, binds = await get_cmd(
                engine, auth, target, ContextData(), ObjectType(ObjectIdentity(oid))
            )
            assert err is None and not status, (err, status)
            return [(str(b[0]), str(b[1])) for b in binds]
        rows = []
        async for err, status, _, binds in walk_cmd(
            engine, auth, target, ContextData(), ObjectType(ObjectIdentity(oid)), lexicographicMode=False
        ):
            assert err is None and not status, (err, status)
            rows += [(str(b[0]), str(b[1])) for b in binds]
        return rows
    finally:
        engine.close_dispatcher()


SYS_NAME, IF_DESCR = "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.2.2.1.2"


def test_snmp_v2c_get_and_walk(lab):
    from pysnmp.hlapi.v3arch.asyncio import CommunityData

    cpe = lab.cpe(DENWA)
    auth = CommunityData(cpe.snmp_community.get_secret_value())
    assert asyncio.run(_snmp(cpe, auth, SYS_NAME)) == [(SYS_NAME, cpe.name)]
    names = {value for _, value in asyncio.run(_snmp(cpe, auth, IF_DESCR, walk=True))}
    assert {cpe.wan_iface, cpe.mgmt_iface, cpe.lan_iface} <= names


def test_snmp_v3_authpriv_get_and_wrong_key_refused(lab):
    from pysnmp.hlapi.v3arch.asyncio import USM_AUTH_HMAC96_SHA, USM_PRIV_CFB128_AES, UsmUserData

    cpe = lab.cpe(DENWA)
    auth = UsmUserData(
        cpe.snmp_v3_user,
        cpe.snmp_auth_key.get_secret_value(),
        cpe.snmp_priv_key.get_secret_value(),
        authProtocol=USM_AUTH_HMAC96_SHA,
        privProtocol=USM_PRIV_CFB128_AES,
    )
    assert asyncio.run(_snmp(cpe, auth, SYS_NAME)) == [(SYS_NAME, cpe.name)]
    bad = UsmUserData(
        cpe.snmp_v3_user,
        "wrong-auth-key",
        cpe.snmp_priv_key.get_secret_value(),
        authProtocol=USM_AUTH_HMAC96_SHA,
        privProtocol=USM_PRIV_CFB128_AES,
    )
    with pytest.raises(AssertionError):
        asyncio.run(_snmp(cpe, bad, SYS_NAME))


def test_secrets_never_show_in_the_public_models(lab):
    cpe = lab.cpe(NEXT)
    text = repr(cpe) + cpe.model_dump_json() + repr(lab.bras)
    for secret in (
        cpe.ssh_password,
        cpe.snmp_community,
        cpe.snmp_auth_key,
        cpe.snmp_priv_key,
        cpe.isp_password,
    ):
        assert secret.get_secret_value() not in text

"""The drivers' status parsers on real command output (Linux `ip -j`, Yamaha/NEC/Cisco console text)."""

from __future__ import annotations

import ipaddress

from provisioner.drivers.cisco_iosxe import parse_show_version
from provisioner.drivers.cli_driver import parse_interfaces
from provisioner.drivers.linux import parse_ipv4, parse_ipv6, parse_pppoe, parse_tunnels
from provisioner.drivers.nec_ix import pppoe_from_interface, pppoe_interfaces
from provisioner.drivers.openwrt import batch_packages, parse_ifstatus_prefixes
from provisioner.drivers.yamaha import parse_environment, parse_status_pp, parse_status_tunnel

PPP0 = [{"ifindex": 7, "ifname": "ppp0", "flags": ["POINTOPOINT", "MULTICAST", "NOARP", "UP", "LOWER_UP"],
         "mtu": 1454, "operstate": "UNKNOWN",
         "addr_info": [{"family": "inet", "local": "203.0.113.10", "address": "203.0.113.1", "prefixlen": 32,
                        "scope": "global", "label": "ppp0"}]}]


def test_linux_pppoe_up_down_connecting_and_auth_failure():
    up = parse_pppoe(1, "ppp0", PPP0, True, [])
    assert up.up and up.ipv4 == ipaddress.IPv4Address("203.0.113.10") and str(up.peer) == "203.0.113.1"
    assert up.mtu == 1454
    assert parse_pppoe(1, "ppp0", [], True, []).state == "connecting"
    assert parse_pppoe(1, "ppp0", [], False, []).state == "down"
    # `ip -j` prints [{}] for a missing device in some versions: still down
    assert not parse_pppoe(1, "ppp0", [{}], False, []).up
    failed = parse_pppoe(1, "ppp0", [], True, ["Nov 22 03:00:01 hkl-cpe1 pppd[211]: CHAP authentication failed"])
    assert failed.state == "connecting" and failed.detail == "authentication failed"


def test_linux_ipv6_prefixes_tell_delegated_from_slaac():
    links = [
        {"ifname": "wan0", "addr_info": [{"family": "inet6", "local": "2001:db8:0:1:24b:4cff:fe01:101",
                                          "prefixlen": 64, "scope": "global", "dynamic": True, "mngtmpaddr": True,
                                          "valid_life_time": 2591990}]},
        {"ifname": "lan0", "addr_info": [{"family": "inet6", "local": "2001:db8:104:1::1", "prefixlen": 64,
                                          "scope": "global", "valid_life_time": 4294967295}]},
        {},
    ]
    routes = [{"type": "unreachable", "dst": "2001:db8:104::/56", "dev": "lo", "protocol": "dhcp"}]
    got = parse_ipv6(links, routes)
    by_if = {(p.interface, str(p.prefix)): p for p in got}
    assert by_if[("lo", "2001:db8:104::/56")].origin == "pd"
    assert by_if[("lan0", "2001:db8:104:1::/64")].origin == "pd"
    assert by_if[("lan0", "2001:db8:104:1::/64")].valid_lifetime_s is None  # forever
    assert by_if[("wan0", "2001:db8:0:1::/64")].origin == "ra"


def test_linux_ipv4_and_tunnels():
    assert [str(a.address) for a in parse_ipv4(PPP0)] == ["203.0.113.10/32"]
    links = [{}, {"ifname": "ip6tnl0", "flags": ["NOARP"], "operstate": "DOWN"},
             {"ifname": "dslite0", "flags": ["POINTOPOINT", "NOARP", "UP", "LOWER_UP"], "operstate": "UNKNOWN",
              "linkinfo": {"info_kind": "ip6tnl", "info_data": {"local": "2001:db8:104:1::1",
                                                                "remote": "2001:db8:0:fffe::1"}}}]
    (t,) = parse_tunnels(links)
    assert (t.name, t.kind, t.up, t.remote) == ("dslite0", "ds-lite", True, "2001:db8:0:fffe::1")


# A real RTX1200 session (English console) and a real RTX1100 one (Japanese), as published by their users.
RTX_PP_EN = """PP[01]:
Description:
Current PPPoE session status is Connected.
Access Concentrator: BAS
1 minute 49 seconds  connection.
Received: 14 packets [840 octets]  Load: 0.0%
Transmitted: 13 packets [511 octets]  Load: 0.0%
PPP Cofigure Options
    LCP Local: Magic-Number MRU, Remote: CHAP Magic-Number MRU
    IPCP Local: Primary-DNS(203.0.113.53) Secondary-DNS(203.0.113.54), Remote: IP-Address
    PP IP Address Local: 203.0.113.12, Remote: 203.0.113.1
    CCP: None
"""
RTX_PP_JA = """PP[01]:
説明:
PPPoEセッションは接続されています
接続相手: PPPoE_Server
通信時間: 20分39秒
PPPオプション
    IPCP Local: IP-Address, Remote: IP-Address
    PP IP Address Local: 100.1.1.1, Remote: 50.1.1.1
"""


def test_yamaha_show_status_pp_in_both_languages():
    en = parse_status_pp(RTX_PP_EN)
    assert en.up and str(en.ipv4) == "203.0.113.12" and str(en.peer) == "203.0.113.1"
    ja = parse_status_pp(RTX_PP_JA)
    assert ja.up and str(ja.ipv4) == "100.1.1.1"
    assert parse_status_pp("PP[01]:\nCurrent PPPoE session status is Offline.\n").state == "down"
    assert parse_status_pp("PP[01]:\nCurrent PPPoE session status is In connecting process.\n").state == "connecting"


def test_yamaha_tunnel_and_environment():
    ja = "TUNNEL[1]:\n説明:\n  インタフェースの種類: IPsec\n  トンネルインタフェースは接続されています\n"
    assert parse_status_tunnel(ja, "1").up
    assert parse_status_tunnel("TUNNEL[1]:\n  Interface type: MAP-E\n  Tunnel interface is disconnected\n", "1").state == "down"
    env = ("RTX1200 BootROM Ver.1.01\nRTX1200 Rev.10.01.71 (Thu Sep 29 15:08:40 2016)\n"
           "  main:  RTX1200 ver=c0 serial=D12345678 MAC-Address=00:a0:de:aa:bb:11\n"
           "Elapsed time from boot: 5days 21:12:17\n")
    facts = parse_environment(env, "rtx#")
    assert (facts.model, facts.os_version, facts.serial, facts.hostname) == ("RTX1200", "Rev.10.01.71", "D12345678", "rtx")
    assert facts.uptime_s == ((5 * 24 + 21) * 60 + 12) * 60 + 17


def test_nec_and_cisco_interfaces():
    text = ("GigaEthernet0.1 is up, line protocol is up\n  Internet address is 203.0.113.20/32\n"
            "Tunnel0.0 is down, line protocol is down\n"
            "Dialer1 is administratively down, line protocol is down\n")
    ifs = parse_interfaces(text)
    assert ifs["GigaEthernet0.1"]["up"] and not ifs["Tunnel0.0"]["up"] and not ifs["Dialer1"]["up"]
    st = pppoe_from_interface(1, "GigaEthernet0.1", ifs["GigaEthernet0.1"])
    assert st.up and str(st.ipv4) == "203.0.113.20"
    assert not pppoe_from_interface(1, "Tunnel0.0", ifs["Tunnel0.0"]).up
    entries = [("interface GigaEthernet0.1", "encapsulation pppoe"), ("interface GigaEthernet0.0", "no shutdown")]
    assert pppoe_interfaces(entries) == ["GigaEthernet0.1"]
    v = parse_show_version("Cisco IOS XE Software, Version 17.03.04\nr1 uptime is 1 day, 2 hours, 3 minutes\n"
                           "cisco C1111-8P (1RU) processor\nProcessor board ID FGL0000X\n", "r1#")
    assert (v.os_version, v.model, v.serial, v.uptime_s) == ("17.03.04", "C1111-8P", "FGL0000X", 93780.0)


def test_openwrt_batch_packages_and_prefixes():
    batch = "set network.wan=interface\nset network.wan.proto='pppoe'\ndelete firewall.@zone[1].masq\n" \
            "add_list dhcp.lan.dhcp_option='6,192.168.1.1'\ncommit\n"
    assert batch_packages(batch) == ["dhcp", "firewall", "network"]
    status = {"l3_device": "wan", "ipv6-prefix": [{"address": "2001:db8:104::", "mask": 56, "valid": 7200}]}
    (p,) = parse_ifstatus_prefixes(status)
    assert str(p.prefix) == "2001:db8:104::/56" and p.origin == "pd"

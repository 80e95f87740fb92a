"""The NGN half of the lab, with real Kea, radvd, dnsmasq and dhcpcd (no UML guests needed)."""

import ipaddress
import json

import pytest

from lab.pytest_plugin import Capture, dhcpcd_once, ra_once, run_in_ns, send_frame
from lab.topology import (
    AFTR_ADDR,
    BRAS_IF,
    BRAS_NS,
    CORE_NS,
    CROSS_PD_NET,
    DENWA_PD_NET,
    NGN_DNS6,
    ROUTER_PD_NET,
)

pytestmark = pytest.mark.lab

NGN = {"profile": "next,cross,next-denwa,next-denwa-router", "guests": False}
PADI_MARKER = b"hkl-padi"
# PPPoE discovery header (ver/type 0x11, code PADI, session 0, length 16), Service-Name, Host-Uniq = marker.
PADI = bytes.fromhex("1109000000100101000001030008") + PADI_MARKER


@pytest.fixture
def ngn(lab_factory):
    return lab_factory(**NGN)


def _probe_on(lab, index):
    probe = lab.attach_probe(index)
    return probe.netns, probe.iface, probe.mac


def test_next_line_advertises_a_64_without_managed_flag(ngn):
    netns, iface, _ = _probe_on(ngn, 1)
    ra = ra_once(netns, iface)
    assert ra is not None, "no RA on a Next line"
    assert ra["M"] == 0 and ra["O"] == 1
    assert ra["prefixes"] == [ngn.cpe(1).ra_prefix] == ["2001:db8:0:1::/64"]
    assert ra["rdnss"] == [str(NGN_DNS6)]


@pytest.mark.parametrize(
    ("index", "net", "length"), [(2, CROSS_PD_NET, 56), (3, DENWA_PD_NET, 56), (4, ROUTER_PD_NET, 60)]
)
def test_pd_lines_delegate_the_profiles_prefix_and_route_it(ngn, index, net, length):
    netns, iface, mac = _probe_on(ngn, index)
    ra = ra_once(netns, iface)
    assert ra["M"] == 1 and ra["prefixes"] == []
    got = dhcpcd_once(netns, iface, mac)
    assert "BOUND6" in got["reasons"], got
    pd = got["pd"]
    assert pd.prefixlen == length and pd.subnet_of(net)
    assert pd.subnet_of(ipaddress.IPv6Network(ngn.cpe(index).pd_pool))
    # The NGN edge routes the delegated prefix to the requesting router, as a BNG does.
    routes = run_in_ns(
        CORE_NS,
        "import subprocess;print(subprocess.run(['ip','-6','route'],capture_output=True,text=True).stdout)",
    )
    assert f"{pd} via fe80::" in routes and f"dev hkl-ln{index}" in routes


def test_ra_only_line_gets_no_prefix_from_dhcpv6(ngn):
    netns, iface, mac = _probe_on(ngn, 1)
    got = dhcpcd_once(netns, iface, mac, timeout=4)
    assert got["pd"] is None and "ROUTERADVERT" in got["reasons"]


DNS_QUERY = """
import socket, struct, sys, json
name, server = sys.argv[1], sys.argv[2]
q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0" + struct.pack(">HH", 28, 1)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (server, 53))
r = s.recv(512)
answers = struct.unpack(">H", r[6:8])[0]
print(json.dumps({"rcode": r[3] & 15, "answers": answers, "aaaa": socket.inet_ntop(socket.AF_INET6, r[-16:])}))
"""


def _use_address(netns, iface, address, router):
    run_in_ns(
        netns,
        "import subprocess,sys\n"
        "subprocess.run(['ip','addr','add',sys.argv[1],'dev',sys.argv[3]],check=True)\n"
        "subprocess.run(['ip','-6','route','replace','default','via',sys.argv[2],'dev',sys.argv[3]],check=True)",
        address,
        router,
        iface,
    )


def _host_on(lab, index):
    """The probe as an IPv6 host on a line: RA line, an address from the /64; PD line, from its prefix."""
    netns, iface, mac = _probe_on(lab, index)
    ra = ra_once(netns, iface)
    if lab.cpe(index).ipv6_mode == "ra":
        address = f"{ipaddress.IPv6Network(ra['prefixes'][0]).network_address + 0x100}/64"
    else:
        pd = dhcpcd_once(netns, iface, mac)["pd"]
        address = f"{pd.network_address + 1}/128"
    _use_address(netns, iface, address, ra["src"])
    return netns


@pytest.mark.parametrize("index", [1, 2])
def test_ngn_resolver_answers_the_aftr_name_through_each_line(ngn, index):
    netns = _host_on(ngn, index)
    answer = json.loads(run_in_ns(netns, DNS_QUERY, "gw.transix.jp", str(NGN_DNS6)))
    assert answer == {"rcode": 0, "answers": 1, "aaaa": str(AFTR_ADDR)}


def test_unknown_names_are_not_forwarded_anywhere(ngn):
    netns = _host_on(ngn, 1)
    answer = json.loads(run_in_ns(netns, DNS_QUERY, "example.com", str(NGN_DNS6)))
    assert answer["answers"] == 0 and answer["rcode"] != 0


def test_only_pppoe_crosses_from_a_next_line_to_the_bras_segment(ngn):
    netns, iface, _ = _probe_on(ngn, 1)
    with Capture(BRAS_NS, BRAS_IF) as bras:
        send_frame(netns, iface, 0x8863, PADI)
        send_frame(netns, iface, 0x88B5, PADI_MARKER)  # IEEE local experimental ethertype
    types = {f["type"] for f in bras.carrying(PADI_MARKER)}
    assert types == {0x8863}


def test_cross_line_has_no_path_to_the_bras(ngn):
    netns, iface, _ = _probe_on(ngn, 2)
    with Capture(BRAS_NS, BRAS_IF) as bras:
        send_frame(netns, iface, 0x8863, PADI)
    assert bras.carrying(PADI_MARKER) == []


def test_lines_do_not_see_each_others_pppoe(ngn):
    netns, iface, _ = _probe_on(ngn, 1)
    other = ngn.topology.line(3)  # another PPPoE line, through the same BRAS segment
    with Capture(other.cpe_ns, other.cpe_wan_if) as line3, Capture(BRAS_NS, BRAS_IF) as bras:
        send_frame(netns, iface, 0x8863, PADI)
    assert bras.carrying(PADI_MARKER), "the PADI should reach the BRAS"
    assert line3.carrying(PADI_MARKER) == []


# ---------------------------------------------------------------- faults of the NGN half
def test_kea_down_means_no_pd_until_cleared(ngn):
    netns, iface, mac = _probe_on(ngn, 2)
    assert ngn.fault("kea-down") is True
    assert ngn.fault("kea-down") is False  # idempotent
    assert [r.health for r in ngn.status() if r.name == "kea"] == ["fault: kea-down"]
    assert dhcpcd_once(netns, iface, mac, timeout=4)["pd"] is None
    assert ngn.clear("kea-down") == ["kea-down"]
    assert dhcpcd_once(netns, iface, mac)["pd"] is not None
    assert [r.health for r in ngn.status() if r.name == "kea"] == ["ok"]


def test_ra_instead_of_pd_turns_a_pd_line_into_an_ra_line_until_cleared(ngn):
    netns, iface, mac = _probe_on(ngn, 3)
    ngn.fault("ra-instead-of-pd", cpe=3)
    ra = ra_once(netns, iface)
    assert ra["M"] == 0 and ra["prefixes"] == ["2001:db8:0:3::/64"]
    assert dhcpcd_once(netns, iface, mac, timeout=4)["pd"] is None
    ngn.clear("ra-instead-of-pd", cpe=3)
    ra = ra_once(netns, iface)
    assert ra["M"] == 1 and ra["prefixes"] == []
    assert dhcpcd_once(netns, iface, mac)["pd"] is not None


def test_bras_down_stops_padi_reaching_the_bras_until_cleared(ngn):
    netns, iface, _ = _probe_on(ngn, 1)
    ngn.fault("bras-down")
    with Capture(BRAS_NS, BRAS_IF) as bras:
        send_frame(netns, iface, 0x8863, PADI)
    assert bras.carrying(PADI_MARKER) == []
    ngn.clear()
    with Capture(BRAS_NS, BRAS_IF) as bras:
        send_frame(netns, iface, 0x8863, PADI)
    assert bras.carrying(PADI_MARKER)


def test_wan_cut_isolates_the_cpe_wan_until_cleared(ngn):
    netns, iface, _ = _probe_on(ngn, 1)
    line = ngn.topology.line(1)
    ngn.fault("wan-cut", cpe=1)
    status = {r.name: r.health for r in ngn.status()}
    assert status["hkl-cpe1"].startswith("fault: wan-cut")
    with Capture(line.cpe_ns, line.cpe_wan_if) as wan:
        send_frame(netns, iface, 0x88B5, PADI_MARKER)
    assert wan.carrying(PADI_MARKER) == []
    ngn.clear("wan-cut", cpe=1)
    with Capture(line.cpe_ns, line.cpe_wan_if) as wan:
        send_frame(netns, iface, 0x88B5, PADI_MARKER)
    assert wan.carrying(PADI_MARKER)


def test_faults_refuse_what_does_not_apply(ngn):
    from lab.faults import FaultError

    with pytest.raises(FaultError, match="unknown fault"):
        ngn.fault("cable-eaten")
    with pytest.raises(FaultError, match="DHCPv6-PD line"):
        ngn.fault("ra-instead-of-pd", cpe=1)
    with pytest.raises(FaultError, match="needs --cpe"):
        ngn.fault("wan-cut")
    with pytest.raises(FaultError, match="whole lab"):
        ngn.fault("kea-down", cpe=1)
    assert ngn.state.faults == []

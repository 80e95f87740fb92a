"""The lab's address plan and node model: pure data, no side effects.

Every name the lab creates starts with `hkl`; every address is a documentation range (RFC 5737 / 3849).
Interface names stay within the kernel's 15 characters.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "hkl"
MAX_CPES = 32

# Namespaces
CORE_NS = "hkl-core"
BRAS_NS = "hkl-bras"
PROBE_NS = "hkl-probe"

# Management network (host <-> CPEs); the host end is the only link the lab puts in the host namespace.
MGMT_BRIDGE = "hkl-mgmt"
HOST_MGMT_IF = "hkl-mgmt0"
HOST_MGMT_PEER = "hkl-mgmt0p"
MGMT_NET = ipaddress.IPv4Network("198.51.100.0/24")
HOST_MGMT_ADDR = ipaddress.IPv4Interface("198.51.100.1/24")

# PPPoE (the BRAS segment, in hkl-core, reachable only through PPPoE-only links)
PPPOE_BRIDGE = "hkl-pppoe"
BRAS_PORT = "hkl-brasp"  # core end, on the PPPoE bridge
BRAS_IF = "hkl-bras0"  # BRAS namespace end, the guest's NIC
BRAS_ADDR = ipaddress.IPv4Address("203.0.113.1")
BRAS_POOL_START = ipaddress.IPv4Address("203.0.113.10")
BRAS_POOL_END = ipaddress.IPv4Address("203.0.113.127")  # .128/25 belongs to the MAP-E rule
BRAS_DNS = (ipaddress.IPv4Address("203.0.113.53"), ipaddress.IPv4Address("203.0.113.54"))
BRAS_AC_NAME = "hkl-bras"
BRAS_SERVICE_NAME = ""  # real NGN BASes answer any service name
PPPOE_MRU = 1454
ISP_REALM = "isp.example"
NEXT_MAX_SESSIONS = 2

# NGN IPv6 services (addresses live on hkl-core's loopback and are reached through each line's router)
NGN_DNS6 = ipaddress.IPv6Address("2001:db8:0:ffff::53")
AFTR_NET = ipaddress.IPv6Network("2001:db8:0:fffe::/64")
AFTR_NAME = "gw.transix.jp"
AFTR_ADDR = ipaddress.IPv6Address("2001:db8:0:fffe::1")
# Names the configs and probes use inside the NGN, all answered by the lab resolver.
NGN_NAMES: dict[str, ipaddress.IPv6Address] = {
    AFTR_NAME: AFTR_ADDR,
    "dgw.xpass.jp": ipaddress.IPv6Address("2001:db8:0:fffe::2"),
    "flets-east.jp": ipaddress.IPv6Address("2001:db8:0:fffe::80"),
    "flets-west.jp": ipaddress.IPv6Address("2001:db8:0:fffe::81"),
}
NGN_DOMAIN = "flets-east.jp"

# Delegated-prefix pools (the MAP-E calculator's lab rule maps 2001:db8:100::/41 -> 203.0.113.128/25)
CROSS_PD_NET = ipaddress.IPv6Network("2001:db8:100::/41")
DENWA_PD_NET = ipaddress.IPv6Network("2001:db8:200::/40")
ROUTER_PD_NET = ipaddress.IPv6Network("2001:db8:300::/40")
LINE_LINK_NET = ipaddress.IPv6Network("2001:db8::/48")  # line i: 2001:db8:0:<i>::/64

# CPE LAN side (the same private-looking documentation /24 behind every CPE, like real homes)
CPE_LAN_ADDR = ipaddress.IPv4Interface("192.0.2.1/24")
LAN_HOST_ADDR = ipaddress.IPv4Interface("192.0.2.100/24")

# Guest NIC names inside a CPE guest
GUEST_WAN, GUEST_MGMT, GUEST_LAN = "wan0", "mgmt0", "lan0"
GUEST_BRAS = "eth0"


class Profile(StrEnum):
    """What the NGN delivers on a line (see docs/domain: RA /64, PD /56 to an HGW, /60 behind an HGW)."""

    NEXT = "next"  # PPPoE + RA /64 (no ひかり電話)
    NEXT_DENWA = "next-denwa"  # PPPoE + DHCPv6-PD /56 to the gateway
    NEXT_DENWA_ROUTER = "next-denwa-router"  # PPPoE + DHCPv6-PD /60 (a router behind the home gateway)
    CROSS = "cross"  # DHCPv6-PD /56, IPoE only: no PPPoE reaches the BRAS

    @property
    def pppoe(self) -> bool:
        return self is not Profile.CROSS

    @property
    def pd_length(self) -> int | None:
        return {Profile.NEXT: None, Profile.NEXT_DENWA: 56, Profile.NEXT_DENWA_ROUTER: 60, Profile.CROSS: 56}[
            self
        ]

    @property
    def pd_net(self) -> ipaddress.IPv6Network | None:
        return {
            Profile.NEXT: None,
            Profile.NEXT_DENWA: DENWA_PD_NET,
            Profile.NEXT_DENWA_ROUTER: ROUTER_PD_NET,
            Profile.CROSS: CROSS_PD_NET,
        }[self]


class TopologyError(ValueError):
    """Bad lab parameters (a CLI maps it to exit code 2)."""


def parse_profiles(spec: str, cpes: int | None) -> list[Profile]:
    """`next` for every CPE, or a comma list assigning profiles to CPEs in order."""
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if not names:
        raise TopologyError("empty --profile")
    valid = ", ".join(p.value for p in Profile)
    try:
        profiles = [Profile(name) for name in names]
    except ValueError as exc:
        raise TopologyError(f"unknown profile in {spec!r}; choose from {valid}") from exc
    if len(profiles) == 1:
        count = 3 if cpes is None else cpes
        profiles = profiles * count
    elif cpes is not None and cpes != len(profiles):
        raise TopologyError(f"--profile lists {len(profiles)} profiles but --cpes is {cpes}")
    if not 1 <= len(profiles) <= MAX_CPES:
        raise TopologyError(f"the lab holds 1 to {MAX_CPES} CPEs, not {len(profiles)}")
    return profiles


def _mac(role: int, index: int, nic: int) -> str:
    # Locally administered unicast, "KL" = 4b:4c.
    return f"02:4b:4c:{role:02x}:{index:02x}:{nic:02x}"


@dataclass(frozen=True)
class Line:
    """One customer's access line (its own L2 segment, like a PON port) and the CPE on it."""

    index: int
    profile: Profile

    # --- names ---
    @property
    def cpe_name(self) -> str:
        return f"hkl-cpe{self.index}"

    @property
    def cpe_ns(self) -> str:
        return f"hkl-cpe{self.index}"

    @property
    def lan_ns(self) -> str:
        return f"hkl-lan{self.index}"

    @property
    def bridge(self) -> str:
        return f"hkl-ln{self.index}"

    @property
    def wan_port(self) -> str:
        """Core end of the CPE's WAN veth, on the line bridge (cut it for `wan-cut`)."""
        return f"hkl-ln{self.index}c"

    @property
    def pppoe_line_port(self) -> str:
        return f"hkl-ln{self.index}p"

    @property
    def pppoe_bras_port(self) -> str:
        return f"hkl-pp{self.index}"

    @property
    def mgmt_port(self) -> str:
        return f"hkl-m{self.index}"

    @property
    def cpe_wan_if(self) -> str:
        return f"hkl-c{self.index}wan"

    @property
    def cpe_mgmt_if(self) -> str:
        return f"hkl-c{self.index}mgmt"

    @property
    def cpe_lan_if(self) -> str:
        return f"hkl-c{self.index}lan"

    @property
    def lan_host_if(self) -> str:
        return "hkl-lan0"

    # --- MACs of the guest NICs ---
    @property
    def wan_mac(self) -> str:
        return _mac(1, self.index, 1)

    @property
    def mgmt_mac(self) -> str:
        return _mac(1, self.index, 2)

    @property
    def lan_mac(self) -> str:
        return _mac(1, self.index, 3)

    # --- addresses ---
    @property
    def mgmt_addr(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(f"{MGMT_NET.network_address + 10 + self.index}/{MGMT_NET.prefixlen}")

    @property
    def link_net(self) -> ipaddress.IPv6Network:
        return ipaddress.IPv6Network(f"2001:db8:0:{self.index:x}::/64")

    @property
    def router_addr(self) -> ipaddress.IPv6Interface:
        """The NGN edge's address on this line (RA source is its link-local)."""
        return ipaddress.IPv6Interface(f"{self.link_net.network_address + 1}/64")

    @property
    def pd_pool(self) -> ipaddress.IPv6Network | None:
        """Two delegable prefixes per line: the CPE normally takes the first, a probe the second."""
        if self.profile.pd_net is None or self.profile.pd_length is None:
            return None
        size = 1 << (128 - self.profile.pd_length)
        first = int(self.profile.pd_net.network_address) + 2 * self.index * size
        return ipaddress.IPv6Network((first, self.profile.pd_length - 1))

    @property
    def expected_pd(self) -> ipaddress.IPv6Network | None:
        """The prefix Kea hands the first client on this line (Kea allocates a pool in order)."""
        pool = self.pd_pool
        return None if pool is None else next(pool.subnets(new_prefix=pool.prefixlen + 1))

    @property
    def isp_user(self) -> str:
        return f"line{self.index}@{ISP_REALM}"


@dataclass(frozen=True)
class Topology:
    lines: tuple[Line, ...]
    probe_line: int = 1

    @classmethod
    def build(cls, profiles: list[Profile], probe_line: int = 1) -> Topology:
        if not 1 <= probe_line <= len(profiles):
            raise TopologyError(f"--probe-line must be 1..{len(profiles)}, not {probe_line}")
        lines = tuple(Line(i, p) for i, p in enumerate(profiles, start=1))
        pool_end = int(BRAS_POOL_END) - int(BRAS_POOL_START) + 1
        pppoe_lines = sum(1 for line in lines if line.profile.pppoe)
        if pppoe_lines * NEXT_MAX_SESSIONS > pool_end:
            raise TopologyError("too many PPPoE lines for the BRAS pool")
        return cls(lines, probe_line)

    def line(self, index: int) -> Line:
        for line in self.lines:
            if line.index == index:
                return line
        raise TopologyError(f"no CPE {index} in this lab (1..{len(self.lines)})")

    @property
    def pppoe_lines(self) -> list[Line]:
        return [line for line in self.lines if line.profile.pppoe]

    @property
    def probe(self) -> Line:
        return self.line(self.probe_line)


# Probe port: a technician's laptop on the ONU of one line.
PROBE_PORT = "hkl-probep"  # core end, on the line bridge
PROBE_IF = "hkl-probe0"  # in the probe namespace
PROBE_MAC = _mac(3, 0, 1)
BRAS_MAC = _mac(2, 0, 1)

"""Layer-2 access for the active probes: one interface, raw frames in and out through scapy's sockets.

The probes run inside the namespace that owns the interface (scapy reads routes at import), so everything
here reads that namespace's /sys and /proc.
"""

from __future__ import annotations

import ipaddress
import select
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from scapy.config import conf
from scapy.packet import Packet

F = TypeVar("F")
T = TypeVar("T")


def require_interface(iface: str) -> None:
    """Bad input, not an operational failure: the interface must exist in this namespace."""
    if not iface or "/" in iface or not Path("/sys/class/net", iface).exists():
        raise ValueError(f"no network interface {iface!r} in this namespace")


def interface_mac(iface: str) -> str:
    return Path("/sys/class/net", iface, "address").read_text().strip()


def link_local_address(iface: str) -> str | None:
    """The interface's fe80:: address from /proc/net/if_inet6, if it has one."""
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) == 6 and fields[5] == iface and fields[0].startswith("fe80"):
            hex_addr = fields[0]
            return ":".join(hex_addr[i : i + 4] for i in range(0, 32, 4))
    return None


def source_link_local(iface: str, mac: str) -> str:
    """The interface's link-local address, or the EUI-64 one its MAC implies (what the kernel would use)."""
    existing = link_local_address(iface)
    if existing:
        return str(ipaddress.IPv6Address(existing))
    octets = bytearray(int(part, 16) for part in mac.split(":"))
    octets[0] ^= 0x02
    interface_id = bytes(octets[:3]) + b"\xff\xfe" + bytes(octets[3:])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + interface_id))


def multicast_mac(group: str) -> str:
    """Ethernet address of an IPv6 multicast group (RFC 2464 §7)."""
    tail = ipaddress.IPv6Address(group).packed[-4:]
    return "33:33:" + ":".join(f"{byte:02x}" for byte in tail)


class L2Port:
    """Raw Ethernet frames of the given EtherTypes on one interface (the kernel filters by type)."""

    def __init__(self, iface: str, ethertypes: tuple[int, ...]) -> None:
        self.iface = iface
        self.mac = interface_mac(iface)
        self._sockets = []
        try:
            for ethertype in ethertypes:
                self._sockets.append(conf.L2socket(iface=iface, type=ethertype))
        except BaseException:
            self.close()
            raise

    def send(self, frame: Packet) -> None:
        self._sockets[0].send(frame)

    def recv(self, deadline: float) -> bytes | None:
        """The next frame, or None once `deadline` (time.monotonic) has passed."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select(self._sockets, [], [], remaining)
            for sock in ready:
                _, data, _ = sock.recv_raw()
                if data:  # None for our own outgoing frames
                    return data

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    def __enter__(self) -> L2Port:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def exchange(send: Callable[[], None], recv: Callable[[float], F | None], match: Callable[[F], T | None],
             deadline: float, retry_s: float) -> tuple[T | None, int]:
    """Send (again every `retry_s`) until `match` accepts a received frame or `deadline` passes.

    Returns the match (None on timeout) and how many times the request was sent.
    """
    sent = 0
    next_send = time.monotonic()
    while (now := time.monotonic()) < deadline:
        if now >= next_send:
            send()
            sent += 1
            next_send = now + retry_s
        frame = recv(min(deadline, next_send))
        if frame is not None and (matched := match(frame)) is not None:
            return matched, sent
    return None, sent

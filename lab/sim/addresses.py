"""The kernel's IPv6 addresses on an interface of the simulator's namespace (/proc/net/if_inet6)."""

from __future__ import annotations

import ipaddress
from pathlib import Path


def kernel_addresses(iface: str) -> list[ipaddress.IPv6Interface]:
    """Global addresses first, then link-local (documentation prefixes count as global here, unlike
    ipaddress.is_global); tentative ones included (DAD is off in the simulator's namespace)."""
    try:
        rows = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return []
    found = []
    for row in rows:
        fields = row.split()
        if len(fields) == 6 and fields[5] == iface:
            addr = ipaddress.IPv6Address(bytes.fromhex(fields[0]))
            found.append(ipaddress.IPv6Interface((addr, int(fields[2], 16))))
    return sorted(found, key=lambda a: (a.ip.is_link_local, str(a)))

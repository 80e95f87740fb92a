"""Typed results of the drivers' getters (NAPALM's idea: one shape for every platform).

Every getter of every driver returns these models, so verify, drift and the API never parse vendor text.
None of them carries a secret.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PppoeStatus(_Result):
    """One PPPoE session of the CPE (session = the PP number on Yamaha, the unit on pppd)."""

    session: int = 1
    state: Literal["up", "down", "connecting"]
    interface: str | None = None  # ppp0, pp1, GigaEthernet0.1, Dialer1
    ipv4: ipaddress.IPv4Address | None = None
    peer: ipaddress.IPv4Address | None = None
    mtu: int | None = None
    detail: str = ""  # the device's own words for a down session (e.g. "authentication failed")

    @property
    def up(self) -> bool:
        return self.state == "up" and self.ipv4 is not None


class Ipv4Address(_Result):
    interface: str
    address: ipaddress.IPv4Interface


class Ipv6Prefix(_Result):
    """An IPv6 prefix the CPE holds: delegated to it (origin pd), or the /64 of an interface address."""

    interface: str
    prefix: ipaddress.IPv6Network
    origin: Literal["pd", "ra", "static", "unknown"] = "unknown"
    address: ipaddress.IPv6Address | None = None  # the interface address inside the prefix, if any
    valid_lifetime_s: int | None = None


class TunnelStatus(_Result):
    name: str
    kind: Literal["map-e", "ds-lite", "ipip", "unknown"] = "unknown"
    state: Literal["up", "down"]
    local: str | None = None
    remote: str | None = None

    @property
    def up(self) -> bool:
        return self.state == "up"


class WifiStatus(_Result):
    """Whether the CPE accepted its Wi-Fi configuration (no radio is needed to tell)."""

    configured: bool
    accepted: bool
    ssids: tuple[str, ...] = ()
    detail: str = ""


class Facts(_Result):
    platform: str
    hostname: str
    vendor: str
    model: str = ""
    os_version: str = ""
    serial: str = ""
    uptime_s: float | None = None


class ConfigSnapshot(_Result):
    """A CPE's normalised running configuration: content per managed file (None = the file is absent).

    CLI platforms hold their whole configuration in one entry named "config"."""

    platform: str
    files: dict[str, str | None]

    def same_as(self, other: ConfigSnapshot) -> bool:
        return self.files == other.files


class ConfigDiff(_Result):
    """Running vs intended. `text` is a unified diff with every secret masked; `changes` counts the
    lines the push must send (0 = nothing to do)."""

    changes: int
    text: str = ""
    files: tuple[str, ...] = Field(default=(), description="managed files that differ")
    unmanaged: tuple[str, ...] = Field(
        default=(), description="running lines the intent does not name (CLI platforms leave them be)"
    )

    @property
    def changed(self) -> bool:
        return self.changes > 0

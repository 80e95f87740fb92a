"""CPE drivers: one base class (`CpeDriver`), one driver per platform, typed status getters."""

from provisioner.drivers.base import Backup, CpeDriver, Target, Timeouts
from provisioner.drivers.errors import (
    AuthError,
    CommandRejected,
    ConnectError,
    DriverError,
    RestoreFailed,
    SessionLost,
    UnsupportedOperation,
)
from provisioner.drivers.models import (
    ConfigDiff,
    ConfigSnapshot,
    Facts,
    Ipv4Address,
    Ipv6Prefix,
    PppoeStatus,
    TunnelStatus,
    WifiStatus,
)
from provisioner.drivers.registry import drivers, get_driver, register_driver

__all__ = [
    "AuthError",
    "Backup",
    "CommandRejected",
    "ConfigDiff",
    "ConfigSnapshot",
    "ConnectError",
    "CpeDriver",
    "DriverError",
    "Facts",
    "Ipv4Address",
    "Ipv6Prefix",
    "PppoeStatus",
    "RestoreFailed",
    "SessionLost",
    "Target",
    "Timeouts",
    "TunnelStatus",
    "UnsupportedOperation",
    "WifiStatus",
    "drivers",
    "get_driver",
    "register_driver",
]

"""A CPE's live status as its own CLI reports it (the drivers' typed getters): facts, PPPoE sessions, addresses,
delegated and advertised prefixes, tunnels, Wi-Fi. Read-only; one connection; a getter that fails is named in
`errors` and the others still answer (a NOC screen with one blank field beats an error page)."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from provisioner.drivers import Target, get_driver
from provisioner.drivers.base import Timeouts
from provisioner.drivers.errors import DriverError, UnsupportedOperation
from provisioner.drivers.models import Facts, Ipv4Address, Ipv6Prefix, PppoeStatus, TunnelStatus, WifiStatus

# A status screen waits seconds, not the minutes a push may take.
STATUS_TIMEOUTS = Timeouts(connect=5.0, banner=10.0, auth=10.0, command=15.0)


class CpeStatus(BaseModel):
    host: str
    platform: str
    reachable: bool
    error: str | None = Field(None, description="why the CPE could not be read at all")
    error_reason: str | None = Field(None, description="connect-failed (network, sshd) or auth-failed (login)")
    facts: Facts | None = None
    pppoe: list[PppoeStatus] = []
    ipv4: list[Ipv4Address] = []
    ipv6_prefixes: list[Ipv6Prefix] = []
    tunnels: list[TunnelStatus] = []
    wifi: WifiStatus | None = None
    errors: dict[str, str] = Field({}, description="getter → why it gave no answer (the others did)")
    read_at: dt.datetime
    elapsed_ms: float


def read_cpe_status(
    target: Target,
    *,
    pppoe_sessions: int = 0,
    tunnel: bool = False,
    wifi: bool = False,
    timeouts: Timeouts = STATUS_TIMEOUTS,
) -> CpeStatus:
    """Connect once and ask every getter the line's intent makes meaningful."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {"host": target.host, "platform": target.platform,
                           "read_at": dt.datetime.now(dt.UTC), "errors": {}}
    driver = get_driver(target.platform)(target, timeouts=timeouts)
    try:
        driver.connect()
    except DriverError as exc:
        return CpeStatus(**out, reachable=False, error=str(exc), error_reason=exc.reason, elapsed_ms=_ms(t0))
    try:
        poll = getattr(driver, "status_poll", None)  # drivers that can answer several getters in one read
        with poll() if poll is not None else contextlib.nullcontext():
            _read_all(driver, out, pppoe_sessions, tunnel, wifi)
    finally:
        driver.close()
    return CpeStatus(**out, reachable=True, elapsed_ms=_ms(t0))


def _read_all(driver, out: dict, pppoe_sessions: int, tunnel: bool, wifi: bool) -> None:
    def ask(name: str, getter: Callable[[], Any]) -> Any:
        try:
            return getter()
        except (NotImplementedError, UnsupportedOperation):
            return None
        except (DriverError, ValueError) as exc:  # ValueError: output the driver could not parse
            out["errors"][name] = str(exc)
            return None

    out["facts"] = ask("facts", driver.get_facts)
    sessions = [ask(f"pppoe{n}", lambda n=n: driver.get_pppoe_status(n)) for n in range(1, pppoe_sessions + 1)]
    out["pppoe"] = [s for s in sessions if s is not None]
    out["ipv4"] = ask("ipv4", driver.get_ipv4_addresses) or []
    out["ipv6_prefixes"] = ask("ipv6_prefixes", driver.get_ipv6_prefixes) or []
    if tunnel:
        out["tunnels"] = ask("tunnels", driver.get_tunnel_status) or []
    if wifi:
        out["wifi"] = ask("wifi", driver.get_wifi_status)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)

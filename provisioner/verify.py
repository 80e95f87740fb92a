"""Verify a CPE against its intent with the drivers' typed getters.

What "working" means per feature of the DeviceIntent:
  pppoe      every session up with an IPv4 address (the fixed one when the line has one)
  ipv6-pd    a delegated prefix of the expected length, and a /64 of it on an interface (the LAN)
  ipv6-ra    a /64 on an interface (the WAN's SLAAC prefix)
  tunnel     a tunnel of the intended kind up
  wifi       the CPE accepted its Wi-Fi configuration
PPPoE and DHCPv6 take seconds to come up after a reload, so the checks are polled until all pass or a
bounded timeout ends; a PPPoE authentication failure ends the wait at once (it will not heal by itself).
Each check's result is a StageResult (provisioner.checks.results) with a machine-readable reason.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field

from provisioner.checks.results import StageResult
from provisioner.drivers.base import CpeDriver
from provisioner.drivers.errors import DriverError, SessionLost, UnsupportedOperation
from provisioner.drivers.models import Ipv6Prefix, PppoeStatus, TunnelStatus
from provisioner.intent.models import DeviceIntent

DEFAULT_TIMEOUT = 30.0


class VerifyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    checks: list[StageResult]
    elapsed_ms: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[StageResult]:
        return [c for c in self.checks if not c.ok]

    def reason(self) -> str:
        return "; ".join(f"{c.name}: {c.detail or c.reason}" for c in self.failed)


@dataclass
class Outcome:
    ok: bool
    detail: str
    reason: str | None = None
    evidence: dict[str, Any] | None = None
    final: bool = False  # a failure that waiting cannot fix


class Observation:
    """One poll of the CPE's state; each getter runs at most once per poll."""

    def __init__(self, driver: CpeDriver):
        self.driver = driver
        self._cache: dict[str, Any] = {}

    def _get(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def pppoe(self, session: int) -> PppoeStatus:
        return self._get(f"pppoe{session}", lambda: self.driver.get_pppoe_status(session))

    def prefixes(self) -> list[Ipv6Prefix]:
        return self._get("ipv6", self.driver.get_ipv6_prefixes)

    def tunnels(self) -> list[TunnelStatus]:
        return self._get("tunnels", self.driver.get_tunnel_status)


# ---------------------------------------------------------------------- the checks
def check_pppoe(device: DeviceIntent, obs: Observation) -> Outcome:
    seen = {}
    for p in device.pppoe:
        st = obs.pppoe(p.session)
        seen[f"session{p.session}"] = {"state": st.state, "ipv4": str(st.ipv4) if st.ipv4 else None}
        if st.detail == "authentication failed":
            return Outcome(False, f"session {p.session}: the BAS refused the ISP credentials", "auth-rejected",
                           seen, final=True)
        if not st.up:
            why = f" ({st.detail})" if st.detail else ""
            return Outcome(False, f"session {p.session} is {st.state}{why}", "pppoe-down", seen)
        if p.fixed_ipv4 and st.ipv4 != p.fixed_ipv4:
            return Outcome(False, f"session {p.session} got {st.ipv4}, not the fixed {p.fixed_ipv4}",
                           "wrong-ipv4", seen)
    addrs = ", ".join(str(v["ipv4"]) for v in seen.values())
    return Outcome(True, f"PPPoE up, IPv4 {addrs}", evidence=seen)


def check_ipv6(device: DeviceIntent, obs: Observation) -> Outcome:
    v6 = device.ipv6
    assert v6 is not None
    prefixes = obs.prefixes()
    evidence = {"prefixes": [f"{p.interface} {p.prefix} ({p.origin})" for p in prefixes]}
    if v6.mode == "pd":
        delegated = [p.prefix for p in prefixes if p.origin == "pd" and p.prefix.prefixlen < 64]
        if not delegated:
            return Outcome(False, f"no delegated prefix yet (expected a /{v6.expected_prefix_length})",
                           "no-pd", evidence)
        if not any(d.prefixlen == v6.expected_prefix_length for d in delegated):
            got = ", ".join(str(d) for d in delegated)
            return Outcome(False, f"delegated {got}, expected a /{v6.expected_prefix_length}",
                           "wrong-pd-length", evidence, final=True)
        pd = next(d for d in delegated if d.prefixlen == v6.expected_prefix_length)
        lan = [p for p in prefixes if p.prefix.prefixlen == 64 and p.prefix.subnet_of(pd) and p.interface != "lo"]
        if not lan:
            return Outcome(False, f"delegated {pd} but no /64 of it on the LAN yet", "no-lan-prefix", evidence)
        expected_lan = _sla_subnet(pd, v6.lan_sla_id)
        evidence["lan"] = f"{lan[0].interface} {lan[0].prefix}"
        if expected_lan and all(p.prefix != expected_lan for p in lan):
            return Outcome(False, f"the LAN has {lan[0].prefix}, expected {expected_lan} (sla id {v6.lan_sla_id})",
                           "wrong-lan-prefix", evidence)
        return Outcome(True, f"delegated {pd}, LAN {lan[0].interface} {lan[0].prefix}", evidence=evidence)
    slaac = [p for p in prefixes if p.prefix.prefixlen == v6.expected_prefix_length and p.origin in ("ra", "static")]
    if not slaac:
        return Outcome(False, f"no /{v6.expected_prefix_length} from RA yet", "no-ra-prefix", evidence)
    return Outcome(True, f"RA prefix {slaac[0].prefix} on {slaac[0].interface}", evidence=evidence)


def check_tunnel(device: DeviceIntent, obs: Observation) -> Outcome:
    kind = device.tunnel.kind if device.tunnel else "unknown"
    tunnels = obs.tunnels()
    evidence = {"tunnels": [f"{t.name} {t.kind} {t.state}" for t in tunnels]}
    up = [t for t in tunnels if t.up and t.kind in (kind, "unknown")]
    if not up:
        return Outcome(False, f"no {kind} tunnel up", "tunnel-down", evidence)
    return Outcome(True, f"{kind} tunnel {up[0].name} up", evidence=evidence)


def check_wifi(device: DeviceIntent, obs: Observation) -> Outcome:
    try:
        st = obs.driver.get_wifi_status()
    except UnsupportedOperation as exc:
        return Outcome(False, str(exc), "wifi-unsupported", final=True)
    if not st.configured:
        return Outcome(False, "no Wi-Fi configuration on the CPE", "wifi-missing", final=True)
    if not st.accepted:
        return Outcome(False, f"Wi-Fi configuration refused: {st.detail}", "wifi-rejected", final=True)
    return Outcome(True, f"Wi-Fi configuration accepted ({len(st.ssids)} SSID)", evidence={"ssids": len(st.ssids)})


Check = Callable[[DeviceIntent, Observation], Outcome]


def checks_for(device: DeviceIntent) -> list[tuple[str, Check]]:
    out: list[tuple[str, Check]] = []
    if device.pppoe:
        out.append(("pppoe", check_pppoe))
    if device.ipv6:
        out.append((f"ipv6-{device.ipv6.mode}", check_ipv6))
    if device.tunnel:
        out.append((device.tunnel.kind, check_tunnel))
    if device.wifi:
        out.append(("wifi", check_wifi))
    return out


# The getters (CpeDriver.status_poll's needs) each check asks; Wi-Fi reads files, not the state.
_NEEDS: dict[Check, str] = {check_pppoe: "pppoe", check_ipv6: "ipv6", check_tunnel: "tunnel"}


def verify(
    driver: CpeDriver,
    device: DeviceIntent,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = 0.5,
    only: set[str] | None = None,
) -> VerifyResult:
    """Poll the checks until all pass, a final failure, or `timeout`. SessionLost propagates (the caller
    decides what a lost session means); other driver errors fail the check that hit them."""
    todo = [(n, c) for n, c in checks_for(device) if only is None or n in only]
    t0 = time.monotonic()
    deadline = t0 + timeout
    started = {name: t0 for name, _ in todo}
    done: dict[str, StageResult] = {}
    while True:
        obs = Observation(driver)
        polled = time.monotonic()
        with _polling(driver, {_NEEDS[c] for n, c in todo if n not in done and c in _NEEDS}):
            for name, check in todo:
                if name in done:
                    continue
                try:
                    outcome = check(device, obs)
                except SessionLost:
                    raise
                except DriverError as exc:
                    outcome = Outcome(False, str(exc), exc.reason)
                if outcome.ok or outcome.final:
                    done[name] = _stage(name, outcome, started[name])
        if len(done) == len(todo) or time.monotonic() >= deadline:
            break
        # A slow poll is a busy CPE: keep polling to at most a quarter of its time, not more of its CPU.
        pause = max(interval, 3 * (time.monotonic() - polled))
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        interval = min(interval * 1.5, 2.0)  # PPPoE/PD come up in seconds; later polls only cost CPU
    for name, check in todo:
        if name not in done:
            outcome = _last(check, device, driver)
            done[name] = _stage(name, outcome, started[name], timed_out=not outcome.ok, timeout=timeout)
    return VerifyResult(checks=[done[n] for n, _ in todo], elapsed_ms=round((time.monotonic() - t0) * 1000, 3))


def _polling(driver: Any, needs: set[str] | None = None) -> Any:
    poll = getattr(driver, "status_poll", None)
    return poll(needs) if poll else contextlib.nullcontext()


def _last(check: Check, device: DeviceIntent, driver: CpeDriver) -> Outcome:
    try:
        with _polling(driver):
            return check(device, Observation(driver))
    except SessionLost:
        raise
    except DriverError as exc:
        return Outcome(False, str(exc), exc.reason)


def _stage(name: str, o: Outcome, t0: float, *, timed_out: bool = False, timeout: float = 0.0) -> StageResult:
    detail = o.detail + (f" after {timeout:g} s" if timed_out else "")
    return StageResult(
        name=name, ok=o.ok, detail=detail, reason=None if o.ok else (o.reason or "failed"),
        evidence=o.evidence or {}, elapsed_ms=round((time.monotonic() - t0) * 1000, 3),
    )


def _sla_subnet(pd: ipaddress.IPv6Network, sla_id: int) -> ipaddress.IPv6Network | None:
    if pd.prefixlen > 64:
        return None
    subnets = 1 << (64 - pd.prefixlen)
    if not 0 <= sla_id < subnets:
        return None
    return ipaddress.IPv6Network((int(pd.network_address) + (sla_id << 64), 64))

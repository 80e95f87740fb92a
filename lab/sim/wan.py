"""The real WAN side of a simulated router: a held PPPoE session against the lab's BRAS, a held DHCPv6-PD lease
from the lab's Kea, and SLAAC by the kernel, each started and stopped as the router's configuration asks.

The PPP and DHCPv6 exchanges reuse the line probes' own machinery (provisioner.checks): their discovery,
negotiation and lease stages, their codec and their raw-frame links. The probes log in and hang up; the holders
here stay up: they answer the BRAS's LCP echoes, renew the lease at T1, and tear down (LCP Terminate + PADT,
DHCPv6 Release) when the configuration no longer wants the session or the simulator stops. What happened is
kept as a status snapshot that the simulators print in their vendor's format.

Runs inside the simulator's namespace (scapy reads routes and interfaces at import).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from provisioner.checks import dhcpv6_probe as dhcp
from provisioner.checks import ppp_codec as codec
from provisioner.checks import pppoe_probe as pppoe
from provisioner.checks.results import CheckRecorder, StageFailed

log = logging.getLogger("lab.sim.wan")

STAGE_TIMEOUT = 5.0
HOLD_TICK = 0.5                # how often a held session checks whether it must stop
RETRY_AFTER_FAILURE = 5.0      # a real router retries too; the lab BRAS allows two sessions per account
RECONCILE_DELAY = 0.5          # configuration arrives line by line: act once it has settled
PD_IAID = 1                    # fixed, with the interface's DUID-LL: a restarted simulator gets its lease back


@dataclass(frozen=True)
class PppoeAccount:
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class WanWants:
    """What the router's configuration asks of the WAN port."""

    pppoe: PppoeAccount | None = None
    pd: bool = False
    slaac: bool = False


@dataclass(frozen=True)
class PppoeState:
    phase: str = "disabled"          # disabled | connecting | connected | offline
    user: str | None = None
    ac_name: str | None = None
    ac_mac: str | None = None
    session_id: int | None = None
    auth_protocol: str | None = None
    local_ip: str | None = None
    remote_ip: str | None = None
    dns: tuple[str, ...] = ()
    peer_mru: int | None = None
    our_mru: int | None = None
    ipv6cp: bool = False
    connected_at: float | None = None  # time.time()
    failure_stage: str | None = None
    failure_reason: str | None = None  # the probe's reason code, e.g. auth-rejected, no-pado
    failure_detail: str | None = None
    failed_at: float | None = None
    attempts: int = 0
    rx_packets: int = 0
    rx_octets: int = 0
    tx_packets: int = 0
    tx_octets: int = 0


@dataclass(frozen=True)
class PdState:
    phase: str = "disabled"          # disabled | soliciting | bound | failed
    prefix: str | None = None
    server_duid: str | None = None
    t1: int | None = None
    t2: int | None = None
    preferred: int | None = None
    valid: int | None = None
    dns: tuple[str, ...] = ()
    bound_at: float | None = None
    failure_reason: str | None = None
    failure_detail: str | None = None


class _Holder:
    """A background worker that keeps one WAN session up until stopped."""

    name = "holder"

    def __init__(self, iface: str) -> None:
        self.iface = iface
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-{iface}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._attempt()
            except Exception:  # a broken frame must not kill the router's WAN for good
                log.exception("%s on %s failed", self.name, self.iface)
            self._stop.wait(RETRY_AFTER_FAILURE)

    def _attempt(self) -> None:
        raise NotImplementedError


class _CountingLink(pppoe._PppoeLink):
    """The probe's PPPoE link, counting the session's frames for `show status`."""

    def __init__(self, iface: str) -> None:
        super().__init__(iface)
        self.counts = {"rx_packets": 0, "rx_octets": 0, "tx_packets": 0, "tx_octets": 0}

    def send_ppp(self, protocol: int, payload: bytes) -> None:
        super().send_ppp(protocol, payload)
        self.counts["tx_packets"] += 1
        self.counts["tx_octets"] += len(payload) + 2

    def recv(self, deadline: float):
        frame = super().recv(deadline)
        if frame is not None and frame.ethertype == codec.ETH_P_PPPOE_SESS:
            self.counts["rx_packets"] += 1
            self.counts["rx_octets"] += len(frame.payload)
        return frame


class PppoeHolder(_Holder):
    """A PPPoE client session held against the BRAS (the probe's stages, then held until stopped)."""

    name = "pppoe"

    def __init__(self, iface: str, account: PppoeAccount) -> None:
        super().__init__(iface)
        self.account = account
        self._state = PppoeState(phase="connecting", user=account.user)

    @property
    def state(self) -> PppoeState:
        with self._lock:
            return self._state

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)

    def _attempt(self) -> None:
        self._update(phase="connecting", attempts=self.state.attempts + 1)
        rec = CheckRecorder("pppoe", self.iface)
        session = None
        with _CountingLink(self.iface) as link:
            try:
                with rec.stage("discovery") as st:
                    t_padi = pppoe._discover(link, STAGE_TIMEOUT, b"", st)
                session = pppoe._PppSession(link, self.account.user, self.account.password, "auto")
                with rec.stage("lcp") as st:
                    pppoe._stage_lcp(session, STAGE_TIMEOUT, t_padi, st)
                with rec.stage("auth") as st:
                    pppoe._stage_auth(session, STAGE_TIMEOUT, st)
                now = time.monotonic()
                session.ipcp.start(now)
                session.ipv6cp.start(now)
                with rec.stage("ipcp") as st:
                    pppoe._stage_ipcp(session, STAGE_TIMEOUT, t_padi, st)
                with rec.stage("ipv6cp") as st:
                    pppoe._stage_ipv6cp(session, STAGE_TIMEOUT, st)
                self._connected(rec, link)
                self._hold(session, link)
            except StageFailed:
                self._failed(rec)
            finally:
                with rec.stage("teardown", reraise=False) as st:
                    pppoe._stage_teardown(link, session, st)

    def _connected(self, rec: CheckRecorder, link: _CountingLink) -> None:
        ev = {s.name: s.evidence for s in rec.stages}
        ipcp = ev["ipcp"]
        self._update(
            phase="connected", ac_name=ev["discovery"].get("ac_name"), ac_mac=ev["discovery"].get("ac_mac"),
            session_id=ev["discovery"].get("session_id"), auth_protocol=ev["lcp"].get("auth_protocol"),
            peer_mru=ev["lcp"].get("peer_mru"), our_mru=ev["lcp"].get("our_mru"),
            local_ip=ipcp.get("address"), remote_ip=ipcp.get("peer_address"),
            dns=tuple(d for d in (ipcp.get("dns1"), ipcp.get("dns2")) if d),
            ipv6cp=bool(ev["ipv6cp"].get("offered")), connected_at=time.time(),
            failure_stage=None, failure_reason=None, failure_detail=None, **link.counts,
        )
        log.info("PPPoE up on %s: %s via %s", self.iface, ipcp.get("address"), ev["discovery"].get("ac_name"))

    def _hold(self, session: Any, link: _CountingLink) -> None:
        """Answer the BRAS (LCP echoes, renegotiation) until told to stop or the BRAS hangs up."""
        while not self._stop.is_set() and session.terminated is None:
            session.pump(lambda: self._stop.is_set() or session.terminated is not None,
                         time.monotonic() + HOLD_TICK)
            self._update(**link.counts)
        if session.terminated is not None:
            t = session.terminated
            self._update(phase="offline", failure_stage="session", failure_reason="terminated",
                         failure_detail=f"the BRAS ended the session ({t.by}: {t.message!r})",
                         failed_at=time.time())
            log.info("PPPoE on %s ended by the BRAS (%s)", self.iface, t.by)

    def _failed(self, rec: CheckRecorder) -> None:
        failed = rec.result().failed_stage
        assert failed is not None
        self._update(phase="offline", failure_stage=failed.name, failure_reason=failed.reason,
                     failure_detail=failed.detail, failed_at=time.time())
        log.info("PPPoE on %s failed at %s: %s", self.iface, failed.name, failed.reason)


class PdHolder(_Holder):
    """A DHCPv6-PD lease held from Kea: Solicit/Request, Renew at T1, Release when stopped."""

    name = "dhcpv6-pd"

    def __init__(self, iface: str) -> None:
        super().__init__(iface)
        self._state = PdState(phase="soliciting")

    @property
    def state(self) -> PdState:
        with self._lock:
            return self._state

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)

    def _client(self) -> dhcp._Client:
        client = dhcp._Client(self.iface)
        client.iaid = PD_IAID
        return client

    def _attempt(self) -> None:
        self._update(phase="soliciting")
        rec = CheckRecorder("dhcpv6-pd", self.iface)
        client = self._client()
        lease = None
        try:
            with rec.stage("solicit") as st:
                offer = dhcp._stage_solicit(client, STAGE_TIMEOUT, st)
            with rec.stage("request") as st:
                lease = dhcp._stage_request(client, offer, STAGE_TIMEOUT, st)
        except StageFailed:
            failed = rec.result().failed_stage
            assert failed is not None
            self._update(phase="failed", failure_reason=failed.reason, failure_detail=failed.detail)
            log.info("DHCPv6-PD on %s failed: %s", self.iface, failed.reason)
            return
        finally:
            client.close()
        self._bound(lease)
        try:
            self._hold(lease)
        finally:
            self._release(lease)

    def _bound(self, lease: dict[str, Any]) -> None:
        self._update(phase="bound", prefix=lease["prefix"], server_duid=lease.get("server_duid"),
                     t1=lease.get("t1"), t2=lease.get("t2"), preferred=lease.get("preferred_lifetime"),
                     valid=lease.get("valid_lifetime"), dns=tuple(lease.get("dns", ())), bound_at=time.time(),
                     failure_reason=None, failure_detail=None)
        log.info("DHCPv6-PD on %s bound %s", self.iface, lease["prefix"])

    def _hold(self, lease: dict[str, Any]) -> None:
        """Renew at T1 (RFC 8415 §18.2.4) until stopped; a lease the server will not renew is given up."""
        while True:
            t1 = lease.get("t1") or (lease.get("preferred_lifetime") or 3600) // 2
            if self._stop.wait(max(1, t1)):
                return
            renewed = self._renew(lease)
            if renewed is None:
                self._update(phase="failed", failure_reason="renew-failed", failure_detail="no Reply to Renew")
                return
            lease = {**lease, **renewed}
            self._bound(lease)

    def _renew(self, lease: dict[str, Any]) -> dict[str, Any] | None:
        from scapy.layers.dhcp6 import DHCP6_Renew, DHCP6_Reply, DHCP6OptServerId

        prefix, plen = lease["prefix"].split("/")
        client = self._client()
        try:
            reply, _ = client.ask(DHCP6_Renew, DHCP6_Reply, time.monotonic() + STAGE_TIMEOUT,
                                  DHCP6OptServerId(duid=lease["server_id"].duid), client.ia_pd(prefix, int(plen)))
        finally:
            client.close()
        if reply is None:
            return None
        info = dhcp._lease(reply, PD_IAID)
        return info if "prefix" in info else None

    def _release(self, lease: dict[str, Any]) -> None:
        rec = CheckRecorder("dhcpv6-pd", self.iface)
        client = self._client()
        try:
            with rec.stage("release", reraise=False) as st:
                dhcp._stage_release(client, lease, STAGE_TIMEOUT, st)
        finally:
            client.close()
        self._update(phase="disabled")
        log.info("DHCPv6-PD on %s released %s", self.iface, lease["prefix"])


class Slaac:
    """The kernel's SLAAC on the WAN interface, switched by the configuration (accept_ra/autoconf)."""

    def __init__(self, iface: str) -> None:
        self.iface = iface
        self.enabled = False

    def set(self, enabled: bool) -> None:
        if enabled == self.enabled:
            return
        conf = Path("/proc/sys/net/ipv6/conf", self.iface)
        for name in ("accept_ra", "autoconf"):
            (conf / name).write_text("1" if enabled else "0")
        if enabled:
            _solicit_router(self.iface)
        else:
            _flush_global(self.iface)
        self.enabled = enabled


def _solicit_router(iface: str) -> None:
    """Bounce the link so the kernel sends its Router Solicitation now rather than at the next periodic RA."""
    import subprocess

    subprocess.run(["ip", "link", "set", iface, "down"], check=False)
    subprocess.run(["ip", "link", "set", iface, "up"], check=False)


def _flush_global(iface: str) -> None:
    import subprocess

    subprocess.run(["ip", "-6", "addr", "flush", "dev", iface, "scope", "global"], check=False)


class WanPort:
    """The router's one WAN port: makes the running holders match what the configuration wants."""

    def __init__(self, iface: str) -> None:
        self.iface = iface
        self.slaac = Slaac(iface)
        self._wants = WanWants()
        self._applied = WanWants()
        self._pppoe: PppoeHolder | None = None
        self._pd: PdHolder | None = None
        self._last_pppoe = PppoeState()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def want(self, wants: WanWants) -> None:
        """Record what the configuration now asks for; act once no change has come for RECONCILE_DELAY."""
        with self._lock:
            self._wants = wants
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(RECONCILE_DELAY, self.reconcile)
            self._timer.daemon = True
            self._timer.start()

    def reconcile(self) -> None:
        with self._lock:
            wants, applied = self._wants, self._applied
            if wants.pppoe != applied.pppoe:
                self._stop_pppoe()
                if wants.pppoe is not None:
                    self._pppoe = PppoeHolder(self.iface, wants.pppoe)
                    self._pppoe.start()
            if wants.pd != applied.pd:
                if self._pd is not None:
                    self._pd.stop(timeout=STAGE_TIMEOUT + 2)
                    self._pd = None
                if wants.pd:
                    self._pd = PdHolder(self.iface)
                    self._pd.start()
            self.slaac.set(wants.slaac)
            self._applied = wants

    def _stop_pppoe(self) -> None:
        if self._pppoe is not None:
            self._pppoe.stop(timeout=STAGE_TIMEOUT + 2)
            self._last_pppoe = replace(self._pppoe.state, phase="disabled")
            self._pppoe = None

    @property
    def pppoe(self) -> PppoeState:
        holder = self._pppoe
        return holder.state if holder is not None else self._last_pppoe

    @property
    def pd(self) -> PdState:
        holder = self._pd
        return holder.state if holder is not None else PdState()

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._wants = WanWants()
        self.reconcile()

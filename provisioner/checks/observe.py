"""Gather what can be known about a line for the ladder: the CPE's own status over its CLI (the drivers'
typed getters), its SNMP agent, and optionally an active probe from a port on the ONU. Every source may be
missing; a missing source leaves its observations None ("not observed"), never "bad"."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import time
from dataclasses import dataclass

from pydantic import SecretStr

from provisioner.checks.cpe_status import STATUS_TIMEOUTS
from provisioner.checks.ladder import Diagnosis, Ipv6Observation, Observations, PppoeObservation, judge
from provisioner.checks.results import ProbeResult
from provisioner.drivers import Target, get_driver
from provisioner.drivers.errors import DriverError
from provisioner.intent.models import DeviceIntent
from provisioner.record import LineRecord

# pppd's own words (as the linux driver reports them in PppoeStatus.detail) → the ladder's failure codes.
_PPPD_FAILURES = (
    (re.compile(r"PADO|PPPoE Discovery", re.I), "no-pado"),
    (re.compile(r"authentication failed|refused to authenticate", re.I), "auth-rejected"),
    (re.compile(r"session.?limit|too many sessions", re.I), "session-limit"),
    (re.compile(r"timeout sending Config-Requests|LCP.*timeout", re.I), "lcp-timeout"),
    (re.compile(r"IPCP|no (IP|local) address", re.I), "ipcp-no-address"),
)


def pppd_failure(detail: str, log: list[str] | None = None) -> str | None:
    """The failure code of the newest log line that names one (pppd logs the cause a few lines before its
    closing "Connection terminated."), else of the driver's one-line detail."""
    for line in [*reversed(log or []), detail or ""]:
        for pattern, code in _PPPD_FAILURES:
            if pattern.search(line):
                return code
    return None


@dataclass
class SnmpAccess:
    community: SecretStr | None = None
    v3_user: str | None = None
    v3_auth_key: SecretStr | None = None
    v3_priv_key: SecretStr | None = None


def observe(
    record: LineRecord,
    device: DeviceIntent,
    *,
    target: Target | None,
    snmp: SnmpAccess | None = None,
    probe: ProbeResult | None = None,
    wan_iface: str = "wan0",
) -> Observations:
    obs: dict = {"v6_option": record.v6_option or record.product.endswith("cross")}
    if target is not None:
        obs.update(_from_cli(target, device, wan_iface))
    if snmp is not None and record.management is not None:
        obs.update(_from_snmp(str(record.management.address), snmp, wan_iface, have_cli=obs.get("cli_ok")))
    if probe is not None and probe.probe == "pppoe":
        obs["pppoe"] = _from_pppoe_probe(probe, fallback=obs.get("pppoe"))
    return Observations(**_wan_silence(obs, device))


def diagnose(record: LineRecord, device: DeviceIntent, **sources) -> Diagnosis:
    t0 = time.perf_counter()
    diagnosis = judge(record.customer_id, device, observe(record, device, **sources))
    diagnosis.elapsed_ms = round((time.perf_counter() - t0) * 1000, 1)
    return diagnosis


def _from_cli(target: Target, device: DeviceIntent, wan_iface: str) -> dict:
    driver = get_driver(target.platform)(target, timeouts=STATUS_TIMEOUTS)
    try:
        driver.connect()
    except DriverError as exc:
        return {"cli_ok": False, "cli_error": str(exc)}
    out: dict = {"cli_ok": True}
    try:
        poll = getattr(driver, "status_poll", None)
        ctx = poll() if poll else contextlib.nullcontext()
        with ctx:
            if device.pppoe:
                st = driver.get_pppoe_status(1)
                out["pppoe"] = PppoeObservation(
                    up=st.up,
                    ipv4=str(st.ipv4) if st.ipv4 else None,
                    failure=None if st.up else pppd_failure(st.detail, _log_lines(driver)),
                    detail=st.detail,
                    source="cli",
                )
            if device.ipv6 is not None:
                out["ipv6"] = _ipv6_from_prefixes(driver.get_ipv6_prefixes(), device, wan_iface)
            if device.tunnel is not None:
                tunnels = driver.get_tunnel_status()
                out["tunnel_up"] = any(t.up for t in tunnels)
                out["tunnel_detail"] = (
                    ", ".join(f"{t.name} {t.state}" for t in tunnels) or "no tunnel interface"
                )
            out["lan_ok"] = _lan_ok(driver.get_ipv4_addresses(), device)
            if device.wifi:
                wifi = driver.get_wifi_status()
                out["wifi_ok"], out["wifi_detail"] = wifi.accepted, wifi.detail
            out["wan_heard"] = _wan_heard(driver, wan_iface)
            out["dns_servers"] = _dns_servers(driver)
    except DriverError as exc:
        out["cli_error"] = str(exc)
    finally:
        driver.close()
    return out


def _log_lines(driver) -> list[str]:
    state = getattr(driver, "state", None)
    if state is None:
        return []
    return list(state().get("log", []))


def _ipv6_from_prefixes(prefixes, device: DeviceIntent, wan_iface: str) -> Ipv6Observation:
    delegated = [p for p in prefixes if p.origin == "pd" and p.prefix.prefixlen < 64]
    if delegated:
        pd = delegated[0].prefix
        lan = next(
            (
                p
                for p in prefixes
                if p.prefix.prefixlen == 64 and p.prefix.subnet_of(pd) and p.interface != "lo"
            ),
            None,
        )
        return Ipv6Observation(
            mode="pd", prefix=str(pd), prefix_length=pd.prefixlen, lan_prefix=str(lan.prefix) if lan else None
        )
    ra = next((p for p in prefixes if p.interface == wan_iface and p.prefix.prefixlen == 64), None)
    if ra is not None:
        return Ipv6Observation(mode="ra", prefix=str(ra.prefix), prefix_length=64)
    return Ipv6Observation(mode="none")


def _lan_ok(addresses, device: DeviceIntent) -> bool | None:
    if device.lan is None:
        return None
    want = device.lan.ipv4
    return any(a.address == want for a in addresses)


def _wan_heard(driver, wan_iface: str) -> bool | None:
    """Whether anything at all arrives on the WAN (the ONU's UNI lamp, seen from the router): the receive
    counter across a short all-nodes ping. A live line answers or at least carries RAs and PPP keepalives;
    a cut one stays flat. Linux only (other platforms: not observed)."""
    output = getattr(driver, "output", None)
    if output is None:
        return None
    counter = f"/sys/class/net/{wan_iface}/statistics/rx_packets"
    text = output(
        f"a=$(cat {counter}); ping -6 -q -c 3 -i 0.3 -W 1 ff02::1%{wan_iface} >/dev/null 2>&1; sleep 0.5; "
        f"b=$(cat {counter}); echo rx $a $b"
    )
    m = re.search(r"rx (\d+) (\d+)", text)
    return None if m is None else int(m.group(2)) > int(m.group(1))


def _dns_servers(driver) -> list[str] | None:
    output = getattr(driver, "output", None)
    if output is None:
        return None
    text = output("cat /etc/ppp/resolv.conf /etc/resolv.conf 2>/dev/null")
    servers = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                ipaddress.ip_address(parts[1])
            except ValueError:
                continue
            servers.append(parts[1])
    return sorted(set(servers))


def _from_snmp(host: str, access: SnmpAccess, wan_iface: str, *, have_cli: bool | None) -> dict:
    from provisioner.checks.snmp_poller import SnmpTarget, poll_many_sync

    target = SnmpTarget(
        host=host,
        community=access.community,
        v3_user=None if access.community else access.v3_user,
        v3_auth_key=None if access.community else access.v3_auth_key,
        v3_priv_key=None if access.community else access.v3_priv_key,
    )
    (res,) = poll_many_sync([target], timeout=1.0, retries=1)
    if not res.ok:
        return {"snmp_ok": False, "snmp_error": f"{res.reason}: {res.error or ''}".strip(": ")}
    out: dict = {"snmp_ok": True}
    wan = next((i for i in res.interfaces if wan_iface in (i.name, i.descr)), None)
    if wan is not None and wan.oper_status:
        out["wan_link_up"] = wan.oper_status == "up"
        out["wan_link_source"] = "snmp ifOperStatus"
    return out


def _from_pppoe_probe(probe: ProbeResult, fallback: PppoeObservation | None) -> PppoeObservation:
    failed = probe.failed_stage
    ipcp = probe.stage("ipcp")
    ev = ipcp.evidence if ipcp else {}
    return PppoeObservation(
        up=failed is None,
        ipv4=ev.get("address"),
        dns=[d for d in (ev.get("dns1"), ev.get("dns2")) if d],
        failure=failed.reason if failed else None,
        detail=failed.detail if failed else "probe logged in",
        source="probe",
    )


def _wan_silence(obs: dict, device: DeviceIntent) -> dict:
    """A WAN on which nothing arrives at all points at the physical path (cable to the ONU, the ONU itself)
    rather than at the BAS or the NGN's IPv6 service, which would leave the other traffic flowing (reference
    §4.1: "only PADI counters increase ⇒ check the ONU and cabling")."""
    heard = obs.pop("wan_heard", None)
    if obs.get("wan_link_up") is not False and heard is False:
        obs["wan_link_up"] = False
        obs["wan_link_source"] = "link up but nothing received on the WAN (no RA, no PADO, no reply)"
    return obs

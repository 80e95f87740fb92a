"""`lab status`: one row per node with its addresses, daemons, PIDs and a health verdict checked live."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from lab import network as net
from lab import procs
from lab.faults import describe
from lab.topology import (
    BRAS_ADDR,
    BRAS_NS,
    BRAS_PORT,
    CORE_NS,
    HOST_MGMT_ADDR,
    HOST_MGMT_IF,
    LAN_HOST_ADDR,
    NGN_DNS6,
    PROBE_IF,
    PROBE_NS,
)

if TYPE_CHECKING:
    from lab.lab import CpeInfo, Lab, NodeStatus

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


def tcp_open(ip: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


async def _snmp_up(cpe: CpeInfo, timeout: float) -> bool:
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        get_cmd,
    )

    engine = SnmpEngine()
    try:
        target = await UdpTransportTarget.create((cpe.mgmt_ip, 161), timeout=timeout, retries=0)
        err, status, _, _ = await get_cmd(
            engine,
            CommunityData(cpe.snmp_community.get_secret_value()),
            target,
            ContextData(),
            ObjectType(ObjectIdentity(SYS_UPTIME)),
        )
        return err is None and not status
    finally:
        engine.close_dispatcher()


def snmp_up(cpes: list[CpeInfo], timeout: float = 0.5) -> list[bool]:
    """SNMP v2c liveness of each CPE, polled concurrently (usable from inside an event loop too)."""

    async def all_of() -> list[bool]:
        return list(await asyncio.gather(*(_snmp_up(c, timeout) for c in cpes)))

    if not cpes:
        return []
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(all_of())
    with ThreadPoolExecutor(max_workers=1) as pool:  # a caller's loop is running: use our own
        return pool.submit(asyncio.run, all_of()).result()


def _faults_on(lab: Lab, cpe: int | None) -> list[str]:
    return [describe(f) for f in lab.state.faults if f.cpe == cpe]


def _verdict(problems: list[str], faults: list[str], started: bool = True) -> str:
    if faults:
        return "fault: " + ", ".join(faults)
    if not started:
        return "not started (--no-guests)"
    return "down: " + ", ".join(problems) if problems else "ok"


def collect(lab: Lab) -> list[NodeStatus]:
    from lab.lab import NodeStatus

    state, rows = lab.state, []
    namespaces = set(net.list_netns())

    def proc_row(name: str, kind: str, addresses: str, daemon: str, fault_kinds: tuple[str, ...]) -> None:
        rec = state.processes.get(name)
        alive = rec is not None and procs.is_ours(rec)
        faults = [f for f in _faults_on(lab, None) if f in fault_kinds]
        rows.append(
            NodeStatus(
                name=name,
                kind=kind,
                netns=CORE_NS,
                addresses=addresses,
                daemons=daemon,
                pids=[rec.pid] if alive and rec else [],
                health=_verdict([] if alive else ["not running"], faults),
            )
        )

    host_state = net.link_state(HOST_MGMT_IF)
    rows.append(
        NodeStatus(
            name=HOST_MGMT_IF,
            kind="host link",
            netns=None,
            addresses=str(HOST_MGMT_ADDR),
            daemons="-",
            pids=[],
            health="ok" if host_state in ("UP", "UNKNOWN") else f"down: {host_state or 'missing'}",
        )
    )
    lines = lab.topology.lines
    rows.append(
        NodeStatus(
            name="core",
            kind="NGN edge",
            netns=CORE_NS,
            addresses=f"{lines[0].router_addr.ip}…{lines[-1].router_addr.ip}, DNS {NGN_DNS6}",
            daemons="-",
            pids=[],
            health="ok" if CORE_NS in namespaces else "down: no namespace",
        )
    )
    pools = ", ".join(str(line.pd_pool) for line in lines if line.pd_pool) or "-"
    proc_row("kea", "DHCPv6", f"PD {pools}", "kea-dhcp6", ("kea-down",))
    proc_row(
        "radvd", "RA", ", ".join(str(line.link_net) for line in lines if not line.pd_pool) or "-", "radvd", ()
    )
    proc_row("resolver", "DNS", str(NGN_DNS6), "dnsmasq", ())

    if lab.topology.pppoe_lines:
        rec = state.guests.get("bras")
        alive = rec is not None and procs.is_ours(rec)
        problems = [] if alive else ["guest not running"]
        bras_faults = [f for f in _faults_on(lab, None) if f == "bras-down"]
        if not bras_faults and net.link_state(BRAS_PORT, CORE_NS) != "UP":
            problems.append("port down")
        rows.append(
            NodeStatus(
                name="bras",
                kind="BRAS (UML)",
                netns=BRAS_NS,
                addresses=str(BRAS_ADDR),
                daemons="pppoe-server, pppd",
                pids=[rec.pid] if alive and rec else [],
                health=_verdict(problems, bras_faults, state.guests_enabled),
            )
        )

    cpes = lab.cpes
    ssh = [tcp_open(c.mgmt_ip, 22) for c in cpes] if state.guests else [False] * len(cpes)
    snmp = snmp_up(cpes) if state.guests else [False] * len(cpes)
    for cpe, line, ssh_ok, snmp_ok in zip(cpes, lines, ssh, snmp, strict=True):
        rec = state.guests.get(f"cpe{cpe.index}")
        alive = rec is not None and procs.is_ours(rec)
        problems = []
        if not alive:
            problems.append("guest not running")
        else:
            problems += [] if ssh_ok else ["ssh"]
            problems += [] if snmp_ok else ["snmp"]
        ipv6 = f"PD /{cpe.pd_length}" if cpe.pd_length else f"RA {cpe.ra_prefix}"
        rows.append(
            NodeStatus(
                name=cpe.name,
                kind=f"CPE {cpe.profile}",
                netns=cpe.netns,
                addresses=f"{cpe.mgmt_ip} (mgmt), {cpe.lan_addr4} (LAN), {ipv6}",
                daemons="sshd, snmpd, dhcpcd" + (", pppd" if cpe.pppoe else ""),
                pids=[rec.pid] if alive and rec else [],
                health=_verdict(problems, _faults_on(lab, cpe.index), state.guests_enabled),
            )
        )
        rows.append(
            NodeStatus(
                name=f"lan{cpe.index}",
                kind="LAN host",
                netns=line.lan_ns,
                addresses=str(LAN_HOST_ADDR),
                daemons="-",
                pids=[],
                health="ok" if line.lan_ns in namespaces else "down: no namespace",
            )
        )
    probe = lab.probe
    probe_state = net.link_state(PROBE_IF, PROBE_NS)
    rows.append(
        NodeStatus(
            name="probe",
            kind="probe port",
            netns=PROBE_NS,
            addresses=f"{PROBE_IF} on line {probe.line}",
            daemons="-",
            pids=[],
            health="ok" if probe_state == "UP" else f"down: {probe_state or 'missing'}",
        )
    )
    return rows

"""Faults the lab can inject, each observable from the outside and reversible by `clear`.

| kind              | scope | what it does                                              | what a CPE/probe sees        |
|-------------------|-------|-----------------------------------------------------------|------------------------------|
| bras-down         | lab   | pppoe-server stops, the BRAS's segment port goes down     | PADI, no PADO                |
| wrong-password    | CPE   | the BRAS's secret for the line's account changes          | PADO ok, CHAP/PAP failure    |
| account-disabled  | CPE   | the BRAS refuses the line's account                       | PADO ok, authentication fail |
| session-limit     | CPE   | the account's limit drops to the sessions it already has  | a new session is refused     |
| kea-down          | lab   | Kea stops                                                 | Solicit unanswered, no PD    |
| ra-instead-of-pd  | CPE   | the PD line turns RA-only (RA /64, M=0, no PD pool)       | SLAAC address, no PD         |
| wan-cut           | CPE   | the line's port on the NGN side goes down                 | nothing on the WAN           |
| sshd-down         | CPE   | sshd stops inside the CPE                                 | TCP 22 refused               |
| snmpd-down        | CPE   | snmpd stops inside the CPE                                | SNMP timeouts                |

The accounts the BRAS holds are derived from the lab's true accounts plus the active faults, so the CPE keeps
the right credentials (CpeInfo.isp_password) and clearing a fault just pushes the derived list again.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab import network as net
from lab import procs
from lab.state import FaultRecord, LabState
from lab.topology import BRAS_PORT, CORE_NS, Line, TopologyError

if TYPE_CHECKING:
    from lab.lab import Lab


class FaultError(ValueError):
    """A fault that cannot apply here (unknown kind, wrong CPE, wrong line profile): exit code 2."""


@dataclass(frozen=True)
class Fault:
    kind: str
    per_cpe: bool
    summary: str
    applies: Callable[[Line], bool] = lambda line: True
    needs: str = ""  # why `applies` may refuse, for the error message


def _pppoe(line: Line) -> bool:
    return line.profile.pppoe


def _pd(line: Line) -> bool:
    return line.pd_pool is not None


FAULTS: dict[str, Fault] = {
    f.kind: f
    for f in (
        Fault("bras-down", False, "BRAS unreachable: no PADO"),
        Fault(
            "wrong-password", True, "the BRAS no longer accepts the line's password", _pppoe, "a PPPoE line"
        ),
        Fault("account-disabled", True, "the line's ISP account is disabled", _pppoe, "a PPPoE line"),
        Fault("session-limit", True, "the account's session limit is reached", _pppoe, "a PPPoE line"),
        Fault("kea-down", False, "Kea stopped: no DHCPv6 (no PD)"),
        Fault("ra-instead-of-pd", True, "RA /64 where PD was expected", _pd, "a DHCPv6-PD line"),
        Fault("wan-cut", True, "the CPE's WAN link is cut"),
        Fault("sshd-down", True, "sshd stopped on the CPE"),
        Fault("snmpd-down", True, "snmpd stopped on the CPE"),
    )
}


def bras_accounts(state: LabState) -> list[dict]:
    """The accounts as the BRAS must hold them, given the active faults."""
    by_user = {acc.user: acc.model_dump() for acc in state.accounts}
    for fault in state.faults:
        if fault.cpe is None:
            continue
        user = f"line{fault.cpe}@"
        acc = next((a for name, a in by_user.items() if name.startswith(user)), None)
        if acc is None:
            continue
        if fault.kind == "wrong-password":
            acc["password"] = fault.undo["bras_password"]
        elif fault.kind == "account-disabled":
            acc["enabled"] = False
        elif fault.kind == "session-limit":
            acc["max_sessions"] = fault.undo["limit"]
    return list(by_user.values())


def _resolve(lab: Lab, kind: str, cpe: int | None) -> tuple[Fault, Line | None]:
    fault = FAULTS.get(kind)
    if fault is None:
        raise FaultError(f"unknown fault {kind!r}; choose from {', '.join(FAULTS)}")
    if not fault.per_cpe:
        if cpe is not None:
            raise FaultError(f"{kind} affects the whole lab; drop --cpe")
        return fault, None
    eligible = [line.index for line in lab.topology.lines if fault.applies(line)]
    if cpe is None:
        raise FaultError(f"{kind} needs --cpe (eligible: {', '.join(map(str, eligible)) or 'none'})")
    try:
        line = lab.topology.line(cpe)
    except TopologyError as exc:
        raise FaultError(str(exc)) from exc
    if not fault.applies(line):
        raise FaultError(f"{kind} needs {fault.needs}; CPE {cpe} is {line.profile.value}")
    return fault, line


def inject(lab: Lab, kind: str, cpe: int | None) -> bool:
    """Apply a fault; return False if it was already active."""
    _, line = _resolve(lab, kind, cpe)
    if lab.state.fault(kind, cpe) is not None:
        return False
    if kind in ("wrong-password", "account-disabled", "session-limit") and "bras" not in lab.state.guests:
        raise FaultError(f"{kind} needs the BRAS guest (this lab runs without guests)")
    record = FaultRecord(kind=kind, cpe=cpe)
    if kind == "wrong-password":
        record.undo = {"bras_password": secrets.token_urlsafe(12)}
    elif kind == "session-limit":
        user = line.isp_user if line else ""
        active = sum(1 for s in lab.bras.sessions() if s.get("user") == user)
        if active == 0:
            raise FaultError(f"session-limit needs {user} to hold a session first (dial from cpe{cpe})")
        record.undo = {"limit": active}
    lab.state.faults.append(record)
    try:
        _apply(lab, record, line, on=True)
    except BaseException:
        lab.state.faults.remove(record)
        _apply(lab, record, line, on=False)
        raise
    lab.save()
    return True


def clear(lab: Lab, kind: str | None = None, cpe: int | None = None) -> list[str]:
    """Clear the matching active faults (all when no kind is given); return what was cleared."""
    if kind is not None and kind not in FAULTS:
        raise FaultError(f"unknown fault {kind!r}; choose from {', '.join(FAULTS)}")
    matching = [
        f
        for f in reversed(lab.state.faults)
        if (kind is None or f.kind == kind) and (cpe is None or f.cpe == cpe)
    ]
    cleared = []
    for record in matching:
        lab.state.faults.remove(record)
        line = lab.topology.line(record.cpe) if record.cpe is not None else None
        _apply(lab, record, line, on=False)
        lab.save()
        cleared.append(describe(record))
    return cleared


def describe(record: FaultRecord) -> str:
    return record.kind if record.cpe is None else f"{record.kind} (cpe{record.cpe})"


def _apply(lab: Lab, record: FaultRecord, line: Line | None, on: bool) -> None:
    kind = record.kind
    if kind == "bras-down":
        # pppoe-server stops (its sessions end with PADT) and its port goes down: no PADO either way.
        if on:
            lab.bras_server(running=False)
            net.set_link(BRAS_PORT, up=False, netns=CORE_NS)
        else:
            net.set_link(BRAS_PORT, up=True, netns=CORE_NS)
            lab.bras_server(running=True)
    elif kind == "wan-cut":
        assert line is not None
        net.set_link(line.wan_port, up=not on, netns=CORE_NS)
    elif kind in ("wrong-password", "account-disabled", "session-limit"):
        lab.push_bras_accounts(bras_accounts(lab.state))
    elif kind == "kea-down":
        if on:
            procs.stop([lab.state.processes.pop("kea")] if "kea" in lab.state.processes else [])
        elif "kea" not in lab.state.processes or not procs.is_ours(lab.state.processes["kea"]):
            lab.kea.write(lab.topology, lab._ra_only())
            lab.state.processes["kea"] = lab.kea.start()
    elif kind == "ra-instead-of-pd":
        lab.reload_ipv6()
    elif kind in ("sshd-down", "snmpd-down"):
        assert line is not None
        lab.cpe_service(line.index, kind.removesuffix("-down"), running=not on)

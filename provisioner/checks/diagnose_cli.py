"""`provisioner diagnose`: the 一次切り分け ladder for NOC staff, readable or as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from provisioner.checks.ladder import PARTY_LABEL, Diagnosis

ICON = {"ok": "[green]✓[/green]", "fail": "[red]✗[/red]", "skipped": "[dim]·[/dim]"}


LineOrId = Annotated[str, typer.Argument(help="line record file, or the お客様ID of a stored line")]
JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable result")]


def _invalid(err: Exception) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {err}")
    return typer.Exit(2)


def _record(line: str):
    """A line record from a file, else the stored line of that お客様ID (exit 2 with the reason)."""
    from provisioner import service
    from provisioner.record import RecordError

    try:
        return service.read_line(Path(line)) if Path(line).exists() else service.stored_line(line)
    except (RecordError, LookupError) as err:
        raise _invalid(err) from None


def print_diagnosis(d: Diagnosis, console: Console) -> None:
    table = Table(title=f"一次切り分け {d.customer_id}", show_lines=False)
    for col in ("", "stage", "result", "evidence"):
        table.add_column(col)
    for v in d.stages:
        ev = ", ".join(f"{k}={v_}" for k, v_ in v.evidence.items() if v_ not in (None, "", []))
        table.add_row(ICON[v.status], v.stage, v.summary, ev[:80])
    console.print(table)
    if d.failed is None:
        console.print("[green]line healthy: every observed stage passed[/green]")
        return
    f = d.failed
    console.print(f"[red]failing stage:[/red] {f.stage}")
    console.print(f"[bold]likely cause:[/bold] {f.cause}")
    console.print(f"[bold]who must act:[/bold] {PARTY_LABEL[f.party]}")
    console.print(f"[bold]next action:[/bold] {f.next_action}")


def diagnose_command(
    line: LineOrId,
    as_json: JsonFlag = False,
    lab_credentials: Annotated[
        bool, typer.Option("--lab", help="take CPE logins and SNMP communities from the running lab")
    ] = False,
    probe_iface: Annotated[
        str | None, typer.Option("--probe-iface", help="also run a PPPoE probe from this ONU-side interface")
    ] = None,
    no_snmp: Annotated[bool, typer.Option("--no-snmp", help="do not poll the CPE's SNMP agent")] = False,
) -> None:
    """Find the first failing stage of a line, its evidence, the likely cause and who must act."""
    from provisioner import service

    record = _record(line)
    resolver = service.LabCredentials() if lab_credentials else None
    probe_password = os.environ.get("HIKARI_PROBE_PASSWORD")
    diagnosis = service.diagnose_line(
        record, resolver=resolver, snmp=not no_snmp, probe_iface=probe_iface, probe_password=probe_password
    )
    if as_json:
        typer.echo(json.dumps(diagnosis.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_diagnosis(diagnosis, Console())
    raise typer.Exit(0 if diagnosis.ok else 1)


def print_status(st, console: Console) -> None:
    if not st.reachable:
        console.print(f"[red]{st.host}: not reachable ({st.error_reason})[/red] {st.error}")
        return
    f = st.facts
    head = f"{f.hostname} {f.vendor} {f.model} {f.os_version}".strip() if f else st.host
    uptime = f", up {f.uptime_s / 3600:.1f} h" if f and f.uptime_s is not None else ""
    console.print(f"[bold]{head}[/bold] ({st.platform} at {st.host}{uptime}; read in {st.elapsed_ms:.0f} ms)")
    table = Table(show_header=True)
    for col in ("what", "state", "detail"):
        table.add_column(col)
    for s in st.pppoe:
        table.add_row(f"PPPoE {s.session}", s.state, f"{s.interface or ''} {s.ipv4 or ''} {s.detail}".strip())
    for a in st.ipv4:
        table.add_row("IPv4", a.interface, str(a.address))
    for p in st.ipv6_prefixes:
        table.add_row(f"IPv6 {p.origin}", p.interface, str(p.prefix))
    for t in st.tunnels:
        table.add_row(f"tunnel {t.kind}", t.state, f"{t.name} {t.local or ''} → {t.remote or ''}")
    if st.wifi is not None:
        table.add_row("Wi-Fi", "accepted" if st.wifi.accepted else "not accepted",
                      ", ".join(st.wifi.ssids) or st.wifi.detail)
    console.print(table)
    for getter, why in st.errors.items():
        console.print(f"[yellow]{getter}: no answer[/yellow] ({why})")


def status_command(
    line: LineOrId,
    as_json: JsonFlag = False,
    lab_credentials: Annotated[
        bool, typer.Option("--lab", help="take the CPE login from the running lab")
    ] = False,
) -> None:
    """The rental router's live status from its own CLI: sessions, addresses, prefixes, tunnels, Wi-Fi."""
    from provisioner import service

    record = _record(line)
    try:
        st = service.cpe_status(record, resolver=service.LabCredentials() if lab_credentials else None)
    except service.ProvisionError as err:
        raise _invalid(err) from None
    if as_json:
        typer.echo(st.model_dump_json(indent=2))
    else:
        print_status(st, Console())
    raise typer.Exit(0 if st.reachable else 1)


def register(app: typer.Typer) -> None:
    app.command("diagnose")(diagnose_command)
    app.command("status")(status_command)

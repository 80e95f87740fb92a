"""`provisioner lab setup|up|down|status|fault|clear`: a thin front over `lab.Lab`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

T = TypeVar("T")
console = Console()
lab_app = typer.Typer(no_args_is_help=True, help="The lab network: BRAS, Kea, radvd and CPEs in namespaces.")


def register(app: typer.Typer) -> None:
    """Add this subsystem's commands to the `provisioner` app."""
    app.add_typer(lab_app, name="lab")


def _guarded(action: Callable[[], T]) -> T:
    """Run a lab action mapping its errors to exit codes: 2 for bad input, 1 for operational failures."""
    from lab import LabError
    from lab.daemons import DaemonError
    from lab.faults import FaultError
    from lab.network import NetworkError
    from lab.topology import TopologyError

    if os.geteuid() != 0:
        console.print("[red]the lab needs root (namespaces, veth, daemons)[/red]")
        raise typer.Exit(1)
    try:
        return action()
    except (TopologyError, FaultError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except (LabError, NetworkError, DaemonError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


@lab_app.command()
def setup() -> None:
    """Install the Debian packages the lab needs (no host service is started) and build the UML shim."""
    from lab.setup import SetupError, ensure

    try:
        _guarded(lambda: ensure(log=console.print))
    except SetupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


@lab_app.command()
def up(
    cpes: Annotated[
        int | None, typer.Option(help="number of CPEs (default 3, or one per --profile entry)")
    ] = None,
    profile: Annotated[
        str, typer.Option(help="next|next-denwa|next-denwa-router|cross, or a comma list per CPE")
    ] = "next",
    probe_line: Annotated[int, typer.Option(help="line the probe port is attached to")] = 1,
    guests: Annotated[bool, typer.Option(help="start the UML BRAS and CPEs (--no-guests: NGN only)")] = True,
) -> None:
    """Bring the lab up (whatever a previous run left is removed first)."""
    from lab import Lab

    started = time.monotonic()
    lab = _guarded(lambda: Lab.up(cpes=cpes, profile=profile, probe_line=probe_line, guests=guests))
    console.print(f"lab up in {time.monotonic() - started:.1f} s ({len(lab.cpes)} CPEs)")
    _print_status(lab, show_secrets=False)


@lab_app.command()
def down() -> None:
    """Stop and remove everything the lab made (namespaces, links, processes, run directory)."""
    from lab import Lab

    started = time.monotonic()
    _guarded(Lab.teardown)  # also cleans an aborted run that left no state file
    console.print(f"lab down in {time.monotonic() - started:.1f} s")


@lab_app.command()
def status(
    show_secrets: Annotated[bool, typer.Option(help="also print accounts and CPE credentials")] = False,
) -> None:
    """A table of the lab's nodes, addresses, daemons, PIDs and health."""
    from lab import Lab

    lab = _guarded(Lab.load)
    _print_status(lab, show_secrets)


@lab_app.command()
def fault(
    kind: Annotated[
        str,
        typer.Argument(
            help="bras-down, wrong-password, account-disabled, session-limit, "
            "kea-down, ra-instead-of-pd, wan-cut, sshd-down, snmpd-down"
        ),
    ],
    cpe: Annotated[int | None, typer.Option(help="the CPE (line) for per-CPE faults")] = None,
) -> None:
    """Inject a fault (reversible with `lab clear`)."""
    from lab import Lab

    lab = _guarded(Lab.load)
    applied = _guarded(lambda: lab.fault(kind, cpe))
    where = f" on cpe{cpe}" if cpe is not None else ""
    console.print(f"{kind}{where}: {'injected' if applied else 'already active'}")


@lab_app.command()
def clear(
    kind: Annotated[str | None, typer.Argument(help="fault kind (default: all)")] = None,
    cpe: Annotated[int | None, typer.Option(help="only this CPE's faults")] = None,
) -> None:
    """Clear active faults."""
    from lab import Lab

    lab = _guarded(Lab.load)
    cleared = _guarded(lambda: lab.clear(kind, cpe))
    console.print("cleared: " + (", ".join(cleared) if cleared else "nothing was active"))


def _print_status(lab, show_secrets: bool) -> None:
    table = Table(title=f"lab ({lab.dir})")
    for column in ("node", "kind", "netns", "addresses", "daemons", "PIDs", "health"):
        table.add_column(column)
    for row in lab.status():
        colour = "green" if row.health == "ok" else "yellow" if row.health.startswith("fault") else "red"
        table.add_row(
            row.name,
            row.kind,
            row.netns or "(host)",
            row.addresses,
            row.daemons,
            " ".join(map(str, row.pids)) or "-",
            f"[{colour}]{row.health}[/{colour}]",
        )
    console.print(table)
    if not show_secrets:
        console.print("credentials: `provisioner lab status --show-secrets` (or lab.Lab.load().cpes)")
        return
    creds = Table(title="credentials (secret)")
    for column in ("CPE", "ssh", "SNMP v2c", "SNMP v3 (SHA/AES)", "ISP account"):
        creds.add_column(column)
    for cpe in lab.cpes:
        isp = f"{cpe.isp_user} / {cpe.isp_password.get_secret_value()}" if cpe.isp_password else "-"
        creds.add_row(
            f"{cpe.name} {cpe.mgmt_ip}",
            f"{cpe.ssh_user} / {cpe.ssh_password.get_secret_value()} (key {cpe.ssh_key_path})",
            cpe.snmp_community.get_secret_value(),
            f"{cpe.snmp_v3_user} {cpe.snmp_auth_key.get_secret_value()} {cpe.snmp_priv_key.get_secret_value()}",
            isp,
        )
    console.print(creds)

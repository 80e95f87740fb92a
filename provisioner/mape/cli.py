"""`provisioner mape PREFIX [--provider P] [--json]`: MAP-E parameters for a delegated prefix."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from provisioner.mape.calc import MapeResult, compute_mape
from provisioner.mape.rules import MapeError

EXIT_INVALID_INPUT = 2


def register(app: typer.Typer) -> None:
    """Add the `mape` command to the `provisioner` app."""
    app.command("mape")(mape_command)


def mape_command(
    prefix: Annotated[
        str,
        typer.Argument(help="Delegated prefix (/56 from DHCPv6-PD) or RA /64, e.g. 240b:10:abcd:ef00::/56"),
    ],
    provider: Annotated[
        str | None,
        typer.Option("--provider", "-p", help="Only this provider's rules (jpne, ocn, biglobe, nuro, lab)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """MAP-E calculator: CE IPv4, PSID, port sets, CE IPv6 address, BR and tunnel MTU."""
    try:
        result = compute_mape(prefix, provider)
    except MapeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        Console().print(summary(result))


def summary(result: MapeResult) -> Table:
    rule = result.rule
    layout = "draft-03" if result.draft03 else "RFC 7597"
    table = Table(
        title=Text(f"MAP-E for {result.prefix}"), box=box.SIMPLE, show_header=False, title_justify="left"
    )
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rows = [
        ("Provider", f"{result.provider_name} ({result.provider})"),
        (
            "Rule",
            f"{rule.describe()} · EA {result.ea_len} bits · PSID offset {result.psid_offset} · {layout} CE",
        ),
        ("CE IPv4", str(result.ipv4)),
        ("PSID", f"{result.psid} ({result.psid_len} bits)"),
        ("Ports", describe_ports(result)),
        ("CE IPv6", str(result.ce_ipv6)),
        ("BR", str(result.br)),
        ("Tunnel MTU", str(result.tunnel_mtu)),
    ]
    rows.extend(("Note", note) for note in notes(result))
    for label, value in rows:
        # Text, not markup: "::1:" in an address would otherwise be read as an emoji code.
        table.add_row(label, Text(value))
    return table


def describe_ports(result: MapeResult, shown: int = 3) -> str:
    ranges = result.port_ranges
    size = ranges[0][1] - ranges[0][0] + 1
    step = 1 << (16 - result.psid_offset)
    listed = [f"{first}-{last}" for first, last in ranges]
    if len(listed) > shown + 1:
        listed = [*listed[:shown], "…", listed[-1]]
    return f"{result.port_count} = {len(ranges)} ranges of {size}, every {step}: {', '.join(listed)}"


def notes(result: MapeResult) -> list[str]:
    found = []
    if not result.ce_in_prefix:
        found.append(
            f"{result.prefix} is not subnet 0 of the End-user prefix {result.end_user_prefix}; the CE "
            "address (subnet 0, which the BR expects) lies outside it"
        )
    if result.rule.note:
        found.append(f"rule data: {result.rule.note}")
    return found

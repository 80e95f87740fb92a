"""Core commands: validate, render, catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from provisioner import service
from provisioner.catalog import get_catalog
from provisioner.record import RecordError
from provisioner.render import Unsupported, platforms

EXIT_INVALID = 2
LineArg = Annotated[Path, typer.Argument(help="line record file (YAML or JSON)", show_default=False)]


def _fail(message: str, *, as_json: bool = False, payload: dict | None = None) -> typer.Exit:
    if as_json:
        typer.echo(json.dumps(payload or {"error": message}, ensure_ascii=False, indent=2))
    else:
        Console(stderr=True).print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(EXIT_INVALID)


def validate(
    line: LineArg,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable result")] = False,
) -> None:
    """Check a line record against the schema and the catalog; list every problem."""
    try:
        record = service.read_line(line)
        intent = service.line_intent(record)
    except RecordError as err:
        raise _fail(str(err), as_json=as_json, payload=err.to_dict()) from None
    summary = {
        "customer_id": intent.customer_id,
        "product": intent.product,
        "family": intent.family,
        "devices": {
            d.role: {"platform": d.platform, "features": sorted(d.features())}
            for d in (intent.router, intent.hgw)
            if d is not None
        },
    }
    if as_json:
        typer.echo(json.dumps({"ok": True, **summary}, ensure_ascii=False, indent=2))
        return
    typer.echo(f"ok: {line} ({intent.customer_id}, {intent.product})")
    for role, dev in summary["devices"].items():
        typer.echo(f"  {role}: {dev['platform']}: {', '.join(dev['features'])}")


def render(
    line: LineArg,
    platform: Annotated[
        str | None,
        typer.Option("--platform", "-p", help="platform to render; default: the line's own devices"),
    ] = None,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="print passwords and keys in clear")
    ] = False,
) -> None:
    """Print the complete configuration a CPE needs for this line."""
    if platform is not None and platform not in platforms():
        raise _fail(f"unknown platform {platform!r}; known: {', '.join(sorted(platforms()))}")
    try:
        record = service.read_line(line)
        configs = service.render_line(record, platform, show_secrets=show_secrets)
    except (RecordError, Unsupported) as err:
        raise _fail(str(err)) from None
    for cfg in configs:
        if len(configs) > 1:
            typer.echo(f"{cfg.comment_prefix} ---- {cfg.role}: {cfg.platform} ----")
        typer.echo(cfg.text, nl=not cfg.text.endswith("\n"))


def catalog(
    as_json: Annotated[bool, typer.Option("--json", help="the whole catalog as JSON")] = False,
) -> None:
    """Show the products, options and equipment this operator offers."""
    cat = get_catalog()
    if as_json:
        typer.echo(cat.model_dump_json(indent=2))
        return
    table = Table(title="FLET'S products (seed 002)")
    for col in ("id", "商品", "family", "down/up Mb/s", "access", "PPPoE", "IPv4", "excluded options"):
        table.add_column(col)
    for p in cat.products:
        fam = cat.families[p.family]
        access = sorted({a for v in p.variants.values() for a in v.access_methods} or p.access_methods)
        name = p.name_ja + (f" ({'/'.join(v.name_ja for v in p.variants.values())})" if p.variants else "")
        table.add_row(
            p.id,
            name,
            p.family,
            f"{p.down_mbps}/{p.up_mbps}",
            ", ".join(access),
            str(fam.max_pppoe_sessions),
            ", ".join(fam.ipv4_methods),
            ", ".join(p.excluded_options) or "—",
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(render)
    app.command()(catalog)

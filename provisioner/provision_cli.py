"""`provisioner provision | drift | demo`: push lines' configs to their CPEs and report.

Exit codes: 0 every CPE ok (verified and saved, or already as intended), 1 a CPE failed or drifted,
2 invalid input (a bad record, an unknown platform, no credential).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from provisioner import service
from provisioner.provision import ProvisionOptions, ProvisionReport
from provisioner.record import LineRecord, RecordError
from provisioner.render import Unsupported, platforms

EXIT_FAILED, EXIT_INVALID = 1, 2
EXAMPLES_LAB = Path(__file__).resolve().parents[1] / "examples" / "lab"
# The demo's lines and the lab profile each needs (lab/topology.py Profile).
DEMO_LINES = (("next-pppoe-linux.yaml", "next-denwa-router"), ("cross-dslite-linux.yaml", "cross"))

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

STATUS_STYLE = {"ok": "green", "no-op": "green", "dry-run": "cyan", "restored": "yellow",
                "failed": "red", "restore-failed": "bold red"}

LineOpt = Annotated[Path | None, typer.Argument(help="line record file (YAML or JSON)", show_default=False)]
LinesOpt = Annotated[Path | None, typer.Option("--lines", help="a directory of line records (*.yaml, *.json)")]
LabOpt = Annotated[bool, typer.Option(
    "--lab", help="take device logins from the running lab, and the ISP account of a PPPoE line from the lab "
    "CPE at the record's management address")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable reports")]
VerifyTimeoutOpt = Annotated[float, typer.Option("--verify-timeout", min=1.0,
                                                 help="seconds to wait for PPPoE/DHCPv6/tunnels to come up")]


def _invalid(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", markup=True)
    return typer.Exit(EXIT_INVALID)


def _record_files(line: Path | None, lines_dir: Path | None) -> list[Path]:
    if (line is None) == (lines_dir is None):
        raise _invalid("give one LINE file or --lines DIR")
    if line is not None:
        return [line]
    assert lines_dir is not None
    if not lines_dir.is_dir():
        raise _invalid(f"{lines_dir} is not a directory")
    files = sorted(p for p in lines_dir.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    if not files:
        raise _invalid(f"no line records (*.yaml, *.json) in {lines_dir}")
    return files


def _load(files: list[Path], lab: Any | None) -> list[LineRecord]:
    records, problems = [], []
    for path in files:
        try:
            if lab is None:
                records.append(service.read_line(path))
                continue
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            address = str((data.get("management") or {}).get("address", ""))
            cpe = service.LabCredentials(lab).cpe(address)
            records.append(service.read_line(service.fill_from_lab(data, cpe)))
        except (RecordError, service.ProvisionError, OSError, yaml.YAMLError, AttributeError) as exc:
            problems.append(f"{path}: {exc}")
    if problems:
        raise _invalid("\n".join(problems))
    return records


def _lab_or_none(lab: bool) -> Any | None:
    if not lab:
        return None
    from lab import Lab, LabNotRunning

    try:
        return Lab.load()
    except LabNotRunning as exc:
        raise _invalid(str(exc)) from None


def _options(verify_timeout: float) -> ProvisionOptions:
    return ProvisionOptions(verify_timeout=verify_timeout)


def _run(records: list[LineRecord], *, platform: str | None, dry_run: bool, lab: Any | None,
         concurrency: int, options: ProvisionOptions, progress: bool) -> list[ProvisionReport]:
    resolver = service.LabCredentials(lab) if lab is not None else None
    try:
        items = [service.prepare_push(r, platform=platform, resolver=resolver) for r in records]
    except (RecordError, Unsupported, service.ProvisionError, LookupError) as exc:
        raise _invalid(str(exc)) from None
    if len(items) == 1 and not progress:
        it = items[0]
        return [service.provision(it.target, it.rendered, it.device, dry_run=dry_run, options=options,
                                  secrets=it.secrets)]
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("provisioning" if not dry_run else "reading", total=len(items))
        return service.provision_many(items, concurrency=concurrency, dry_run=dry_run, options=options,
                                      on_done=lambda r: bar.advance(task))


# ---------------------------------------------------------------------- output
def report_table(reports: list[ProvisionReport], title: str) -> Table:
    table = Table(title=title)
    for col in ("CPE", "line", "platform", "status", "changes", "verified", "restored", "time", "reason"):
        table.add_column(col, overflow="fold")
    for r in reports:
        restored = "—" if r.restored is None else ("yes, identical" if r.restore_verified else "NOT VERIFIED")
        table.add_row(
            r.cpe, r.customer_id, r.platform, f"[{STATUS_STYLE[r.status]}]{r.status}[/]", str(r.changes),
            "yes" if r.verified else "no", restored, f"{r.elapsed_ms / 1000:.1f} s", r.reason or "",
        )
    return table


def print_report(r: ProvisionReport, *, show_diff: bool) -> None:
    out.print(f"[bold]{r.customer_id or r.cpe}[/bold] ({r.platform} at {r.cpe}), job {r.job_id}")
    for s in r.stages:
        mark = "[green]✓[/]" if s.ok else "[red]✗[/]"
        out.print(f"  {mark} {s.name:<14} {s.detail}  [dim]{s.elapsed_ms / 1000:.2f} s[/]")
    for w in r.warnings:
        out.print(f"  [yellow]warning:[/] {w}")
    if show_diff and r.diff:
        out.print(r.diff, markup=False, end="")
    verdict = {"ok": "verified and saved", "no-op": "already as intended (nothing pushed), verified",
               "dry-run": f"dry run: {r.changes} change(s) would be pushed", "failed": "FAILED",
               "restored": "FAILED, restored to the backup (identical)",
               "restore-failed": "FAILED and the restore could not be verified: the CPE needs a technician"}
    out.print(f"  => [{STATUS_STYLE[r.status]}]{verdict[r.status]}[/]" + (f": {r.reason}" if r.reason else ""))
    out.print(f"  session log: {r.session_log}", style="dim")


def _emit(reports: list[ProvisionReport], *, as_json: bool, title: str, show_diff: bool) -> None:
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in reports], ensure_ascii=False, indent=2))
    elif len(reports) == 1:
        print_report(reports[0], show_diff=show_diff)
    else:
        out.print(report_table(reports, title))


# ---------------------------------------------------------------------- commands
def provision(
    line: LineOpt = None,
    lines: LinesOpt = None,
    platform: Annotated[str | None, typer.Option("--platform", "-p", help="push this platform's config")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only read the CPE and print the diff")] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", "-k", min=1, max=256,
                                             help="CPEs provisioned at once")] = 20,
    lab: LabOpt = False,
    as_json: JsonOpt = False,
    verify_timeout: VerifyTimeoutOpt = 30.0,
) -> None:
    """Push a line's configuration to its CPE: verified and saved, or restored as it was, with the reason."""
    if platform is not None and platform not in platforms():
        raise _invalid(f"unknown platform {platform!r}; known: {', '.join(sorted(platforms()))}")
    files = _record_files(line, lines)
    the_lab = _lab_or_none(lab)
    records = _load(files, the_lab)
    reports = _run(records, platform=platform, dry_run=dry_run, lab=the_lab, concurrency=concurrency,
                   options=_options(verify_timeout), progress=lines is not None)
    _emit(reports, as_json=as_json, title="provisioning", show_diff=dry_run)
    if not all(r.ok for r in reports):
        raise typer.Exit(EXIT_FAILED)


def drift(
    line: LineOpt = None,
    lines: LinesOpt = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-k", min=1, max=256)] = 20,
    lab: LabOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Compare CPEs' running configs with what their lines intend (read only). Exit 1 when any drifted."""
    files = _record_files(line, lines)
    the_lab = _lab_or_none(lab)
    records = _load(files, the_lab)
    reports = _run(records, platform=None, dry_run=True, lab=the_lab, concurrency=concurrency,
                   options=ProvisionOptions(), progress=lines is not None)
    _emit(reports, as_json=as_json, title="drift (running vs intended)", show_diff=True)
    if not all(r.ok and r.changes == 0 for r in reports):
        raise typer.Exit(EXIT_FAILED)


def demo(
    down: Annotated[bool, typer.Option("--down", help="take the lab down at the end")] = False,
    verify_timeout: VerifyTimeoutOpt = 45.0,
) -> None:
    """The main job end to end on the lab: lab up, lines activated, rendered, pushed, verified, reported."""
    from lab import Lab, LabError
    from lab.lab import machine_lock

    profiles = ",".join(p for _, p in DEMO_LINES)
    err.print(f"lab up ({profiles}) ...")
    try:
        lab = Lab.up(profile=profiles)
    except LabError as exc:
        err.print(f"[red]error:[/red] the lab did not come up: {exc}", markup=True)
        raise typer.Exit(EXIT_FAILED) from None
    try:
        # a shared lease on the lab while we use it: another session's `up` waits instead of replacing it
        with machine_lock(shared=True):
            reports = _demo_push(lab, verify_timeout)
    finally:
        if down:
            lab.down()
        else:
            err.print("the lab stays up: `provisioner lab status`, `provisioner lab down`")
    if not all(r.verified for r in reports):
        raise typer.Exit(EXIT_FAILED)


def _demo_push(lab: Any, verify_timeout: float) -> list[ProvisionReport]:
    """Activate the example lab lines on the lab's CPEs: fill in the lab's values, render, push, verify."""
    records = []
    for (name, _), cpe in zip(DEMO_LINES, lab.cpes, strict=True):
        data = yaml.safe_load((EXAMPLES_LAB / name).read_text(encoding="utf-8"))
        records.append(service.read_line(service.fill_from_lab(data, cpe)))
    reports = _run(records, platform=None, dry_run=False, lab=lab, concurrency=len(records),
                   options=_options(verify_timeout), progress=True)
    for r in reports:
        print_report(r, show_diff=False)
    out.print(report_table(reports, "demo: per-line report"))
    return reports


def register(app: typer.Typer) -> None:
    app.command()(provision)
    app.command()(drift)
    app.command()(demo)

"""`provisioner probe pppoe|dhcpv6-pd|ra` and `provisioner snmp-poll`.

Probes run where the technician's port is (e.g. `ip netns exec <ns> provisioner probe ...`): scapy reads
that namespace's routes when first imported, so it is imported only inside the probe commands.
Secrets come from environment variables named on the command line, never from argv, and are never printed.
Exit codes: 0 every stage/target ok, 1 a stage/target failed, 2 bad input.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from provisioner.checks.results import ProbeResult
    from provisioner.checks.snmp_poller import SnmpPollResult, SnmpTarget

probe_app = typer.Typer(no_args_is_help=True, add_completion=False,
                        help="Prove a line from a port on its ONU: stage-by-stage results, no session left open.")

IFACE = typer.Option(..., "--iface", help="Interface of the technician's port (in this namespace).")
TIMEOUT = typer.Option(5.0, "--timeout", help="Seconds each stage may wait for an answer.")
AS_JSON = typer.Option(False, "--json", help="Print the result as JSON.")


def _console(stderr: bool = False) -> Console:
    # No emoji codes (":100:" is part of IPv6 addresses) and no highlighting of text from the wire.
    return Console(stderr=stderr, emoji=False, highlight=False)


def _error(message: str) -> None:
    _console(stderr=True).print(Text.assemble(("error: ", "red"), message))


def _bad_input(message: str) -> typer.Exit:
    _error(message)
    return typer.Exit(2)


def _secret_from_env(var: str, what: str) -> SecretStr:
    value = os.environ.get(var)
    if not value:
        raise _bad_input(f"environment variable {var} (the {what}) is not set or empty")
    return SecretStr(value)


def _hang_up_on_sigterm() -> None:
    # A probe stopped by SIGTERM still runs its teardown (PADT, DHCPv6 Release) on the way out.
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _run_probe(run: Callable[[], ProbeResult], as_json: bool) -> None:
    _hang_up_on_sigterm()
    try:
        result = run()
    except ValueError as exc:
        raise _bad_input(str(exc)) from exc
    except PermissionError as exc:
        _error(f"raw sockets need root or CAP_NET_RAW ({exc})")
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    else:
        _print_probe(result)
    raise typer.Exit(0 if result.ok else 1)


def _mark(ok: bool) -> Text:
    return Text("✓", "green") if ok else Text("✗", "red")


def _print_probe(result: ProbeResult) -> None:
    failed = result.failed_stage
    verdict = Text("OK", "green") if result.ok else Text.assemble(
        ("FAILED", "red"), f" at {failed.name} ({failed.reason})" if failed else "")
    table = Table(title=Text.assemble(f"{result.probe} probe on {result.iface}: ", verdict), title_justify="left")
    for column in ("", "stage", "detail", "ms"):
        table.add_column(column, justify="right" if column == "ms" else "left")
    for stage in result.stages:
        detail = stage.detail if stage.ok else f"{stage.reason}: {stage.detail}"
        table.add_row(_mark(stage.ok), Text(stage.name), Text(detail), f"{stage.elapsed_ms:.1f}")
    console = _console()
    console.print(table)
    console.print(f"total {result.elapsed_ms:.1f} ms")


@probe_app.command("pppoe")
def probe_pppoe_command(
    iface: str = IFACE,
    user: str | None = typer.Option(None, "--user", help="PPPoE user (ID@domain); omit for discovery only."),
    password_env: str | None = typer.Option(None, "--password-env", metavar="VAR",
                                            help="Environment variable holding the PPPoE password."),
    auth: str = typer.Option("auto", "--auth", help="auto (as the BRAS asks), chap or pap."),
    service: str = typer.Option("", "--service", help="Service-Name to ask for (default: any)."),
    timeout: float = TIMEOUT,
    as_json: bool = AS_JSON,
) -> None:
    """PPPoE: discovery, LCP, CHAP/PAP, IPCP, IPv6CP, then LCP Terminate and PADT."""
    if (user is None) != (password_env is None):
        raise _bad_input("--user and --password-env go together (neither: discovery only)")
    password = _secret_from_env(password_env, "PPPoE password") if password_env else None

    def run() -> ProbeResult:
        from provisioner.checks.pppoe_probe import probe_pppoe

        return probe_pppoe(iface, user, password, timeout=timeout, auth=auth, service_name=service)

    _run_probe(run, as_json)


@probe_app.command("dhcpv6-pd")
def probe_dhcpv6_pd_command(iface: str = IFACE, timeout: float = TIMEOUT, as_json: bool = AS_JSON) -> None:
    """DHCPv6-PD: Solicit with IA_PD, Request, then Release (prefix, length, T1/T2, DNS)."""
    def run() -> ProbeResult:
        from provisioner.checks.dhcpv6_probe import probe_dhcpv6_pd

        return probe_dhcpv6_pd(iface, timeout=timeout)

    _run_probe(run, as_json)


@probe_app.command("ra")
def probe_ra_command(iface: str = IFACE, timeout: float = TIMEOUT, as_json: bool = AS_JSON) -> None:
    """Router Solicitation → Router Advertisement (flags, prefixes, MTU, RDNSS)."""
    def run() -> ProbeResult:
        from provisioner.checks.ra_probe import probe_ra

        return probe_ra(iface, timeout=timeout)

    _run_probe(run, as_json)


# --- snmp-poll ----------------------------------------------------------------------------------------

def parse_host(spec: str, default_port: int = 161) -> tuple[str, int]:
    """`host`, `host:port`, `[v6addr]:port` or a bare IPv6 address."""
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = rest.removeprefix(":") or str(default_port)
    elif spec.count(":") == 1:
        host, port = spec.split(":")
    else:
        host, port = spec, str(default_port)
    if not host or not port.isdigit():
        raise ValueError(f"bad host {spec!r}: use host, host:port or [IPv6]:port")
    return host, int(port)


def snmp_poll_command(
    hosts: list[str] = typer.Argument(..., help="Agents: host, host:port or [IPv6]:port."),
    community_env: str | None = typer.Option(None, "--community-env", metavar="VAR",
                                             help="Environment variable holding the v2c community."),
    v3_user: str | None = typer.Option(None, "--v3-user", help="SNMPv3 user (authPriv, SHA/AES)."),
    v3_auth_env: str | None = typer.Option(None, "--v3-auth-env", metavar="VAR",
                                           help="Environment variable holding the v3 SHA auth key."),
    v3_priv_env: str | None = typer.Option(None, "--v3-priv-env", metavar="VAR",
                                           help="Environment variable holding the v3 AES privacy key."),
    timeout: float = typer.Option(1.0, "--timeout", help="Seconds per SNMP request."),
    retries: int = typer.Option(1, "--retries", min=0),
    concurrency: int = typer.Option(100, "--concurrency", min=1),
    as_json: bool = AS_JSON,
) -> None:
    """Poll CPEs over SNMP (v2c or v3): uptime, name, interfaces' status and 64-bit counters."""
    from provisioner.checks.snmp_poller import SnmpTarget, poll_many_sync

    if (community_env is None) == (v3_user is None):
        raise _bad_input("give --community-env (v2c) or --v3-user with --v3-auth-env/--v3-priv-env (v3)")
    credentials: dict[str, Any]
    if community_env is not None:
        credentials = {"community": _secret_from_env(community_env, "SNMP community")}
    else:
        if not v3_auth_env or not v3_priv_env:
            raise _bad_input("--v3-user needs --v3-auth-env and --v3-priv-env (authPriv)")
        credentials = {"v3_user": v3_user, "v3_auth_key": _secret_from_env(v3_auth_env, "SNMPv3 auth key"),
                       "v3_priv_key": _secret_from_env(v3_priv_env, "SNMPv3 privacy key")}
    try:
        targets = [SnmpTarget(host=host, port=port, **credentials) for host, port in map(parse_host, hosts)]
        results = poll_many_sync(targets, timeout=timeout, retries=retries, concurrency=concurrency)
    except (ValueError, ValidationError) as exc:
        raise _bad_input(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in results]))
    else:
        _print_snmp(targets, results)
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


def _print_snmp(targets: list[SnmpTarget], results: list[SnmpPollResult]) -> None:
    table = Table(title=f"SNMP poll of {len(targets)} agent(s)", title_justify="left")
    for column in ("", "agent", "ver", "sysName", "uptime", "interfaces / error", "ms"):
        table.add_column(column, justify="right" if column == "ms" else "left")
    for result in results:
        if result.ok:
            uptime = f"{result.sys_uptime_s:.0f} s" if result.sys_uptime_s is not None else "?"
            ifaces = ", ".join(f"{i.name or i.descr or i.index}:{i.oper_status}" for i in result.interfaces)
            cells = [result.sys_name or "", uptime, ifaces]
        else:
            cells = ["", "", f"{result.reason}: {result.error}"]
        table.add_row(_mark(result.ok), f"{result.host}:{result.port}", result.version,
                      *(Text(cell) for cell in cells), f"{result.elapsed_ms:.1f}")
    _console().print(table)


def register(app: typer.Typer) -> None:
    """Add `probe` (pppoe, dhcpv6-pd, ra) and `snmp-poll` to the `provisioner` app."""
    app.add_typer(probe_app, name="probe")
    app.command("snmp-poll")(snmp_poll_command)

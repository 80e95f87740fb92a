"""Commands of the service: serve, worker, tokens, credentials."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Annotated

import typer

from provisioner.settings import get_settings

tokens_app = typer.Typer(no_args_is_help=True, help="API bearer tokens (stored hashed; shown once).")
credentials_app = typer.Typer(no_args_is_help=True, help="Device credentials (encrypted at rest).")

EXIT_FAILURE, EXIT_INVALID = 1, 2


def _error(message: str, code: int = EXIT_INVALID) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def serve(
    port: Annotated[int | None, typer.Option("--port", "-p", help="port (default HIKARI_PORT or 8080)")] = None,
    host: Annotated[str | None, typer.Option("--host", help="bind address (default HIKARI_HOST or 127.0.0.1)")] = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="do not run jobs in this process")] = False,
    processes: Annotated[int, typer.Option("--processes", min=1, max=64,
                                           help="API processes sharing the port (each with its own worker)")] = 1,
) -> None:
    """Run the activation API (uvicorn), with an embedded job worker unless --no-worker."""
    import uvicorn

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    common = {"host": host, "port": port, "log_config": None, "access_log": False, "server_header": False,
              "timeout_graceful_shutdown": 15}
    if processes > 1:
        # Child processes read their settings from the environment: pass the overrides that way.
        os.environ.update({"HIKARI_HOST": host, "HIKARI_PORT": str(port)})
        if no_worker:
            os.environ["HIKARI_EMBEDDED_WORKER"] = "false"
        uvicorn.run("api.main:create_app", factory=True, workers=processes, **common)
        return
    from api.main import create_app

    updates: dict[str, object] = {"host": host, "port": port}
    if no_worker:
        updates["embedded_worker"] = False
    uvicorn.run(create_app(settings.model_copy(update=updates)), **common)


def worker(
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c", help="jobs at once")] = None,
) -> None:
    """Run a job worker in this process until SIGTERM/SIGINT (any number may share the database)."""
    from provisioner.jobs.logs import configure_logging
    from provisioner.jobs.worker import Worker
    from provisioner.secrets import SecretBox
    from provisioner.store.db import open_database

    settings = get_settings()
    if concurrency:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    configure_logging(settings)
    db = open_database(settings)
    w = Worker(settings, db, SecretBox.from_settings(settings))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    w.start()
    stop.wait()
    w.stop(timeout=settings.job_lease_seconds / 2)
    db.dispose()


@tokens_app.command("create")
def tokens_create(
    role: Annotated[str, typer.Option("--role", "-r", help="activation | noc | technician | admin")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="who uses it, e.g. order-system")] = None,
) -> None:
    """Create a token and print it once; only its hash is kept."""
    from provisioner.store import Role, create_token, open_database

    try:
        role_ = Role(role)
    except ValueError:
        raise _error(f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}") from None
    info, token = create_token(open_database(get_settings()), role_, name or f"{role}-token")
    typer.echo(f"token id {info.id} ({info.role.value}, {info.name}); store this token now, it is not shown again:",
               err=True)
    typer.echo(token)


@tokens_app.command("list")
def tokens_list() -> None:
    """Token ids, names, roles and state (never the tokens)."""
    from provisioner.store import open_database
    from provisioner.store.tokens import list_tokens

    for t in list_tokens(open_database(get_settings())):
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
        typer.echo(f"{t.id}  {t.role:<10}  {state:<18}  {t.name}")


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(help="token id from `tokens list`")]) -> None:
    from provisioner.store import open_database
    from provisioner.store.tokens import revoke_token

    if not revoke_token(open_database(get_settings()), token_id):
        raise _error(f"no active token {token_id}", EXIT_FAILURE)
    typer.echo(f"revoked {token_id}")


def _read_secret(env: str | None, prompt: str) -> str:
    if env:
        value = os.environ.get(env)
        if not value:
            raise _error(f"environment variable {env} is not set or empty")
        return value
    if not sys.stdin.isatty():
        raise _error("no terminal to prompt on: pass the value in an environment variable (--password-env VAR)")
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)


@credentials_app.command("set")
def credentials_set(
    ref: Annotated[str, typer.Argument(help="the credential_ref line records name")],
    username: Annotated[str, typer.Option("--username", "-u")],
    password_env: Annotated[str | None, typer.Option("--password-env", help="read the password from this "
                                                     "environment variable instead of a prompt")] = None,
    secret_env: Annotated[str | None, typer.Option("--secret-env", help="enable secret from this variable")] = None,
    with_secret: Annotated[bool, typer.Option("--with-secret", help="prompt for an enable secret too")] = False,
) -> None:
    """Store a device login (the password is read from a prompt or an environment variable, never argv)."""
    from provisioner.credentials import CredentialError, CredentialStore

    password = _read_secret(password_env, "password")
    secret = _read_secret(secret_env, "enable secret") if (secret_env or with_secret) else None
    try:
        CredentialStore.from_settings().set(ref, username, password, secret, actor=f"cli:{_user()}")
    except CredentialError as exc:
        raise _error(str(exc)) from None
    typer.echo(f"stored credential {ref} (user {username})")


@credentials_app.command("list")
def credentials_list() -> None:
    """Refs and usernames (never the passwords)."""
    from provisioner.credentials import CredentialStore

    for ref, user in CredentialStore.from_settings().refs():
        typer.echo(f"{ref}  {user}")


@credentials_app.command("delete")
def credentials_delete(ref: Annotated[str, typer.Argument()]) -> None:
    from provisioner.credentials import CredentialStore

    if not CredentialStore.from_settings().delete(ref, actor=f"cli:{_user()}"):
        raise _error(f"no credential {ref}", EXIT_FAILURE)
    typer.echo(f"deleted {ref}")


def _user() -> str:
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or str(os.getuid())


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(credentials_app, name="credentials")

"""The `provisioner` command: a thin front; each subsystem registers its own commands."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Provision and check FLET'S lines and their CPEs.",
)

# Each module exposes `register(app: typer.Typer) -> None`.
_COMMAND_MODULES = (
    "provisioner.commands",
    "provisioner.mape.cli",
    "provisioner.checks.cli",
    "provisioner.checks.diagnose_cli",
    "lab.cli",
    "provisioner.provision_cli",
    "provisioner.api_cli",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

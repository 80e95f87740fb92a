"""Calls into provisioner.service functions that colleagues add over time (provision_line, diagnose_line,
cpe_status). They are looked up at call time, so the API and the worker pick them up without changes, and
report "not available" instead of pretending while they are missing."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from provisioner.secrets import MASK, REDACTOR

ISSUES = {"provision_line": 4, "diagnose_line": 5, "cpe_status": 5}


class NotAvailable(RuntimeError):
    def __init__(self, name: str):
        issue = ISSUES.get(name)
        where = f" (GitHub issue {issue})" if issue else ""
        super().__init__(f"provisioner.service.{name} is not implemented yet{where}")
        self.name = name


def service_function(name: str) -> Callable[..., Any]:
    from provisioner import service

    fn = getattr(service, name, None)
    if not callable(fn):
        raise NotAvailable(name)
    return fn


def credential_resolver(store: Any) -> Any:
    """This service's credential store behind service.CredentialResolver (None if the adapter is missing).
    Always pass it: the service's default resolver would open the store of the environment's settings."""
    from provisioner import service

    adapter = getattr(service, "StoreCredentials", None)
    return adapter(store) if adapter is not None and store is not None else None


def call(fn: Callable[..., Any], *args: Any, **optional: Any) -> Any:
    """Call fn with the optional keyword arguments it declares (all of them if it takes **kwargs)."""
    params = inspect.signature(fn).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        optional = {k: v for k, v in optional.items() if k in params}
    return fn(*args, **optional)


def to_data(value: Any) -> Any:
    """A service result as JSON data with every known secret masked."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return REDACTOR.redact_obj(_jsonable(value))


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if hasattr(value, "get_secret_value"):
        return MASK
    return str(value)


def field(result: Any, *names: str) -> Any:
    """The first of these attributes/keys the result has (None if none)."""
    for name in names:
        if isinstance(result, dict) and name in result:
            return result[name]
        if hasattr(result, name):
            return getattr(result, name)
    return None

"""The Platform base class and the registry. A platform module subclasses Platform, fills the class
attributes, implements quote() and context(), and decorates the class with @register_platform."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from provisioner.intent.models import DeviceIntent, Feature
from provisioner.render.errors import Unsupported
from provisioner.render.secretview import SecretView


@dataclass(frozen=True)
class Output:
    """One rendered file: which template makes it, its output name, and extra context for it alone."""

    template: str
    name: str
    extra: dict[str, Any] = field(default_factory=dict)


class Platform:
    name: ClassVar[str]
    netmiko_device_type: ClassVar[str]
    features: ClassVar[frozenset[Feature]]
    # (template file, output name) in push order; override outputs() when files depend on the device.
    templates: ClassVar[tuple[tuple[str, str], ...]]
    comment_prefix: ClassVar[str] = "#"
    default_role: ClassVar[str] = "router"
    # True for platforms configured by a command list (RenderedConfig.lines() is what netmiko sends).
    cli: ClassVar[bool] = True
    # Limits finer than a feature (what unsupported() refuses beyond the matrix), for the README.
    limits: ClassVar[tuple[str, ...]] = ()

    @property
    def template_dir(self) -> str:
        """Directory under device_templates/."""
        return self.name

    def quote(self, value: str) -> str:
        """Quote one user string for this platform's syntax; raise UnsafeValue for what it cannot carry."""
        raise NotImplementedError

    def filters(self) -> dict[str, Callable[..., Any]]:
        """Extra Jinja filters besides `q` (= quote)."""
        return {}

    def context(self, device: DeviceIntent, secrets: SecretView) -> dict[str, Any]:
        """The converter: every decision is made here; templates only loop and print."""
        raise NotImplementedError

    def unsupported(self, device: DeviceIntent) -> list[str]:
        """Why this platform cannot render `device` (empty when it can). Subclasses extend with
        platform limits finer than a feature, e.g. "2 PPPoE sessions"."""
        return sorted(device.features() - self.features)

    def check(self, device: DeviceIntent) -> None:
        reasons = self.unsupported(device)
        if reasons:
            raise Unsupported(self.name, reasons)

    def outputs(self, device: DeviceIntent, context: dict[str, Any]) -> tuple[Output, ...]:
        return tuple(Output(t, n) for t, n in self.templates)


_REGISTRY: dict[str, Platform] = {}


def register_platform(cls: type[Platform]) -> type[Platform]:
    if cls.name in _REGISTRY and type(_REGISTRY[cls.name]) is not cls:
        raise ValueError(f"platform {cls.name} registered twice")
    _REGISTRY[cls.name] = cls()
    return cls


def _load_all() -> None:
    pkg = importlib.import_module("provisioner.render.platforms")
    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")


def platforms() -> dict[str, Platform]:
    """Every registered platform by name (all modules under provisioner/render/platforms/ are loaded)."""
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def get_platform(name: str) -> Platform:
    if name not in _REGISTRY and name.replace("-", "").isalnum():
        # platform "a-b" lives in platforms/a_b.py: load just that one when it exists
        module = f"provisioner.render.platforms.{name.replace('-', '_')}"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    if name not in _REGISTRY:
        known = ", ".join(platforms())
        raise LookupError(f"unknown platform {name!r}; known: {known}")
    return _REGISTRY[name]

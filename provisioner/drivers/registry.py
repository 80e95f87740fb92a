"""Driver registry: platform name -> CpeDriver subclass (the same names as the renderer's platforms).

Drivers register with @register_driver when their module is imported; `get_driver` imports the built-in
modules and any plugin published under the entry-point group `hikari_provisioner.drivers` (a new CPE vendor
is a package, not a fork: NAPALM's `napalm_<vendor>` idea).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provisioner.drivers.base import CpeDriver

ENTRY_POINT_GROUP = "hikari_provisioner.drivers"
BUILTIN_MODULES = ("linux", "openwrt", "yamaha", "nec_ix", "cisco_iosxe")

_REGISTRY: dict[str, type[CpeDriver]] = {}
_loaded = False


def register_driver(cls: type[CpeDriver]) -> type[CpeDriver]:
    known = _REGISTRY.get(cls.platform)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"two drivers for platform {cls.platform}: {known.__name__} and {cls.__name__}")
    _REGISTRY[cls.platform] = cls
    return cls


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for name in BUILTIN_MODULES:
        importlib.import_module(f"provisioner.drivers.{name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()
    _loaded = True


def drivers() -> dict[str, type[CpeDriver]]:
    _load()
    return dict(sorted(_REGISTRY.items()))


def get_driver(platform: str) -> type[CpeDriver]:
    known = drivers()
    try:
        return known[platform]
    except KeyError:
        raise LookupError(f"no driver for platform {platform!r}; known: {', '.join(known)}") from None

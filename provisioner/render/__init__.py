"""Intent -> per-platform configuration (see docs/RENDER_SPEC.txt)."""

from provisioner.render.errors import RenderError, UnsafeValue, Unsupported
from provisioner.render.platform import Output, Platform, get_platform, platforms, register_platform
from provisioner.render.renderer import RenderedConfig, render, render_device
from provisioner.render.secretview import MASK, SecretView

__all__ = [
    "MASK",
    "Output",
    "Platform",
    "RenderError",
    "RenderedConfig",
    "SecretView",
    "UnsafeValue",
    "Unsupported",
    "get_platform",
    "platforms",
    "register_platform",
    "render",
    "render_device",
]

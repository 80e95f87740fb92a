"""The one renderer: intent + platform -> RenderedConfig, through dumb Jinja2 templates."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2
from pydantic import SecretStr

from provisioner.intent.models import DeviceIntent, Intent
from provisioner.render.errors import UnsafeValue
from provisioner.render.platform import Platform, get_platform
from provisioner.render.secretview import SecretView
from provisioner.textsafety import find_control_chars, has_control_chars_besides_newlines

# device_templates/ sits next to the package in the repo (editable install); HIKARI_TEMPLATE_DIR overrides.
_REPO_TEMPLATES = Path(__file__).resolve().parents[2] / "device_templates"
TEMPLATE_ROOT = Path(os.environ.get("HIKARI_TEMPLATE_DIR", _REPO_TEMPLATES))


@dataclass(frozen=True)
class RenderedConfig:
    platform: str
    role: str
    customer_id: str
    files: dict[str, str]             # output name -> content, in push order
    masked: bool                      # True when rendered with show_secrets=False
    masked_secrets: tuple[str, ...]   # labels of the secrets replaced by the mask
    comment_prefix: str = "#"

    @property
    def text(self) -> str:
        if len(self.files) == 1:
            return next(iter(self.files.values()))
        return "".join(f"# ==> {name} <==\n{body}" for name, body in self.files.items())

    def lines(self) -> list[str]:
        """The command list for CLI platforms: every non-blank, non-comment line, in order."""
        out = []
        for body in self.files.values():
            for line in body.splitlines():
                s = line.strip()
                if s and not s.startswith(self.comment_prefix):
                    out.append(line.rstrip())
        return out


@functools.cache
def _environment(platform_name: str) -> jinja2.Environment:
    plat = get_platform(platform_name)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_ROOT / plat.template_dir),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["q"] = plat.quote
    env.filters.update(plat.filters())
    return env


def refuse_control_lines(platform: str, name: str, text: str) -> None:
    """Defence in depth: no rendered line may carry a control character (besides its ending newline).
    The message names the file and line number only: the line may hold a secret."""
    if not has_control_chars_besides_newlines(text):  # one pass over the text; lines only to name the bad one
        return
    for number, line in enumerate(text.split("\n"), start=1):
        bad = find_control_chars(line)
        if bad:
            chars = ", ".join(bad)
            raise UnsafeValue(platform, f"{name} line {number} contains control characters ({chars})")


def render_device(
    device: DeviceIntent,
    platform: str | Platform,
    *,
    customer_id: str = "",
    show_secrets: bool = False,
    credentials: Mapping[str, SecretStr] | None = None,
) -> RenderedConfig:
    """Render one DeviceIntent. `credentials` resolves secrets the intent names by reference
    (e.g. Snmp.v2c_community_ref); only needed with show_secrets=True."""
    plat = get_platform(platform) if isinstance(platform, str) else platform
    plat.check(device)
    secrets = SecretView(show_secrets, credentials)
    context = plat.context(device, secrets)
    base = {"platform": plat.name, "role": device.role, "customer_id": customer_id,
            "comment": plat.comment_prefix}
    env = _environment(plat.name)
    files: dict[str, str] = {}
    for out in plat.outputs(device, context):
        text = env.get_template(out.template).render({**base, **context, **out.extra})
        refuse_control_lines(plat.name, out.name, text)
        files[out.name] = text
    return RenderedConfig(
        platform=plat.name,
        role=device.role,
        customer_id=customer_id,
        files=files,
        masked=not show_secrets,
        masked_secrets=tuple(secrets.masked),
        comment_prefix=plat.comment_prefix,
    )


def render(
    intent: Intent,
    platform: str | Platform,
    *,
    role: str | None = None,
    show_secrets: bool = False,
    credentials: Mapping[str, SecretStr] | None = None,
) -> RenderedConfig:
    """Render one device of the line. role defaults to the platform's (hgw for ntt-hgw, else router)."""
    plat = get_platform(platform) if isinstance(platform, str) else platform
    device = intent.device(role or plat.default_role)
    return render_device(
        device, plat, customer_id=intent.customer_id, show_secrets=show_secrets, credentials=credentials
    )

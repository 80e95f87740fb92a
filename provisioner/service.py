"""The service layer: what the CLI and the API both call. Each function is one step of the pipeline
line record → intent → config → push → verify → report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from provisioner.catalog import get_catalog
from provisioner.intent import Intent, build_intent
from provisioner.record import LineRecord, load_line, parse_line
from provisioner.render import RenderedConfig, get_platform, render

HGW_PLATFORM = "ntt-hgw"


def read_line(source: str | Path | dict[str, Any], *, today: dt.date | None = None) -> LineRecord:
    """A record from a file path or an already-decoded mapping; raises RecordError."""
    if isinstance(source, dict):
        return parse_line(source, today=today)
    return load_line(source, today=today)


def line_intent(record: LineRecord) -> Intent:
    """Raises IntentRefused when the line cannot have what the record asks for."""
    return build_intent(record, get_catalog())


def default_platforms(intent: Intent) -> list[str]:
    """The platforms this line's own equipment runs: its router's, and the HGW's when it has one."""
    out = []
    if intent.router:
        out.append(intent.router.platform)
    if intent.hgw:
        out.append(HGW_PLATFORM)
    return out


def render_line(
    record: LineRecord, platform: str | None = None, *, show_secrets: bool = False
) -> list[RenderedConfig]:
    """Render the line for one platform (any platform may render the router's intent), or for all of the
    line's own devices when platform is None. Raises IntentRefused or Unsupported."""
    intent = line_intent(record)
    names = [platform] if platform else default_platforms(intent)
    return [render(intent, get_platform(name), show_secrets=show_secrets) for name in names]

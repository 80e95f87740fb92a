"""Audit log helpers: unified diffs of what changed, always built from masked views."""

from __future__ import annotations

import difflib
import json
from typing import Any


def text_diff(old: str | None, new: str | None, name: str) -> str | None:
    """A unified diff (None when nothing changed). Both sides must already be masked."""
    if old == new:
        return None
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        (new or "").splitlines(keepends=True),
        fromfile=f"{name} (before)" if old is not None else "/dev/null",
        tofile=f"{name} (after)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def data_diff(old: dict[str, Any] | None, new: dict[str, Any], name: str) -> str | None:
    dump = lambda d: json.dumps(d, indent=1, sort_keys=True, ensure_ascii=False) + "\n"  # noqa: E731
    return text_diff(dump(old) if old is not None else None, dump(new), name)

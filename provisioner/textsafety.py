"""User strings that end up in device CLIs: reject what could inject commands before rendering."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, SecretStr

# C0, DEL and C1 controls, plus line/paragraph separators that some CLIs treat as newlines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u0085]")


_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u0085]")


def find_control_chars(value: str) -> list[str]:
    if _CONTROL.search(value) is None:  # the common case, without building a set
        return []
    return sorted({f"U+{ord(c):04X}" for c in _CONTROL.findall(value)})


def has_control_chars_besides_newlines(text: str) -> bool:
    return _CONTROL_BUT_NEWLINE.search(text) is not None


def _reject_controls(value: str) -> str:
    bad = find_control_chars(value)
    if bad:
        raise ValueError(f"contains control characters ({', '.join(bad)}); newlines and controls are refused")
    return unicodedata.normalize("NFC", value)


def _reject_controls_secret(value: SecretStr) -> SecretStr:
    _reject_controls(value.get_secret_value())
    return value


SafeStr = Annotated[str, AfterValidator(_reject_controls)]
"""A user-supplied string without control characters (NFC-normalised)."""

SafeSecret = Annotated[SecretStr, AfterValidator(_reject_controls_secret)]
"""A secret without control characters; never printed in clear."""

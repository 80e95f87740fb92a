"""Errors a renderer raises. None of them ever carries a user string or a secret in its message."""

from __future__ import annotations

from collections.abc import Iterable


class RenderError(Exception):
    """Base class: the intent cannot be rendered for this platform."""


class Unsupported(RenderError):
    """The platform cannot express some requested features: it refuses instead of leaving them out."""

    def __init__(self, platform: str, reasons: Iterable[str]):
        self.platform = platform
        self.reasons = tuple(reasons)
        super().__init__(f"unsupported on {platform}: {', '.join(self.reasons)}")


class UnsafeValue(RenderError):
    """A user string the platform's syntax cannot carry safely (e.g. a character its CLI cannot quote)."""

    def __init__(self, platform: str, problem: str):
        self.platform = platform
        self.problem = problem
        super().__init__(f"unsafe value for {platform}: {problem}")

"""What the SSH server needs from a simulated router: password login, and one console session per SSH shell.

A session reads whole lines (echoed), secrets (not echoed, e.g. the Yamaha administrator password) or a single
key (a Y/N question answered without Enter), as its `input_mode` says; the server appends `prompt()` after
every reply.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from enum import Enum


class InputMode(Enum):
    LINE = "line"
    SECRET = "secret"
    KEY = "key"


class CliSession(ABC):
    input_mode: InputMode = InputMode.LINE
    closed: bool = False

    @property
    def encoding(self) -> str:
        return "ascii"

    def banner(self) -> str:
        return ""

    @abstractmethod
    def prompt(self) -> str: ...

    @abstractmethod
    def handle_line(self, line: str) -> str:
        """Run one command line (or take a secret); return the text to print before the next prompt."""

    def handle_key(self, key: str) -> str:
        return ""


class RouterSimulator(ABC):
    """A simulated router (a test double): its configuration is shared by all sessions, under `lock`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()

    @abstractmethod
    def authenticate(self, user: str, password: str) -> bool: ...

    @abstractmethod
    def open_session(self, user: str) -> CliSession: ...

    @abstractmethod
    def close(self) -> None:
        """Release what the router holds outside itself (its WAN sessions)."""

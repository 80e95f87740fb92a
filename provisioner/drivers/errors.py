"""What a driver raises. Messages name the CPE and the step, never a secret or a config line's value."""

from __future__ import annotations


class DriverError(Exception):
    """Base class: an operation on a CPE failed. `reason` is a short machine-readable code."""

    reason = "driver-error"


class ConnectError(DriverError):
    """No SSH session could be opened (refused, timed out, banner not read: sshd MaxStartups).
    The only error worth retrying: nothing was sent to the CPE."""

    reason = "connect-failed"


class AuthError(DriverError):
    """The CPE refused the credentials. Retrying would only lock the account."""

    reason = "auth-failed"


class SessionLost(DriverError):
    """The session died in the middle of an operation: the CPE may hold part of what was sent."""

    reason = "session-lost"


class CommandRejected(DriverError):
    """The CPE answered a command with an error (the platform's error_pattern matched)."""

    reason = "command-rejected"

    def __init__(self, message: str, *, command_index: int | None = None, output: str = ""):
        super().__init__(message)
        self.command_index = command_index
        self.output = output  # already masked by the driver


class RestoreFailed(DriverError):
    """The backup could not be put back; the CPE needs a technician."""

    reason = "restore-failed"


class UnsupportedOperation(DriverError):
    """The platform's driver cannot do this (e.g. Wi-Fi status on a router without radios)."""

    reason = "unsupported"

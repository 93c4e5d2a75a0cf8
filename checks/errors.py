"""What can go wrong behind a port, as messages a helpdesk agent understands.

Backends translate their client library's exceptions into these; the runner turns them into `error`
(or `skipped`, for a backend nobody configured) results carrying the message and the check's remedy.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "CommandFailed",
    "NotConfigured",
    "NotFound",
    "Refused",
    "Throttled",
    "TimedOut",
    "Unauthorized",
    "Unreachable",
]


class BackendError(Exception):
    """A backend could not answer. `str(error)` is one sentence fit to show a helpdesk agent."""

    def __init__(self, backend: str, message: str) -> None:
        super().__init__(message)
        self.backend = backend
        self.message = message


class NotConfigured(BackendError):
    """Nobody configured this backend: the check cannot look, the admin can run the command instead."""

    def __init__(self, backend: str) -> None:
        super().__init__(backend, f"No {backend} connection is configured, so this could not be looked up.")


class Unreachable(BackendError):
    """Connection refused, reset or not resolvable."""


class TimedOut(BackendError):
    """The backend took longer than its time limit."""


class Unauthorized(BackendError):
    """The backend refused the credentials (HTTP 401/403)."""


class Throttled(BackendError):
    """The backend asked us to back off (HTTP 429/503, ErrorServerBusy)."""


class Refused(BackendError):
    """The port itself refused the request: a cmdlet outside the allow-list or an invalid value."""


class CommandFailed(BackendError):
    """The backend ran the command and it reported an error (an Exchange error record, a PowerShell error)."""

    def __init__(self, backend: str, message: str, *, reason: str = "") -> None:
        super().__init__(backend, message)
        self.reason = reason


class NotFound(CommandFailed):
    """The object asked for does not exist (ManagementObjectNotFoundException, ErrorNonExistentMailbox)."""

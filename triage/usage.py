"""The command line's one error: bad arguments or unreadable input."""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(Exception):
    """Bad arguments or unreadable input: reported as one line, exit code 2."""

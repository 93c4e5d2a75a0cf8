"""What the checks that could not look ask an admin to run, merged into one list for the result card."""

from __future__ import annotations

from collections.abc import Iterable

from checks.api import CheckResult

__all__ = ["PASTE_OUTPUT", "READ_OUTPUT", "merge_remedies", "waiting"]

PASTE_OUTPUT = "paste_output"  # the result card's button: ask for the output
READ_OUTPUT = "read_output"  # the prompt card's button: read what was pasted into it


def waiting(results: Iterable[CheckResult]) -> list[CheckResult]:
    """The checks that could not look and say what to run instead."""
    return [r for r in results if r.status in ("error", "skipped") and r.remedy]


def merge_remedies(remedies: Iterable[str]) -> list[str]:
    """Several checks' commands as one list: each heading ("# In the Exchange Management Shell ...:")
    once, with every command under it once, in the order first seen."""
    groups: dict[str, list[str]] = {}
    for remedy in remedies:
        heading = ""
        for line in remedy.splitlines():
            if line.startswith("# ") and line.rstrip().endswith(":"):
                heading = line
                groups.setdefault(heading, [])
            elif line.strip() and line not in groups.setdefault(heading, []):
                groups[heading].append(line)
    return [line for heading, lines in groups.items() for line in ([heading] if heading else []) + lines]

"""Conditions over the organisation a lab serves right now, for answers that depend on its configuration.

A path walks the scenario model: dotted attribute names, and `[key]` picks the element of a list whose
identifying attribute (name, thumbprint, address, forest_name, user) equals the key, case-insensitively:
`organization.servers[EX03].certificates[3226...]`, `mailboxes[bjorn@contoso.com].calendar_permissions[Default].access_rights`.
A scenario's free/busy failure can hold `while` such a condition is true, so a fix the lab receives (a
certificate imported, a permission set) ends the failure the way it would in a real organisation.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

__all__ = ["MISSING", "check_path", "resolve"]

MISSING: Any = object()
_STEP = re.compile(r"([a-z_]+)((?:\[[^\]]+\])*)")
_PATH = re.compile(r"[a-z_]+(?:\[[^\]]+\])*(?:\.[a-z_]+(?:\[[^\]]+\])*)*")
_KEYS = ("name", "thumbprint", "address", "forest_name", "user", "domain_name", "sharer_identity")


def _pick(items: list[Any], key: str) -> Any:
    wanted = key.lower()
    for item in items:
        for attribute in _KEYS:
            value = getattr(item, attribute, None)
            if isinstance(value, str) and value.lower() == wanted:
                return item
    return MISSING


def resolve(root: BaseModel, path: str) -> Any:
    """The value at `path`, or MISSING when any step does not exist."""
    current: Any = root
    for match in _STEP.finditer(check_path(path)):
        current = getattr(current, match.group(1), MISSING)
        for key in re.findall(r"\[([^\]]+)\]", match.group(2)):
            if current is MISSING or current is None:
                return MISSING
            if not isinstance(current, list):
                raise ValueError(f"{path!r}: [{key}] selects from {match.group(1)}, which is not a list")
            current = _pick(current, key)
        if current is MISSING:
            return MISSING
    return current


def check_path(path: str) -> str:
    """`path` if it is well formed (every step an attribute name with optional [key] selectors)."""
    if len(path) > 300 or _PATH.fullmatch(path) is None:
        raise ValueError(f"{path[:80]!r} is not a path of attribute names with optional [key] selectors")
    return path

"""Small value helpers shared by the reader's extractors: bounded scans, lists, hosts, placeholders."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "MAX_ITEMS",
    "MAX_MATCHES",
    "add_all",
    "email",
    "is_placeholder",
    "real_host",
    "url_parts",
]

# A paste repeats the same event many times; the first few hundred matches say everything, and a cap
# keeps a pathological paste from costing more than a normal one.
MAX_MATCHES = 400
# No list fact grows beyond this many distinct items.
MAX_ITEMS = 50

_HOST = re.compile(
    r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){0,10}"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,10}[A-Za-z]{2,24}$")
_URL = re.compile(r"^(https?)://([^/:?#\s]{1,253})(?::(\d{1,5}))?(?:[/?#]\S{0,2000})?$", re.IGNORECASE)
# Words documentation puts where a real name would be.
_PLACEHOLDER_WORDS = frozenset(
    {
        "fqdn",
        "server",
        "servername",
        "server1",
        "hostname",
        "host",
        "computer",
        "computername",
        "name",
        "domain",
        "n/a",
        "na",
        "none",
        "null",
        "unknown",
        "localhost",
    }
)


def add_all(facts: dict[str, Any], name: str, values: Iterable[Any]) -> None:
    """Append `values` to the list fact `name`, keeping first-seen order, no duplicates, at most MAX_ITEMS."""
    current: list[Any] = facts.get(name, [])
    seen = {v.casefold() if isinstance(v, str) else v for v in current}
    for value in values:
        key = value.casefold() if isinstance(value, str) else value
        if key in seen or len(current) >= MAX_ITEMS:
            continue
        seen.add(key)
        current.append(value)
    if current:
        facts[name] = current


def is_placeholder(value: str) -> bool:
    """Whether `value` is documentation's stand-in for a name (<Server>, %1, FQDN, ...) rather than one."""
    stripped = value.strip().strip("\"'.,;:")
    if not stripped or any(c in stripped for c in "<>{}%*[]") or "..." in stripped:
        return True
    return stripped.casefold() in _PLACEHOLDER_WORDS or "fqdn" in stripped.casefold()


def real_host(value: str) -> bool:
    """Whether `value` is a host name or FQDN (not a placeholder, not an IP address pattern check)."""
    return not is_placeholder(value) and _HOST.match(value) is not None and not value.isdigit()


def url_parts(value: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an http(s) URL with a real host, or None."""
    match = _URL.match(value)
    if match is None or not real_host(match.group(2)):
        return None
    port = int(match.group(3)) if match.group(3) else None
    return match.group(1).lower(), match.group(2), port


def email(value: str) -> str | None:
    """`value` as an SMTP address (without an SMTP: prefix or brackets), or None if it is not one."""
    candidate = value.strip().strip("<>\"'.,;:()[]")
    if candidate[:5].casefold() == "smtp:":
        candidate = candidate[5:]
    return candidate if _EMAIL.match(candidate) else None

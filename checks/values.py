"""Reading Exchange property values the way they arrive over remote PowerShell, and showing them back.

Remote Exchange serialises most properties as text (ADObjectId, Uri, enums), multi-valued ones as
lists, dates as DateTime; a backend may hand a complex object as a dict with its `ToString`.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from checks.api import Evidence

__all__ = [
    "ev",
    "flag",
    "is_ip_host",
    "shown",
    "site_name",
    "strings",
    "text",
    "url_host",
    "url_scheme",
    "when",
]

_MS_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")


def text(row: Mapping[str, Any], name: str) -> str:
    """A property as text; '' when unset."""
    value = row.get(name)
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return str(value.get("ToString") or value.get("Name") or "")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def strings(row: Mapping[str, Any], name: str) -> list[str]:
    """A multi-valued property as a list of text (a single value becomes a one-item list)."""
    value = row.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [str(v.get("ToString", "")) if isinstance(v, Mapping) else str(v) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return [v.strip() for v in value[1:-1].split(",") if v.strip()]
    return [text(row, name)]


def flag(row: Mapping[str, Any], name: str) -> bool | None:
    """A Boolean property; None when unset."""
    value = row.get(name)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value != 0
    lowered = str(value).strip().lower()
    if lowered in ("true", "1", "$true"):
        return True
    if lowered in ("false", "0", "$false"):
        return False
    return None


def when(value: Any) -> datetime.datetime | None:
    """A DateTime as it arrives (datetime, ISO 8601 text, /Date(ms)/); aware UTC, or None."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    if isinstance(value, Mapping):
        value = value.get("NotAfter") or value.get("ToString")
    if not isinstance(value, str) or not value:
        return None
    match = _MS_DATE.match(value)
    if match:
        return datetime.datetime.fromtimestamp(int(match[1]) / 1000, datetime.UTC)
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def site_name(value: str) -> str:
    """'contoso.com/Configuration/Sites/HQ' or 'CN=HQ,CN=Sites,...' -> 'HQ'."""
    if value.upper().startswith("CN="):
        return value.split(",", 1)[0][3:]
    return value.rstrip("/").rsplit("/", 1)[-1]


def url_host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def url_scheme(url: str) -> str:
    return urlsplit(url).scheme.lower() if "://" in url else ""


def is_ip_host(url: str) -> bool:
    host = url_host(url)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def shown(value: Any) -> str:
    """A value as PowerShell's Format-List would show it."""
    if value is None or value == "":
        return "(not set)"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list | tuple):
        return "{" + ", ".join(str(v) for v in value) + "}"
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def ev(server: str, prop: str, value: Any, note: str = "") -> Evidence:
    """One piece of evidence: on `server` (or mailbox), `prop` is `value`."""
    return Evidence(property=prop, value=shown(value), server=server, note=note)

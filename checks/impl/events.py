"""event-logs: the events that name free/busy and proxy failures, on the servers involved.

The window is the last 24 hours, or 12 hours either side of the pasted event's time (`event.time`) when
the triage has one: an error reported days later is looked up where it happened.
"""

from __future__ import annotations

import asyncio
import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checks.context import CheckContext, Finding
from checks.errors import BackendError
from checks.paste_commands import ORG, PAIR
from checks.registry import check
from checks.remedies import HostCommand, pasted_remedy
from checks.values import ev
from checks.views import involved_servers
from knowledge.reader.command_output import MARKER

PROVIDERS = [
    "MSExchange Availability",
    "MSExchange OWA",
    "MSExchange Control Panel",
    "MSExchange Front End HTTP Proxy",
]
EVENT_IDS = [4001, 4002, 4003, 4004, 4005, 42, 43, 46, 71, 28]
LOOK_BACK = datetime.timedelta(hours=24)
AROUND = datetime.timedelta(hours=12)
MAX_EVENTS = 25
# The server a proxy event says it sent the request to: OWA 42 "...traffic to Client Access server
# "https://ex03.contoso.com/owa"", Availability 4002 "ProxyWebRequest ... to https://host/EWS/... failed".
_PROXIED_TO = re.compile(r'\bto (?:Client Access server )?"?https?://([A-Za-z0-9.-]{1,253})', re.IGNORECASE)
_MESSAGE_LIMIT = 4096
_FILTER = (
    "Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName="
    + ",".join(f"'{p}'" for p in PROVIDERS)
    + "; Id="
    + ",".join(str(i) for i in EVENT_IDS)
)
_FORMAT = (
    f" -MaxEvents {MAX_EVENTS} -ErrorAction SilentlyContinue | "
    "Format-List TimeCreated,ProviderName,Id,LevelDisplayName,Message"
)


def reported_time(facts: Mapping[str, Any]) -> datetime.datetime | None:
    """The pasted event's time (`event.time`), UTC-aware; a time without an offset is taken as UTC."""
    value = facts.get("event.time")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def window(facts: Mapping[str, Any], now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """(start, end) of the search: around the reported time, else the last 24 hours."""
    reported = reported_time(facts)
    if reported is not None:
        start, end = reported - AROUND, min(reported + AROUND, now)
        if start < end:  # a reported time far in the future (a wrong zone) falls back to the last day
            return start, end
    return now - LOOK_BACK, now


def proxied_to(message: object) -> str | None:
    """The host a proxy event names as where the request went (lower case), or None."""
    if not isinstance(message, str):
        return None
    match = _PROXIED_TO.search(message[:_MESSAGE_LIMIT])
    return match[1].lower().rstrip(".") if match else None


@dataclass(frozen=True)
class WindowedEvents(HostCommand):
    """Get-WinEvent over the check's window: the reported time when known, else the last day."""

    def line(self, facts: Mapping[str, Any]) -> str:
        if reported_time(facts) is None:
            times = "StartTime=(Get-Date).AddDays(-1)"
        else:
            # Literal UTC instants, converted to the server's local time as Get-WinEvent expects.
            start, end = (_instant(t) for t in window(facts, datetime.datetime.now(datetime.UTC)))
            times = f"StartTime={start}; EndTime={end}"
        return f'"{MARKER} host $env:COMPUTERNAME {self.template}"; {_FILTER}; {times}}}{_FORMAT}'


def _instant(value: datetime.datetime) -> str:
    return f"[datetime]::Parse('{value.strftime('%Y-%m-%dT%H:%M:%SZ')}').ToLocalTime()"


def _shown(start: datetime.datetime, end: datetime.datetime) -> str:
    return f"between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC"


REMEDY = pasted_remedy(ORG, PAIR, [WindowedEvents("win-events", _FILTER + _FORMAT)])


@check("event-logs", remedy=REMEDY)
async def event_logs(ctx: CheckContext) -> Finding:
    servers = await involved_servers(ctx)
    start, end = window(ctx.facts, ctx.now)
    args = {
        "log": "Application",
        "providers": PROVIDERS,
        "ids": EVENT_IDS,
        "since": start.isoformat(),
        "until": end.isoformat(),
        "max": MAX_EVENTS,
    }
    answers = await asyncio.gather(
        *(ctx.host.run(s.name, "win-events", args) for s in servers), return_exceptions=True
    )
    found: list[str] = []
    ids: set[int] = set()
    evidence = []
    unread = []
    for server, answer in zip(servers, answers, strict=True):
        if isinstance(answer, BackendError):
            unread.append(server.name)
            evidence.append(ev(server.name, "Application log", "could not read", answer.message))
            continue
        if isinstance(answer, BaseException):
            raise answer
        for event in answer if isinstance(answer, list) else [answer]:
            label = f"{server.name}: {event.get('provider')} {event.get('id')}"
            if (to := proxied_to(event.get("message"))) is not None:
                label += f" (to {to})"  # events naming different servers are different problems
            if label not in found:
                found.append(label)
            ids.add(int(event.get("id", 0)))
            message = str(event.get("message", "")).splitlines()[0][:200] if event.get("message") else ""
            evidence.append(
                ev(
                    server.name,
                    f"{event.get('provider')} {event.get('id')} at {event.get('time_created')}",
                    event.get("level"),
                    message,
                )
            )
    if unread and len(unread) == len(servers):
        raise next(a for a in answers if isinstance(a, BackendError))
    facts: dict[str, Any] = {"events.found": found, "events.ids": sorted(ids)}
    where = ", ".join(s.name for s in servers if s.name not in unread)
    if found:
        return Finding(
            "warn",
            f"{len(found)} relevant event(s) {_shown(start, end)}: {'; '.join(found[:4])}.",
            evidence,
            facts,
        )
    suffix = f" (could not read {', '.join(unread)})" if unread else ""
    return Finding(
        "ok",
        f"No free/busy or proxy errors logged {_shown(start, end)} on {where}{suffix}.",
        evidence,
        facts,
    )

"""event-logs: the events that name free/busy and proxy failures, on the servers involved."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from checks.context import CheckContext, Finding
from checks.errors import BackendError
from checks.paste_commands import ORG, PAIR
from checks.registry import check
from checks.remedies import HostCommand, pasted_remedy
from checks.values import ev
from checks.views import involved_servers

PROVIDERS = [
    "MSExchange Availability",
    "MSExchange OWA",
    "MSExchange Control Panel",
    "MSExchange Front End HTTP Proxy",
]
EVENT_IDS = [4001, 4002, 4003, 4004, 4005, 42, 43, 46, 71, 28]
LOOK_BACK = datetime.timedelta(hours=24)
MAX_EVENTS = 25

REMEDY = pasted_remedy(
    ORG,
    PAIR,
    [
        HostCommand(
            "win-events",
            "Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName="
            + ",".join(f"'{p}'" for p in PROVIDERS)
            + "; Id="
            + ",".join(str(i) for i in EVENT_IDS)
            + f"; StartTime=(Get-Date).AddDays(-1)}} -MaxEvents {MAX_EVENTS} -ErrorAction SilentlyContinue | "
            "Format-List TimeCreated,ProviderName,Id,LevelDisplayName,Message",
        )
    ],
)


@check("event-logs", remedy=REMEDY)
async def event_logs(ctx: CheckContext) -> Finding:
    servers = await involved_servers(ctx)
    args = {
        "log": "Application",
        "providers": PROVIDERS,
        "ids": EVENT_IDS,
        "since": (ctx.now - LOOK_BACK).isoformat(),
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
            f"{len(found)} relevant event(s) in the last 24 h: {'; '.join(found[:4])}.",
            evidence,
            facts,
        )
    suffix = f" (could not read {', '.join(unread)})" if unread else ""
    return Finding(
        "ok", f"No free/busy or proxy errors logged in the last 24 h on {where}{suffix}.", evidence, facts
    )

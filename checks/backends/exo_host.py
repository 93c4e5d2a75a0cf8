"""ExchangePort for Exchange Online configuration, through a Windows management host.

Exchange Online's configuration cmdlets need the ExchangeOnlineManagement module; the host runs the
`exo-cmdlets` template over WinRM: one app-only Connect-ExchangeOnline (certificate), every cmdlet this
product reads, one disconnect. Connecting costs seconds, so the first call of a triage fetches all of
them at once and later calls are answered from that snapshot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checks.errors import CommandFailed, NotFound
from checks.ports import HostPort, Row
from checks.safety import EXCHANGE_ONLINE_CMDLETS, guard_cmdlet

__all__ = ["ExoHost", "ExoHostSettings"]

NAME = "Exchange Online PowerShell (management host)"


@dataclass(frozen=True)
class ExoHostSettings:
    host: str  # the management host's name, as the WinRM port knows it
    organization: str  # contoso.onmicrosoft.com
    app_id: str
    certificate_thumbprint: str


class ExoHost:
    def __init__(self, settings: ExoHostSettings, host: HostPort) -> None:
        self._settings, self._host = settings, host
        self._snapshot: asyncio.Task[dict[str, Any]] | None = None

    async def _fetch(self, calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        s = self._settings
        plain = [] if calls else sorted(c for c, spec in EXCHANGE_ONLINE_CMDLETS.items() if not spec)
        args = {
            "organization": s.organization,
            "app_id": s.app_id,
            "certificate_thumbprint": s.certificate_thumbprint,
            "cmdlets": plain,
            "calls": calls or [],
        }
        answer = await self._host.run(s.host, "exo-cmdlets", args)
        if not isinstance(answer, dict):
            raise CommandFailed(
                NAME, "The management host answered something other than the cmdlets' output."
            )
        if isinstance(answer.get("error"), str):
            raise CommandFailed(NAME, f"{NAME}: {answer['error'][:200]}")
        return answer

    async def run(self, cmdlet: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        checked = guard_cmdlet(cmdlet, params, EXCHANGE_ONLINE_CMDLETS, backend=NAME)
        if checked:
            # A call with parameters (a recipient, a group) connects on its own: it names one object.
            answer = (await self._fetch([{"name": cmdlet, "params": checked}])).get("call:0")
        else:
            if self._snapshot is None:
                self._snapshot = asyncio.ensure_future(self._fetch())
            answer = (await asyncio.shield(self._snapshot)).get(cmdlet)
        if isinstance(answer, dict) and "error" in answer:
            message = f"{cmdlet} in Exchange Online: {str(answer['error'])[:200]}"
            raise (NotFound if "couldn't be found" in message else CommandFailed)(NAME, message)
        if answer is None:
            return []
        rows = answer if isinstance(answer, list) else [answer]
        return [r for r in rows if isinstance(r, dict)]

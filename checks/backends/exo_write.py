"""WritePort for Exchange Online, through the Exchange Online management host (as the read side reaches it).

The write account opens its own WinRM shell on the management host and runs the `exo-write` template: an
app-only Connect-ExchangeOnline with the *write* app (its own app id and certificate, never the read-only
app's), limited to the write cmdlets on the template's literal list, one call with its values as JSON data,
one disconnect. Before anything leaves the process the call passes the remediation's allow-list
(`checks.writes.guard_write`); values a JSON splat cannot carry faithfully (a hashtable, a secret, bytes) are
refused here, so no such step runs in Exchange Online.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from checks.backends.exo_host import ExoHostSettings
from checks.backends.winrm_host import WinrmSettings
from checks.backends.winrm_write import WinrmWriter
from checks.errors import Refused
from checks.ports import Row
from checks.writes import SecretValue, guard_write

__all__ = ["ExoWriteSettings", "ExoWriter"]

NAME = "Exchange Online PowerShell (management host, write)"
TEMPLATE = "exo-write"


@dataclass(frozen=True)
class ExoWriteSettings:
    """The write app on the management host (`exo`), reached over WinRM as the write account (`winrm`)."""

    exo: ExoHostSettings
    winrm: WinrmSettings


class ExoWriter:
    """WritePort: `allowed` is the remediation's allow-list (cmdlet -> parameter names)."""

    def __init__(
        self, settings: ExoWriteSettings, executor: Executor, allowed: Mapping[str, set[str]]
    ) -> None:
        self._settings, self._executor, self._allowed = settings, executor, allowed
        self._host = WinrmWriter(settings.winrm, executor, {})

    async def run(self, cmdlet: str, params: Mapping[str, Any]) -> list[Row]:
        if cmdlet.startswith(("template:", "ews:")):
            raise Refused(NAME, f"{cmdlet[:60]!r} does not run in Exchange Online.")
        checked = guard_write(cmdlet, params, self._allowed, backend=NAME)
        for name, value in checked.items():
            if isinstance(value, SecretValue | bytes | dict):
                raise Refused(
                    NAME, f"{cmdlet} -{name}: this value cannot be sent to Exchange Online this way."
                )
        s = self._settings.exo
        args = {
            "organization": s.organization,
            "app_id": s.app_id,
            "certificate_thumbprint": s.certificate_thumbprint,
            "name": cmdlet,
            "params": checked,
        }
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._host._run, s.host, TEMPLATE, args)

    async def close(self) -> None:
        await self._host.close()

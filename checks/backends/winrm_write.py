"""WritePort for host templates over WinRM: the write account's own shell per server, one write at a time.

Only the write templates (`checks.host_templates.WRITE_TEMPLATES`) run here, and only those a remediation's
steps name (`checks.writes.guard_write`); the read-only host port knows none of them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

from checks.backends.winrm_host import NAME, WinrmSettings, _Shell, clixml_text, translate
from checks.errors import BackendError, CommandFailed
from checks.host_templates import WRITE_TEMPLATES, build_script, encoded_command
from checks.ports import Row
from checks.writes import guard_write

__all__ = ["WinrmWriter"]


class WinrmWriter:
    def __init__(self, settings: WinrmSettings, executor: Executor, allowed: Mapping[str, set[str]]) -> None:
        self._settings, self._executor, self._allowed = settings, executor, allowed
        self._shells: dict[str, _Shell] = {}

    async def run(self, key: str, params: Mapping[str, Any]) -> list[Row]:
        checked = guard_write(key, params, self._allowed, backend=f"{NAME} (write)")
        template = key.removeprefix("template:")
        server = str(checked.pop("Server"))
        args = {name.lower(): value for name, value in checked.items()}
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, server, template, args)

    def _run(self, server: str, template: str, args: dict[str, Any]) -> list[Row]:
        shell = self._shells.setdefault(server.lower(), _Shell(self._settings, server, lambda _name: None))
        try:
            protocol, shell_id = shell._open()
            command = protocol.run_command(
                shell_id, "powershell", encoded_command(build_script(template, args, WRITE_TEMPLATES))
            )
            stdout, stderr, code = protocol.get_command_output(shell_id, command)
            protocol.cleanup_command(shell_id, command)
        except BackendError:
            raise
        except Exception as error:
            raise translate(server, error, self._settings.transport) from None
        if code != 0:
            lines = clixml_text(stderr.decode("utf-8", "replace")).splitlines() or [f"exit code {code}"]
            raise CommandFailed(NAME, f"{template} on {server} failed: {lines[0][:200]}")
        out = stdout.decode("utf-8", "replace").strip()
        try:
            rows = json.loads(out) if out else []
        except json.JSONDecodeError:
            raise CommandFailed(NAME, f"{template} on {server} printed something that is not JSON.") from None
        rows = rows if isinstance(rows, list) else [rows]
        return [r if isinstance(r, dict) else {"Value": r} for r in rows]

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for shell in self._shells.values():
            await loop.run_in_executor(self._executor, shell.close)
        self._shells.clear()

"""WritePort over remote PowerShell: the write account's own runspace pool, one write at a time.

Separate from the read-only `PsrpExchange`: its own settings (credential), its own allow-list (the
remediation's steps, `checks.writes.guard_write`), no batching and no sharing with the checks. A one-time
password travels as a SecureString, encrypted with the session key the client exchanges with the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

from pypsrp.complex_objects import ObjectMeta
from pypsrp.powershell import PowerShell, RunspacePool

from checks.backends.psrp import PsrpSettings, _command_failed, _Connection, plain, translate
from checks.errors import BackendError, CommandFailed
from checks.ports import Row
from checks.writes import SecretValue, guard_write

__all__ = ["PsrpWriter"]


class PsrpWriter:
    """WritePort: `allowed` is the remediation's allow-list (cmdlet -> parameter names)."""

    def __init__(self, settings: PsrpSettings, executor: Executor, allowed: Mapping[str, set[str]]) -> None:
        self._settings = settings
        self._executor = executor
        self._allowed = allowed
        self._connection = _Connection(settings)
        self._keys_exchanged = False

    async def run(self, cmdlet: str, params: Mapping[str, Any]) -> list[Row]:
        checked = guard_write(cmdlet, params, self._allowed, backend=self._settings.name)
        secret = {k for k, v in params.items() if isinstance(v, SecretValue)}
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, cmdlet, checked, secret)

    def _run(self, cmdlet: str, params: dict[str, Any], secret: set[str]) -> list[Row]:
        try:
            pool: RunspacePool = self._connection._open()
            if secret and not self._keys_exchanged:
                pool.exchange_keys()
                self._keys_exchanged = True
            ps = PowerShell(pool)
            ps.add_cmdlet(cmdlet)
            for name, value in params.items():
                ps.add_parameter(
                    name, pool.serialize(str(value), ObjectMeta("SS")) if name in secret else value
                )
            ps.invoke()
        except BackendError:
            raise
        except Exception as error:
            raise translate(self._settings, error) from None
        if ps.streams.error:
            raise _command_failed(self._settings, cmdlet, ps.streams.error)
        if ps.had_errors:
            raise CommandFailed(self._settings.name, f"{cmdlet} stopped with an error.")
        rows = [plain(o) for o in ps.output]
        return [r if isinstance(r, dict) else {"Value": r} for r in rows]

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._connection.close)

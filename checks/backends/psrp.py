"""ExchangePort over remote PowerShell (pypsrp) to the `Microsoft.Exchange` endpoint.

The endpoint runs in no-language mode: cmdlets and named parameters only, which is all this port
sends (`add_cmdlet`/`add_parameter`; values never become script text). Each connection is a runspace
pool driven by one thread; a batch of calls starts every pipeline, then collects each one's output.
Connections come from a `checks.backends.session_pool.SessionPool` shared by every triage (one per endpoint
and account, bounded: Exchange counts every runspace pool against the account's shell limit).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from pypsrp.complex_objects import GenericComplexObject, PSInvocationState
from pypsrp.exceptions import AuthenticationError, WinRMError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from checks.backends.batching import BatchWorker
from checks.backends.kerberos import NTLM_REFUSED, KerberosLogin, default_spn, explain, split_spn
from checks.backends.session_pool import SessionPool, SessionPools
from checks.errors import (
    BackendError,
    CommandFailed,
    NotFound,
    Throttled,
    TimedOut,
    Unauthorized,
    Unreachable,
)
from checks.ports import Row
from checks.safety import EXCHANGE_CMDLETS, EXCHANGE_ONLINE_CMDLETS, guard_cmdlet

__all__ = ["PsrpExchange", "PsrpSettings", "plain"]

log = logging.getLogger(__name__)

Call = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class PsrpSettings:
    server: str
    username: str = ""
    password: str = field(default="", repr=False)
    port: int | None = None
    path: str = "PowerShell"
    ssl: bool = True
    auth: str = "kerberos"  # kerberos | ntlm | negotiate | basic
    ca_file: str | None = None  # trust this CA bundle instead of the system store
    verify_tls: bool = True
    configuration: str = "Microsoft.Exchange"
    connections: int = 3
    max_batch: int = 8
    operation_timeout: int = 20
    read_timeout: int = 30
    connection_timeout: int = 10
    name: str = "Exchange PowerShell"
    online: bool = False  # the Exchange Online view (its own allow-list)
    spn: str | None = None  # SERVICE/host to ask the KDC for; default HTTP/<server> as Windows' client does
    kerberos: KerberosLogin | None = None  # the ticket to acquire in-process (kerberos, negotiate)

    @property
    def service_principal(self) -> str:
        return self.spn or default_spn(self.server, "HTTP")

    @property
    def where(self) -> str:
        return f"{self.server}:{self.port}" if self.port else self.server


def plain(value: Any) -> Any:
    """A deserialised PowerShell value as plain JSON-like data (objects keep their ToString)."""
    if isinstance(value, GenericComplexObject):
        props = {**value.extended_properties, **value.adapted_properties}
        if not props:
            return str(value)
        return {k: plain(v) for k, v in props.items()} | {"ToString": str(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return value
    return str(value)


def translate(settings: PsrpSettings, error: BaseException) -> BackendError:
    """A client library failure as a sentence a helpdesk agent understands."""
    name, where = settings.name, settings.where
    if isinstance(error, BackendError):
        return error
    problem = explain(error)
    if problem is not None:
        return Unauthorized(name, problem.sentence(f"{name} on {where}"))
    if isinstance(error, AuthenticationError) and settings.auth == "ntlm":
        return Unauthorized(name, NTLM_REFUSED.sentence(f"{name} on {where}"))
    if isinstance(error, AuthenticationError):
        return Unauthorized(
            name, f"{name} on {where} refused the service account's credentials ({settings.auth})."
        )
    if isinstance(error, WinRMTransportError):
        if error.code in (429, 503):
            return Throttled(name, f"{name} on {where} is busy (HTTP {error.code}); try again in a minute.")
        if error.code == 401 and settings.auth == "ntlm":
            return Unauthorized(name, NTLM_REFUSED.sentence(f"{name} on {where}"))
        if error.code in (401, 403):
            return Unauthorized(name, f"{name} on {where} refused the service account (HTTP {error.code}).")
        return Unreachable(name, f"{name} on {where} answered HTTP {error.code}.")
    if isinstance(error, WSManFaultError):
        reason = (error.reason or str(error)).strip().splitlines()[0][:200]
        if "concurrent shells" in reason or "exceeded the maximum number of connections" in reason:
            return Throttled(name, f"{name} on {where} refused another session: {reason}")
        if "OperationTimeout" in reason or "time specified" in reason:
            return TimedOut(name, f"{name} on {where} did not answer in time.")
        return Unreachable(name, f"{name} on {where} refused the session: {reason}")
    if isinstance(error, requests.exceptions.SSLError):
        return Unreachable(
            name,
            f"{name} on {where}: the TLS certificate is not trusted or does not match ({str(error)[:120]}).",
        )
    if isinstance(error, requests.exceptions.Timeout):
        return TimedOut(name, f"{name} on {where} did not answer in time.")
    if isinstance(error, requests.exceptions.ConnectionError):
        return Unreachable(name, f"Could not reach {name} on {where} (connection refused or reset).")
    if isinstance(error, WinRMError):
        return Unreachable(name, f"{name} on {where} failed: {str(error)[:200]}")
    return Unreachable(
        name, f"{name} on {where} failed unexpectedly: {type(error).__name__}: {str(error)[:160]}"
    )


def _command_failed(settings: PsrpSettings, cmdlet: str, errors: list[Any]) -> CommandFailed:
    first = errors[0]
    message = str(first).strip()[:300] or f"{cmdlet} reported an error"
    reason = str(getattr(first, "reason", "") or "")
    fq_error = str(getattr(first, "fq_error", "") or "")
    if "ManagementObjectNotFoundException" in (reason + fq_error) or "couldn't be found" in message:
        return NotFound(settings.name, message, reason=reason)
    return CommandFailed(settings.name, f"{cmdlet}: {message}", reason=reason)


class _Connection:
    """One runspace pool, used by one thread at a time (its batch worker's)."""

    def __init__(self, settings: PsrpSettings) -> None:
        self._settings = settings
        self._pool: RunspacePool | None = None
        self._failure: BackendError | None = None
        self.stale = False  # the server dropped the session (a fault or a broken connection mid-batch)

    def _open(self) -> RunspacePool:
        if self._pool is None:
            s = self._settings
            username, password = s.username or None, s.password or None
            if s.kerberos is not None and s.auth in ("kerberos", "negotiate"):
                s.kerberos.ensure()
                # The ticket in the cache is the principal's; NTLM (negotiate's fallback) takes a UPN too.
                username = s.kerberos.principal
                password = password if s.auth == "negotiate" else None
            service, host = split_spn(s.service_principal)
            wsman = WSMan(
                s.server,
                port=s.port,
                path=s.path,
                ssl=s.ssl,
                auth=s.auth,
                username=username,
                password=password,
                # requests (underneath) takes a CA bundle path where pypsrp annotates a bool.
                cert_validation=(s.ca_file or True) if s.verify_tls else False,  # type: ignore[arg-type]
                operation_timeout=s.operation_timeout,
                read_timeout=s.read_timeout,
                connection_timeout=s.connection_timeout,
                encryption="never" if s.ssl else "auto",  # Kerberos/NTLM encrypt every message over HTTP
                negotiate_service=service,
                negotiate_hostname_override=host,
            )
            pool = RunspacePool(wsman, configuration_name=s.configuration, max_runspaces=8)
            pool.open()
            self._pool = pool
        return self._pool

    def open(self, _calls: Sequence[Call] = ()) -> list[Any]:
        try:
            self._open()
        except Exception as error:
            self._failure = translate(self._settings, error)
            raise self._failure from None
        return []

    @property
    def failure(self) -> BackendError | None:
        """Why this connection could not be opened (it is then dropped from its pool)."""
        return self._failure

    def run_batch(self, calls: Sequence[Call]) -> list[list[Row] | BaseException]:
        if self._failure is not None:  # this connection already failed to connect: say so at once
            return [self._failure for _ in calls]
        try:
            pool = self._open()
        except Exception as error:
            self._failure = translate(self._settings, error)
            return [self._failure for _ in calls]
        started: list[PowerShell | BaseException] = []
        for cmdlet, params in calls:
            try:
                ps = PowerShell(pool)
                ps.add_cmdlet(cmdlet)
                for name, value in params.items():
                    ps.add_parameter(name, value)
                ps.begin_invoke()
                started.append(ps)
            except Exception as error:
                started.append(translate(self._settings, error))
        return [self._collect(call, ps) for call, ps in zip(calls, started, strict=True)]

    def _collect(self, call: Call, ps: PowerShell | BaseException) -> list[Row] | BaseException:
        if isinstance(ps, BaseException):
            return ps
        try:
            ps.end_invoke()
        except Exception as error:
            failure = translate(self._settings, error)
            self.stale = self.stale or isinstance(failure, Unreachable)
            return failure
        finally:
            # The runspace pool registers every pipeline it ran; a pooled one lives for many triages.
            ps.runspace_pool.pipelines.pop(ps.id, None)
        rows = [plain(o) for o in ps.output]
        rows = [r if isinstance(r, dict) else {"Value": r} for r in rows]
        # begin/end_invoke leaves had_errors unset: the error stream is what tells. Partial output with
        # non-terminating errors (one server of several unreachable) is still an answer.
        failed = ps.state == PSInvocationState.FAILED
        if ps.streams.error and (failed or not rows):
            return _command_failed(self._settings, call[0], ps.streams.error)
        if failed:
            return CommandFailed(self._settings.name, f"{call[0]} stopped with an error.")
        return rows

    def close(self) -> None:
        if self._pool is not None:
            try:
                self._pool.close()
            except Exception:  # closing a broken session must not hide the triage's results
                log.debug("closing the runspace pool failed", exc_info=True)
            self._pool = None


class PsrpExchange:
    """ExchangePort: up to `settings.connections` batches at once, each on a runspace pool leased from the
    shared `pools` (one pool of `settings.connections` private sessions when none is given)."""

    def __init__(self, settings: PsrpSettings, executor: Executor, pools: SessionPools | None = None) -> None:
        self._settings = settings
        self._executor = executor
        self._pools = pools if pools is not None else SessionPools(max(1, settings.connections))
        self._pool: SessionPool[_Connection] = self._pools.get(_key(settings), _factory(settings))
        self._pool.attach()
        self._failure: BackendError | None = None
        # Small batches over several sessions: each pipeline is started one after another on its
        # session, so twenty on one would start the last one noticeably late.
        workers = max(1, settings.connections)
        self._worker: BatchWorker[Call, list[Row]] = BatchWorker(
            [self._unleased] * workers, executor, max_batch=settings.max_batch, lease=self._lease
        )

    @property
    def pool(self) -> SessionPool[_Connection]:
        return self._pool

    @staticmethod
    def _unleased(calls: Sequence[Call]) -> list[list[Row] | BaseException]:
        raise AssertionError("every batch runs on a leased session")

    @asynccontextmanager
    async def _lease(self) -> AsyncIterator[Callable[[Sequence[Call]], list[list[Row] | BaseException]]]:
        failure = self._failure
        if failure is not None:  # this triage already failed to connect: say so at once
            yield lambda calls: [failure for _ in calls]
            return
        async with self._pool.lease() as connection:
            yield connection.run_batch
            if connection.failure is not None:
                self._failure = connection.failure

    async def open(self) -> None:
        """Make sure sessions are open now, side by side, so the first checks do not wait for it."""
        loop = asyncio.get_running_loop()

        async def one() -> None:
            async with self._pool.lease() as connection:
                try:
                    await loop.run_in_executor(self._executor, connection.open)
                except BackendError as failure:
                    self._failure = failure

        wanted = min(max(1, self._settings.connections), self._pool.limit)
        await asyncio.gather(*(one() for _ in range(wanted)))

    async def run(self, cmdlet: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        allowed = EXCHANGE_ONLINE_CMDLETS if self._settings.online else EXCHANGE_CMDLETS
        checked = guard_cmdlet(cmdlet, params, allowed, backend=self._settings.name)
        rows: list[Row] = await self._worker.call((cmdlet, checked))
        return rows

    async def close(self) -> None:
        await self._worker.close()
        await self._pool.detach()  # the last triage out closes the idle sessions


def _key(settings: PsrpSettings) -> tuple[object, ...]:
    return ("psrp", settings.server.lower(), settings.port, settings.path.lower(), settings.username.lower())


def _factory(settings: PsrpSettings) -> Callable[[int], SessionPool[_Connection]]:
    def make(limit: int) -> SessionPool[_Connection]:
        return SessionPool(
            f"{settings.name} session on {settings.where}",
            limit,
            lambda: _Connection(settings),
            _Connection.close,
            lambda connection: connection.failure is not None or connection.stale,
        )

    return make

"""HostPort over WinRM (pywinrm): UTF-8 shells per server, reused for every template and, through a shared
`checks.backends.session_pool.SessionPool` per host and account, by every triage (bounded: Windows limits
each account's concurrent shells per host too).

`Session.run_ps` would open a shell per command in code page 437 (non-ASCII turns into '?'); a shell
opened once with code page 65001 avoids both. Each server's shell is driven by one worker thread; a
batch starts every command on the shell, then collects each one's output.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import requests
from winrm.exceptions import InvalidCredentialsError, WinRMError, WinRMTransportError, WSManFaultError
from winrm.protocol import Protocol

from checks.backends.batching import BatchWorker
from checks.backends.kerberos import NTLM_REFUSED, KerberosLogin, default_spn, explain, split_spn
from checks.backends.session_pool import SessionPool, SessionPools
from checks.errors import BackendError, CommandFailed, Refused, Throttled, TimedOut, Unauthorized, Unreachable
from checks.host_templates import TEMPLATES, build_script, encoded_command
from knowledge.validators import ValueProblem, check_server

__all__ = ["WinrmHost", "WinrmSettings", "clixml_text"]

log = logging.getLogger(__name__)

_CLIXML_STRING = re.compile(r'<S S="Error">(.*?)</S>', re.S)
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
NAME = "Windows remote management (WinRM)"

Call = tuple[str, dict[str, Any]]
Transport = Literal[
    "kerberos", "negotiate", "ntlm", "basic", "ssl", "credssp", "certificate", "plaintext", "auto"
]


@dataclass(frozen=True)
class WinrmSettings:
    endpoints: Mapping[str, str] = field(default_factory=dict)  # server name -> wsman URL
    url_template: str = "https://{server}:5986/wsman"  # for servers not listed; {server} = its name
    transport: Transport = "kerberos"  # ssl = Basic over HTTPS
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str | None = None
    verify_tls: bool = True
    codepage: int = 65001
    operation_timeout: int = 20
    read_timeout: int = 30
    spn: str | None = None  # SERVICE/host, {server} = the server's name; default WSMAN/<host of the URL>
    kerberos: KerberosLogin | None = None  # the ticket to acquire in-process (kerberos, negotiate)

    def service_principal(self, server: str) -> str:
        return self.spn.format(server=server) if self.spn else default_spn(self.url(server), "WSMAN")

    def url(self, server: str) -> str:
        for name, url in self.endpoints.items():
            if name.lower() == server.lower():
                return url
        return self.url_template.format(server=server)


def clixml_text(stderr: str) -> str:
    """The error lines of a CLIXML stderr stream (powershell.exe -EncodedCommand writes errors so)."""
    if "#< CLIXML" not in stderr:
        return stderr.strip()
    parts = [_ESCAPE.sub(lambda m: chr(int(m[1], 16)), s) for s in _CLIXML_STRING.findall(stderr)]
    text = "".join(parts).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text.strip()


def translate(server: str, error: BaseException, transport: str = "") -> BackendError:
    where = f"{NAME} on {server}"
    if isinstance(error, BackendError):
        return error
    problem = explain(error)
    if problem is not None:
        return Unauthorized(NAME, problem.sentence(where))
    if transport == "ntlm" and (
        isinstance(error, InvalidCredentialsError | PermissionError)
        or (isinstance(error, WinRMTransportError) and error.code == 401)
    ):
        return Unauthorized(NAME, NTLM_REFUSED.sentence(where))
    if isinstance(error, InvalidCredentialsError):
        return Unauthorized(NAME, f"{where} refused the service account's credentials.")
    if isinstance(error, WinRMTransportError):
        if error.code in (429, 503):
            return Throttled(NAME, f"{where} is busy (HTTP {error.code}); try again in a minute.")
        if error.code in (401, 403):
            return Unauthorized(NAME, f"{where} refused the service account (HTTP {error.code}).")
        return Unreachable(NAME, f"{where} answered HTTP {error.code}.")
    if isinstance(error, WSManFaultError):
        reason = str(error.reason or error).strip().splitlines()[0][:200]
        return Unreachable(NAME, f"{where} refused the request: {reason}")
    if isinstance(error, requests.exceptions.SSLError):
        return Unreachable(NAME, f"{where}: the TLS certificate is not trusted or does not match.")
    if isinstance(error, requests.exceptions.Timeout):
        return TimedOut(NAME, f"{where} did not answer in time.")
    if isinstance(error, requests.exceptions.ConnectionError):
        return Unreachable(NAME, f"Could not reach {where} (connection refused or reset).")
    if isinstance(error, WinRMError):
        return Unreachable(NAME, f"{where} failed: {str(error)[:200]}")
    return Unreachable(NAME, f"{where} failed unexpectedly: {type(error).__name__}: {str(error)[:160]}")


class _Shell:
    """One server's shell, used by one thread at a time (its batch worker's)."""

    def __init__(self, settings: WinrmSettings, server: str, on_open: Callable[[str], None]) -> None:
        self._settings, self._server, self._on_open = settings, server, on_open
        self._protocol: Protocol | None = None
        self._shell_id: str | None = None
        self._failure: BackendError | None = None
        self._transport: str = settings.transport

    @property
    def transport(self) -> str:
        return self._transport

    def _open(self) -> tuple[Protocol, str]:
        if self._protocol is None or self._shell_id is None:
            s = self._settings
            if s.transport == "negotiate":  # Kerberos, and NTLM when Kerberos cannot be had
                try:
                    self._connect("kerberos")
                except Exception as error:
                    if explain(error) is None and not isinstance(error, InvalidCredentialsError):
                        raise
                    log.debug("Kerberos to %s failed; trying NTLM", self._server, exc_info=True)
                    self._connect("ntlm")
            else:
                self._connect(s.transport)
            self._on_open(self._server)
        assert self._protocol is not None and self._shell_id is not None
        return self._protocol, self._shell_id

    @property
    def failure(self) -> BackendError | None:
        return self._failure

    def _connect(self, transport: str) -> None:
        s = self._settings
        self._transport = transport
        username = s.username or None
        if transport == "kerberos" and s.kerberos is not None:
            s.kerberos.ensure()
            username = s.kerberos.principal
        service, host = split_spn(s.service_principal(self._server))
        protocol = Protocol(
            s.url(self._server),
            transport=transport,  # type: ignore[arg-type]
            username=username,
            password=s.password or None,
            server_cert_validation="validate" if s.verify_tls else "ignore",
            ca_trust_path=s.ca_file or "legacy_requests",
            operation_timeout_sec=s.operation_timeout,
            read_timeout_sec=s.read_timeout,
            service=service,
            kerberos_hostname_override=host,
            message_encryption="auto",  # encrypted over HTTP, TLS alone over HTTPS
        )
        self._shell_id = protocol.open_shell(codepage=s.codepage)
        self._protocol = protocol

    def run_batch(self, calls: Sequence[Call]) -> list[Any]:
        if self._failure is not None:  # this shell already failed to connect: say so at once
            return [self._failure for _ in calls]
        try:
            protocol, shell_id = self._open()
        except Exception as error:
            self._failure = translate(self._server, error, self._transport)
            return [self._failure for _ in calls]
        started: list[str | BaseException] = []
        for template, args in calls:
            try:
                started.append(
                    protocol.run_command(
                        shell_id, "powershell", encoded_command(build_script(template, args))
                    )
                )
            except Exception as error:
                started.append(translate(self._server, error, self._transport))
        return [self._collect(protocol, shell_id, call, c) for call, c in zip(calls, started, strict=True)]

    def _collect(self, protocol: Protocol, shell_id: str, call: Call, command: str | BaseException) -> Any:
        if isinstance(command, BaseException):
            return command
        try:
            stdout, stderr, code = protocol.get_command_output(shell_id, command)
            protocol.cleanup_command(shell_id, command)
        except Exception as error:
            return translate(self._server, error, self._transport)
        out = stdout.decode("utf-8", "replace").strip()
        if code != 0:
            message = clixml_text(stderr.decode("utf-8", "replace")).splitlines()
            return CommandFailed(
                NAME,
                f"{call[0]} on {self._server} failed: {(message or ['exit code ' + str(code)])[0][:200]}",
            )
        try:
            return json.loads(out) if out else None
        except json.JSONDecodeError:
            return CommandFailed(NAME, f"{call[0]} on {self._server} printed something that is not JSON.")

    def close(self) -> None:
        if self._protocol is not None and self._shell_id is not None:
            try:
                self._protocol.close_shell(self._shell_id)
            except Exception:  # a shell that cannot be closed times out on the server by itself
                log.debug("closing the WinRM shell on %s failed", self._server, exc_info=True)
        self._protocol = self._shell_id = None


class WinrmHost:
    """HostPort: a shell per server leased from the shared pools (private ones, closed with the triage, when
    none are given)."""

    def __init__(
        self, settings: WinrmSettings, executor: Executor, pools: SessionPools | None = None
    ) -> None:
        self._settings, self._executor = settings, executor
        self._pools = pools if pools is not None else SessionPools(1)
        self._workers: dict[str, BatchWorker[Call, Any]] = {}
        self._attached: list[SessionPool[_Shell]] = []
        self._failures: dict[str, BackendError] = {}
        self._transports: dict[str, str] = {}  # server -> the mechanism its shell signed in with
        self.opened: list[str] = []  # servers whose shell was opened, in order (for tests and the bench)

    async def run(self, server: str, template: str, args: Mapping[str, Any]) -> Any:
        try:
            name = check_server(server)
        except ValueProblem as problem:
            raise Refused(NAME, str(problem)) from None
        if template not in TEMPLATES:
            raise Refused(NAME, f"There is no host template called {template[:40]!r}.")
        key = name.lower()
        if key not in self._workers:
            pool = self._pools.get(
                ("winrm", self._settings.url(name).lower(), self._settings.username.lower()),
                self._factory(name),
            )
            pool.attach()
            self._attached.append(pool)
            self._workers[key] = BatchWorker(_unleased, self._executor, lease=lambda: self._lease(key, pool))
        return await self._workers[key].call((template, json.loads(json.dumps(dict(args)))))

    def _factory(self, server: str) -> Callable[[int], SessionPool[_Shell]]:
        settings, opened = self._settings, self.opened

        def make(limit: int) -> SessionPool[_Shell]:
            return SessionPool(
                f"WinRM shell on {server}", limit, lambda: _Shell(settings, server, opened.append), _Shell.close,
                lambda shell: shell.failure is not None,
            )  # fmt: skip

        return make

    @asynccontextmanager
    async def _lease(
        self, key: str, pool: SessionPool[_Shell]
    ) -> AsyncIterator[Callable[[Sequence[Call]], list[Any]]]:
        failure = self._failures.get(key)
        if failure is not None:  # this triage already failed to reach the server: say so at once
            yield lambda calls: [failure for _ in calls]
            return
        async with pool.lease() as shell:
            yield shell.run_batch
            self._transports[key] = shell.transport
            if shell.failure is not None:
                self._failures[key] = shell.failure

    def transport(self, server: str) -> str | None:
        """The mechanism the shell to `server` signed in with (negotiate ends as kerberos or ntlm)."""
        return self._transports.get(server.lower())

    async def close(self) -> None:
        for worker in self._workers.values():
            await worker.close()
        self._workers.clear()
        for pool in self._attached:
            await pool.detach()  # the last triage out closes the idle shells
        self._attached.clear()


def _unleased(calls: Sequence[Call]) -> list[Any]:
    raise AssertionError("every batch runs on a leased shell")

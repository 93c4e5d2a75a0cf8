"""WS-Management remote shell (WinRS) for pywinrm: one host per scenario server.

`/wsman/<server name or FQDN>` is that server's WinRM listener (`/wsman` alone is the first server).
A shell is opened with a code page and reused for many commands; each command is
`powershell ... -EncodedCommand <UTF-16LE base64>` and is answered by `lab.wsman.host_scripts`. Output is
encoded in the shell's code page, so a UTF-8 shell (65001) keeps non-ASCII names intact and the
default 437 turns them into '?', as a Windows console does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
import uuid
from dataclasses import dataclass, field

from aiohttp import web

from lab.auth.listener import by_writer, listener_auth
from lab.auth.windows import BODY_KEY
from lab.context import LabContext
from lab.scenario.model import Server
from lab.wsman import soap
from lab.wsman.host_scripts import ScriptResult, run_script, template_id

__all__ = ["PATH", "SERVER_KEY", "build_app"]

PATH = "/wsman"
_CMD_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
_CHALLENGES = ("Negotiate", "Kerberos")
_ENCODED = re.compile(r"(?i)(?:^|\s)-(?:e|ec|enc|encodedcommand)\s+([A-Za-z0-9+/=]+)")
_CODECS = {65001: "utf-8", 437: "cp437", 850: "cp850", 1252: "cp1252", 1200: "utf-16-le"}


@dataclass
class _Command:
    stdout: bytes
    stderr: bytes
    exit_code: int
    ready_at: float = 0.0


@dataclass
class _Shell:
    server: Server
    codepage: int
    commands: dict[str, _Command] = field(default_factory=dict)
    writer: bool = False  # opened by the account with the write rights: the write templates run


class WinrsServer:
    def __init__(self, ctx: LabContext) -> None:
        self.ctx = ctx
        self.shells: dict[str, _Shell] = {}
        self.auth = listener_auth(ctx, ctx.scenario.organization.servers[0].name)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("server")
        server = self.ctx.scenario.server(name) if name else self.ctx.scenario.organization.servers[0]
        if server is None:
            return web.Response(status=404, text="Not Found")
        try:
            call = soap.parse_request(request[BODY_KEY])
        except (ValueError, SyntaxError):
            return web.Response(status=400, text="Bad Request")
        if call.action == soap.ACTION_CREATE:
            return await self._create(request, call, server)
        shell = self.shells.get((call.shell_id or "").upper())
        if shell is None:
            reason = f"The request for the Windows Remote Shell with ShellId {call.shell_id} failed because the shell was not found on the server. Possible causes are: the specified shell handle is invalid or the shell has been deleted on the server."
            return soap.fault(
                call.message_id, soap.FAULT_SHELL_NOT_FOUND, "w:InvalidSelectors", reason, server.fqdn
            )
        if call.action == soap.ACTION_COMMAND:
            return await self._command(request, call, shell)
        if call.action == soap.ACTION_RECEIVE:
            return await self._receive(call, shell)
        if call.action == soap.ACTION_SIGNAL:
            signal = call.body.find("rsp:Signal", soap.NS)
            shell.commands.pop((signal.get("CommandId", "") if signal is not None else "").upper(), None)
            return soap.envelope(f"{soap.SHELL_NS}/SignalResponse", call.message_id, "<rsp:SignalResponse/>")
        if call.action == soap.ACTION_DELETE:
            self.shells.pop((call.shell_id or "").upper(), None)
            return soap.envelope(f"{soap.ACTION_DELETE}Response", call.message_id, "")
        return soap.fault(
            call.message_id, soap.FAULT_ACTION_NOT_SUPPORTED, "a:ActionNotSupported", call.action
        )

    async def _create(
        self, request: web.Request, call: soap.WsmanRequest, server: Server
    ) -> web.StreamResponse:
        spec = self.ctx.faults.pick("winrm", "Shell")
        if spec is not None:
            rendered = await soap.render_fault(request, spec, _CHALLENGES)
            if rendered is not None:
                return rendered
        if call.resource_uri != _CMD_SHELL:
            reason = f"The WS-Management service cannot process the request. The resource URI ({call.resource_uri}) was not found in the WS-Management catalog."
            return soap.fault(
                call.message_id, soap.FAULT_UNKNOWN_RESOURCE, "w:DestinationUnreachable", reason, server.fqdn
            )
        codepage = int(call.options.get("WINRS_CODEPAGE", "437") or 437)
        shell_id = str(uuid.uuid4()).upper()
        self.shells[shell_id] = _Shell(server=server, codepage=codepage, writer=by_writer(request, self.ctx))
        body = soap.resource_created(str(request.url), _CMD_SHELL, shell_id)
        return soap.envelope(f"{soap.ACTION_CREATE}Response", call.message_id, body)

    async def _command(
        self, request: web.Request, call: soap.WsmanRequest, shell: _Shell
    ) -> web.StreamResponse:
        line = call.body.find("rsp:CommandLine", soap.NS)
        parts = [line.findtext("rsp:Command", "", soap.NS)] if line is not None else []
        parts += [
            arg.text or "" for arg in (line.iterfind("rsp:Arguments", soap.NS) if line is not None else [])
        ]
        script = _decode_command(" ".join(parts))
        spec = self.ctx.faults.pick("winrm", template_id(script or "") or "")
        delay = 0.0
        if spec is not None and spec.kind == "latency":
            delay = spec.latency_ms / 1000  # the output arrives late: Receive long-polls, as WinRM does
        elif spec is not None:
            rendered = await soap.render_fault(request, spec, _CHALLENGES)
            if rendered is not None:
                return rendered
        result = (
            run_script(self.ctx, shell.server, script, writer=shell.writer)
            if script is not None
            else _not_powershell()
        )
        codec = _CODECS.get(shell.codepage, "cp437")
        command = _Command(
            stdout=result.stdout.encode(codec, "replace"),
            stderr=result.stderr.encode(codec, "replace"),
            exit_code=result.exit_code,
            ready_at=time.monotonic() + delay,
        )
        command_id = str(uuid.uuid4()).upper()
        shell.commands[command_id] = command
        body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
        return soap.envelope(f"{soap.SHELL_NS}/CommandResponse", call.message_id, body)

    async def _receive(self, call: soap.WsmanRequest, shell: _Shell) -> web.Response:
        desired = call.body.find("rsp:Receive/rsp:DesiredStream", soap.NS)
        command_id = (desired.get("CommandId", "") if desired is not None else "").upper()
        command = shell.commands.get(command_id)
        if command is None:
            reason = f"The request for command {command_id} failed because the command was not found."
            return soap.fault(
                call.message_id, soap.FAULT_SHELL_NOT_FOUND, "w:InvalidSelectors", reason, shell.server.fqdn
            )
        wait = command.ready_at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(min(wait, call.operation_timeout))
            if time.monotonic() < command.ready_at:
                reason = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout."
                return soap.fault(
                    call.message_id, soap.FAULT_TIMED_OUT, "w:TimedOut", reason, shell.server.fqdn
                )
        streams = "".join(
            f'<rsp:Stream Name="{name}" CommandId="{command_id}">{base64.b64encode(data).decode()}</rsp:Stream>'
            for name, data in (("stdout", command.stdout), ("stderr", command.stderr))
            if data
        )
        streams += (
            f'<rsp:Stream Name="stdout" CommandId="{command_id}" End="true"></rsp:Stream>'
            f'<rsp:Stream Name="stderr" CommandId="{command_id}" End="true"></rsp:Stream>'
            f'<rsp:CommandState CommandId="{command_id}" State="{soap.STATE_DONE}">'
            f"<rsp:ExitCode>{command.exit_code}</rsp:ExitCode></rsp:CommandState>"
        )
        command.stdout = command.stderr = b""
        return soap.envelope(
            f"{soap.SHELL_NS}/ReceiveResponse",
            call.message_id,
            f"<rsp:ReceiveResponse>{streams}</rsp:ReceiveResponse>",
        )


def _decode_command(command_line: str) -> str | None:
    """The script of `powershell ... -EncodedCommand <base64>`; None for any other command line."""
    match = _ENCODED.search(command_line)
    if match is None or "powershell" not in command_line.lower():
        return None
    try:
        return base64.b64decode(match.group(1)).decode("utf-16-le")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _not_powershell() -> ScriptResult:
    message = "The lab host runs only powershell -EncodedCommand scripts.\r\n"
    return ScriptResult(stdout="", stderr=message, exit_code=1)


SERVER_KEY = web.AppKey("winrm", WinrsServer)


def build_app(ctx: LabContext) -> web.Application:
    server = WinrsServer(ctx)
    app = web.Application(middlewares=[server.auth.middleware()])
    app.router.add_post(PATH, server.handle)
    app.router.add_post(PATH + "/{server}", server.handle)
    app[SERVER_KEY] = server
    return app

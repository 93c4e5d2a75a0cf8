"""The Exchange management endpoint over PSRP: `/PowerShell`, configuration `Microsoft.Exchange`.

A client (pypsrp) opens a runspace pool with a WS-Man Create, then runs one pipeline per Command
and collects its messages with Receive. Cmdlets are answered by `lab.exchange.cmdlets` from the scenario.
`/powershell-liveid` serves the same protocol with the Exchange Online view of the tenant.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from dataclasses import dataclass, field

from aiohttp import web

from lab.auth.listener import by_writer, listener_auth
from lab.auth.windows import BODY_KEY, SESSION_KEY
from lab.context import LabContext
from lab.exchange.cmdlets import run_pipeline
from lab.faults import FaultSpec
from lab.psrp.wire import (
    Command,
    Defragmenter,
    MessageType,
    RawMessage,
    encrypted_session_key,
    error_record_xml,
    fragment,
    object_xml,
    pack_message,
    parse_create_pipeline,
    pipeline_state_xml,
    public_key_of,
)
from lab.wsman import soap

__all__ = ["CONFIGURATION", "ONLINE_PATH", "PATH", "SERVER_KEY", "build_app"]

PATH = "/PowerShell"
ONLINE_PATH = "/powershell-liveid"
CONFIGURATION = "Microsoft.Exchange"
_PS_URI = "http://schemas.microsoft.com/powershell/"
_OPENED, _COMPLETED, _FAILED = 2, 4, 5
_SESSION_CAPABILITY = (
    '<Obj RefId="0"><MS><Version N="protocolversion">2.3</Version><Version N="PSVersion">2.0</Version>'
    '<Version N="SerializationVersion">1.1.0.1</Version></MS></Obj>'
)
_PRIVATE_DATA = (
    '<Obj RefId="0"><MS><Obj N="ApplicationPrivateData" RefId="1"><TN RefId="0"><T>System.Collections.Hashtable</T>'
    "<T>System.Object</T></TN><DCT /></Obj></MS></Obj>"
)
_CHALLENGES = ("Negotiate", "Kerberos")
_POOL_STATE = f'<Obj RefId="0"><MS><I32 N="RunspaceState">{_OPENED}</I32></MS></Obj>'


@dataclass
class _Pipeline:
    pid: uuid.UUID
    output: bytes = b""
    ready_at: float = 0.0  # monotonic time the output may be handed out (latency faults)


# The WS-Management fault Exchange answers a Create with when the account has no shell left.
FAULT_SHELL_QUOTA = 2150859173
SHELL_QUOTA = (
    "The WS-Management service cannot process the request. This user is allowed a maximum number of {limit} "
    "concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user."
)


@dataclass
class _Pool:
    rpid: uuid.UUID
    online: bool
    account: str = ""
    defragmenter: Defragmenter = field(default_factory=Defragmenter)
    pending: bytes = b""  # pool-level messages not yet received
    pipelines: dict[str, _Pipeline] = field(default_factory=dict)
    next_object_id: int = 1
    writer: bool = False  # opened by the account with the write roles
    session_key: bytes | None = None  # after the client's key exchange, for SecureString arguments

    def frame(self, message_type: MessageType, xml: str, pid: uuid.UUID | None = None) -> bytes:
        self.next_object_id += 1
        return fragment(self.next_object_id, pack_message(message_type, self.rpid, pid, xml))


class PsrpServer:
    def __init__(self, ctx: LabContext) -> None:
        self.ctx = ctx
        self.pools: dict[str, _Pool] = {}
        self.auth = listener_auth(ctx, _connected_server_name(ctx))
        self.peak_shells = 0  # the most shells one account held at once
        self.refused_shells = 0  # Creates refused for the account's shell limit
        self.cmdlets = 0  # pipelines run (one cmdlet each, as the checks send them)

    def shells_of(self, account: str) -> int:
        return sum(1 for pool in self.pools.values() if pool.account == account)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            call = soap.parse_request(request[BODY_KEY])
        except (ValueError, SyntaxError):
            return web.Response(status=400, text="Bad Request")
        online = request.path.lower() == ONLINE_PATH
        if call.action == soap.ACTION_CREATE:
            return await self._create(request, call, online)
        pool = self.pools.get((call.shell_id or "").upper())
        if pool is None:
            reason = f"The request for the Windows Remote Shell with ShellId {call.shell_id} failed because the shell was not found on the server."
            return soap.fault(call.message_id, soap.FAULT_SHELL_NOT_FOUND, "w:InvalidSelectors", reason)
        if call.action == soap.ACTION_COMMAND:
            return await self._command(request, call, pool)
        if call.action == soap.ACTION_RECEIVE:
            return await self._receive(call, pool)
        if call.action == soap.ACTION_SEND:
            return self._send(call, pool)
        if call.action == soap.ACTION_SIGNAL:
            signal = call.body.find("rsp:Signal", soap.NS)
            pool.pipelines.pop((signal.get("CommandId", "") if signal is not None else "").upper(), None)
            return soap.envelope(f"{soap.SHELL_NS}/SignalResponse", call.message_id, "<rsp:SignalResponse/>")
        if call.action == soap.ACTION_DELETE:
            self.pools.pop((call.shell_id or "").upper(), None)
            return soap.envelope(f"{soap.ACTION_DELETE}Response", call.message_id, "")
        return soap.fault(
            call.message_id, soap.FAULT_ACTION_NOT_SUPPORTED, "a:ActionNotSupported", call.action
        )

    async def _fault(self, request: web.Request, operation: str) -> web.StreamResponse | FaultSpec | None:
        """A fault's rendered response, or the latency spec whose delay the output should carry."""
        spec = self.ctx.faults.pick("psrp", operation)
        if spec is None or spec.kind == "latency":
            return spec
        return await soap.render_fault(request, spec, _CHALLENGES)

    async def _create(
        self, request: web.Request, call: soap.WsmanRequest, online: bool
    ) -> web.StreamResponse:
        outcome = await self._fault(request, "RunspacePool")
        if isinstance(outcome, web.StreamResponse):
            return outcome
        if outcome is not None:
            await asyncio.sleep(outcome.latency_ms / 1000)
        name = call.resource_uri.removeprefix(_PS_URI)
        if not call.resource_uri.startswith(_PS_URI) or name != CONFIGURATION:
            reason = (
                f"The WS-Management service cannot process the request. Cannot find the {name} session "
                "configuration in the WSMan: drive on the 127.0.0.1 computer."
            )
            return soap.fault(
                call.message_id, soap.FAULT_UNKNOWN_RESOURCE, "w:DestinationUnreachable", reason
            )
        account = _account(request, self.ctx)
        if self.shells_of(account) >= self.ctx.shell_limit:
            self.refused_shells += 1
            reason = SHELL_QUOTA.format(limit=self.ctx.shell_limit)
            return soap.fault(call.message_id, FAULT_SHELL_QUOTA, "w:QuotaLimit", reason)
        shell = call.body.find("rsp:Shell", soap.NS)
        creation = (
            shell.findtext("{http://schemas.microsoft.com/powershell}creationXml")
            if shell is not None
            else None
        )
        shell_id = ((shell.get("ShellId") if shell is not None else None) or str(uuid.uuid4())).upper()
        messages = list(Defragmenter().feed(base64.b64decode(creation or "")))
        if not messages or messages[0].message_type != MessageType.SESSION_CAPABILITY:
            return soap.fault(
                call.message_id, soap.FAULT_INTERNAL, "w:InternalError", "missing session capability"
            )
        pool = _Pool(
            rpid=messages[0].rpid, online=online, writer=by_writer(request, self.ctx), account=account
        )
        pool.pending = (
            pool.frame(MessageType.SESSION_CAPABILITY, _SESSION_CAPABILITY)
            + pool.frame(MessageType.APPLICATION_PRIVATE_DATA, _PRIVATE_DATA)
            + pool.frame(MessageType.RUNSPACEPOOL_STATE, _POOL_STATE)
        )
        self.pools[shell_id] = pool
        self.peak_shells = max(self.peak_shells, self.shells_of(account))
        body = soap.resource_created(str(request.url), call.resource_uri, shell_id)
        return soap.envelope(f"{soap.ACTION_CREATE}Response", call.message_id, body)

    async def _command(
        self, request: web.Request, call: soap.WsmanRequest, pool: _Pool
    ) -> web.StreamResponse:
        line = call.body.find("rsp:CommandLine", soap.NS)
        command_id = ((line.get("CommandId") if line is not None else None) or str(uuid.uuid4())).upper()
        arguments = line.findtext("rsp:Arguments", "", soap.NS) if line is not None else ""
        messages = list(pool.defragmenter.feed(base64.b64decode(arguments)))
        pipeline_message = next((m for m in messages if m.message_type == MessageType.CREATE_PIPELINE), None)
        if pipeline_message is None:
            return soap.fault(
                call.message_id, soap.FAULT_INTERNAL, "w:InternalError", "expected CREATE_PIPELINE"
            )
        try:
            created = pipeline_message.body
            commands = parse_create_pipeline(created, pool.session_key) if created is not None else []
        except ValueError as problem:
            return soap.fault(call.message_id, soap.FAULT_INTERNAL, "w:InternalError", str(problem))
        self.cmdlets += 1
        outcome = await self._fault(request, commands[0].name if commands else "")
        if isinstance(outcome, web.StreamResponse):
            return outcome
        pipeline = self._run(pool, pipeline_message, commands)
        if outcome is not None:
            pipeline.ready_at = time.monotonic() + outcome.latency_ms / 1000
        pool.pipelines[command_id] = pipeline
        body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
        return soap.envelope(f"{soap.SHELL_NS}/CommandResponse", call.message_id, body)

    def _run(self, pool: _Pool, message: RawMessage, commands: list[Command]) -> _Pipeline:
        result = run_pipeline(self.ctx, commands, online=pool.online, writer=pool.writer)
        pid = message.pid
        frames = [pool.frame(MessageType.PIPELINE_OUTPUT, object_xml(obj), pid) for obj in result.objects]
        frames += [pool.frame(MessageType.ERROR_RECORD, error_record_xml(err), pid) for err in result.errors]
        state = _FAILED if result.failure else _COMPLETED
        frames.append(pool.frame(MessageType.PIPELINE_STATE, pipeline_state_xml(state, result.failure), pid))
        return _Pipeline(pid=pid, output=b"".join(frames))

    async def _receive(self, call: soap.WsmanRequest, pool: _Pool) -> web.Response:
        desired = call.body.find("rsp:Receive/rsp:DesiredStream", soap.NS)
        command_id = (desired.get("CommandId", "") if desired is not None else "").upper()
        if not command_id:
            if not pool.pending:  # a real server long-polls here; nothing will come for the pool
                return _timed_out(call)
            data, pool.pending = pool.pending, b""
            stream = f'<rsp:Stream Name="stdout">{base64.b64encode(data).decode()}</rsp:Stream>'
            return soap.envelope(
                f"{soap.SHELL_NS}/ReceiveResponse",
                call.message_id,
                f"<rsp:ReceiveResponse>{stream}</rsp:ReceiveResponse>",
            )
        pipeline = pool.pipelines.get(command_id)
        if pipeline is None:
            return soap.fault(
                call.message_id,
                soap.FAULT_SHELL_NOT_FOUND,
                "w:InvalidSelectors",
                f"unknown command {command_id}",
            )
        wait = pipeline.ready_at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(min(wait, call.operation_timeout))
            if time.monotonic() < pipeline.ready_at:
                return _timed_out(call)
        data, pipeline.output = pipeline.output, b""
        state = f'<rsp:CommandState CommandId="{command_id}" State="{soap.STATE_DONE}"><rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState>'
        stream = (
            f'<rsp:Stream Name="stdout" CommandId="{command_id}">{base64.b64encode(data).decode()}</rsp:Stream>'
            if data
            else ""
        )
        return soap.envelope(
            f"{soap.SHELL_NS}/ReceiveResponse",
            call.message_id,
            f"<rsp:ReceiveResponse>{stream}{state}</rsp:ReceiveResponse>",
        )

    def _send(self, call: soap.WsmanRequest, pool: _Pool) -> web.Response:
        for stream in call.body.iterfind("rsp:Send/rsp:Stream", soap.NS):
            for message in pool.defragmenter.feed(base64.b64decode(stream.text or "")):
                if message.message_type == MessageType.PUBLIC_KEY:  # other pipeline input is not used
                    public = public_key_of(message.body)
                    if public:
                        pool.session_key, body = encrypted_session_key(public)
                        pool.pending += pool.frame(MessageType.ENCRYPTED_SESSION_KEY, body)
        return soap.envelope(f"{soap.SHELL_NS}/SendResponse", call.message_id, "<rsp:SendResponse/>")


def _account(request: web.Request, ctx: LabContext) -> str:
    """Whose shell this is: the signed-in user, else the Basic user, else the lab's read-only account."""
    session = request.get(SESSION_KEY)
    user = str(getattr(session, "user", "") or "")
    if user:
        return user.rsplit("\\", 1)[-1].split("@", 1)[0].lower()
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            user = base64.b64decode(header[6:]).decode("utf-8").partition(":")[0]
            return user.rsplit("\\", 1)[-1].lower()
        except (ValueError, UnicodeDecodeError):
            pass
    return ctx.credentials.username.rsplit("\\", 1)[-1].lower()


def _connected_server_name(ctx: LabContext) -> str:
    facing = {site.name for site in ctx.scenario.organization.sites if site.internet_facing}
    servers = ctx.scenario.organization.servers
    return next((s.name for s in servers if s.site in facing), servers[0].name)


def _timed_out(call: soap.WsmanRequest) -> web.Response:
    reason = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout."
    return soap.fault(call.message_id, soap.FAULT_TIMED_OUT, "w:TimedOut", reason)


SERVER_KEY = web.AppKey("psrp", PsrpServer)


def build_app(ctx: LabContext) -> web.Application:
    server = PsrpServer(ctx)
    app = web.Application(middlewares=[server.auth.middleware()])
    for path in (PATH, PATH.lower(), ONLINE_PATH):  # IIS paths are case-insensitive
        app.router.add_post(path, server.handle)
    app[SERVER_KEY] = server
    return app

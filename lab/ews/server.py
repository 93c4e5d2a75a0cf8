"""EWS over HTTPS (`/EWS/Exchange.asmx`), answered from the scenario for exchangelib and friends; DeleteItem of
a hidden sharing subscription from the write account only (`lab.ews.writes`).

Authentication: Basic with the lab credentials, or an OAuth bearer token minted by the lab's token
endpoint (audience https://outlook.office365.com; app-only tokens need the ExchangeImpersonation
header, as in Exchange Online). The ExchangeImpersonation header makes the request act as that mailbox.
Faults (`service="ews"`, operation = the EWS operation name) render as Exchange shows them: throttling
as an HTTP 500 ErrorServerBusy fault with BackOffMilliseconds, 401 with the server's challenges.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from multidict import CIMultiDict

from lab.entra.token import EWS_RESOURCE, TokenError, verify_access_token
from lab.ews.availability import HttpFailure, get_server_time_zones, get_user_availability
from lab.ews.folders import find_folder, find_item, get_folder, get_item
from lab.ews.soap import (
    NS,
    EwsError,
    ServerVersion,
    child_text,
    el,
    envelope,
    local_name,
    parse_request,
    soap_fault,
)
from lab.ews.store import Caller
from lab.ews.writes import delete_item
from lab.faults import FaultSpec, reset_connection, stall
from lab.scenario.model import Scenario, Server

if TYPE_CHECKING:
    from lab.context import LabContext

__all__ = ["EWS_PATH", "build_app"]

EWS_PATH = "/EWS/Exchange.asmx"
# Exchange's own application id: on-premises OAuth tokens may name it as the audience.
_EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
_XML = "text/xml"

_MESSAGE_OPERATIONS: dict[str, Callable[[Caller, ET.Element], list[ET.Element]]] = {
    "GetFolder": get_folder,
    "FindFolder": find_folder,
    "FindItem": find_item,
    "GetItem": get_item,
}


def _front_server(scenario: Scenario) -> Server:
    """The server the EWS URL lands on: a Mailbox server in an internet-facing site if there is one."""
    facing = {s.name for s in scenario.organization.sites if s.internet_facing}
    servers = [s for s in scenario.organization.servers if "Edge" not in s.roles]
    return next(
        (s for s in servers if s.site in facing), servers[0] if servers else scenario.organization.servers[0]
    )


class _Ews:
    def __init__(self, ctx: LabContext) -> None:
        self._ctx = ctx
        self._server = _front_server(ctx.scenario)
        self._version = ServerVersion.from_admin_display_version(self._server.admin_display_version)

    # ----------------------------------------------------------------------------- request flow

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            header, op = parse_request(body)
        except (ET.ParseError, ValueError):
            return self._fault("ErrorSchemaValidation", "The request failed schema validation.")
        operation = local_name(op).removesuffix(
            "Request"
        )  # GetUserAvailabilityRequest -> GetUserAvailability
        spec = await self._ctx.faults.take("ews", operation)
        if spec is not None and spec.kind != "latency":
            return await self._render_fault(request, spec)
        login = self._authenticate(request)
        if login is None:
            return self._challenge()
        app_only, writer = login
        acting = self._impersonated(header)
        if acting is None and app_only:
            return self._fault(
                "ErrorInvalidExchangeImpersonationHeaderData",
                "ExchangeImpersonation SOAP header must be present for this type of OAuth token.",
            )
        if acting is not None and self._ctx.scenario.mailbox(acting) is None:
            return self._fault(
                "ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."
            )
        caller = Caller(self._ctx.scenario, self._ctx.time, acting)
        return self._dispatch(caller, operation, op, writer=writer)

    def _dispatch(self, caller: Caller, operation: str, op: ET.Element, *, writer: bool) -> web.Response:
        if operation == "DeleteItem":  # the write account removing a hidden sharing subscription
            try:
                messages = delete_item(self._ctx, caller, op, writer=writer)
            except EwsError as error:
                return self._fault(error.code, error.text)
            return self._reply(el("m:DeleteItemResponse", el("m:ResponseMessages", messages)))
        if operation in _MESSAGE_OPERATIONS:
            messages = _MESSAGE_OPERATIONS[operation](caller, op)
            return self._reply(el(f"m:{operation}Response", el("m:ResponseMessages", messages)))
        if operation == "GetUserAvailability":
            try:
                return self._reply(get_user_availability(caller, op, self._server.name))
            except HttpFailure as failure:
                return web.Response(status=failure.status, text=failure.text)
        if operation == "GetServerTimeZones":
            return self._reply(get_server_time_zones(op))
        # Not ErrorInvalidRequest: exchangelib reads that as "wrong API version" and retries every version.
        return self._fault(
            "ErrorInvalidOperation", f"The operation {operation} is not supported by this server."
        )

    # ---------------------------------------------------------------------------- authentication

    def _authenticate(self, request: web.Request) -> tuple[bool, bool] | None:
        """None when refused; otherwise whether the caller is an app-only OAuth token, and whether it is the
        write account (the only one whose DeleteItem the lab takes)."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            if self._is_writer(user, password):
                return False, True
            return (False, False) if self._ctx.credentials.accepts(user, password) else None
        if scheme.lower() == "bearer":
            try:
                claims = verify_access_token(
                    self._ctx.tls.token_signing_key(),
                    value.strip(),
                    audiences=(EWS_RESOURCE, _EXCHANGE_APP_ID),
                    tenant_id=self._ctx.credentials.tenant_id,
                )
            except TokenError:
                return None
            return claims.get("idtyp") == "app", False
        return None

    def _is_writer(self, user: str, password: str) -> bool:
        credentials = self._ctx.credentials
        name = credentials.writer_user.lower()
        given = user.lower()
        names = {credentials.writer_username.lower(), name}
        if credentials.domain:
            names.add(f"{name}@{credentials.domain}".lower())
        return (
            bool(name)
            and given in names
            and secrets.compare_digest(password.encode(), credentials.writer_password.encode())
        )

    def _challenge(self) -> web.Response:
        tenant = self._ctx.credentials.tenant_id
        headers = CIMultiDict(
            [
                ("WWW-Authenticate", f'Basic realm="{self._server.fqdn}"'),
                (
                    "WWW-Authenticate",
                    f'Bearer client_id="{_EXCHANGE_APP_ID}", '
                    f'trusted_issuers="00000001-0000-0000-c000-000000000000@{tenant}", '
                    'token_types="app_asserted_user_v1 service_asserted_app_v1", '
                    'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"',
                ),
            ]
        )
        return web.Response(status=401, headers=headers)

    @staticmethod
    def _impersonated(header: ET.Element | None) -> str | None:
        sid = header.find("t:ExchangeImpersonation/t:ConnectingSID", NS) if header is not None else None
        if sid is None:
            return None
        for name in ("PrimarySmtpAddress", "SmtpAddress", "PrincipalName"):
            value = child_text(sid, f"t:{name}")
            if value:
                return value.strip()
        return None

    # ---------------------------------------------------------------------------------- rendering

    async def _render_fault(self, request: web.Request, spec: FaultSpec) -> web.StreamResponse:
        if spec.kind == "timeout":
            await stall(request)
            return web.Response(status=504)
        if spec.kind == "reset":
            return reset_connection(request)
        if spec.kind == "unauthorized":
            return self._challenge()
        back_off = el("t:MessageXml", el("t:Value", str(spec.back_off_ms), Name="BackOffMilliseconds"))
        return self._fault(
            "ErrorServerBusy", "The server cannot service this request right now. Try again later.", back_off
        )

    def _reply(self, body: ET.Element) -> web.Response:
        return web.Response(body=envelope(self._version, body), content_type=_XML, charset="utf-8")

    @staticmethod
    def _fault(code: str, text: str, *detail: ET.Element) -> web.Response:
        return web.Response(
            status=500, body=soap_fault(code, text, *detail), content_type=_XML, charset="utf-8"
        )


def build_app(ctx: LabContext) -> web.Application:
    """The EWS endpoint for `ctx`'s scenario (IIS paths are case-insensitive: both usual spellings)."""
    ews = _Ews(ctx)
    app = web.Application(client_max_size=4 * 1024 * 1024)
    for path in (EWS_PATH, EWS_PATH.lower()):
        app.router.add_post(path, ews.handle)
    return app

"""Microsoft Graph over HTTPS, for the Exchange Online side of the scenario.

Routes: `GET /v1.0/users/{id}`, `GET /v1.0/users/{id}/calendar/calendarPermissions`,
`POST /v1.0/users/{id}/calendar/getSchedule`. Bearer tokens must come from the lab token endpoint for
https://graph.microsoft.com. On-premises mailboxes answer as Graph does in a hybrid (no REST access);
getSchedule evaluates each schedule as the `{id}` user, so a broken pair gets its per-schedule `error`.
Faults use `service="graph"` and the route names `getUser`, `calendarPermissions`, `getSchedule`.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lab.entra.token import GRAPH_RESOURCE, TokenError, verify_access_token
from lab.ews.store import NO_FREE_BUSY_ACCESS, effective_read_items
from lab.faults import reset_connection, stall
from lab.scenario.model import CalendarPermission, Mailbox

if TYPE_CHECKING:
    from lab.context import LabContext

__all__ = ["build_app", "graph_role", "schedule_information", "user_object_id"]

_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
_METADATA = "https://graph.microsoft.com/v1.0/$metadata"
# Get-MailboxFolderPermission roles -> Graph calendarRoleType.
_ROLE = {
    "None": "none",
    "AvailabilityOnly": "freeBusyRead",
    "LimitedDetails": "limitedRead",
    "Reviewer": "read",
    "Editor": "write",
    "PublishingEditor": "write",
    "Author": "write",
    "PublishingAuthor": "write",
    "Owner": "write",
}
_ALLOWED_ROLES = ["none", "freeBusyRead", "limitedRead", "read", "write"]
_STATUS = {
    "Free": "free",
    "Tentative": "tentative",
    "Busy": "busy",
    "OOF": "oof",
    "WorkingElsewhere": "workingElsewhere",
}
# availabilityView digits; Graph reports workingElsewhere as free for backward compatibility.
_DIGIT = {"free": "0", "workingElsewhere": "0", "tentative": "1", "busy": "2", "oof": "3"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def user_object_id(address: str) -> str:
    """A mailbox's stable Entra object id in the lab."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lab-user:{address.lower()}"))


def graph_role(permission: CalendarPermission) -> str:
    rights = permission.access_rights
    return _ROLE.get(rights[0], "custom") if len(rights) == 1 else "custom"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """Graph's error JSON, with the innerError block every Graph error carries."""
    request_id = str(uuid.uuid4())
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": request_id,
            },
        }
    }
    return web.json_response(body, status=status, headers={"request-id": request_id, **(headers or {})})


class _Graph:
    def __init__(self, ctx: LabContext) -> None:
        self._ctx = ctx

    def route(self, name: str, handler: Callable[[web.Request, Mailbox], Awaitable[web.Response]]) -> Handler:
        """Wrap a handler with faults, token validation and user lookup, in Graph's order."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            spec = await self._ctx.faults.take("graph", name)
            if spec is not None and spec.kind == "timeout":
                await stall(request)
                return web.Response(status=504)
            if spec is not None and spec.kind == "reset":
                return reset_connection(request)
            if spec is not None and spec.kind == "throttle":
                seconds = str(max(1, math.ceil(spec.back_off_ms / 1000)))
                message = "Application is over its MailboxConcurrency limit."
                return _error(429, "ApplicationThrottled", message, {"Retry-After": seconds})
            refused = self._refuse_token(request, forced=spec is not None and spec.kind == "unauthorized")
            if refused is not None:
                return refused
            wanted = request.match_info["user"]
            mailbox = self._find(wanted)
            if mailbox is None:
                if name == "getUser":
                    return _error(
                        404,
                        "Request_ResourceNotFound",
                        f"Resource '{wanted}' does not exist or one of its queried reference-property objects are not present.",
                    )
                return _error(404, "ErrorInvalidUser", f"The requested user '{wanted}' is invalid.")
            if name != "getUser" and mailbox.location == "onprem":
                return _error(
                    404,
                    "MailboxNotEnabledForRESTAPI",
                    "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
                )
            return await handler(request, mailbox)

        return wrapped

    def _refuse_token(self, request: web.Request, *, forced: bool) -> web.Response | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if forced:
                raise TokenError("Lifetime validation failed, the token is expired.")
            if scheme.lower() != "bearer":
                raise TokenError("Access token is empty.")
            verify_access_token(
                self._ctx.tls.token_signing_key(),
                token.strip(),
                audiences=(GRAPH_RESOURCE, _GRAPH_APP_ID),
                tenant_id=self._ctx.credentials.tenant_id,
            )
        except TokenError as refused:
            challenge = (
                'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
                f'client_id="{_GRAPH_APP_ID}"'
            )
            return _error(401, "InvalidAuthenticationToken", refused.reason, {"WWW-Authenticate": challenge})
        return None

    def _find(self, wanted: str) -> Mailbox | None:
        for mailbox in self._ctx.scenario.mailboxes:
            if wanted.lower() in (mailbox.address.lower(), user_object_id(mailbox.address)):
                return mailbox
        return None

    # -------------------------------------------------------------------------------------- routes

    async def get_user(self, request: web.Request, mailbox: Mailbox) -> web.Response:
        given, _, surname = mailbox.display_name.partition(" ")
        return web.json_response(
            {
                "@odata.context": f"{_METADATA}#users/$entity",
                "businessPhones": [],
                "displayName": mailbox.display_name,
                "givenName": given,
                "surname": surname or None,
                "jobTitle": None,
                "mail": mailbox.address,
                "mobilePhone": None,
                "officeLocation": None,
                "preferredLanguage": None,
                "userPrincipalName": mailbox.address,
                "id": user_object_id(mailbox.address),
            },
            dumps=_dumps,
        )

    async def calendar_permissions(self, request: web.Request, mailbox: Mailbox) -> web.Response:
        user = request.match_info["user"]
        entries = [self._permission(p) for p in mailbox.calendar_permissions if p.user.lower() != "anonymous"]
        return web.json_response(
            {
                "@odata.context": f"{_METADATA}#users('{user}')/calendar/calendarPermissions",
                "value": entries,
            },
            dumps=_dumps,
        )

    def _permission(self, permission: CalendarPermission) -> dict[str, Any]:
        default = permission.user.lower() == "default"
        known = None if default else self._ctx.scenario.mailbox(permission.user)
        name = "My Organization" if default else known.display_name if known else permission.user
        domains = {d.domain_name.lower() for d in self._ctx.scenario.organization.accepted_domains}
        inside = default or permission.user.rsplit("@", 1)[-1].lower() in domains
        return {
            "id": _permission_id(permission.user),
            "isRemovable": not default,
            "isInsideOrganization": inside,
            "role": graph_role(permission),
            "allowedRoles": _ALLOWED_ROLES,
            "emailAddress": {"name": name} if default else {"name": name, "address": permission.user},
        }

    async def get_schedule(self, request: web.Request, mailbox: Mailbox) -> web.Response:
        try:
            body = await request.json()
            start = _graph_time(body["startTime"])
            end = _graph_time(body["endTime"])
            schedules = [str(s) for s in body["schedules"]]
            interval = int(body.get("availabilityViewInterval", 30))
        except (ValueError, KeyError, TypeError) as error:
            return _error(400, "ErrorInvalidRequest", f"The request is invalid: {error}")
        values = [
            schedule_information(self._ctx, mailbox, target, (start, end), interval) for target in schedules
        ]
        return web.json_response(
            {
                "@odata.context": f"{_METADATA}#Collection(microsoft.graph.scheduleInformation)",
                "value": values,
            },
            dumps=_dumps,
        )


def schedule_information(
    ctx: LabContext,
    requester: Mailbox,
    target: str,
    window: tuple[datetime.datetime, datetime.datetime],
    interval: int,
) -> dict[str, Any]:
    """One schedule of a getSchedule answer, as `requester` asks for `target` (also used in-process by the
    tests' fake of the Graph port, so they cannot disagree)."""
    scenario = ctx.scenario
    broken = scenario.availability_error(requester.address, target)
    if broken is not None:
        return {"scheduleId": target, "error": {"message": broken.message, "responseCode": broken.code}}
    mailbox = scenario.mailbox(target)
    if mailbox is None:
        message = f"Unable to resolve e-mail address {target} to an Active Directory object."
        return {
            "scheduleId": target,
            "error": {"message": message, "responseCode": "ErrorMailRecipientNotFound"},
        }
    read = effective_read_items(mailbox, requester.address)
    if read == "None":
        denied = NO_FREE_BUSY_ACCESS
        return {
            "scheduleId": target,
            "error": {"message": denied.text, "responseCode": denied.code},
        }
    start, end = window
    items = []
    for event in mailbox.calendar:
        event_start, event_end = ctx.time(event.start), ctx.time(event.end)
        if event_start < end and event_end > start and event.busy_type != "NoData":
            item: dict[str, Any] = {
                "isPrivate": False,
                "status": _STATUS[event.busy_type],
                "start": _graph_json_time(event_start),
                "end": _graph_json_time(event_end),
            }
            if read != "TimeOnly":
                item.update(subject=event.subject, location=event.location)
            items.append((event_start, event_end, item))
    items.sort(key=lambda row: row[0])
    return {
        "scheduleId": target,
        "availabilityView": _availability_view([(s, e, i["status"]) for s, e, i in items], window, interval),
        "scheduleItems": [i for _, _, i in items],
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": "UTC"},
        },
    }


def _permission_id(user: str) -> str:
    return base64.b64encode(user.encode("utf-8")).decode("ascii")


def _availability_view(
    busy: list[tuple[datetime.datetime, datetime.datetime, str]],
    window: tuple[datetime.datetime, datetime.datetime],
    interval: int,
) -> str:
    start, end = window
    step = datetime.timedelta(minutes=max(interval, 5))
    digits, slot = [], start
    while slot < end:
        hits = [_DIGIT[status] for s, e, status in busy if s < slot + step and e > slot]
        digits.append(max(hits, default="0"))
        slot += step
    return "".join(digits)


def _graph_time(value: Any) -> datetime.datetime:
    """A dateTimeTimeZone in UTC (the only zone the lab answers in)."""
    zone = str(value.get("timeZone", "UTC"))
    if zone.upper() not in ("UTC", "ETC/UTC", "COORDINATED UNIVERSAL TIME"):
        raise ValueError(f"time zone {zone!r} is not supported by the lab; use UTC")
    moment = datetime.datetime.fromisoformat(str(value["dateTime"]))
    return moment.replace(tzinfo=datetime.UTC) if moment.tzinfo is None else moment.astimezone(datetime.UTC)


def _graph_json_time(moment: datetime.datetime) -> dict[str, str]:
    text = moment.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "0"
    return {"dateTime": text, "timeZone": "UTC"}


def _dumps(value: Any) -> str:
    # Graph sends non-ASCII names as UTF-8, not \u escapes.
    return json.dumps(value, ensure_ascii=False)


async def _service_principal(graph: _Graph, request: web.Request) -> web.StreamResponse:
    """GET /v1.0/servicePrincipals(appId='...'): the application's keyCredentials (customKeyIdentifier is
    the certificate's thumbprint, base64)."""
    spec = await graph._ctx.faults.take("graph", "servicePrincipal")
    if spec is not None and spec.kind == "reset":
        return reset_connection(request)
    refused = graph._refuse_token(request, forced=spec is not None and spec.kind == "unauthorized")
    if refused is not None:
        return refused
    wanted = request.match_info["app_id"].strip("'").lower()
    found = next(
        (p for p in graph._ctx.scenario.exchange_online.service_principals if p.app_id.lower() == wanted),
        None,
    )
    if found is None:
        return _error(404, "Request_ResourceNotFound", f"Resource '{wanted}' does not exist.")
    keys = [
        {"keyId": str(uuid.uuid5(uuid.NAMESPACE_OID, t)), "type": "AsymmetricX509Cert", "usage": "Verify",
         "customKeyIdentifier": base64.b64encode(bytes.fromhex(t)).decode("ascii"), "displayName": f"CN={t[:8]}"}
        for t in found.key_thumbprints
    ]  # fmt: skip
    body = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_OID, found.app_id)),
        "appId": found.app_id,
        "keyCredentials": keys,
    }
    return web.Response(text=_dumps(body), content_type="application/json")


def build_app(ctx: LabContext) -> web.Application:
    graph = _Graph(ctx)
    app = web.Application()

    async def service_principal(request: web.Request) -> web.StreamResponse:
        return await _service_principal(graph, request)

    app.router.add_get("/v1.0/servicePrincipals(appId={app_id})", service_principal)
    app.router.add_get("/v1.0/users/{user}", graph.route("getUser", graph.get_user))
    app.router.add_get(
        "/v1.0/users/{user}/calendar/calendarPermissions",
        graph.route("calendarPermissions", graph.calendar_permissions),
    )
    app.router.add_post(
        "/v1.0/users/{user}/calendar/getSchedule", graph.route("getSchedule", graph.get_schedule)
    )
    return app

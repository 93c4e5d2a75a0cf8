"""MailboxPort over EWS (exchangelib): fixed endpoint and version, no autodiscover, impersonation or delegate.

Reads the requester's hidden sharing subscriptions (FindItem Traversal=Associated in \\root\\Sharing,
with the two PSETID_Sharing named properties), the target calendar's permission set, and asks
GetUserAvailability as the requester (ExchangeImpersonation header), recording the error it gets.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    Build,
    Configuration,
    Credentials,
    ExtendedProperty,
    Identity,
    Message,
    OAuth2Credentials,
    Q,
    Version,
)
from exchangelib.errors import (
    ErrorAccessDenied,
    ErrorImpersonateUserDenied,
    ErrorNonExistentMailbox,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    EWSError,
    RateLimitError,
    ResponseMessageError,
    TransportError,
    UnauthorizedError,
)
from exchangelib.ewsdatetime import EWSTimeZone
from exchangelib.fields import FieldPath
from exchangelib.folders import SHALLOW, Calendar, Folder, FolderCollection, Root
from exchangelib.items import ASSOCIATED, Item
from exchangelib.properties import (
    DistinguishedFolderId,
    FreeBusyViewOptions,
    MailboxData,
    TimeWindow,
    TimeZone,
)
from exchangelib.properties import Mailbox as ExchangeMailbox
from exchangelib.protocol import BaseProtocol
from exchangelib.services import GetUserAvailability

from checks.errors import (
    BackendError,
    CommandFailed,
    NotFound,
    Throttled,
    TimedOut,
    Unauthorized,
    Unreachable,
)
from checks.ports import FreeBusy, Permission, Subscription

__all__ = ["EWS_RIGHTS", "EwsMailboxes", "EwsSettings"]

T = TypeVar("T")
NAME = "Exchange Web Services (EWS)"
SUBSCRIPTION_CLASS = "IPM.ExternalSharingSubscription"
_SHARING_SET = "f52a8693-c34d-4980-9e20-9d4c1eabb6a7"  # PSETID_Sharing

# EWS permission levels -> the role names Get-MailboxFolderPermission prints.
EWS_RIGHTS = {"FreeBusyTimeOnly": "AvailabilityOnly", "FreeBusyTimeAndSubjectAndLocation": "LimitedDetails"}


class SharerIdentity(ExtendedProperty):  # type: ignore[misc]
    property_set_id = _SHARING_SET
    property_name = "ExternalSharingSharerIdentity"
    property_type = "String"


class SharingUrl(ExtendedProperty):  # type: ignore[misc]
    property_set_id = _SHARING_SET
    property_name = "ExternalSharingUrl"
    property_type = "String"


# exchangelib registers extended properties on its item classes for the whole process: names of our
# own, so that code elsewhere registering the same properties under the obvious names does not clash.
SHARER_FIELD = "triage_sharer_identity"
URL_FIELD = "triage_sharing_url"


def _register_sharing_properties() -> None:
    # Which model parses a hidden item depends on the element EWS sends it in, so both get them.
    for model in (Message, Item):
        fields = {f.name for f in model.FIELDS}
        if SHARER_FIELD not in fields:
            model.register(SHARER_FIELD, SharerIdentity)
        if URL_FIELD not in fields:
            model.register(URL_FIELD, SharingUrl)


_TRUSTED_CAS: dict[str, str] = {}


class _TrustAdapter(requests.adapters.HTTPAdapter):
    """exchangelib builds its own sessions; this adapter verifies configured hosts against their CA bundle."""

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, _TRUSTED_CAS.get(urlsplit(url).netloc, verify), cert)  # type: ignore[no-untyped-call]

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> Any:
        verify = _TRUSTED_CAS.get(urlsplit(request.url).netloc, verify)
        return super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)


@dataclass(frozen=True)
class EwsSettings:
    endpoint: str
    auth: str = "ntlm"  # ntlm | basic | oauth
    username: str = ""
    password: str = field(default="", repr=False)
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    tenant_id: str = ""
    authority: str = (
        "https://login.microsoftonline.com"  # the token endpoint is {authority}/{tenant}/oauth2/v2.0/token
    )
    version: str = "15.2.1544.4"
    access: str = "impersonation"  # impersonation | delegate
    ca_file: str | None = None
    name: str = NAME
    timeout: int = 30  # seconds per HTTP request (exchangelib's default is 120)


class _TokenUrlCredentials(OAuth2Credentials):  # type: ignore[misc]
    """exchangelib hard-wires login.microsoftonline.com; the authority comes from configuration."""

    token_endpoint = ""

    @property
    def token_url(self) -> str:
        return self.token_endpoint


def translate(settings: EwsSettings, error: BaseException) -> BackendError:
    name, host = settings.name, urlsplit(settings.endpoint).netloc
    if isinstance(error, BackendError):
        return error
    if isinstance(error, ErrorNonExistentMailbox):
        return NotFound(name, f"{name} on {host} has no such mailbox: {error}")
    if isinstance(error, UnauthorizedError | ErrorImpersonateUserDenied):
        return Unauthorized(name, f"{name} on {host} refused the service account ({str(error)[:120]}).")
    if isinstance(error, ErrorTimeoutExpired):
        return TimedOut(name, f"{name} on {host} did not answer in time.")
    if isinstance(error, ErrorServerBusy | RateLimitError):
        return Throttled(name, f"{name} on {host} is busy (ErrorServerBusy); try again in a minute.")
    if isinstance(error, ErrorAccessDenied):
        return CommandFailed(name, f"{name} on {host} denied access: {error}")
    if isinstance(error, requests.exceptions.Timeout):
        return TimedOut(name, f"{name} on {host} did not answer in time.")
    if isinstance(error, requests.exceptions.ConnectionError):
        return Unreachable(name, f"Could not reach {name} on {host} (connection refused or reset).")
    if isinstance(error, TransportError):
        return Unreachable(name, f"{name} on {host} failed: {str(error)[:200]}")
    if isinstance(error, EWSError):
        return CommandFailed(name, f"{name} on {host}: {str(error)[:200]}")
    return Unreachable(
        name, f"{name} on {host} failed unexpectedly: {type(error).__name__}: {str(error)[:160]}"
    )


def _distinguished(name: str, mailbox: str) -> DistinguishedFolderId:
    return DistinguishedFolderId(id=name, mailbox=ExchangeMailbox(email_address=mailbox))


def _root(account: Account, mailbox: str) -> Root:
    """The mailbox root by its distinguished id. Not `account.root`: that GetFolder runs under a lock
    exchangelib shares between every Account, so concurrent triages' mailbox reads would queue."""
    return Root(_distinguished_id=_distinguished("root", mailbox), account=account)


class _AvailabilityAs(GetUserAvailability):  # type: ignore[misc]
    """GetUserAvailability sent as one mailbox (ExchangeImpersonation), whatever the credential type."""

    acting_as: Identity | None = None

    @property
    def _account_to_impersonate(self) -> Identity | None:
        return self.acting_as


class EwsMailboxes:
    protocol = "ews"

    def __init__(self, settings: EwsSettings, executor: Executor) -> None:
        self._settings, self._executor = settings, executor
        _register_sharing_properties()
        if settings.ca_file:
            _TRUSTED_CAS[urlsplit(settings.endpoint).netloc] = settings.ca_file
            if settings.auth == "oauth":
                _TRUSTED_CAS[urlsplit(settings.authority).netloc] = settings.ca_file
            BaseProtocol.HTTP_ADAPTER_CLS = _TrustAdapter
        self._config = Configuration(
            service_endpoint=settings.endpoint,
            credentials=self._credentials(),
            auth_type={"ntlm": NTLM, "basic": BASIC, "oauth": OAUTH2}[settings.auth],
            version=Version(build=Build(*(int(p) for p in settings.version.split(".")))),
        )

    def _credentials(self) -> Any:
        s = self._settings
        if s.auth != "oauth":
            return Credentials(s.username, s.password)
        credentials = _TokenUrlCredentials(
            client_id=s.client_id, client_secret=s.client_secret, tenant_id=s.tenant_id
        )
        credentials.token_endpoint = f"{s.authority.rstrip('/')}/{s.tenant_id}/oauth2/v2.0/token"
        return credentials

    def _account(self, address: str) -> Account:
        access = IMPERSONATION if self._settings.access == "impersonation" else DELEGATE
        config = self._config
        if self._settings.auth == "oauth":  # app-only tokens act only through the impersonation header
            credentials = self._credentials()
            credentials.identity = Identity(primary_smtp_address=address)
            config = Configuration(
                service_endpoint=config.service_endpoint,
                credentials=credentials,
                auth_type=OAUTH2,
                version=config.version,
            )
            access = IMPERSONATION
        account = Account(
            address,
            config=config,
            autodiscover=False,
            access_type=access,
            default_timezone=EWSTimeZone("UTC"),
        )
        account.protocol.TIMEOUT = self._settings.timeout  # this protocol instance only
        return account

    async def _blocking(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        except Exception as error:
            raise translate(self._settings, error) from None

    async def sharing_subscriptions(self, mailbox: str) -> list[Subscription]:
        def read() -> list[Subscription]:
            account = self._account(mailbox)
            # One shallow FindFolder on the root by name (a folder query set would add a GetFolder).
            children = FolderCollection(account=account, folders=[_root(account, mailbox)])
            name = {FieldPath(field=Folder.get_field_by_fieldname("name"))}
            listed = children.find_folders(q=Q(name="Sharing"), depth=SHALLOW, additional_fields=name)
            found = [f for f in listed if not isinstance(f, Exception)]
            if not found:
                return []
            hidden = (
                FolderCollection(account=account, folders=found[:1])
                .filter(item_class=SUBSCRIPTION_CLASS)
                .depth(ASSOCIATED)
            )
            items = hidden.only("item_class", SHARER_FIELD, URL_FIELD)
            return [
                Subscription(
                    sharer=str(getattr(i, SHARER_FIELD) or ""),
                    url=str(getattr(i, URL_FIELD) or ""),
                    folder="Sharing",
                )
                for i in items
            ]

        return await self._blocking(read)

    async def calendar_permissions(self, mailbox: str) -> list[Permission]:
        def read() -> list[Permission]:
            account = self._account(mailbox)
            calendar = Calendar(
                _distinguished_id=_distinguished("calendar", mailbox), root=_root(account, mailbox)
            )
            wanted = {FieldPath(field=Calendar.get_field_by_fieldname("permission_set"))}
            found = list(
                FolderCollection(account=account, folders=[calendar]).get_folders(additional_fields=wanted)
            )
            if found and isinstance(found[0], Exception):
                raise found[0]
            permission_set = found[0].permission_set if found else None
            out = []
            for p in permission_set.calendar_permissions if permission_set else []:
                user = (
                    p.user_id.distinguished_user
                    or p.user_id.primary_smtp_address
                    or p.user_id.display_name
                    or ""
                )
                level = p.calendar_permission_level or "Custom"
                out.append(Permission(user=str(user), access_rights=EWS_RIGHTS.get(level, level)))
            return out

        return await self._blocking(read)

    async def free_busy(
        self, requester: str, target: str, start: datetime.datetime, end: datetime.datetime
    ) -> FreeBusy:
        def ask() -> FreeBusy:
            return self._free_busy(requester, target, start, end)

        return await self._blocking(ask)

    def _free_busy(
        self, requester: str, target: str, start: datetime.datetime, end: datetime.datetime
    ) -> FreeBusy:
        protocol = self._account(requester).protocol
        utc = EWSTimeZone("UTC")
        start, end = start.astimezone(utc), end.astimezone(utc)
        service = _AvailabilityAs(protocol=protocol)
        service.acting_as = Identity(primary_smtp_address=requester)
        zones = list(protocol.get_timezones(timezones=[utc], return_full_timezone_data=True))
        try:
            views: Sequence[Any] = list(
                service.call(
                    tzinfo=utc,
                    mailbox_data=[
                        MailboxData(email=target, attendee_type="Required", exclude_conflicts=False)
                    ],
                    timezone=TimeZone.from_server_timezone(tz_definition=zones[0], for_year=start.year),
                    free_busy_view_options=FreeBusyViewOptions(
                        time_window=TimeWindow(start=start, end=end),
                        merged_free_busy_interval=30,
                        requested_view="DetailedMerged",
                    ),
                )
            )
        except (ErrorServerBusy, ErrorTimeoutExpired):
            raise  # the backend itself is busy or slow: not an answer about this pair
        except ResponseMessageError as refused:
            return FreeBusy(ok=False, error_code=type(refused).__name__, error_message=str(refused))
        view = views[0] if views else None
        if isinstance(view, ResponseMessageError):
            return FreeBusy(ok=False, error_code=type(view).__name__, error_message=str(view))
        events = getattr(view, "calendar_events", None) or []
        return FreeBusy(ok=True, slots=len(events))

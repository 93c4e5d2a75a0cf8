"""MailboxPort for Exchange Online mailboxes over Microsoft Graph (msal client credentials, aiohttp).

Graph reads calendar permissions and answers getSchedule; it cannot read hidden (associated) items, so
sharing subscriptions of a cloud mailbox go to an Exchange Online EWS port when one is configured.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ssl
import threading
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import msal
import requests

from checks.errors import (
    BackendError,
    NotConfigured,
    NotFound,
    Throttled,
    TimedOut,
    Unauthorized,
    Unreachable,
)
from checks.ports import FreeBusy, KeyCredential, MailboxPort, Permission, Subscription

__all__ = ["GRAPH_ROLES", "GraphMailboxes", "GraphSettings"]

NAME = "Microsoft Graph"
# Graph calendarRoleType -> the role names Get-MailboxFolderPermission prints.
GRAPH_ROLES = {
    "none": "None",
    "freeBusyRead": "AvailabilityOnly",
    "limitedRead": "LimitedDetails",
    "read": "Reviewer",
    "write": "Editor",
    "delegateWithoutPrivateEventAccess": "Editor",
    "delegateWithPrivateEventAccess": "Editor",
    "custom": "Custom",
}
_DEFAULT_NAMES = {"my organization"}


@dataclass(frozen=True)
class GraphSettings:
    tenant_id: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    authority: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    scope: str = "https://graph.microsoft.com/.default"
    ca_file: str | None = None
    timeout: float = 20.0
    use_environment_proxy: bool = True  # HTTPS_PROXY and friends; off for loopback


def _user(address: str) -> str:
    # An address is a path segment here: quote everything but '@' so nothing else can reach the URL.
    return quote(address, safe="@")


class _PinnedSession(requests.Session):
    """A session that verifies against the configured CA bundle even when REQUESTS_CA_BUNDLE is set
    (requests lets the environment win over `session.verify`)."""

    def __init__(self, ca_file: str | None) -> None:
        super().__init__()
        self._ca_file = ca_file

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self._ca_file:
            merged["verify"] = self._ca_file
        return merged


class GraphMailboxes:
    protocol = "graph"

    def __init__(
        self, settings: GraphSettings, executor: Executor, hidden_items: MailboxPort | None = None
    ) -> None:
        self._settings, self._executor, self._hidden = settings, executor, hidden_items
        self._session: aiohttp.ClientSession | None = None
        self._app: msal.ConfidentialClientApplication | None = None
        self._token_lock = threading.Lock()

    def _client(self) -> msal.ConfidentialClientApplication:
        """The msal application, made on first use: making it already asks the authority for its metadata."""
        with self._token_lock:
            if self._app is None:
                s = self._settings
                http = _PinnedSession(s.ca_file)
                http.trust_env = s.use_environment_proxy
                self._app = msal.ConfidentialClientApplication(
                    s.client_id,
                    client_credential=s.client_secret,
                    authority=f"{s.authority.rstrip('/')}/{s.tenant_id}",
                    # Instance discovery asks login.microsoftonline.com about the authority: Entra only.
                    instance_discovery=urlsplit(s.authority).hostname == "login.microsoftonline.com",
                    http_client=http,
                    timeout=s.timeout,
                )
            return self._app

    async def open(self) -> None:
        context = (
            ssl.create_default_context(cafile=self._settings.ca_file) if self._settings.ca_file else None
        )
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context if context is not None else True),
            timeout=aiohttp.ClientTimeout(total=self._settings.timeout),
            trust_env=self._settings.use_environment_proxy,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _token(self) -> str:
        def acquire() -> dict[str, Any]:
            result: dict[str, Any] = self._client().acquire_token_for_client(scopes=[self._settings.scope])
            return result

        try:
            result = await asyncio.get_running_loop().run_in_executor(self._executor, acquire)
        except ValueError as refused:  # msal: the authority's metadata could not be had (often a 401)
            raise Unauthorized(
                NAME, f"Entra refused the app's client credentials: {_first_line(refused)}"
            ) from None
        except requests.exceptions.SSLError:
            raise Unreachable(NAME, "The Entra token endpoint's TLS certificate is not trusted.") from None
        except requests.exceptions.Timeout:
            raise TimedOut(NAME, "The Entra token endpoint did not answer in time.") from None
        except requests.exceptions.RequestException as error:
            raise Unreachable(
                NAME, f"Could not reach the Entra token endpoint ({type(error).__name__})."
            ) from None
        if "access_token" not in result:
            described = str(result.get("error_description") or result.get("error") or "no token")
            raise Unauthorized(
                NAME, f"Entra refused the app's client credentials: {described.splitlines()[0][:200]}"
            )
        return str(result["access_token"])

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        if self._session is None:
            await self.open()
        assert self._session is not None
        headers = {"Authorization": f"Bearer {await self._token()}"}
        url = self._settings.graph_url.rstrip("/") + path
        try:
            async with self._session.request(method, url, json=body, headers=headers) as response:
                payload = await response.json(content_type=None) if response.content_length != 0 else None
                if response.status >= 400:
                    raise _http_error(response.status, payload, response.headers.get("Retry-After"))
                return payload
        except BackendError:
            raise
        except TimeoutError:
            raise TimedOut(NAME, f"{NAME} did not answer in time.") from None
        except aiohttp.ClientError as error:
            raise Unreachable(NAME, f"Could not reach {NAME} ({type(error).__name__}).") from None

    async def calendar_permissions(self, mailbox: str) -> list[Permission]:
        payload = await self._call("GET", f"/users/{_user(mailbox)}/calendar/calendarPermissions")
        out = []
        for entry in payload.get("value", []):
            email = entry.get("emailAddress") or {}
            name, address = str(email.get("name") or ""), str(email.get("address") or "")
            user = "Default" if not address and name.lower() in _DEFAULT_NAMES else address or name
            out.append(Permission(user=user, access_rights=GRAPH_ROLES.get(str(entry.get("role")), "Custom")))
        return out

    async def free_busy(
        self, requester: str, target: str, start: datetime.datetime, end: datetime.datetime
    ) -> FreeBusy:
        def when(moment: datetime.datetime) -> dict[str, str]:
            return {
                "dateTime": moment.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(),
                "timeZone": "UTC",
            }

        body = {
            "schedules": [target],
            "startTime": when(start),
            "endTime": when(end),
            "availabilityViewInterval": 30,
        }
        payload = await self._call("POST", f"/users/{_user(requester)}/calendar/getSchedule", body)
        schedules = payload.get("value") or []
        if not schedules:
            return FreeBusy(
                ok=False, error_code="NoSchedule", error_message="getSchedule returned no schedule."
            )
        error = schedules[0].get("error")
        if error:
            return FreeBusy(
                ok=False,
                error_code=str(error.get("responseCode", "")),
                error_message=str(error.get("message", "")),
            )
        return FreeBusy(ok=True, slots=len(schedules[0].get("scheduleItems") or []))

    async def key_credentials(self, app_id: str) -> list[KeyCredential]:
        """The certificates the application's service principal accepts (Application.Read.All)."""
        path = f"/servicePrincipals(appId='{quote(app_id, safe='')}')?$select=keyCredentials"
        payload = await self._call("GET", path)
        out = []
        for key in payload.get("keyCredentials") or []:
            custom = str(key.get("customKeyIdentifier") or "")
            try:
                thumbprint = base64.b64decode(custom).hex().upper() if custom else ""
            except ValueError:
                thumbprint = ""
            out.append(
                KeyCredential(
                    thumbprint=thumbprint,
                    key_id=str(key.get("keyId") or ""),
                    display_name=str(key.get("displayName") or ""),
                    end=str(key.get("endDateTime") or ""),
                )
            )
        return out

    async def sharing_subscriptions(self, mailbox: str) -> list[Subscription]:
        if self._hidden is None:
            raise NotConfigured("Exchange Online EWS (Graph cannot read hidden sharing subscriptions)")
        return await self._hidden.sharing_subscriptions(mailbox)


def _first_line(error: BaseException) -> str:
    text = str(error)
    marker = "error_description"
    if marker in text:  # msal quotes the token endpoint's JSON; its description says what was wrong
        text = text.split(marker, 1)[1].lstrip('": ')
    return text.splitlines()[0][:200]


def _http_error(status: int, payload: Any, retry_after: str | None) -> BackendError:
    error = payload.get("error", {}) if isinstance(payload, dict) else {}
    code, message = str(error.get("code", "")), str(error.get("message", ""))[:200]
    if status == 401:
        return Unauthorized(NAME, f"{NAME} refused the app's token ({code}: {message}).")
    if status == 403:
        return Unauthorized(
            NAME, f"{NAME} denied the app access ({code}: {message}); check its application permissions."
        )
    if status == 404:
        return NotFound(NAME, f"{NAME}: {code}: {message}")
    if status in (429, 503):
        wait = f" (retry after {retry_after} s)" if retry_after else ""
        return Throttled(NAME, f"{NAME} is throttling the app{wait}: {code}.")
    return Unreachable(NAME, f"{NAME} answered HTTP {status}: {code}: {message}")

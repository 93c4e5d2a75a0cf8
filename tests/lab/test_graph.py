"""The token endpoint through msal, and Microsoft Graph through aiohttp with a token msal got from it.

Client settings (the same in the product): `msal.ConfidentialClientApplication(client_id,
client_credential=secret, authority=f"{token_base}/{tenant}", instance_discovery=False,
http_client=<requests.Session trusting the CA, trust_env=False>)` and `acquire_token_for_client(["https://graph.microsoft.com/.default"])`; aiohttp with an SSL context that
trusts the lab CA.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import msal
import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from lab.context import LabContext
from lab.entra import token
from lab.faults import FaultSpec
from lab.graph import server as graph
from lab.pki import LabPki, create_pki
from lab.scenario.load import load_scenario
from tests.lab.https_lab import make_context, scenario_with, serve

GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]
SEED_000 = "seed-000-federation-cert"


def _edit(data: dict[str, Any]) -> None:
    mailboxes = {m["address"]: m for m in data["mailboxes"]}
    mailboxes["alice@contoso.com"]["calendar_permissions"] = [
        {"user": "Default", "access_rights": ["AvailabilityOnly"]},
        {"user": "Anonymous", "access_rights": ["None"]},
        {"user": "bjorn@contoso.com", "access_rights": ["Reviewer"]},
        {"user": "partner@northwind.example", "access_rights": ["LimitedDetails"]},
    ]
    # Nobody but Dave himself may see even his free/busy times.
    mailboxes["dave@fabrikam.com"]["calendar_permissions"] = [{"user": "Default", "access_rights": ["None"]}]


@contextlib.contextmanager
def _serve_cloud(ctx: LabContext) -> Iterator[dict[str, str]]:
    with serve(ctx, token.build_app) as token_url, serve(ctx, graph.build_app) as graph_url:
        yield {"token": token_url, "graph": graph_url}


@pytest.fixture(scope="module")
def pki() -> Iterator[LabPki]:
    with create_pki() as made:
        yield made


@pytest.fixture(scope="module")
def ctx(pki: LabPki) -> LabContext:
    return make_context(scenario_with(edit=_edit), tls=pki)


@pytest.fixture(scope="module")
def urls(ctx: LabContext) -> Iterator[dict[str, str]]:
    with _serve_cloud(ctx) as served:
        yield served


@pytest.fixture(scope="module")
def seed_000(pki: LabPki) -> Iterator[tuple[LabContext, dict[str, str]]]:
    """The bundled seed-000 scenario, served as it ships."""
    seed_ctx = make_context(load_scenario(SEED_000), tls=pki)
    with _serve_cloud(seed_ctx) as served:
        yield seed_ctx, served


@pytest.fixture(autouse=True)
def no_faults_left(ctx: LabContext) -> Iterator[None]:
    yield
    ctx.faults.clear()


def lab_http_client(ctx: LabContext) -> requests.Session:
    """requests ignores Session.verify when REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE is set (msal's `verify=`
    included), so msal gets a session that does not read the environment and trusts the lab CA."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ctx.tls.ca_cert_path)
    return session


def msal_app(
    ctx: LabContext, urls: dict[str, str], *, secret: str | None = None, tenant: str | None = None
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        ctx.credentials.client_id,
        client_credential=secret or ctx.credentials.client_secret,
        authority=f"{urls['token']}/{tenant or ctx.credentials.tenant_id}",
        # Instance discovery would ask login.microsoftonline.com about an authority it does not know.
        instance_discovery=False,
        http_client=lab_http_client(ctx),
    )


def acquire_graph_token(ctx: LabContext, urls: dict[str, str]) -> str:
    result = msal_app(ctx, urls).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert "access_token" in result, result
    return str(result["access_token"])


@pytest.fixture(scope="module")
def graph_token(ctx: LabContext, urls: dict[str, str]) -> str:
    return acquire_graph_token(ctx, urls)


@pytest.fixture
async def client(ctx: LabContext) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=ctx.tls.client_ssl_context())
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def tomorrow() -> dict[str, Any]:
    start = datetime.datetime.now(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start += datetime.timedelta(days=1)
    end = start + datetime.timedelta(days=1)
    return {
        "startTime": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "endTime": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "availabilityViewInterval": 60,
    }


# ------------------------------------------------------------------------------------- token endpoint


async def test_msal_token_is_an_rs256_jwt_the_jwks_verifies(
    ctx: LabContext, urls: dict[str, str], graph_token: str, client: aiohttp.ClientSession
) -> None:
    header_part, claims_part, signature = graph_token.split(".")
    header, claims = json.loads(_b64(header_part)), json.loads(_b64(claims_part))
    assert header["alg"] == "RS256"
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == ctx.credentials.tenant_id
    assert claims["appid"] == ctx.credentials.client_id
    assert "Calendars.Read" in claims["roles"]
    async with client.get(
        f"{urls['token']}/{ctx.credentials.tenant_id}/v2.0/.well-known/openid-configuration"
    ) as response:
        jwks_uri = (await response.json())["jwks_uri"]
    async with client.get(jwks_uri) as response:
        (key,) = (await response.json())["keys"]
    assert key["kid"] == header["kid"]
    public = rsa.RSAPublicNumbers(
        int.from_bytes(_b64(key["e"]), "big"), int.from_bytes(_b64(key["n"]), "big")
    )
    public.public_key().verify(
        _b64(signature), f"{header_part}.{claims_part}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_wrong_secret_is_aadsts7000215(ctx: LabContext, urls: dict[str, str]) -> None:
    result = msal_app(ctx, urls, secret="not-the-secret").acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")


def test_unknown_resource_and_unknown_tenant_are_refused(ctx: LabContext, urls: dict[str, str]) -> None:
    result = msal_app(ctx, urls).acquire_token_for_client(scopes=["https://vault.azure.net/.default"])
    assert result["error"] == "invalid_resource"
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal_app(ctx, urls, tenant="not-our-tenant.onmicrosoft.com")


def test_the_tenant_name_works_as_authority_too(ctx: LabContext, urls: dict[str, str]) -> None:
    app = msal_app(ctx, urls, tenant=ctx.scenario.exchange_online.tenant)
    assert "access_token" in app.acquire_token_for_client(scopes=["https://outlook.office365.com/.default"])


def test_token_endpoint_faults_reach_msal(ctx: LabContext, urls: dict[str, str]) -> None:
    ctx.faults.add(FaultSpec(service="token", operation="token", kind="unauthorized", count=1))
    result = msal_app(ctx, urls).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result["error"] == "invalid_client"
    ctx.faults.add(FaultSpec(service="token", operation="token", kind="throttle", back_off_ms=3000, count=1))
    result = msal_app(ctx, urls).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result["error"] == "temporarily_unavailable"


# --------------------------------------------------------------------------------------------- Graph


async def test_calendar_permissions_as_graph_reports_them(
    urls: dict[str, str], graph_token: str, client: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"Bearer {graph_token}"}
    url = f"{urls['graph']}/v1.0/users/alice@contoso.com/calendar/calendarPermissions"
    async with client.get(url, headers=headers) as response:
        assert response.status == 200
        body = await response.json()
    seen = [(p["emailAddress"]["name"], p["role"], p["isInsideOrganization"]) for p in body["value"]]
    assert seen == [
        ("My Organization", "freeBusyRead", True),
        ("Bjørn Ødegård", "read", True),
        ("partner@northwind.example", "limitedRead", False),
    ]


async def test_seed_000_get_schedule_for_the_failing_and_the_working_pair(
    seed_000: tuple[LabContext, dict[str, str]], client: aiohttp.ClientSession
) -> None:
    seed_ctx, seed_urls = seed_000
    failing, working = seed_ctx.scenario.failing_pair, seed_ctx.scenario.working_pair
    assert failing is not None
    assert failing.requester == working.requester
    headers = {"Authorization": f"Bearer {acquire_graph_token(seed_ctx, seed_urls)}"}
    body = {"schedules": [failing.target, working.target], **tomorrow()}
    url = f"{seed_urls['graph']}/v1.0/users/{failing.requester}/calendar/getSchedule"
    async with client.post(url, json=body, headers=headers) as response:
        assert response.status == 200
        broken, answered = (await response.json())["value"]
    assert broken["scheduleId"] == failing.target
    assert broken["error"]["responseCode"] == "ErrorProxyRequestProcessingFailed"
    assert "The underlying connection was closed" in broken["error"]["message"]
    assert "scheduleItems" not in broken
    # Carol's hiring panel, 10:00-11:00 (hour slots); Default's right gives times, no subjects.
    assert answered["availabilityView"] == "0" * 10 + "2" + "0" * 13
    assert [
        (i["status"], i["start"]["dateTime"][11:16], "subject" in i) for i in answered["scheduleItems"]
    ] == [("busy", "10:00", False)]


async def test_get_schedule_details_follow_permissions(
    urls: dict[str, str], graph_token: str, client: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"Bearer {graph_token}"}
    body = {"schedules": ["alice@contoso.com", "dave@fabrikam.com", "ghost@contoso.com"], **tomorrow()}
    url = f"{urls['graph']}/v1.0/users/bjorn@contoso.com/calendar/getSchedule"
    async with client.post(url, json=body, headers=headers) as response:
        assert response.status == 404  # Bjørn is on-premises: no Graph calendar of his own
    url = f"{urls['graph']}/v1.0/users/erin@contoso.com/calendar/getSchedule"
    async with client.post(url, json=body, headers=headers) as response:
        alice, dave, ghost = (await response.json())["value"]
    assert [i.get("subject") for i in alice["scheduleItems"]] == [None, None]
    assert alice["availabilityView"][9] == "2"
    assert alice["availabilityView"][14] == "1"
    assert dave["error"]["responseCode"] == "ErrorNoFreeBusyAccess"
    assert ghost["error"]["responseCode"] == "ErrorMailRecipientNotFound"


async def test_users_and_their_errors(
    urls: dict[str, str], graph_token: str, client: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"Bearer {graph_token}"}
    async with client.get(f"{urls['graph']}/v1.0/users/erin@contoso.com", headers=headers) as response:
        erin = await response.json()
    assert (erin["displayName"], erin["mail"]) == ("Erin Müller", "erin@contoso.com")
    async with client.get(
        f"{urls['graph']}/v1.0/users/{erin['id']}/calendar/calendarPermissions", headers=headers
    ) as by_id:
        assert by_id.status == 200
    async with client.get(f"{urls['graph']}/v1.0/users/ghost@contoso.com", headers=headers) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "Request_ResourceNotFound"
    url = f"{urls['graph']}/v1.0/users/ghost@contoso.com/calendar/calendarPermissions"
    async with client.get(url, headers=headers) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "ErrorInvalidUser"
    url = f"{urls['graph']}/v1.0/users/bjorn@contoso.com/calendar/calendarPermissions"
    async with client.get(url, headers=headers) as response:
        assert response.status == 404
        error = (await response.json())["error"]
    assert error["code"] == "MailboxNotEnabledForRESTAPI"
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


@pytest.mark.parametrize("problem", ["missing", "ews audience", "expired", "forged"])
async def test_bad_tokens_are_401_invalid_authentication_token(
    ctx: LabContext, urls: dict[str, str], client: aiohttp.ClientSession, problem: str
) -> None:
    def mint(key: rsa.RSAPrivateKey, resource: str, hours_ago: int = 0) -> str:
        issued = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=hours_ago)
        creds = ctx.credentials
        return token.issue_access_token(
            key, tenant_id=creds.tenant_id, client_id=creds.client_id, resource=resource, now=issued
        )

    lab_key = ctx.tls.token_signing_key()
    tokens: dict[str, Callable[[], str]] = {
        "missing": lambda: "",
        "ews audience": lambda: mint(lab_key, token.EWS_RESOURCE),
        "expired": lambda: mint(lab_key, token.GRAPH_RESOURCE, hours_ago=3),
        "forged": lambda: mint(
            rsa.generate_private_key(public_exponent=65537, key_size=2048), token.GRAPH_RESOURCE
        ),
    }
    bearer = tokens[problem]()
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    async with client.get(f"{urls['graph']}/v1.0/users/alice@contoso.com", headers=headers) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
        assert (await response.json())["error"]["code"] == "InvalidAuthenticationToken"


async def test_throttle_is_429_with_retry_after(
    ctx: LabContext, urls: dict[str, str], graph_token: str, client: aiohttp.ClientSession
) -> None:
    ctx.faults.add(
        FaultSpec(service="graph", operation="getSchedule", kind="throttle", back_off_ms=2500, count=1)
    )
    headers = {"Authorization": f"Bearer {graph_token}"}
    url = f"{urls['graph']}/v1.0/users/alice@contoso.com/calendar/getSchedule"
    body = {"schedules": ["frank@contoso.com"], **tomorrow()}
    async with client.post(url, json=body, headers=headers) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "3"
        assert (await response.json())["error"]["code"] == "ApplicationThrottled"
    async with client.post(url, json=body, headers=headers) as response:
        assert response.status == 200


async def test_unauthorized_fault_refuses_a_good_token(
    ctx: LabContext, urls: dict[str, str], graph_token: str, client: aiohttp.ClientSession
) -> None:
    ctx.faults.add(FaultSpec(service="graph", kind="unauthorized", count=1))
    headers = {"Authorization": f"Bearer {graph_token}"}
    async with client.get(f"{urls['graph']}/v1.0/users/alice@contoso.com", headers=headers) as response:
        assert response.status == 401


async def test_reset_and_timeout_reach_the_client_as_transport_errors(
    ctx: LabContext, urls: dict[str, str], graph_token: str, client: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"Bearer {graph_token}"}
    url = f"{urls['graph']}/v1.0/users/alice@contoso.com/calendar/getSchedule"
    body = {"schedules": ["frank@contoso.com"], **tomorrow()}
    ctx.faults.add(FaultSpec(service="graph", kind="reset", count=1))
    with pytest.raises(aiohttp.ClientConnectionError):
        async with client.post(url, json=body, headers=headers):
            pass
    ctx.faults.add(FaultSpec(service="graph", kind="timeout", count=1))
    with pytest.raises(TimeoutError):
        async with client.post(url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=0.5)):
            pass


async def test_aiohttp_retries_an_idempotent_request_once_after_a_reset(
    ctx: LabContext, urls: dict[str, str], graph_token: str, client: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"Bearer {graph_token}"}
    url = f"{urls['graph']}/v1.0/users/alice@contoso.com"
    ctx.faults.add(FaultSpec(service="graph", operation="getUser", kind="reset", count=1))
    async with client.get(url, headers=headers) as response:
        assert response.status == 200
    ctx.faults.add(FaultSpec(service="graph", operation="getUser", kind="reset", count=2))
    with pytest.raises(aiohttp.ClientConnectionError):
        async with client.get(url, headers=headers):
            pass
    assert [op for _, op, spec in ctx.faults.taken if spec.kind == "reset"] == ["getUser"] * 3

"""The EWS simulator seen through exchangelib, configured as the product's on-premises backend is.

Client settings (the same in the product): pinned endpoint and version, no autodiscover,
`Configuration(service_endpoint=..., credentials=Credentials(user, password), auth_type=BASIC,
version=Version(build=Build(15, 2, 1544, 4)))`, `Account(address, config=..., autodiscover=False,
access_type=DELEGATE)`; TLS verified against the lab CA through `BaseProtocol.HTTP_ADAPTER_CLS`.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    OAUTH2,
    Account,
    Build,
    Configuration,
    Credentials,
    EWSTimeZone,
    ExtendedProperty,
    FaultTolerance,
    Identity,
    Message,
    OAuth2Credentials,
    Version,
)
from exchangelib.errors import (
    ErrorAccessDenied,
    ErrorInvalidExchangeImpersonationHeaderData,
    ErrorMailRecipientNotFound,
    ErrorNoFreeBusyAccess,
    ErrorNonExistentMailbox,
    ErrorProxyRequestProcessingFailed,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    UnauthorizedError,
)
from exchangelib.folders import SHALLOW, SingleFolderQuerySet
from exchangelib.items import ASSOCIATED, Item
from exchangelib.protocol import BaseProtocol, CachingProtocol
from exchangelib.services import GetFolder

from lab.context import LabContext
from lab.entra import token
from lab.ews import server as ews
from lab.faults import FaultSpec
from lab.pki import LabPki, create_pki
from lab.scenario.load import load_scenario
from tests.lab.https_lab import make_context, scenario_with, serve

UTC = EWSTimeZone("UTC")
SHARING_SET = "f52a8693-c34d-4980-9e20-9d4c1eabb6a7"
SEED_000 = "seed-000-federation-cert"
SEED_001 = "seed-001-sharing-subscription"


class SharerIdentity(ExtendedProperty):  # type: ignore[misc]
    property_set_id = SHARING_SET
    property_name = "ExternalSharingSharerIdentity"
    property_type = "String"


class SharingUrl(ExtendedProperty):  # type: ignore[misc]
    property_set_id = SHARING_SET
    property_name = "ExternalSharingUrl"
    property_type = "String"


def _edit(data: dict[str, Any]) -> None:
    mailboxes = {m["address"]: m for m in data["mailboxes"]}
    mailboxes["carol@contoso.com"]["sharing_subscriptions"] = [
        {
            "sharer_identity": "dave@fabrikam.com",
            "sharer_name": "Dave Nakamura",
            "url": "https://mail.fabrikam.com/EWS/Exchange.asmx",
        }
    ]
    mailboxes["bjorn@contoso.com"]["calendar_permissions"] = [
        {"user": "Default", "access_rights": ["AvailabilityOnly"]},
        {"user": "Anonymous", "access_rights": ["None"]},
        {"user": "carol@contoso.com", "access_rights": ["Reviewer"]},
    ]
    # Nobody but Dave himself may see even his free/busy times.
    mailboxes["dave@fabrikam.com"]["calendar_permissions"] = [{"user": "Default", "access_rights": ["None"]}]
    # A pair whose free/busy request fails at the HTTP level rather than per mailbox.
    data["availability"] = [
        {
            "requester": "carol@contoso.com",
            "target": "frank@contoso.com",
            "error": {"code": "ServiceUnavailable", "message": "Service Unavailable", "http_status": 503},
        }
    ]


@pytest.fixture(scope="module")
def pki() -> Iterator[LabPki]:
    with create_pki() as made:
        yield made


@contextlib.contextmanager
def _serve_ews(ctx: LabContext) -> Iterator[dict[str, str]]:
    with serve(ctx, ews.build_app) as ews_url, serve(ctx, token.build_app) as token_url:
        yield {"ews": f"{ews_url}/EWS/Exchange.asmx", "authority": f"{token_url}/{ctx.credentials.tenant_id}"}


@pytest.fixture(scope="module")
def ctx(pki: LabPki) -> LabContext:
    return make_context(scenario_with(edit=_edit), tls=pki)


@pytest.fixture(scope="module")
def endpoints(ctx: LabContext) -> Iterator[dict[str, str]]:
    with _serve_ews(ctx) as urls:
        yield urls


@pytest.fixture(scope="module")
def seeds(pki: LabPki) -> Iterator[dict[str, tuple[LabContext, dict[str, str]]]]:
    """The bundled seed scenarios, served as they ship."""
    with contextlib.ExitStack() as stack:
        labs = {}
        for name in (SEED_000, SEED_001):
            seed_ctx = make_context(load_scenario(name), tls=pki)
            labs[name] = (seed_ctx, stack.enter_context(_serve_ews(seed_ctx)))
        yield labs


@pytest.fixture(scope="module", autouse=True)
def sharing_properties() -> Iterator[None]:
    # Which model parses a hidden item depends on the element EWS sends, so register on both.
    for model in (Message, Item):
        model.register("sharer_identity", SharerIdentity)
        model.register("sharing_url", SharingUrl)
    yield
    for model in (Message, Item):
        model.deregister("sharer_identity")
        model.deregister("sharing_url")


@pytest.fixture(autouse=True)
def lab_trust(pki: LabPki, ctx: LabContext, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    ca_path = str(pki.ca_cert_path)

    class LabCaAdapter(requests.adapters.HTTPAdapter):
        """Verify EWS and token endpoint certificates against the lab CA (the product: its own CA bundle)."""

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            super().cert_verify(conn, url, ca_path, cert)  # type: ignore[no-untyped-call]

        def get_connection_with_tls_context(
            self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
        ) -> Any:
            return super().get_connection_with_tls_context(request, ca_path, proxies=proxies, cert=cert)

    monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", LabCaAdapter)
    monkeypatch.setattr(BaseProtocol, "TIMEOUT", 2)
    CachingProtocol.clear_cache()
    yield
    CachingProtocol.clear_cache()
    ctx.faults.clear()


def basic_account(ctx: LabContext, url: str, address: str, **options: Any) -> Account:
    password = options.pop("password", ctx.credentials.password)
    access = options.pop("access_type", DELEGATE)
    config = Configuration(
        service_endpoint=url,
        credentials=Credentials(ctx.credentials.username, password),
        auth_type=BASIC,
        version=Version(build=Build(15, 2, 1544, 4)),
        **options,
    )
    return Account(address, config=config, autodiscover=False, access_type=access, default_timezone=UTC)


class LabOAuth2Credentials(OAuth2Credentials):  # type: ignore[misc]
    """exchangelib hard-wires login.microsoftonline.com; the product points token_url at its authority."""

    authority = ""

    @property
    def token_url(self) -> str:
        return f"{self.authority}/oauth2/v2.0/token"


def oauth_account(
    ctx: LabContext, endpoints: dict[str, str], address: str, *, identity: str | None
) -> Account:
    credentials = LabOAuth2Credentials(
        client_id=ctx.credentials.client_id,
        client_secret=ctx.credentials.client_secret,
        tenant_id=ctx.credentials.tenant_id,
        identity=Identity(primary_smtp_address=identity) if identity else None,
    )
    credentials.authority = endpoints["authority"]
    config = Configuration(
        service_endpoint=endpoints["ews"],
        credentials=credentials,
        auth_type=OAUTH2,
        version=Version(build=Build(15, 2, 1544, 4)),
    )
    access = IMPERSONATION if identity else DELEGATE
    return Account(address, config=config, autodiscover=False, access_type=access, default_timezone=UTC)


def tomorrow() -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.now(UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    ) + datetime.timedelta(days=1)
    return start, start + datetime.timedelta(days=1)


# ------------------------------------------------------------------------------------ mailbox data


def test_sharing_subscription_named_properties(seeds: dict[str, tuple[LabContext, dict[str, str]]]) -> None:
    seed_ctx, urls = seeds[SEED_001]
    carol = basic_account(seed_ctx, urls["ews"], "carol@contoso.com")
    sharing = (
        SingleFolderQuerySet(account=carol, folder=carol.root).depth(SHALLOW).only("name").get(name="Sharing")
    )
    hidden = sharing.filter(item_class="IPM.ExternalSharingSubscription").depth(ASSOCIATED)
    subscriptions = list(hidden.only("item_class", "sharer_identity", "sharing_url"))
    assert [(s.item_class, s.sharer_identity, s.sharing_url) for s in subscriptions] == [
        (
            "IPM.ExternalSharingSubscription",
            "erin@contoso.com",
            "https://outlook.office365.com/EWS/Exchange.asmx",
        )
    ]
    # Subscriptions are hidden: a normal traversal of the same folder does not list them.
    assert list(sharing.filter(item_class="IPM.ExternalSharingSubscription").depth(SHALLOW)) == []


def test_a_mailbox_without_subscriptions_has_none(ctx: LabContext, endpoints: dict[str, str]) -> None:
    frank = basic_account(ctx, endpoints["ews"], "frank@contoso.com")
    sharing = SingleFolderQuerySet(account=frank, folder=frank.root).depth(SHALLOW).get(name="Sharing")
    assert list(sharing.all().depth(ASSOCIATED).only("sharer_identity")) == []


def test_calendar_permissions_with_non_ascii_names(ctx: LabContext, endpoints: dict[str, str]) -> None:
    bjorn = basic_account(ctx, endpoints["ews"], "bjorn@contoso.com")
    permissions = bjorn.calendar.permission_set.calendar_permissions
    seen = [
        (
            p.user_id.distinguished_user or p.user_id.primary_smtp_address,
            p.calendar_permission_level,
            p.read_items,
        )
        for p in permissions
    ]
    assert seen == [
        ("Default", "FreeBusyTimeOnly", "TimeOnly"),
        ("Anonymous", "None", "None"),
        ("carol@contoso.com", "Reviewer", "FullDetails"),
    ]
    assert permissions[2].user_id.display_name == "Carol Díaz"


def test_free_busy_answers_from_the_calendar_at_the_permitted_detail(
    ctx: LabContext, endpoints: dict[str, str]
) -> None:
    carol = basic_account(ctx, endpoints["ews"], "carol@contoso.com")
    start, end = tomorrow()
    (view,) = carol.protocol.get_free_busy_info(
        accounts=[("bjorn@contoso.com", "Required", False)], start=start, end=end
    )
    # The service account reads Bjørn's calendar as Default does (AvailabilityOnly): times, no subjects.
    assert view.view_type == "FreeBusyMerged"
    assert [
        (e.start.hour, e.start.minute, e.end.hour, e.busy_type, e.details) for e in view.calendar_events
    ] == [
        (8, 30, 9, "Busy", None),
        (13, 0, 17, "OOF", None),
    ]
    assert view.merged == "0" * 17 + "22" + "0" * 7 + "33333333" + "0" * 14


def test_impersonated_requester_with_reviewer_rights_sees_subjects(
    ctx: LabContext, endpoints: dict[str, str]
) -> None:
    carol = oauth_account(ctx, endpoints, "carol@contoso.com", identity="carol@contoso.com")
    start, end = tomorrow()
    (view,) = carol.protocol.get_free_busy_info(
        accounts=[("bjorn@contoso.com", "Required", False)], start=start, end=end
    )
    assert view.view_type == "DetailedMerged"
    assert [e.details.subject for e in view.calendar_events] == ["Site walk-through", "Dentist"]


def test_seed_000_failing_pair_gets_the_proxy_error_and_the_working_pair_answers(
    seeds: dict[str, tuple[LabContext, dict[str, str]]],
) -> None:
    seed_ctx, urls = seeds[SEED_000]
    failing, working = seed_ctx.scenario.failing_pair, seed_ctx.scenario.working_pair
    assert failing is not None
    requester = oauth_account(seed_ctx, urls, failing.requester, identity=failing.requester)
    start, end = tomorrow()
    answers = requester.protocol.get_free_busy_info(
        accounts=[(failing.target, "Required", False)], start=start, end=end
    )
    with pytest.raises(
        ErrorProxyRequestProcessingFailed, match="underlying connection was closed: An unexpected"
    ):
        list(answers)
    (view,) = requester.protocol.get_free_busy_info(
        accounts=[(working.target, "Required", False)], start=start, end=end
    )
    assert [e.busy_type for e in view.calendar_events] == ["Busy"]


def test_unknown_and_closed_calendars_are_reported_per_mailbox(
    ctx: LabContext, endpoints: dict[str, str]
) -> None:
    carol = basic_account(ctx, endpoints["ews"], "carol@contoso.com")
    start, end = tomorrow()
    attendees = [("nobody@contoso.com", "Required", False), ("frank@contoso.com", "Required", False)]
    unknown, frank = carol.protocol.get_free_busy_info(accounts=attendees, start=start, end=end)
    assert isinstance(unknown, ErrorMailRecipientNotFound)
    assert [e.busy_type for e in frank.calendar_events] == ["Busy"]
    # exchangelib raises this one instead of returning it in the list.
    closed = carol.protocol.get_free_busy_info(
        accounts=[("dave@fabrikam.com", "Required", False)], start=start, end=end
    )
    with pytest.raises(ErrorNoFreeBusyAccess, match="does not have access to free/busy data"):
        list(closed)


def test_a_pair_failing_at_the_http_level_gets_that_status(
    ctx: LabContext, endpoints: dict[str, str]
) -> None:
    carol = oauth_account(ctx, endpoints, "carol@contoso.com", identity="carol@contoso.com")
    start, end = tomorrow()
    answers = carol.protocol.get_free_busy_info(
        accounts=[("frank@contoso.com", "Required", False)], start=start, end=end
    )
    with pytest.raises(ErrorServerBusy, match="HTTP 503"):
        list(answers)


def test_unknown_mailbox_is_non_existent(ctx: LabContext, endpoints: dict[str, str]) -> None:
    with pytest.raises(ErrorNonExistentMailbox):
        _ = basic_account(ctx, endpoints["ews"], "nobody@contoso.com").calendar


def test_impersonation_acts_as_the_mailbox(ctx: LabContext, endpoints: dict[str, str]) -> None:
    url = endpoints["ews"]
    as_carol = basic_account(ctx, url, "carol@contoso.com", access_type=IMPERSONATION)
    assert as_carol.calendar.name == "Calendar"
    # Carol is a Reviewer of Bjørn's calendar; Frank only has Default's free/busy right, which hides the folder.
    bjorn_calendar = basic_account(ctx, url, "bjorn@contoso.com").calendar
    (seen_by_carol,) = GetFolder(account=as_carol).call(
        folders=[bjorn_calendar], additional_fields=[], shape="Default"
    )
    assert seen_by_carol.name == "Calendar"
    as_frank = basic_account(ctx, url, "frank@contoso.com", access_type=IMPERSONATION)
    (seen_by_frank,) = GetFolder(account=as_frank).call(
        folders=[bjorn_calendar], additional_fields=[], shape="Default"
    )
    assert isinstance(seen_by_frank, ErrorAccessDenied)
    with pytest.raises(ErrorNonExistentMailbox):
        _ = basic_account(ctx, url, "ghost@contoso.com", access_type=IMPERSONATION).root


# ------------------------------------------------------------------------------------------ OAuth


def test_app_only_token_needs_the_impersonation_header(ctx: LabContext, endpoints: dict[str, str]) -> None:
    assert (
        oauth_account(ctx, endpoints, "carol@contoso.com", identity="carol@contoso.com").calendar.name
        == "Calendar"
    )
    with pytest.raises(ErrorInvalidExchangeImpersonationHeaderData):
        _ = oauth_account(ctx, endpoints, "carol@contoso.com", identity=None).calendar


def test_a_token_for_another_resource_is_refused(ctx: LabContext, endpoints: dict[str, str]) -> None:
    graph_token = token.issue_access_token(
        ctx.tls.token_signing_key(),
        tenant_id=ctx.credentials.tenant_id,
        client_id=ctx.credentials.client_id,
        resource=token.GRAPH_RESOURCE,
    )
    credentials = LabOAuth2Credentials(
        client_id=ctx.credentials.client_id,
        client_secret=ctx.credentials.client_secret,
        tenant_id=ctx.credentials.tenant_id,
        identity=Identity(primary_smtp_address="carol@contoso.com"),
        access_token={"access_token": graph_token, "token_type": "Bearer", "expires_in": 3599},
    )
    credentials.authority = endpoints["authority"]
    config = Configuration(
        service_endpoint=endpoints["ews"],
        credentials=credentials,
        auth_type=OAUTH2,
        version=Version(Build(15, 2)),
    )
    account = Account("carol@contoso.com", config=config, autodiscover=False, access_type=IMPERSONATION)
    with pytest.raises(UnauthorizedError):
        _ = account.calendar


# ------------------------------------------------------------------------------------------ faults


def test_wrong_password_and_the_401_fault_are_unauthorized(
    ctx: LabContext, endpoints: dict[str, str]
) -> None:
    with pytest.raises(UnauthorizedError):
        _ = basic_account(ctx, endpoints["ews"], "carol@contoso.com", password="wrong").calendar
    CachingProtocol.clear_cache()
    ctx.faults.add(FaultSpec(service="ews", operation="GetFolder", kind="unauthorized", count=1))
    with pytest.raises(UnauthorizedError):
        _ = basic_account(ctx, endpoints["ews"], "carol@contoso.com").calendar


def test_throttling_is_server_busy_with_its_back_off(ctx: LabContext, endpoints: dict[str, str]) -> None:
    ctx.faults.add(FaultSpec(service="ews", kind="throttle", back_off_ms=300, count=1))
    with pytest.raises(ErrorServerBusy) as busy:
        _ = basic_account(ctx, endpoints["ews"], "carol@contoso.com").calendar
    assert busy.value.back_off == pytest.approx(0.3)


def test_fault_tolerance_waits_out_the_back_off_and_retries(
    ctx: LabContext, endpoints: dict[str, str]
) -> None:
    ctx.faults.add(FaultSpec(service="ews", kind="throttle", back_off_ms=400, count=1))
    account = basic_account(
        ctx, endpoints["ews"], "carol@contoso.com", retry_policy=FaultTolerance(max_wait=5)
    )
    started = time.monotonic()
    assert account.calendar.name == "Calendar"
    assert time.monotonic() - started >= 0.39


def test_timeout_fires_the_clients_own_timeout(ctx: LabContext, endpoints: dict[str, str]) -> None:
    ctx.faults.add(FaultSpec(service="ews", operation="GetFolder", kind="timeout", count=1))
    started = time.monotonic()
    with pytest.raises(ErrorTimeoutExpired, match="Read timed out"):
        _ = basic_account(ctx, endpoints["ews"], "carol@contoso.com").calendar
    # The lab stalls for TIMEOUT_STALL_SECONDS (120 s): ending long before that is the client's own timeout.
    assert 1.9 <= time.monotonic() - started < 60


def test_connection_reset_is_a_dropped_connection(ctx: LabContext, endpoints: dict[str, str]) -> None:
    ctx.faults.add(FaultSpec(service="ews", kind="reset", count=1))
    with pytest.raises(ErrorTimeoutExpired, match="Connection aborted"):
        _ = basic_account(ctx, endpoints["ews"], "carol@contoso.com").calendar


def test_latency_delays_but_answers(ctx: LabContext, endpoints: dict[str, str]) -> None:
    ctx.faults.add(FaultSpec(service="ews", operation="GetFolder", kind="latency", latency_ms=300))
    started = time.monotonic()
    assert basic_account(ctx, endpoints["ews"], "carol@contoso.com").calendar.name == "Calendar"
    assert time.monotonic() - started >= 0.29

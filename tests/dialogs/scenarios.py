"""What the checks report for each seed scenario: the facts and evidence the lab's scenario would give."""

from __future__ import annotations

from checks.api import CheckResult, Evidence
from dialogs.testing import FakeCheckRunner
from tests.texts import pasted_text

FEDCERT = "3226500C943B6235AEB493A307F084710FD1D5D0"


def paste(name: str) -> str:
    return pasted_text(name)


def seed_000() -> FakeCheckRunner:
    """Cloud users cannot see the free/busy of users in the non-Internet-facing Branch site: EX02 lacks the
    federation certificate."""
    return FakeCheckRunner(
        [
            CheckResult(
                "topology",
                "ok",
                "bjorn@contoso.com is on EX02 in Branch (not Internet-facing); usera is in Exchange Online.",
                (Evidence("Site", "Branch", "EX02"), Evidence("InternetFacing", "False", "EX02")),
                {
                    "requester.location": "online",
                    "target.location": "onprem",
                    "target.server": "EX02",
                    "target.site": "Branch",
                    "target.site.internet_facing": False,
                },
            ),
            CheckResult(
                "federation-certificates",
                "fail",
                "EX02 lacks the federation certificate.",
                (
                    Evidence("Federation certificate", "present, with private key", "EX01"),
                    Evidence("Federation certificate", "missing", "EX02"),
                ),
                {
                    "fedcert.thumbprint": FEDCERT,
                    "fedcert.missing_servers": ["EX02"],
                    "fedcert.missing_sites": ["Branch"],
                    "fedcert.source_server": "EX01",
                },
            ),
            CheckResult(
                "sharing-subscriptions",
                "ok",
                "No sharing subscription to the target.",
                facts={"sharing.subscription_present": False},
            ),
        ]
    )


def seed_001() -> FakeCheckRunner:
    """One pair across forests fails: the requester holds a sharing subscription, the explicit permission is gone."""
    return FakeCheckRunner(
        [
            CheckResult("topology", "warn", "y1@fabrikam.com is not in this organisation.", facts={}),
            CheckResult(
                "sharing-subscriptions",
                "fail",
                "x1@contoso.com holds a sharing subscription to y1@fabrikam.com's calendar.",
                (Evidence("ExternalSharingSharerIdentity", "y1@fabrikam.com", "x1@contoso.com"),),
                {"sharing.subscription_present": True, "sharing.subscription_sharer": "y1@fabrikam.com"},
            ),
            CheckResult(
                "calendar-permissions",
                "fail",
                "No explicit permission for x1@contoso.com on y1@fabrikam.com's calendar.",
                (
                    Evidence("AccessRights (x1@contoso.com)", "None", "y1@fabrikam.com"),
                    Evidence("AccessRights (Default)", "AvailabilityOnly", "y1@fabrikam.com"),
                ),
                {"calendar.explicit_permission": "None", "calendar.default_permission": "AvailabilityOnly"},
            ),
            CheckResult(
                "federation-certificates",
                "ok",
                "Every server holds the federation certificate.",
                facts={"fedcert.missing_servers": [], "fedcert.source_server": "EX01"},
            ),
        ]
    )


def seed_002() -> FakeCheckRunner:
    """OWA cannot proxy to the Branch site: EX02's OWA InternalUrl is http://."""
    return FakeCheckRunner(
        [
            CheckResult(
                "topology",
                "ok",
                "carol@contoso.com is on EX02 in Branch.",
                (Evidence("Site", "Branch", "EX02"),),
                {"target.location": "onprem", "target.server": "EX02", "target.site": "Branch"},
            ),
            CheckResult(
                "virtual-directories",
                "fail",
                "EX02's OWA InternalUrl is http://.",
                (Evidence("InternalUrl (owa)", "http://ex02.contoso.com/owa", "EX02"),),
                {
                    "owa.target.server": "EX02",
                    "owa.target.fqdn": "ex02.contoso.com",
                    "owa.target.internal_url": "http://ex02.contoso.com/owa",
                    "owa.target.internal_url_scheme": "http",
                    "owa.target.suggested_internal_url": "https://ex02.contoso.com/owa",
                    "owa.site.http_internal_url_servers": ["EX02"],
                    "owa.site.http_internal_urls": [
                        {
                            "server": "EX02",
                            "internal_url": "http://ex02.contoso.com/owa",
                            "suggested_internal_url": "https://ex02.contoso.com/owa",
                        }
                    ],
                },
            ),
            CheckResult(
                "https-probe",
                "ok",
                "https://ex02.contoso.com/owa answers 302.",
                facts={
                    "owa.target.https_status": 302,
                    "probe.tls_ok": True,
                    "owa.site.https_403_servers": [],
                    "owa.site.https_403": [],
                },
            ),
        ]
    )


def healthy() -> FakeCheckRunner:
    """Everything answers fine: the topology resolves, nothing is wrong."""
    return FakeCheckRunner(
        [
            CheckResult(
                "topology",
                "ok",
                "bjorn@contoso.com is on EX02 in Branch.",
                facts={"target.location": "onprem", "target.server": "EX02", "target.site": "Branch"},
            )
        ]
    )

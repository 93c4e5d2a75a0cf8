"""The federation, organisation relationship, OAuth and identity causes: what check evidence ranks first,
what rules a cause out, how their runbooks fill, and that their error signatures match Exchange's words."""

from __future__ import annotations

import re
from typing import Any

import pytest

from knowledge.assessment import Reported, combine_facts
from knowledge.diagnosis import diagnose
from knowledge.inference import infer
from knowledge.loader import DATA_DIR, load_knowledge
from knowledge.reader.error_text import read_error_text
from knowledge.remediation import fill_remediation
from knowledge.yamlio import read_yaml

KB = load_knowledge()
CATEGORIES = ("federation_dauth", "org_relationship", "oauth", "identity_sync")
OUR_CAUSES = {cid: cause for cid, cause in KB.causes.items() if cause.category in CATEGORIES}
OUR_SIGNATURES = [raw["id"] for raw in read_yaml(DATA_DIR / "signatures" / "causes_a.yaml")["signatures"]]


def _checked(facts: dict[str, Any] | None) -> list[Reported]:
    return [Reported("checks", facts)] if facts else []


def causes(text: str | None = None, checks: dict[str, Any] | None = None) -> list[str]:
    return [c.id for c in diagnose(KB, text=text, results=_checked(checks)).causes]


def ruled_out(text: str | None = None, checks: dict[str, Any] | None = None) -> set[str]:
    return {r.id for r in diagnose(KB, text=text, results=_checked(checks)).ruled_out}


def test_the_lab_scenarios_cause_ids_exist_with_their_cases() -> None:
    expected = {
        "orgrel-domain-missing": "orgrel-domainnames-missing-requester-domain",
        "orgrel-freebusy-disabled": "orgrel-freebusy-access-disabled",
        "ioc-target-domain-missing": "ioc-targetaddressdomains-missing",
        "oauth-auth-certificate-missing": "oauth-missing-signing-certificate",
        "dedicated-hybrid-app-not-activated": "dedicated-hybrid-app-not-activated",
        "federation-cert-missing-on-site": "fedcert-missing-non-internet-facing-site",
    }
    for cause_id, case_id in expected.items():
        assert case_id in OUR_CAUSES[cause_id].cases


def test_every_case_of_these_categories_has_exactly_one_cause_here() -> None:
    for case in KB.cases.values():
        if case.category in CATEGORIES:
            owners = [cid for cid, cause in OUR_CAUSES.items() if case.id in cause.cases]
            assert len(owners) == 1, f"{case.id}: {owners}"


# Each row: the check facts that define a cause, and a paste that points elsewhere. The check must win.
CHECK_EVIDENCE = [
    ("orgrel-domain-missing", {"orgrel.missing_domains": ["contoso.com"]}),
    ("orgrel-freebusy-disabled", {"orgrel.freebusy_enabled": False}),
    ("orgrel-freebusy-disabled", {"orgrel.freebusy_level": "None"}),
    (
        "orgrel-freebusy-scope-excludes-target",
        {"orgrel.target_in_scope": False, "orgrel.freebusy_scope": "FB-Share"},
    ),
    ("orgrel-target-uri-mismatch", {"orgrel.uri_mismatch": ["TargetAutodiscoverEpr"]}),
    ("sharing-policy-mismatch", {"sharing_policy.missing_domains": ["contoso.com"]}),
    ("hybrid-freebusy-not-configured", {"orgrel.present": False}),
    ("orgrel-target-sharing-epr-wrong", {"orgrel.target_sharing_epr_ok": False}),
    ("ioc-target-domain-missing", {"ioc.missing_domains": ["contoso.ro"]}),
    ("ioc-discovery-endpoint-wrong", {"ioc.discovery_endpoint_ok": False}),
    ("oauth-auth-certificate-missing", {"oauth.auth_cert_missing_servers": ["EX02"]}),
    ("oauth-auth-certificate-missing", {"oauth.auth_cert_expired": True}),
    ("oauth-auth-certificate-not-in-entra", {"oauth.auth_cert_in_entra": False}),
    ("oauth-auth-server-invalid", {"oauth.auth_server_ok": False}),
    ("oauth-partner-application-broken", {"oauth.partner_app_linked_account": ""}),
    ("oauth-vdir-oauth-disabled", {"oauth.vdirs_without_oauth": ["EX01/EWS (Exchange Back End)"]}),
    ("dedicated-hybrid-app-not-activated", {"oauth.dedicated_app_override": False}),
    ("servers-below-hybrid-app-build", {"servers.below_hybrid_app_build": ["EX03"]}),
    ("exo-ews-blocks-hybrid-app", {"exo.hybrid_app_ews_allowed": False}),
    ("graph-coexistence-prerequisites-missing", {"oauth.graph_prereq_missing": ["consent"]}),
    ("federation-cert-expired", {"fedcert.expired": True}),
    ("federation-metadata-stale", {"fedtrust.token_issuer_stale": True}),
    ("fedtrust-consumer-instance", {"fedtrust.token_issuer_uri": "uri:WindowsLiveID"}),
    ("exo-federation-trust-outdated", {"exo.fedtrust_application_id": "292841"}),
    ("wssecurity-auth-disabled-or-stale", {"wssecurity.disabled_servers": ["EX01"]}),
    ("server-clock-skew", {"host.time_skew_servers": ["EX02"]}),
    ("federation-trust-certificate-lost", {"fedcert.source_server": "", "fedcert.missing_servers": ["EX01"]}),
    ("onprem-user-not-synced", {"pair.onprem_synced": False}),
    ("cloud-user-missing-routing-address", {"pair.cloud_routing_address": ""}),
    ("remote-routing-address-wrong", {"pair.cloud_remote_routing_ok": False}),
    (
        "duplicate-address-ambiguous-user",
        {"pair.onprem_duplicate_objects": ["CN=Old Alice,OU=Leavers,DC=contoso,DC=com"]},
    ),
]

# A paste that names a different cause's error: the defining check evidence must still win over it.
MISLEADING_PASTE = (
    "You don't have permission to see free/busy information for this attendee. (Error code 5037)"
)
OUR_CASE_TEXTS = {
    case.id: read_error_text("\n".join(case.error_text))
    for case in KB.cases.values()
    if case.category in CATEGORIES
}


@pytest.mark.parametrize(
    ("cause_id", "facts"), CHECK_EVIDENCE, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CHECK_EVIDENCE)]
)
def test_check_evidence_beats_the_text_of_every_case_here(cause_id: str, facts: dict[str, Any]) -> None:
    for case_id, pasted in OUR_CASE_TEXTS.items():
        # The ranking alone: no symptom implied, so every cause competes.
        first = infer(KB, combine_facts(KB, {}, pasted, [Reported("checks", facts)])).causes[0].id
        assert first == cause_id, f"the text of {case_id} puts {first} before {cause_id}"


# Each row: a paste that points to a cause, and the healthy check result that must rule it out.
RULE_OUTS = [
    (
        "orgrel-domain-missing",
        "The caller does not have access to free/busy data.",
        {"orgrel.missing_domains": []},
    ),
    ("orgrel-freebusy-disabled", MISLEADING_PASTE, {"orgrel.freebusy_granted": True}),
    (
        "ioc-target-domain-missing",
        "Configuration information for forest/domain contoso.ro could not be found in Active Directory.",
        {"ioc.missing_domains": []},
    ),
    (
        "oauth-auth-certificate-missing",
        "OAuthTokenRequestFailedException: Missing signing certificate.",
        {"oauth.auth_cert_ok": True},
    ),
    (
        "oauth-auth-certificate-missing",
        "OAuthTokenRequestFailedException: Missing signing certificate.",
        {"oauth.in_use": False},
    ),
    (
        "dedicated-hybrid-app-not-activated",
        "The configuration was last successfully loaded at 01-01-0001 00:00:00 UTC",
        {"oauth.dedicated_app_override": True},
    ),
    (
        "exo-ews-blocks-hybrid-app",
        "The remote server returned an error: (403) Forbidden.",
        {"exo.hybrid_app_ews_allowed": True},
    ),
    (
        "federation-metadata-stale",
        "Failed to validate delegation token.",
        {"fedtrust.token_issuer_stale": False},
    ),
    (
        "fedtrust-consumer-instance",
        "TokenIssuerURIs: uri:WindowsLiveID",
        {"fedtrust.token_issuer_uri": "urn:federation:MicrosoftOnline"},
    ),
    (
        "exo-federation-trust-outdated",
        "ApplicationIdentifier : 292841",
        {"exo.fedtrust_application_id": "260563"},
    ),
    (
        "federation-cert-missing-on-site",
        "Unable to find the certificate referenced by property OrgPrivCertificate in the FederationTrust object.",
        {"fedcert.missing_servers": []},
    ),
    (
        "federation-cert-missing-on-site",
        "Unable to find the certificate referenced by property OrgPrivCertificate in the FederationTrust object.",
        {"fedcert.source_server": ""},
    ),
    (
        "federation-trust-certificate-lost",
        "Federation certificate with the thumbprint 0A1B cannot be found.",
        {"fedcert.source_server": "EX01"},
    ),
    (
        "onprem-user-not-synced",
        'The user specified by the user-context in the token does not exist. error_category="invalid_user"',
        {"pair.onprem_synced": True},
    ),
    (
        "remote-routing-address-wrong",
        "The attendee's server couldn't be contacted. (Error Code: 5016)",
        {"pair.cloud_remote_routing_ok": True},
    ),
]


@pytest.mark.parametrize(
    ("cause_id", "text", "facts"), RULE_OUTS, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(RULE_OUTS)]
)
def test_a_healthy_check_rules_the_cause_out(cause_id: str, text: str, facts: dict[str, Any]) -> None:
    assert cause_id in causes(text), "the paste alone must point to the cause"
    assert cause_id not in causes(text, facts)
    assert cause_id in ruled_out(text, facts)


def test_the_2025_hybrid_app_test_output_puts_the_dedicated_app_first() -> None:
    paste = (
        "Task        : Checking EWS API Call Under Oauth\n"
        "Detail      : System.Net.WebException: The remote server returned an error: (403) Forbidden.\n"
        "The configuration was last successfully loaded at 01-01-0001 00:00:00 UTC\n"
    )
    assert causes(paste)[0] == "dedicated-hybrid-app-not-activated"


def test_a_mixed_estate_with_old_builds_outranks_the_override_once_it_is_on() -> None:
    ranked = causes(
        checks={"oauth.dedicated_app_override": True, "servers.below_hybrid_app_build": ["EX2016"]}
    )
    assert ranked[0] == "servers-below-hybrid-app-build"
    assert "dedicated-hybrid-app-not-activated" not in ranked


def fill(remediation_id: str, facts: dict[str, Any]) -> list[str]:
    return fill_remediation(KB.remediations[remediation_id], facts).commands


def test_adding_a_domain_repeats_per_domain_and_quotes_it_as_an_expression() -> None:
    commands = fill(
        "add-orgrel-domain",
        {"orgrel.name": "On-premises to O365", "orgrel.missing_domains": ["contoso.com", "fabrikam.com"]},
    )
    assert commands == [
        "Set-OrganizationRelationship -Identity 'On-premises to O365' -DomainNames @{Add='contoso.com'}",
        "Set-OrganizationRelationship -Identity 'On-premises to O365' -DomainNames @{Add='fabrikam.com'}",
    ]


def test_a_sharing_policy_entry_is_a_quoted_string_inside_the_hashtable() -> None:
    commands = fill(
        "add-sharing-policy-domain",
        {
            "sharing_policy.name": "Default Sharing Policy",
            "sharing_policy.missing_domains": ["contoso.com"],
        },
    )
    assert commands == [
        "Set-SharingPolicy -Identity 'Default Sharing Policy' -Domains @{Add='contoso.com: CalendarSharingFreeBusySimple'}"
    ]


def test_a_hostile_app_id_never_reaches_an_expression_unquoted() -> None:
    commands = fill("allow-hybrid-app-ews", {"oauth.dedicated_app_id": "x$(Remove-Item C:\\ -Recurse)"})
    assignment = next(line for line in commands if line.startswith("Set-Variable"))
    assert assignment == "Set-Variable -Name appId -Value 'x$(Remove-Item C:\\ -Recurse)'"


def test_the_linked_account_is_built_from_the_root_domain() -> None:
    commands = fill(
        "set-partner-application-linked-account",
        {"ad.root_domain": "corp.contoso.com", "servers.all": ["EX01"]},
    )
    assert (
        "Set-PartnerApplication -Identity 'Exchange Online' -LinkedAccount 'corp.contoso.com/Users/Exchange Online-ApplicationAccount'"
        in commands
    )


def test_toggling_wssecurity_names_each_servers_virtual_directories() -> None:
    commands = fill("reset-wssecurity-authentication", {"servers.all": ["EX01", "EX02"]})
    assert (
        "Set-WebServicesVirtualDirectory -Identity 'EX02\\EWS (Default Web Site)' -WSSecurityAuthentication $false"
        in commands
    )
    assert "Invoke-Command -ComputerName EX01 -ScriptBlock { iisreset /noforce }" in commands


def test_an_unfilled_parameter_is_reported_missing() -> None:
    filled = fill_remediation(
        KB.remediations["set-remote-routing-address"], {"pair.cloud_mailbox": "bob@contoso.com"}
    )
    assert filled.missing == ["RoutingAddress"]
    assert filled.commands == [
        "Set-RemoteMailbox -Identity bob@contoso.com -RemoteRoutingAddress <RoutingAddress>"
    ]


def test_every_signature_here_is_used_by_a_cause() -> None:
    used = {i.contains for cause in KB.causes.values() for i in cause.indicators if i.fact == "signatures"}
    assert sorted(set(OUR_SIGNATURES) - used) == []


# Exchange's, Entra's and the wizard's own words, one sample per signature.
SAMPLES = {
    "fedtrust-orgcert-not-found": "Error: GetOrganizationCertificates(federationTrust) returned null when called in Process()",
    "fedcert-thumbprint-not-found": "Federation certificate with the thumbprint 9D1A2B cannot be found.",
    "delegation-token-validation-failed": "Message : Failed to validate delegation token.",
    "security-tokens-processing-error": "inner exception: An error occurred when processing the security tokens in the message.",
    "verifying-security-for-message": "SoapHeaderException: An error occurred when verifying security for the message",
    "fedtrust-consumer-instance": "TokenIssuerUris : {uri:WindowsLiveID}",
    "fedtrust-outdated-application-id": "ApplicationIdentifier : 292841",
    "proxy-request-401": "Proxy web request failed. ,inner exception: The request failed with HTTP status 401: Unauthorized.",
    "no-freebusy-access": "Microsoft.Exchange.InfoWorker.Common.Availability.NoFreeBusyAccessException: The caller does not have access to free/busy data.",
    "freebusy-permission-5037": "You don't have permission to see free/busy information for this attendee. (Error code 5037)",
    "orgrel-local-domains-missing-remote": "Id : LocalFederatedDomainsAreMissingFromTheRemoteOrganizationRelationsipDomains",
    "no-specific-error": "no specific error, just hash marks",
    "crossorg-proxy-not-allowed": "Exception Type: CrossOrganizationProxyNotAllowedForExternalOrganization",
    "sharing-epr-object-moved": "System.Net.WebException: The request failed with the error message: Object moved.",
    "forest-config-not-found": "Configuration information for forest/domain contoso.ro could not be found in Active Directory.",
    "hcw-oauth-portion-failed": "HCW8064 - The HCW has completed, but was not able to perform the OAuth portion of your Hybrid configuration.",
    "oauth-missing-signing-certificate": "Microsoft.Exchange.Security.OAuth.OAuthTokenRequestFailedException: Missing signing certificate.",
    "oauth-token-invalid-signature": 'reason="The token has an invalid signature.";error_category="invalid_signature"',
    "oauth-client-key-not-found": "AADSTS50012: Client assertion contains an invalid signature. [Reason - The key was not found.",
    "oauth-linked-account-missing": "The application is missing a linked account for RBAC roles, or the linked account has no RBAC role assignments",
    "oauth-audience-hostname-invalid": "The hostname component of the audience claim value 'https://hybrid.contoso.com' is invalid",
    "oauth-config-never-loaded": "The configuration was last successfully loaded at 01-01-0001 00:00:00 UTC",
    "ews-oauth-check-forbidden": "Task        : Checking EWS API Call Under Oauth",
    "user-context-not-found": "The user specified by the user-context in the token does not exist.",
    "user-context-ambiguous": 'reason= "The user specified by the user-context in the token is ambiguous."',
    "autodiscover-invaliduser": "failed due to an error in user setting 'ExternalEwsUrl'. Error message: InvalidUser.",
    "attendee-server-not-contacted": "The attendee's server couldn't be contacted. (Error Code: 5016)",
    "delegation-passwords-mismatch": "Soap fault exception received. The entered and stored passwords do not match.",
    "federated-account-needs-provision": "Provision is needed before federated account can be logged in. ErrorWin32InteropError",
    "delegation-member-name-invalid": "<psf:text>The specified member name is either invalid or empty. </psf:text>",
    "delegation-password-expired": "The password for the account has expired",
}


def test_every_signature_here_has_a_sample() -> None:
    assert sorted(OUR_SIGNATURES) == sorted(SAMPLES)


@pytest.mark.parametrize("signature_id", sorted(SAMPLES))
def test_each_signature_matches_its_sample(signature_id: str) -> None:
    signature = next(s for s in KB.signatures if s.id == signature_id)
    assert re.search(signature.pattern, SAMPLES[signature_id], re.IGNORECASE)


def test_the_generic_401_does_not_match_the_specific_oauth_errors() -> None:
    signature = next(s for s in KB.signatures if s.id == "proxy-request-401")
    assert not re.search(signature.pattern, SAMPLES["oauth-missing-signing-certificate"], re.IGNORECASE)


LAB = DATA_DIR.parents[1] / "lab" / "scenarios"

# What the checks report in each bundled lab scenario of these categories, beside its own error text.
LAB_SCENARIOS = [
    (
        "orgrel-domain-missing",
        {
            "oauth.in_use": False,
            "ioc.enabled": False,
            "orgrel.missing_domains": ["fabrikam.com"],
            "orgrel.side": "online",
        },
    ),
    (
        "orgrel-freebusy-disabled",
        {"oauth.in_use": False, "orgrel.freebusy_enabled": False, "orgrel.freebusy_level": "None"},
    ),
    (
        "ioc-target-domain-missing",
        {"oauth.in_use": True, "ioc.enabled": True, "ioc.missing_domains": ["contoso.mail.onmicrosoft.com"]},
    ),
    (
        "oauth-auth-certificate-missing",
        {"oauth.in_use": True, "oauth.auth_cert_missing_servers": ["EX01", "EX02", "EX03", "EX04"]},
    ),
    ("dedicated-hybrid-app-not-activated", {"oauth.in_use": True, "oauth.dedicated_app_override": False}),
]


def lab_error_text(scenario: str) -> str:
    data = read_yaml(LAB / f"{scenario}.yaml")
    messages = [entry["error"]["message"] for entry in data.get("availability", [])[:1]]
    return "\n".join(messages)


@pytest.mark.parametrize(("scenario", "facts"), LAB_SCENARIOS, ids=[s for s, _ in LAB_SCENARIOS])
def test_each_lab_scenario_ranks_its_cause_first_once_the_checks_report(
    scenario: str, facts: dict[str, Any]
) -> None:
    text = lab_error_text(scenario)
    assert text, f"{scenario}: no error text in the scenario"
    assert scenario in causes(text)[:3], "its error text alone puts it in the first three"
    assert causes(text, facts)[0] == scenario

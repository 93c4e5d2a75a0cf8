"""Test-FederationTrust and Test-OAuthConnectivity, answered from the scenario's configuration.

Both run on the server the remote session landed on, as Exchange runs them. Their verdicts follow
from the configuration (certificates on that server, the Auth configuration, the setting override
for the dedicated hybrid app), never from the scenario's expected causes.
"""

from __future__ import annotations

from lab.context import LabContext
from lab.psrp.wire import PsObject, PsValue
from lab.scenario.model import Server

__all__ = ["federation_trust_results", "oauth_connectivity_results"]

_RESULT = (
    "Microsoft.Exchange.Management.SystemConfigurationTasks.TestFederationTrust+ResultEvent",
    "System.Object",
)
_OAUTH = ("Microsoft.Exchange.Security.OAuth.ValidationResultNode", "System.Object")
_DEDICATED_APP_SECTION = "exchangeonpremasthirdpartyappid"


def _step(step: str, ok: bool, message: str) -> PsObject:
    props: dict[str, PsValue] = {"Id": step, "Type": "Success" if ok else "Error", "Message": message}
    return PsObject(_RESULT, props, step)


def _holds(server: Server, thumbprint: str | None) -> bool:
    return thumbprint is not None and any(
        c.thumbprint == thumbprint and c.has_private_key for c in server.certificates
    )


def federation_trust_results(ctx: LabContext, server: Server) -> list[PsObject]:
    trust = ctx.scenario.organization.federation_trust
    if trust is None:
        return [_step("FederationTrustConfiguration", False, "No federation trust is configured.")]
    org_ok = _holds(server, trust.org_certificate)
    org_message = (
        "Valid certificate referenced by property OrgPrivCertificate in the FederationTrust object."
        if org_ok
        else f"Certificate referenced by property OrgPrivCertificate in the FederationTrust object couldn't be found "
        f"on server {server.name}: {trust.org_certificate}."
    )
    return [
        _step("FederationTrustConfiguration", True, "FederationTrust object in ActiveDirectory is valid."),
        _step(
            "FederationMetadata", True, "The federation trust contains the same data published by the STS."
        ),
        _step("StsCertificate", True, "Valid certificate referenced by property TokenIssuerCertificate."),
        _step("OrganizationCertificate", org_ok, org_message),
        _step(
            "TokenRequest",
            org_ok,
            "Request for delegation token succeeded." if org_ok else "Failed to request delegation token.",
        ),
        _step(
            "TokenValidation", org_ok, "Delegation token validated successfully." if org_ok else "Not run."
        ),
    ]


def _dedicated_app_active(ctx: LabContext) -> bool:
    for override in ctx.scenario.organization.setting_overrides:
        if override.section.lower() == _DEDICATED_APP_SECTION:
            return any(p.replace(" ", "").lower() == "enabled=true" for p in override.parameters)
    return False


def oauth_connectivity_results(
    ctx: LabContext, server: Server, service: str, target_uri: str
) -> list[PsObject]:
    """One result node, as `Test-OAuthConnectivity -Service EWS -TargetUri ... -Mailbox ...` prints it."""
    config = ctx.scenario.organization.auth_config
    thumbprint = config.current_certificate_thumbprint if config else None
    to_cloud = "office365.com" in target_uri.lower() or "outlook.com" in target_uri.lower()
    uses_dedicated_app = any(s.application_identifier for s in ctx.scenario.organization.auth_servers)
    if not _holds(server, thumbprint):
        detail = (
            "The remote server returned an error: (401) Unauthorized. "
            "Microsoft.Exchange.Security.OAuth.OAuthTokenRequestFailedException: Missing signing certificate."
        )
        result = "Error"
    elif to_cloud and uses_dedicated_app and not _dedicated_app_active(ctx):
        detail = (
            "The remote server returned an error: (403) Forbidden. "
            "The configuration was last successfully loaded at 01-01-0001 00:00:00 UTC."
        )
        result = "Error"
    else:
        detail = f"The OAuth request to {target_uri} succeeded."
        result = "Success"
    task = (
        "Checking EWS API Call Under Oauth"
        if service.lower() == "ews"
        else f"Checking {service} Call Under Oauth"
    )
    props: dict[str, PsValue] = {"Task": task, "Detail": detail, "ResultType": result, "Identity": None}
    return [PsObject(_OAUTH, props, task)]

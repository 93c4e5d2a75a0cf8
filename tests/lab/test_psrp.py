"""pypsrp against the lab's Microsoft.Exchange endpoint: objects as a check reads them, errors, faults."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
import requests
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool

from lab.auth.ntlm import md4
from lab.faults import FaultSpec
from lab.runtime import RunningLab, start_lab
from tests.lab.conftest import exchange_pool, psrp_wsman

FEDERATION = "3226500C943B6235AEB493A307F084710FD1D5D0"


def run(pool: RunspacePool, cmdlet: str, **params: Any) -> tuple[list[dict[str, Any]], PowerShell]:
    ps = PowerShell(pool)
    ps.add_cmdlet(cmdlet)
    for name, value in params.items():
        ps.add_parameter(name, value)
    return [obj.adapted_properties for obj in ps.invoke()], ps


def parse_time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)


def test_exchange_servers_carry_site_version_and_role(lab: RunningLab) -> None:
    with exchange_pool(lab) as pool:
        servers, ps = run(pool, "Get-ExchangeServer")
    assert not ps.had_errors
    by_name = {s["Name"]: s for s in servers}
    assert sorted(by_name) == ["EX01", "EX02", "EX03", "EX04"]
    assert by_name["EX03"]["Site"] == "contoso.com/Configuration/Sites/Branch"
    assert by_name["EX03"]["Fqdn"] == "ex03.contoso.com"
    assert by_name["EX01"]["AdminDisplayVersion"] == "Version 15.2 (Build 2562.17)"
    assert by_name["EX01"]["ServerRole"] == "Mailbox"
    assert by_name["EX01"]["InternetWebProxy"] == "http://proxy.contoso.com:8080/"


def test_certificate_by_server_and_thumbprint_has_typed_properties(lab: RunningLab) -> None:
    with exchange_pool(lab) as pool:
        (cert,), _ = run(pool, "Get-ExchangeCertificate", Server="EX03", Thumbprint=FEDERATION)
    assert cert["Thumbprint"] == FEDERATION
    assert cert["Services"] == ["Federation"]
    assert cert["HasPrivateKey"] is True
    assert parse_time(cert["NotAfter"]) > datetime.datetime.now(datetime.UTC)


def test_missing_federation_certificate_shows_per_server(fedcert_lab: RunningLab) -> None:
    with exchange_pool(fedcert_lab) as pool:
        rows, _ = run(pool, "Test-FederationTrustCertificate")
        found, ps = run(pool, "Get-ExchangeCertificate", Server="EX03", Thumbprint=FEDERATION)
        (trust,), _ = run(pool, "Get-FederationTrust")
    states = {row["Server"]: (row["State"], row["Site"].rsplit("/", 1)[-1]) for row in rows}
    assert states == {
        "EX01": ("Installed", "HQ"),
        "EX02": ("Installed", "HQ"),
        "EX03": ("NotInstalled", "Branch"),
        "EX04": ("NotInstalled", "Branch"),
    }
    assert {row["Thumbprint"] for row in rows} == {FEDERATION}
    assert found == []
    assert "couldn't be found" in str(ps.streams.error[0])
    assert trust["OrgPrivCertificate"] == FEDERATION
    assert trust["OrgCertificate"].adapted_properties["Thumbprint"] == FEDERATION


def test_virtual_directories_per_server_including_back_end(owa403_lab: RunningLab) -> None:
    with exchange_pool(owa403_lab) as pool:
        (owa,), _ = run(pool, "Get-OwaVirtualDirectory", Server="EX03")
        ews, _ = run(
            pool,
            "Get-WebServicesVirtualDirectory",
            Server="ex03.contoso.com",
            ShowMailboxVirtualDirectories=True,
        )
    assert owa["Name"] == "owa (Default Web Site)"
    assert owa["InternalUrl"] == "https://ex03.contoso.com/owa"
    assert owa["ExternalUrl"] is None
    assert owa["InternalAuthenticationMethods"] == ["Basic", "Fba"]
    by_site = {v["Name"]: v for v in ews}
    back_end = by_site["EWS (Exchange Back End)"]
    assert back_end["InternalNLBBypassUrl"] == "https://ex03.contoso.com:444/ews/exchange.asmx"
    assert by_site["EWS (Default Web Site)"]["InternalNLBBypassUrl"] is None
    assert back_end["OAuthAuthentication"] is True


def test_mailbox_and_calendar_permissions_keep_non_ascii_names(lab: RunningLab) -> None:
    with exchange_pool(lab) as pool:
        (box,), _ = run(pool, "Get-Mailbox", Identity="bjorn@contoso.com")
        rows, _ = run(pool, "Get-MailboxFolderPermission", Identity="bjorn@contoso.com:\\Calendar")
        (db,), _ = run(pool, "Get-MailboxDatabase", Identity=box["Database"])
    assert box["DisplayName"] == "Bjørn Ødegård"
    assert (box["Database"], box["ServerName"], db["Server"]) == ("DB03", "ex03", "EX03")
    assert {row["User"]: row["AccessRights"] for row in rows} == {
        "Default": ["AvailabilityOnly"],
        "Anonymous": ["None"],
    }


def test_organisation_configuration_cmdlets(lab: RunningLab) -> None:
    with exchange_pool(lab) as pool:
        (rel,), _ = run(pool, "Get-OrganizationRelationship")
        (ioc,), _ = run(pool, "Get-IntraOrganizationConnector")
        (config,), _ = run(pool, "Get-AuthConfig")
        servers, _ = run(pool, "Get-AuthServer")
        (override,), _ = run(pool, "Get-SettingOverride")
        (info,), _ = run(pool, "Get-FederationInformation", DomainName="contoso.mail.onmicrosoft.com")
        domains, _ = run(pool, "Get-AcceptedDomain")
    assert rel["DomainNames"] == ["contoso.mail.onmicrosoft.com"]
    assert (rel["FreeBusyAccessEnabled"], rel["FreeBusyAccessLevel"]) == (True, "LimitedDetails")
    assert rel["TargetApplicationUri"] == info["TargetApplicationUri"] == "outlook.com"
    assert ioc["TargetAddressDomains"] == ["contoso.mail.onmicrosoft.com"] and ioc["Enabled"] is True
    assert config["CurrentCertificateThumbprint"] == "CB875168889265EF7B0BD124DB43D388AB2EF6B1"
    assert {s["Type"] for s in servers} == {"MicrosoftACS", "AzureAD"}
    assert (override["SectionName"], override["Parameters"]) == (
        "ExchangeOnpremAsThirdPartyAppId",
        ["Enabled=True"],
    )
    assert {d["DomainName"] for d in domains} >= {"contoso.com", "fabrikam.com"}


def test_exchange_online_view_of_the_tenant(lab: RunningLab) -> None:
    with exchange_pool(lab, online=True) as pool:
        (config,), _ = run(pool, "Get-OrganizationConfig")
        (rel,), _ = run(pool, "Get-OrganizationRelationship")
        (box,), _ = run(pool, "Get-Mailbox", Identity="erin@contoso.com")
    assert config["EwsEnabled"] is True
    assert rel["DomainNames"] == ["contoso.com", "fabrikam.com"]
    assert box["DisplayName"] == "Erin Müller"


def test_select_object_narrows_the_properties(lab: RunningLab) -> None:
    with exchange_pool(lab) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-ExchangeServer").add_parameter("Identity", "EX02")
        ps.add_cmdlet("Select-Object").add_parameter("Property", ["Name", "Site"])
        (server,) = ps.invoke()
    assert server.adapted_properties == {"Name": "EX02", "Site": "contoso.com/Configuration/Sites/HQ"}


def test_unknown_identity_is_a_non_terminating_error(lab: RunningLab) -> None:
    with exchange_pool(lab) as pool:
        found, ps = run(pool, "Get-Mailbox", Identity="nobody@contoso.com")
    assert found == []
    (error,) = ps.streams.error
    assert "object 'nobody@contoso.com' couldn't be found" in str(error)
    assert error.category == 13  # ObjectNotFound
    assert "ManagementObjectNotFoundException" in str(error.fq_error)


def test_unknown_cmdlet_fails_the_pipeline_like_powershell(lab: RunningLab) -> None:
    with exchange_pool(lab) as pool:
        found, ps = run(pool, "Set-Mailbox", Identity="bjorn@contoso.com")
    assert found == []
    assert ps.had_errors
    (error,) = ps.streams.error
    assert str(error).startswith("The term 'Set-Mailbox' is not recognized as the name of a cmdlet")
    assert error.fq_error == "CommandNotFoundException"


def test_unknown_parameter_fails_the_pipeline(lab: RunningLab) -> None:
    with exchange_pool(lab) as pool:
        _, ps = run(pool, "Get-ExchangeServer", Frobnicate="yes")
    assert ps.had_errors
    assert "A parameter cannot be found that matches parameter name 'Frobnicate'" in str(ps.streams.error[0])


def test_wrong_password_is_rejected(lab: RunningLab) -> None:
    with pytest.raises(AuthenticationError):
        exchange_pool(lab, password="not-the-password").open()


def test_ntlm_logon_and_reuse_of_the_authenticated_connection(lab: RunningLab) -> None:
    with exchange_pool(lab, auth="ntlm") as pool:
        servers, _ = run(pool, "Get-ExchangeServer")
        sites, _ = run(pool, "Get-ADSite")
    assert len(servers) == 4 and [s["Name"] for s in sites] == ["HQ", "Branch"]


def test_ntlm_with_a_wrong_password_is_rejected(lab: RunningLab) -> None:
    with pytest.raises(AuthenticationError):
        exchange_pool(lab, auth="ntlm", password="not-the-password").open()


def test_md4_matches_the_rfc_1320_test_suite() -> None:
    assert md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
    assert md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"
    assert md4(b"1234567890" * 8).hex() == "e33b4ddc9c38f2199c3e7b164fcc0536"


def test_unknown_configuration_is_a_wsman_fault(lab: RunningLab) -> None:
    pool = RunspacePool(psrp_wsman(lab), configuration_name="Microsoft.PowerShell")
    with pytest.raises(WSManFaultError, match="session configuration"):
        pool.open()


def test_unauthorized_fault_on_one_cmdlet(lab: RunningLab) -> None:
    lab.faults.add(FaultSpec(service="psrp", operation="Get-AuthConfig", kind="unauthorized", count=1))
    with exchange_pool(lab) as pool:
        run(pool, "Get-ExchangeServer")
        with pytest.raises(AuthenticationError):
            run(pool, "Get-AuthConfig")


def test_throttle_fault_is_http_503(lab: RunningLab) -> None:
    lab.faults.add(FaultSpec(service="psrp", operation="Get-Mailbox", kind="throttle", count=1))
    with exchange_pool(lab) as pool, pytest.raises(WinRMTransportError) as raised:
        run(pool, "Get-Mailbox")
    assert raised.value.code == 503


def test_reset_fault_drops_the_connection(lab: RunningLab) -> None:
    lab.faults.add(FaultSpec(service="psrp", operation="RunspacePool", kind="reset", count=1))
    with pytest.raises(requests.exceptions.ConnectionError):
        exchange_pool(lab).open()


def test_timeout_fault_trips_the_client_read_timeout(lab: RunningLab) -> None:
    lab.faults.add(FaultSpec(service="psrp", operation="Get-ExchangeServer", kind="timeout", count=1))
    started = time.monotonic()
    with (
        exchange_pool(lab, operation_timeout=1, read_timeout=1.5) as pool,
        pytest.raises(requests.exceptions.ReadTimeout),
    ):
        run(pool, "Get-ExchangeServer")
    # The lab stalls for TIMEOUT_STALL_SECONDS (120 s): ending long before that is the client's own timeout.
    assert time.monotonic() - started < 60


def test_latency_beyond_operation_timeout_is_long_polled(lab: RunningLab) -> None:
    lab.faults.add(FaultSpec(service="psrp", operation="Get-AcceptedDomain", kind="latency", latency_ms=1200))
    started = time.monotonic()
    with exchange_pool(lab, operation_timeout=1, read_timeout=5) as pool:
        domains, _ = run(pool, "Get-AcceptedDomain")
    assert len(domains) == 3
    assert time.monotonic() - started >= 1.2


def test_test_cmdlets_follow_the_configuration(lab: RunningLab, fedcert_lab: RunningLab) -> None:
    with exchange_pool(lab) as pool:
        steps, _ = run(pool, "Test-FederationTrust")
        (oauth,), _ = run(
            pool, "Test-OAuthConnectivity", Service="EWS", TargetUri="https://outlook.office365.com/ews/exchange.asmx",
            Mailbox="carol@contoso.com",
        )  # fmt: skip
    assert {s["Id"]: s["Type"] for s in steps}["OrganizationCertificate"] == "Success"
    assert (oauth["Task"], oauth["ResultType"]) == ("Checking EWS API Call Under Oauth", "Success")
    with exchange_pool(
        fedcert_lab
    ) as pool:  # the seed's HQ servers keep the certificate: the test passes there
        steps, _ = run(pool, "Test-FederationTrust")
    assert {s["Type"] for s in steps} == {"Success"}


@pytest.mark.parametrize(
    ("scenario", "detail"),
    [
        ("oauth-auth-certificate-missing", "Missing signing certificate"),
        ("dedicated-hybrid-app-not-activated", "last successfully loaded at 01-01-0001"),
    ],
)
def test_oauth_connectivity_fails_where_the_configuration_is_broken(scenario: str, detail: str) -> None:
    with start_lab(scenario) as broken, exchange_pool(broken) as pool:
        (oauth,), _ = run(
            pool, "Test-OAuthConnectivity", Service="EWS", TargetUri="https://outlook.office365.com/ews/exchange.asmx",
            Mailbox="carol@contoso.com",
        )  # fmt: skip
    assert oauth["ResultType"] == "Error" and detail in oauth["Detail"]


def test_exchange_online_accepted_domains_include_the_tenant(lab: RunningLab) -> None:
    with exchange_pool(lab, online=True) as pool:
        domains, _ = run(pool, "Get-AcceptedDomain")
    assert {d["DomainName"] for d in domains} == {
        "contoso.com", "fabrikam.com", "contoso.mail.onmicrosoft.com", "contoso.onmicrosoft.com",
    }  # fmt: skip
    assert [d["DomainName"] for d in domains if d["Default"]] == ["contoso.com"]

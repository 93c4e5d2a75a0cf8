"""Redaction: each kind of secret is replaced, the name around it kept, and ordinary text left alone."""

from __future__ import annotations

import json

import pytest

from dialogs.redact import redact, redact_all, redact_output
from tests.dialogs.harness import Chat
from tests.dialogs.test_validation import _at
from tests.world import SEED_000, scenario_runner

JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpM"


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("Authorization: Bearer " + JWT, JWT, "Authorization: [redacted]"),
        (
            "authorization: Negotiate TlRMTVNTUAADAAAAGAAYAEgAAAA=",
            "TlRMTVNTUAAD",
            "authorization: [redacted]",
        ),
        (
            '{"Authorization": "Basic YWxpY2U6aHVudGVyMg=="}',
            "YWxpY2U6aHVudGVyMg",
            '"Authorization": "[redacted]"',
        ),
        (
            "curl -H 'Authorization: Basic YWxpY2U6aHVudGVyMg=='",
            "YWxpY2U6aHVudGVyMg",
            "Authorization: [redacted]",
        ),
        ("the token " + JWT + " expired", JWT, "the token [redacted] expired"),
        ("got Bearer abcdefghijklmnop123 back", "abcdefghijklmnop123", "Bearer [redacted]"),
        (
            "Export-ExchangeCertificate -Password 'Hunter2!' -BinaryEncoded",
            "Hunter2",
            "-Password [redacted] -BinaryEncoded",
        ),
        ("New-X -Password:hunter2", "hunter2", "-Password:[redacted]"),
        (
            "$p = ConvertTo-SecureString 'P@ssw0rd' -AsPlainText -Force",
            "P@ssw0rd",
            "ConvertTo-SecureString [redacted]",
        ),
        (
            "Server=sql01;User Id=sa;Password=S3cret!;Encrypt=True",
            "S3cret",
            "Password=[redacted];Encrypt=True",
        ),
        ("user=alice&password=hunter2&x=1", "hunter2", "password=[redacted]&x=1"),
        ('{"password": "hunter2", "user": "alice"}', "hunter2", '"password": "[redacted]", "user": "alice"'),
        (
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
            "Eby8vdM02x",
            "AccountKey=[redacted];EndpointSuffix",
        ),
        (
            "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=abc123=",
            "abc123",
            "SharedAccessKey=[redacted]",
        ),
        (
            "client_secret=abc~def.ghi&grant_type=client_credentials",
            "abc~def.ghi",
            "client_secret=[redacted]&grant_type",
        ),
        ("the app secret is Xyz8Q~abcdefghijklmnopqrstuvwxyz0123456 now", "Xyz8Q~abc", "is [redacted] now"),
        (
            "https://acct.blob.core.windows.net/c/b?sv=2021-08-06&sp=r&sig=AbC%2Fdef%3D",
            "AbC%2Fdef",
            "&sp=r&sig=[redacted]",
        ),
        (
            "proxy http://alice:hunter2@proxy.contoso.com:8080/",
            "hunter2",
            "http://alice:[redacted]@proxy.contoso.com",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----",
            "MIIEvQIBADAN",
            "BEGIN PRIVATE KEY",
        ),
        ("api_key: 0123456789abcdef", "0123456789abcdef", "api_key: [redacted]"),
    ],
)
def test_each_kind_of_secret_is_redacted(text: str, secret: str, kept: str) -> None:
    redacted = redact(text)
    assert secret not in redacted
    assert kept in redacted


@pytest.mark.parametrize(
    "text",
    [
        "An existing connection was forcibly closed by the remote host",
        "Caller SIDs: WSSecurity. ProxyWebRequest CrossSite from UserA@contoso.mail.onmicrosoft.com",
        "Import-ExchangeCertificate -Server EX02 -FileData $export.FileData -Password $password",
        "$password = Read-Host -AsSecureString -Prompt 'Password for the exported certificate'",
        "Set-OwaVirtualDirectory -Identity 'EX02\\owa (Default Web Site)' -InternalUrl https://ex02.contoso.com/owa",
        "Thumbprint 3226500C943B6235AEB493A307F084710FD1D5D0 on https://mail.contoso.com/ews/exchange.asmx",
        "The token issuer is stale; the bypass works.",
    ],
)
def test_ordinary_text_and_variables_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_redact_all_walks_a_card() -> None:
    card = {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "password=hunter2"}], "n": 3}
    assert redact_all(card) == {
        "type": "AdaptiveCard",
        "body": [{"type": "TextBlock", "text": "password=[redacted]"}],
        "n": 3,
    }


def test_url_credentials_are_redacted_up_to_the_last_at_sign() -> None:
    # An unencoded @ in the password left everything after it showing.
    assert (
        redact("https://svc:p@ss@w0rd@mail.contoso.com/ews") == "https://svc:[redacted]@mail.contoso.com/ews"
    )
    assert redact("see https://u:pw@host/a@b.html") == "see https://u:[redacted]@host/a@b.html"


def test_pasted_command_output_is_redacted_by_property_name_and_content() -> None:
    sections = [
        {
            "command": "Get-Thing",
            "rows": [
                {"Name": "EX01", "Password": "hunter2", "ClientSecret": "abc", "Token": ""},
                {"Name": "EX02", "Notes": "connect with Password=swordfish;User=x"},
            ],
        }
    ]
    kept = redact_output(sections)
    assert kept[0]["rows"][0] == {
        "Name": "EX01",
        "Password": "[redacted]",
        "ClientSecret": "[redacted]",
        "Token": "",
    }
    assert "swordfish" not in str(kept) and "EX02" in str(kept)


async def test_pasted_command_output_is_stored_without_its_secrets() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _at(chat, "error-text")
    await chat.say(
        "## exchange-triage: Get-FederationTrust\n"
        "Name              : Microsoft Federation Gateway\n"
        "Password          : hunter2-not-to-be-kept\n"
        "OrgCertificate    : https://svc:p@ss@w0rd@sts.contoso.com/\n"
    )
    stored = json.dumps(chat.state)
    assert chat.state["command_output"], "the output was read and kept"
    assert "hunter2" not in stored and "ss@w0rd" not in stored

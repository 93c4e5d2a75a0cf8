"""Filling remediations: typed values, safe PowerShell quoting, placeholders for what is unknown."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from knowledge.loader import load_knowledge
from knowledge.remediation import fill_remediation, powershell_literal

KB = load_knowledge()


def test_list_parameter_repeats_the_command_once_per_value() -> None:
    facts: dict[str, Any] = {
        "fedcert.source_server": "EX01",
        "fedcert.thumbprint": "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
        "fedcert.missing_servers": ["EX03", "EX04"],
    }
    filled = fill_remediation(KB.remediations["copy-federation-certificate"], facts)
    assert filled.parameters["Thumbprint"] == ["0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"]
    assert [c for c in filled.commands if c.startswith("Import-")] == [
        "Import-ExchangeCertificate -Server EX03 -FileData $export.FileData -Password $password",
        "Import-ExchangeCertificate -Server EX04 -FileData $export.FileData -Password $password",
    ]


def test_unknown_values_stay_as_named_placeholders() -> None:
    filled = fill_remediation(KB.remediations["copy-federation-certificate"], {})
    assert (
        "Import-ExchangeCertificate -Server <TargetServer> -FileData $export.FileData -Password $password"
        in filled.commands
    )
    assert filled.missing == ["SourceServer", "Thumbprint", "TargetServer"]


def test_a_value_that_fails_its_type_is_not_used() -> None:
    facts: dict[str, Any] = {
        "fedcert.source_server": "EX01; Remove-Mailbox -Identity *",
        "fedcert.thumbprint": "not-a-thumbprint",
    }
    filled = fill_remediation(KB.remediations["copy-federation-certificate"], facts)
    assert all("Remove-Mailbox" not in c for c in filled.commands)
    assert "SourceServer" in filled.missing and "Thumbprint" in filled.missing


def test_formatted_identity_is_quoted_when_it_needs_to_be() -> None:
    facts: dict[str, Any] = {
        "owa.site.http_internal_urls": [{"server": "EX02", "internal_url": "http://ex02/owa"}]
    }
    filled = fill_remediation(KB.remediations["set-owa-internalurl-https"], facts)
    assert filled.commands == [
        "Set-OwaVirtualDirectory -Identity 'EX02\\owa (Default Web Site)' -InternalUrl <InternalUrl>"
    ]
    assert filled.missing == ["InternalUrl"]


def test_parameters_of_one_records_fact_go_together_once_per_record() -> None:
    """Two servers of one site, each with its own URL: one command per server with that server's values,
    never EX03's vdir with EX04's URL."""
    facts: dict[str, Any] = {
        "owa.site.http_internal_urls": [
            {
                "server": "EX03",
                "internal_url": "http://ex03.contoso.com/owa",
                "suggested_internal_url": "https://ex03.contoso.com/owa",
            },
            {"server": "EX04", "internal_url": "", "suggested_internal_url": "https://ex04.contoso.com/owa"},
        ]
    }
    filled = fill_remediation(KB.remediations["set-owa-internalurl-https"], facts)
    assert filled.commands == [
        "Set-OwaVirtualDirectory -Identity 'EX03\\owa (Default Web Site)' -InternalUrl https://ex03.contoso.com/owa",
        "Set-OwaVirtualDirectory -Identity 'EX04\\owa (Default Web Site)' -InternalUrl https://ex04.contoso.com/owa",
    ]
    assert len(filled.verify) == 2 and filled.missing == []
    forbidden: dict[str, Any] = {
        "owa.site.https_403": [{"server": "EX04", "url": "https://ex04.contoso.com/owa"}]
    }
    ssl = fill_remediation(KB.remediations["require-ssl-on-owa-vdir"], forbidden)
    assert all("EX04" in c for c in ssl.commands) and not any("EX03" in c for c in ssl.commands)
    assert (
        "Invoke-WebRequest -Uri https://ex04.contoso.com/owa -UseBasicParsing -MaximumRedirection 0 | Select-Object StatusCode"
        in ssl.verify
    )


def test_a_hostile_record_value_is_left_out_as_a_placeholder() -> None:
    facts: dict[str, Any] = {
        "owa.site.https_403": [{"server": "EX04; Stop-Computer", "url": "https://ex04.contoso.com/owa"}]
    }
    filled = fill_remediation(KB.remediations["require-ssl-on-owa-vdir"], facts)
    assert all("Stop-Computer" not in c for c in [*filled.commands, *filled.verify])
    assert "TargetServer" in filled.missing


def test_literal_quoting() -> None:
    assert powershell_literal("EX01.contoso.com") == "EX01.contoso.com"
    assert powershell_literal("bob@contoso.com:\\Calendar") == "bob@contoso.com:\\Calendar"
    assert powershell_literal("O'Brien") == "'O''Brien'"
    assert powershell_literal("a\u2019b") == "'a\u2019\u2019b'"
    assert powershell_literal("$(Stop-Computer)") == "'$(Stop-Computer)'"
    assert powershell_literal("-Confirm") == "'-Confirm'"


@given(st.text(max_size=200))
def test_a_quoted_literal_never_ends_its_string_early(value: str) -> None:
    literal = powershell_literal(value)
    if literal.startswith("'"):
        inner = literal[1:-1]
        # Every quote character inside is doubled, so PowerShell reads the whole thing as one string.
        stripped = inner
        for quote in "'\u2018\u2019\u201a\u201b":
            stripped = stripped.replace(quote * 2, "")
        assert not any(q in stripped for q in "'\u2018\u2019\u201a\u201b")
    else:
        assert literal == value and value[:1].isalnum() and value.isascii()

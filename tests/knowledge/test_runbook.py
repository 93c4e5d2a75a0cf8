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
    filled = fill_remediation(KB.remediations["set-owa-internalurl-https"], {"owa.target.server": "EX02"})
    assert filled.commands[0].startswith(
        "Set-OwaVirtualDirectory -Identity 'EX02\\owa (Default Web Site)' -InternalUrl"
    )


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

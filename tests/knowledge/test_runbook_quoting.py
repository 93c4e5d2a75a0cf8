"""Remediation commands stay the template's commands whatever the values: one pass, one literal per value.

A property over every remediation in the knowledge base: for arbitrary values, each filled line tokenises (a
small PowerShell tokenizer, `tests.knowledge.powershell_tokens`) into the template's tokens, each placeholder
being exactly one literal that holds the checked value (or the `<Name>` placeholder when the value was refused).
"""

from __future__ import annotations

import contextlib
import re
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.loader import load_knowledge
from knowledge.model import Remediation
from knowledge.remediation import fill_remediation, formatted_param_value, powershell_literal
from knowledge.validators import ValueProblem, check_smtp, check_url
from tests.knowledge.powershell_tokens import Token, tokenize

KB = load_knowledge()
REMEDIATIONS = sorted(KB.remediations.values(), key=lambda r: r.id)
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9]+)\}")

TRICKY = [
    "x'|Remove-Mailbox|'@contoso.com",
    "{Requester}@contoso.com",
    "{Requester}",
    "{TargetCalendar}",
    "EX01; Stop-Computer",
    "$(Stop-Computer)",
    "a\u2019b@contoso.com",
    "o'brien@contoso.com",
    "https://mail.contoso.com/owa#'|calc|'",
    "https://mail.contoso.com/{Server}",
    "EX01\u2019 | Remove-Item -Recurse C:\\ #",
    "line\nbreak",
    "-Confirm:$false",
    "ex01.contoso.com",
    "EX01",
    "alice@contoso.com",
    "contoso.com",
    "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567",
    "https://mail.contoso.com/EWS/Exchange.asmx",
]
SPECIALS = "'\"`$;{}|#<>&@()[],\u2018\u2019\u201c\u201d "
values = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=40),
    st.text(alphabet=string.ascii_letters + SPECIALS, max_size=20).map(lambda s: f"{s}@contoso.com"),
    st.text(alphabet=string.ascii_letters + SPECIALS, max_size=20).map(
        lambda s: f"https://mail.contoso.com/{s}"
    ),
    st.text(alphabet=string.ascii_letters + string.digits + SPECIALS, min_size=1, max_size=20),
)


def template_tokens(line: str) -> list[Token]:
    return tokenize(_PLACEHOLDER.sub(lambda m: f"<{m.group(1)}>", line))


def expected(remediation: Remediation, facts: dict[str, Any]) -> dict[str, list[str]]:
    """Each parameter's checked values, in order (a list parameter repeats its line once per value)."""
    allowed: dict[str, list[str]] = {}
    for param in remediation.params:
        raw = facts.get(param.fact)
        items = raw if isinstance(raw, list) else [raw]
        allowed[param.name] = []
        for item in items:
            with contextlib.suppress(ValueProblem):
                allowed[param.name].append(formatted_param_value(param, str(item)))
    return allowed


def same_command(template: str, filled: str, allowed: dict[str, list[str]]) -> bool:
    """Whether `filled` is `template` with each placeholder one literal of an allowed value (or left as is)."""
    if "\n" in filled or "\r" in filled:
        return False
    want, got = template_tokens(template), tokenize(filled)
    if len(got) != len(want):
        return False
    for expected_token, token in zip(want, got, strict=True):
        if expected_token.kind == "placeholder":
            name = expected_token.value[1:-1]
            if token != expected_token and not (token.is_literal and token.value in allowed[name]):
                return False
        elif expected_token.kind == "comment":
            if token.kind != "comment":
                return False
        elif token != expected_token:
            return False
    return True


@pytest.mark.parametrize("remediation", [r for r in REMEDIATIONS if r.params], ids=lambda r: r.id)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_filled_command_tokenises_into_the_templates_tokens(
    remediation: Remediation, data: st.DataObject
) -> None:
    # Besides arbitrary text, values that name this remediation's own placeholders, alone or with quotes.
    own = st.sampled_from([f"{{{p.name}}}" for p in remediation.params]).flatmap(
        lambda name: st.sampled_from([name, f"{name} x", f"'{name}'", f"{name}@contoso.com"])
    )
    value = st.one_of(own, values)
    facts: dict[str, Any] = {}
    for param in remediation.params:
        if param.type in ("servers", "domains"):
            facts[param.fact] = data.draw(st.lists(value, max_size=3))
        else:
            facts[param.fact] = data.draw(value)
    filled = fill_remediation(remediation, facts)
    allowed = expected(remediation, facts)
    for templates, lines in ((remediation.commands, filled.commands), (remediation.verify, filled.verify)):
        assert len(lines) == sum(_expansions(t, remediation, allowed) for t in templates)
        for line in lines:
            assert any(same_command(t, line, allowed) for t in templates), line


def _expansions(template: str, remediation: Remediation, allowed: dict[str, list[str]]) -> int:
    count = 1
    for name in dict.fromkeys(_PLACEHOLDER.findall(template)):
        param = next(p for p in remediation.params if p.name == name)
        kept = len(allowed[name]) if param.type in ("servers", "domains") else min(1, len(allowed[name]))
        count *= max(1, kept)
    return count


@pytest.mark.parametrize("remediation", REMEDIATIONS, ids=lambda r: r.id)
def test_no_template_puts_a_placeholder_inside_a_string(remediation: Remediation) -> None:
    for line in [*remediation.commands, *remediation.verify]:
        for token in template_tokens(line):
            if token.kind in ("single", "double"):
                assert not re.search(r"<[A-Za-z0-9]+>", token.value), (remediation.id, line)


def test_a_value_that_reads_like_another_placeholder_is_never_filled_again() -> None:
    # Substituted one after another, "{Requester}" in the first value got the requester put inside its quotes.
    remediation = KB.remediations[_with_params("TargetCalendar", "Requester")]
    facts = {"target": "{Requester} x", "requester": "alice@contoso.com"}
    filled = fill_remediation(remediation, facts)
    [command] = [c for c in filled.commands if "-AccessRights" in c]
    assert command == (
        "Add-MailboxFolderPermission -Identity '{Requester} x:\\Calendar' -User alice@contoso.com "
        "-AccessRights AvailabilityOnly"
    )
    assert tokenize(command)[2] == Token("single", "{Requester} x:\\Calendar")


def test_the_reported_injection_is_refused_at_the_address_check() -> None:
    for address in ("x'|Remove-Mailbox|'@contoso.com", "{Requester}@contoso.com"):
        with pytest.raises(ValueProblem):
            check_smtp(address)
    facts = {"target": "{Requester}@contoso.com", "requester": "x'|Remove-Mailbox|'@contoso.com"}
    remediation = KB.remediations[_with_params("TargetCalendar", "Requester")]
    filled = fill_remediation(remediation, facts)
    assert all("Remove-Mailbox" not in c and "|" not in c for c in filled.commands)
    assert "Requester" in filled.missing


@pytest.mark.parametrize("character", list("{}|$#;'\"`"))
def test_addresses_and_urls_refuse_the_characters_powershell_reads(character: str) -> None:
    with pytest.raises(ValueProblem):
        check_smtp(f"al{character}ice@contoso.com")
    with pytest.raises(ValueProblem):
        check_url(f"https://mail.contoso.com/o{character}wa")


def test_in_an_expression_a_value_is_always_a_quoted_string() -> None:
    assert powershell_literal("contoso.com", argument=False) == "'contoso.com'"
    remediation = next(r for r in REMEDIATIONS if any("@{Add={Domain}}" in c for c in r.commands))
    param = next(p for p in remediation.params if p.name == "Domain")
    filled = fill_remediation(remediation, {param.fact: "contoso.com"})
    assert any("@{Add='contoso.com'}" in c for c in filled.commands)


def _with_params(*names: str) -> str:
    return next(r.id for r in REMEDIATIONS if {p.name for p in r.params} >= set(names))

"""directory-names on the lab over PSRP: names, aliases, partial and mistyped addresses → mailboxes."""

from __future__ import annotations

from typing import Any

import pytest

from checks.errors import Refused
from checks.safety import guard_cmdlet
from knowledge.loader import KnowledgeBase
from lab.runtime import RunningLab
from tests.checks.conftest import run_on_lab


async def test_names_aliases_and_addresses_are_found_with_where_they_live(
    lab: RunningLab, kb: KnowledgeBase
) -> None:
    queries = ["Alice", "bjorn", "carol@contso.com", "erin@contoso.com"]
    result = (await run_on_lab(lab, kb, {"people.query": queries}, "directory-names"))["directory-names"]
    assert result.status == "ok", result.summary
    records = result.facts["people.found"]
    assert isinstance(records, list)
    found: dict[str, Any] = {str(r["query"]): r for r in records if isinstance(r, dict)}
    assert found["Alice"]["how"] == "name"
    assert found["Alice"]["candidates"] == [
        {"address": "alice@contoso.com", "name": "Alice Martin", "location": "online"}
    ]
    assert [c["address"] for c in found["bjorn"]["candidates"]] == ["bjorn@contoso.com"]
    assert found["bjorn"]["candidates"][0]["location"] == "onprem"
    # The mistyped domain: the local part finds who was meant, for the conversation to ask about.
    assert found["carol@contso.com"]["how"] == "close"
    assert [c["address"] for c in found["carol@contso.com"]["candidates"]] == ["carol@contoso.com"]
    assert found["erin@contoso.com"] == {
        "query": "erin@contoso.com",
        "how": "identity",
        "candidates": [{"address": "erin@contoso.com", "name": "Erin Müller", "location": "online"}],
    }


async def test_a_name_nobody_has_is_reported_not_dropped(lab: RunningLab, kb: KnowledgeBase) -> None:
    result = (await run_on_lab(lab, kb, {"people.query": ["Zed"]}, "directory-names"))["directory-names"]
    assert result.facts["people.found"] == [{"query": "Zed", "how": "name", "candidates": []}]
    assert "Zed: 0 matches" in result.summary


@pytest.mark.parametrize("text", ["*", "a'; Remove-Mailbox x", "$(whoami)", "a" * 65, " "])
def test_anr_text_that_could_be_script_or_a_wildcard_is_refused(text: str) -> None:
    with pytest.raises(Refused):
        guard_cmdlet("Get-Recipient", {"Anr": text})


def test_anr_takes_names_of_any_script() -> None:
    assert guard_cmdlet("Get-Recipient", {"Anr": "Bjørn Ødegård"}) == {"Anr": "Bjørn Ødegård"}

"""Cards: the schema check itself catches broken cards; cards the transcripts do not reach are valid too."""

from __future__ import annotations

from typing import Any

from checks.api import CheckResult, Evidence
from dialogs.cards import card, question_card, sites_confirm_card, submit, text
from dialogs.escalation import tried_prompt_card
from dialogs.findings import Findings
from dialogs.result_card import progress_card, result_card
from knowledge.assessment import assess
from knowledge.loader import load_knowledge
from tests.dialogs.harness import card_problems, card_text

KB = load_knowledge()


def test_the_schema_check_catches_broken_cards() -> None:
    good = card([text("hello")], [submit("Go", "answer")])
    assert card_problems(good) == []
    assert card_problems({**good, "body": [{"type": "TextBlok", "text": "typo"}]})
    assert card_problems({**good, "body": [{"type": "TextBlock", "text": "x", "size": "Huge"}]})
    assert card_problems({**good, "actions": [{"type": "Action.OpenUrl", "title": "no url"}]})
    assert card_problems({**good, "msteams": {"width": "Full"}}), "1.5 has no msteams property"
    assert card_problems({**good, "body": [{"type": "FactSet", "facts": [{"title": "n", "value": 3}]}]})


def test_every_question_card_and_the_fixed_cards_are_valid() -> None:
    cards = [question_card(KB, node, note="a reason") for node in KB.tree.nodes if node.kind != "conclusion"]
    cards += [
        sites_confirm_card(KB.node("sites"), [("Target bob@contoso.com", "site Branch, server EX03")]),
        tried_prompt_card(),
        progress_card(
            [("pending", "Federation trust", ""), ("running", "Event logs", ""), ("fail", "X", "y")],
            finished=False,
        ),
        progress_card([], finished=True),
    ]
    for built in cards:
        assert card_problems(built) == [], built


def test_a_result_with_every_section_is_valid() -> None:
    results = [
        CheckResult(
            "virtual-directories",
            "fail",
            "http",
            (Evidence("InternalUrl", "http://ex03/owa", "EX03"),),
            {
                "owa.target.internal_url_scheme": "http",
                "owa.target.server": "EX03",
                "owa.site.http_internal_url_servers": ["EX03"],
                "owa.site.http_internal_urls": [{"server": "EX03", "internal_url": "http://ex03/owa"}],
            },
        ),
        CheckResult(
            "event-logs", "error", "Could not read the logs.", remedy="Run Get-WinEvent on EX01 and paste it."
        ),
        CheckResult("https-probe", "skipped", "Needs target."),
    ]
    facts: dict[str, Any] = {
        "symptom": "owa-ecp-cross-site-proxy",
        "event.id": 42,
        "owa.target.internal_url_scheme": "http",
        "owa.target.server": "EX03",
        "owa.site.http_internal_url_servers": ["EX03"],
        # No suggested URL: its placeholder stays, named.
        "owa.site.http_internal_urls": [{"server": "EX03", "internal_url": "http://ex03/owa"}],
    }
    findings = Findings(assess(KB, said=facts), results)
    built = result_card(
        KB,
        findings,
        heading_text="Here is what I found.",
        runbook_url="https://x.example/r/1",
        escalated_to="Exchange › Escalations",
    )
    assert card_problems(built) == []
    shown = card_text(built)
    # A placeholder the facts could not fill is called out, not silently left in the command.
    assert "I could not fill <InternalUrl>" in shown
    assert "Run Get-WinEvent on EX01 and paste it." in shown
    # The check list is on the progress card, not repeated here.
    assert "Live HTTPS probe of the target" not in shown or "could not look" in shown

"""seed-001-sharing-subscription in the Playground: the pair in the first message, then the Fiddler paste,
to the result card in at most two questions (the lookup answers the direction, the symptom and the sites)."""

from __future__ import annotations

import pytest

from tests.e2e.playground_ui import PlaygroundPage
from tests.texts import text_path

pytestmark = pytest.mark.e2e

SCENARIO = "seed-001-sharing-subscription"
FIDDLER = text_path("seed-001-fiddler.json")
FIRST = "carol@contoso.com can't see erin@contoso.com, only her"
CHECKS_TIMEOUT_MS = 60_000


def test_the_pair_and_the_fiddler_paste_reach_the_result_in_two_questions(ui: PlaygroundPage) -> None:
    ui.open_personal_chat()
    ui.say(FIRST)
    ui.wait_for_text("I looked them up:", timeout=CHECKS_TIMEOUT_MS)
    ui.wait_for_text("Paste the error you see")
    ui.screenshot("11-seed-001-looked-up")
    ui.fill("Error text", FIDDLER.read_text(encoding="utf-8"))
    ui.press("Read it")
    card = ui.card_with("Likely cause:")
    card.wait_for(timeout=CHECKS_TIMEOUT_MS)
    ui.screenshot("12-seed-001-result")
    ui.screenshot("12-seed-001-result-card", of=card)
    ui.press("Evidence, commands and other causes")
    ui.wait_for_text("Evidence")
    ui.screenshot("13-seed-001-result-details", of=card)
    asked = ui.questions_asked()
    assert asked <= 2, f"{asked} questions before the result"
    shown = card.inner_text()
    assert "sharing" in shown.lower()
    assert "erin@contoso.com" in shown
    # What a helpdesk agent does now, on top, with the people named as the directory names them.
    assert "What to do now" in shown
    assert "Ask Erin Müller to share their calendar with Carol Díaz again" in shown
    assert "MAPIBlockOutlook" not in shown

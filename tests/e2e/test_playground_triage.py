"""A whole triage in a Teams-like client: the Agents Playground in Chromium against `triage serve` on the lab
scenario seed-000-federation-cert (Branch servers lack the federation certificate).

The conversation is driven as a person would: typing in the chat, pressing card buttons, filling card inputs,
following the remediation link and escalating to the team's General channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from lab.scenario.load import load_scenario
from tests.e2e.conftest import SCENARIO, Stack
from tests.e2e.playground_ui import PlaygroundPage

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "triage" / "examples" / "seed-000-event-4002.txt"
CAUSE = "The federation certificate is missing on the servers of a site"
USER = "Alex Wilber"  # the Playground's signed-in user
CHECKS_TIMEOUT_MS = 60_000
TRIED = "Restarted IIS on the Branch servers"
PLAIN = "Alice in Exchange Online can't see Bjorn's free/busy, Bjorn is in the Branch office"
DETAILS = "Evidence, commands and other causes"


@dataclass(frozen=True)
class Broken:
    """What the scenario breaks, read from the scenario file rather than restated here."""

    requester: str
    target: str
    servers_lacking_certificate: list[str]


@pytest.fixture(scope="module")
def broken() -> Broken:
    scenario = load_scenario(SCENARIO)
    assert scenario.failing_pair is not None
    organization = scenario.organization
    assert organization.federation_trust is not None
    thumbprint = organization.federation_trust.org_certificate
    lacking = [
        server.name
        for server in organization.servers
        if thumbprint not in {certificate.thumbprint for certificate in server.certificates}
    ]
    assert lacking, "the scenario should leave some servers without the federation certificate"
    return Broken(scenario.failing_pair.requester, scenario.failing_pair.target, lacking)


@pytest.fixture(scope="module")
def escalation_channel(ui: PlaygroundPage) -> str:
    """General set as the escalation channel by @mentioning the bot there; yields the bot's confirmation."""
    ui.open_channel("General")
    ui.post_mentioning_bot("set escalation channel")
    confirmation = ui.wait_for_text("Done: I will post escalations in")
    ui.screenshot("01-escalation-channel-set")
    return confirmation.inner_text()


@pytest.fixture(scope="module")
def result_card(ui: PlaygroundPage, broken: Broken) -> str:
    """A seed-000 triage in the personal chat, to its result; returns the result card's text."""
    ui.open_personal_chat()
    # Opening the chat installs the app there: the welcome card says what to type first.
    welcome = ui.card_with("To start, type for example:")
    welcome.wait_for()
    assert PLAIN in welcome.inner_text()
    ui.screenshot("02-welcome", of=welcome)
    # The first message as a helpdesk agent types it: names, not addresses; no symptom picked.
    ui.say(PLAIN)
    ui.wait_for_text("I looked them up:", timeout=CHECKS_TIMEOUT_MS)
    ui.wait_for_button("Everyone in that direction")
    ui.screenshot("02-plain-words-looked-up")
    ui.press("Everyone in that direction")
    # The answered card is updated in place: the answer, and no buttons left to press.
    answered = ui.card_with("You chose: Everyone in that direction")
    answered.wait_for()
    assert answered.get_by_role("button").count() == 0
    ui.screenshot("03-answered-question", of=answered)
    ui.fill("Error text", EXAMPLE.read_text(encoding="utf-8"))
    ui.press("Read it")
    card = ui.card_with("Likely cause:")
    card.wait_for(timeout=CHECKS_TIMEOUT_MS)
    ui.screenshot("04-result")
    ui.screenshot("04-result-card", of=card)
    # The evidence, the filled commands and the other causes are one press away.
    ui.press(DETAILS)
    ui.wait_for_text("Evidence")
    ui.screenshot("04-result-card-details", of=card)
    asked = ui.questions_asked()
    assert asked <= 3, f"{asked} questions before the result"
    return card.inner_text()


def test_mentioning_the_bot_in_general_sets_the_escalation_channel(escalation_channel: str) -> None:
    assert "General" in escalation_channel
    assert "each as a new thread" in escalation_channel


def test_seed_000_result_names_the_cause_and_the_servers_without_the_certificate(
    result_card: str, broken: Broken
) -> None:
    assert f"Likely cause: {CAUSE}" in result_card
    servers = ", ".join(broken.servers_lacking_certificate)
    assert f"The federation certificate (or its private key) is missing on {servers}." in result_card
    for server in broken.servers_lacking_certificate:
        assert f"Import-ExchangeCertificate -Server {server}" in result_card


def test_the_remediation_link_opens_its_runbook(
    ui: PlaygroundPage, stack: Stack, result_card: str, broken: Broken
) -> None:
    ui.open_personal_chat()
    link = ui.link("Open runbook")
    with ui.page.context.expect_page() as opened:
        link.click()
    runbook = opened.value
    try:
        runbook.wait_for_load_state()
        assert runbook.url.startswith(f"{stack.bot_url}/remediation/")
        expect(runbook.locator("h1")).to_contain_text(f"Remediation: {CAUSE}")
        expect(runbook.get_by_text(f"Prepared for {USER}")).to_be_visible()
        parameters = runbook.locator("table").first
        expect(parameters).to_contain_text(", ".join(broken.servers_lacking_certificate))
        runbook.screenshot(path=ui.artifacts / "05-runbook.png", full_page=True)
    finally:
        runbook.close()


def test_an_escalation_lands_in_general_as_a_new_thread(
    ui: PlaygroundPage, escalation_channel: str, result_card: str, broken: Broken
) -> None:
    ui.open_personal_chat()
    ui.press("Escalate")
    ui.fill("Already tried", TRIED)
    ui.press("Escalate now")
    ui.wait_for_text("I posted this triage to")
    ui.screenshot("06-escalated-from-personal-chat")

    ui.open_channel("General")
    thread = ui.card_with("Escalated triage:")
    thread.wait_for()
    ui.screenshot("07-escalation-in-general")
    ui.screenshot("07-escalation-card", of=thread)
    shown = thread.inner_text()
    assert USER in shown
    assert broken.target in shown
    assert CAUSE in shown
    assert TRIED in shown
    # Someone in the channel takes it: the card says so for everyone, in place.
    thread.get_by_role("button", name="I'll take it").click()
    taken = ui.card_with(f"Taken by {USER} at")
    taken.wait_for()
    assert ui.page.locator(".ac-adaptiveCard", has_text="Escalated triage:").count() == 1
    ui.screenshot("08-escalation-taken", of=taken)

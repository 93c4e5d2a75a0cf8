"""The cards as Teams receives them: a whole triage through the real host and the real conversation, and
every Adaptive Card attachment the bot sends (new messages, in-place updates, the escalation thread) checked
against the official 1.5 schema after the SDK has serialised it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.settings import Settings
from bot.testing import LoopbackConnector, TeamsActivities, running_bot
from dialogs.engine import TriageConversation
from knowledge.loader import load_knowledge
from knowledge.reader.error_text import read_error_text
from tests.dialogs.harness import card_problems, card_text
from tests.texts import pasted_text
from tests.world import SEED_000, scenario_runner

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def attachments(connector: LoopbackConnector) -> list[tuple[str, dict[str, Any]]]:
    """(operation, attachment) for every attachment of every message, update and new thread."""
    found = []
    for call in connector.calls:
        activity = (
            call.body.get("activity", call.body) if call.operation == "create_conversation" else call.body
        )
        found += [(call.operation, a) for a in activity.get("attachments") or []]
    return found


async def test_every_card_of_a_whole_triage_is_valid_on_the_wire(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async def publish(runbook: dict[str, Any]) -> str:
        return "https://triage.example/remediation/tok"

    conversation = TriageConversation(load_knowledge(), scenario_runner(SEED_000), publish, read_error_text)
    async with running_bot(make_settings(), conversation) as bot:
        await bot.post(activities.channel_message("set escalation channel", channel_name="Escalations"))
        for activity in (
            activities.message("hi"),
            activities.message("status"),
            activities.submit({"action": "answer", "node": "symptom", "value": "freebusy-cloud-to-onprem"}),
            activities.message("everyone"),
            activities.message("usera@contoso.mail.onmicrosoft.com can't see bjorn@contoso.com"),
            activities.message("yes"),
            activities.message(pasted_text("seed-000-event-4002.txt")),
            activities.message("escalate"),
            activities.message("Restarted IIS on EX02"),
        ):
            response = await bot.post(activity)
            assert response.status < 300, response.body

    sent = attachments(connector)
    assert {a["contentType"] for _, a in sent} == {ADAPTIVE_CARD}
    for operation, attachment in sent:
        assert card_problems(attachment["content"]) == [], (operation, attachment["content"])
    shown = [card_text(a["content"]) for _, a in sent]
    # The run reached every kind of card the conversation sends on a good day.
    for marker in (
        "What is going wrong?",  # a question
        "Status",  # the status card
        "Paste the error you see",  # a question with an input (the sites are looked up, not asked)
        "Checks finished.",  # the progress card, updated in place
        "Likely cause:",  # the result
        "Before I escalate",  # the escalation prompt
        "Escalated triage:",  # the escalation thread
    ):
        assert any(marker in text for text in shown), marker
    assert {operation for operation, _ in sent} >= {"reply", "update", "create_conversation"}

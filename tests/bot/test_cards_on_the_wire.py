"""The cards as Teams receives them: a whole triage through the real host and the real conversation, and
every Adaptive Card attachment the bot sends (new messages, in-place updates, the escalation thread) checked
against the official 1.5 schema after the SDK has serialised it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.settings import Settings
from bot.testing import LoopbackConnector, TeamsActivities, running_bot
from dialogs.engine import TriageConversation
from dialogs.welcome import FIRST_MESSAGE, GROUP_WELCOME
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


def _triage() -> TriageConversation:
    async def publish(runbook: dict[str, Any]) -> str:
        return "https://triage.example/remediation/tok"

    return TriageConversation(load_knowledge(), scenario_runner(SEED_000), publish, read_error_text)


def _actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(card.get("actions", []))
    for element in card.get("body", []):
        found += element.get("actions", []) if element.get("type") == "ActionSet" else []
    return found


async def test_an_answered_question_card_is_updated_in_place_with_the_answer_and_no_buttons(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), _triage()) as bot:
        await bot.post(activities.message("hi"))
        await bot.idle()
        [symptom] = [m for m in connector.messages("a:personal-1") if m.cards]
        await bot.post(
            activities.submit({"action": "answer", "node": "symptom", "value": "freebusy-cloud-to-onprem"})
        )
        await bot.idle()
        [scope] = [m for m in connector.messages("a:personal-1") if m.cards][1:]
        assert "Who is affected?" in card_text(scope.cards[0])
        await bot.post(activities.message("only this pair"))  # typed, not pressed
    updates = {u.activity_id: u.cards[0] for u in connector.of("update")}
    pressed, typed = updates[symptom.returned_id], updates[scope.returned_id]
    assert "You chose: Cloud users cannot see on-premises free/busy" in card_text(pressed)
    assert "You chose: Only one pair of users" in card_text(typed)
    assert _actions(pressed) == [] and _actions(typed) == []
    assert card_problems(pressed) == [] and card_problems(typed) == []


async def test_installing_the_app_in_a_personal_chat_sends_the_welcome_card(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), _triage()) as bot:
        await bot.post(activities.bot_installed())
        await bot.post(activities.bot_added_to_team())
        await bot.post(activities.bot_added_to_group_chat())
    [welcome] = connector.messages("a:personal-1")
    shown = card_text(welcome.cards[0])
    assert "I triage Exchange free/busy and cross-site proxy problems." in shown
    assert FIRST_MESSAGE in shown and "Say help for what I understand" in shown
    # It does not promise that nothing ever changes: a Fix it, once approved, does change Exchange.
    assert "nothing is changed in Exchange unless an approver approves a Fix it" in shown
    assert [a["title"] for a in _actions(welcome.cards[0])] == ["Help"]
    assert card_problems(welcome.cards[0]) == []
    # A team and a group chat get their own words, no welcome card; the group chat's say to @mention the bot.
    [team] = connector.messages("19:team@thread.tacv2")
    assert not team.cards and "set escalation channel" in team.text
    [group] = connector.messages("19:group-1@thread.v2")
    assert not group.cards and group.text == GROUP_WELCOME and "@mention me" in group.text


async def test_a_turn_that_looks_up_or_runs_checks_sends_typing_before_the_work(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    async with running_bot(make_settings(), _triage()) as bot:
        await bot.post(activities.message("usera@contoso.mail.onmicrosoft.com can't see bjorn@contoso.com"))
        await bot.idle()
        lookup = connector.in_conversation("a:personal-1")
        connector.clear()
        await bot.post(activities.message("everyone"))
        await bot.idle()
        await bot.post(activities.message("skip"))  # the error text: skipped, so the checks run
    checks = connector.in_conversation("a:personal-1")
    kinds = [c.type for c in lookup]
    looked_up = next(i for i, c in enumerate(lookup) if c.text.startswith("I looked them up"))
    assert "typing" in kinds[:looked_up], kinds  # before the lookup's answer...
    assert kinds[looked_up - 1] == "typing"  # ...right before the work, after anything said first
    progress = next(i for i, c in enumerate(checks) if "Running the checks" in str(c.cards))
    assert checks[progress - 1].type == "typing", [c.type for c in checks]
    # A turn that does no work (an answer that only moves to the next question) sends no typing.
    answered = [c for c in checks[:progress] if c.type == "typing"]
    assert len(answered) == 1

"""Escalation: the summary card's content, where it went, and no secret in it."""

from __future__ import annotations

import re
from typing import Any

from dialogs.api import Outbound
from dialogs.escalation import OWNER_ID, TAKE, Owner, owned
from tests.dialogs.harness import PUBLISHED_URL, Chat, actions_of, card_problems, card_text
from tests.texts import pasted_text
from tests.world import FED, HEALTHY, SEED_000, scenario_runner

JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlLmNvbSJ9.c2lnbmF0dXJlLWJ5dGVz"


async def _done(chat: Chat, error_text: str = "") -> None:
    await chat.say("hi")
    await chat.press("Cloud users cannot see on-premises free/busy")
    await chat.press("Everyone in that direction")
    await chat.say("alice@contoso.com can't see bjorn@contoso.com")
    await chat.say("yes")
    await chat.say(error_text or "skip")
    assert chat.state["phase"] == "done"


def _escalation(chat: Chat) -> Outbound:
    posted = [o for o in chat.recorder.sent if o.kind == "escalation"]
    assert len(posted) == 1
    return posted[0]


async def test_the_summary_holds_everything_the_exchange_team_needs() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _done(chat, pasted_text("seed-000-event-4002.txt"))
    await chat.press("Escalate")
    assert "what has already been tried?" in card_text(chat.last_card())
    await chat.say("Restarted IIS on EX02 and re-ran the Hybrid Configuration wizard.")

    summary = card_text(_escalation(chat).card or {})
    for expected in (
        "Ada Lovelace",
        chat.state["id"],
        "Cloud users cannot see on-premises free/busy",
        "Scope\nall",
        "alice@contoso.com",
        "bjorn@contoso.com",
        "target: Branch",
        "event.id\n4002",
        "proxy.type\nCrossSite",
        "A proxied availability request failed",
        "Process 6424: ProxyWebRequest CrossSite",
        "✅ ok: Mailbox locations and AD sites",
        "❌ fail · Federation certificate on every server\nThe federation certificate "
        f"{FED} (with its private key) is missing on EX03, EX04 in site Branch.",
        "Restarted IIS on EX02 and re-ran the Hybrid Configuration wizard.",
    ):
        assert expected in summary, expected
    cause = (
        r"The federation certificate is missing on the servers of a site \(9\d% confidence\)\.\n"
        r"(.*\n)*• The federation certificate \(or its private key\) is missing on EX03, EX04\."
    )
    assert re.search(cause, summary)
    assert "I posted this triage to Exchange › Escalations" in chat.texts()
    # The result card is updated in place to say where it went.
    result = [o for o in chat.recorder.sent if o.card_key.startswith("result-")]
    assert result and "Escalated to Exchange › Escalations." in card_text(result[-1].card or {})
    assert chat.state["escalation"]["where"] == "Exchange › Escalations"
    assert chat.state["said"]["tried"] == [
        "Restarted IIS on EX02 and re-ran the Hybrid Configuration wizard."
    ]


async def test_secrets_in_the_paste_and_in_what_was_tried_are_redacted() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    secret_paste = (
        "POST /EWS/Exchange.asmx HTTP/1.1\nAuthorization: Bearer "
        + JWT
        + "\n\n"
        + pasted_text("seed-000-event-4002.txt")
    )
    await _done(chat, secret_paste)
    assert JWT not in chat.state["paste_excerpt"] and "[redacted]" in chat.state["paste_excerpt"]
    await chat.press("Escalate")
    await chat.press(
        "Escalate now",
        tried="Ran Export-ExchangeCertificate -Password 'Hunter2!' and curl with access_token=abc123def456",
    )
    summary = card_text(_escalation(chat).card or {})
    assert "Hunter2" not in summary and "abc123def456" not in summary and JWT not in summary
    assert "-Password [redacted]" in summary and "access_token=[redacted]" in summary
    assert "Hunter2" not in str(chat.state)


async def test_skipping_what_was_tried_says_nothing_was_reported() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _done(chat)
    await chat.press("Escalate")
    await chat.press("Skip")
    assert "Nothing reported." in card_text(_escalation(chat).card or {})


async def test_without_an_escalation_channel_the_user_is_told_before_anything_is_asked() -> None:
    chat = Chat(runner=scenario_runner(SEED_000), escalate_to=None)
    await _done(chat)
    sent = await chat.say("escalate")
    kinds = [o.kind for o in sent]
    # Where it would go is asked of the host first, then said, then what was tried is asked.
    assert kinds == ["escalation_target", "text", "card"], kinds
    assert "No escalation channel is set yet" in sent[1].text
    assert "mentioning me in the channel with: set escalation channel" in sent[1].text
    prompt = sent[2].card or {}
    assert "what has already been tried?" in card_text(prompt)
    assert [a["title"] for a in actions_of(prompt)] == ["Keep it for the escalation", "Skip"]
    await chat.say("nothing")
    assert "No escalation channel is set" in chat.texts()
    assert chat.state["escalation"] == {"where": None, "tried": ""}


async def test_what_was_typed_without_a_channel_is_kept_and_posted_once_one_is_set() -> None:
    chat = Chat(runner=scenario_runner(SEED_000), escalate_to=None)
    await _done(chat)
    await chat.say("escalate")
    await chat.press("Keep it for the escalation", tried="Restarted IIS on EX03")
    assert "Kept." in chat.texts() and "without asking again" in chat.texts()
    assert chat.state["escalation"] == {"where": None, "tried": "Restarted IIS on EX03"}
    await chat.say("escalate")  # still no channel: said again, nothing asked, nothing lost
    assert "still no escalation channel" in chat.texts()
    assert "Before I escalate" not in chat.shown()
    assert chat.state["escalation"]["tried"] == "Restarted IIS on EX03"
    chat.recorder.escalate_to = "Exchange › Escalations"  # an admin set the channel meanwhile
    await chat.say("escalate")
    assert "Before I escalate" not in chat.shown()
    assert "I posted this triage to Exchange › Escalations" in chat.texts()
    assert "Restarted IIS on EX03" in card_text(_escalation(chat).card or {})


async def test_escalating_again_updates_the_one_post_without_asking_again() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _done(chat, pasted_text("seed-000-event-4002.txt"))
    await chat.press("Escalate")
    await chat.say("Restarted IIS on EX02")
    first = _escalation(chat)
    await chat.press("Escalate")
    again = _escalation(chat)
    assert "Before I escalate" not in chat.shown()  # nothing asked the second time
    assert again.card_key == first.card_key == f"escalation-{chat.state['id']}"
    assert "I updated this triage's post in Exchange › Escalations" in chat.texts()
    assert "Restarted IIS on EX02" in card_text(again.card or {})
    # A check re-run later (command output pasted) keeps the escalation: the same post again.
    assert chat.state["escalation"]["where"] == "Exchange › Escalations"


async def test_the_channel_card_has_what_the_exchange_team_acts_on() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _done(chat, pasted_text("seed-000-event-4002.txt"))
    await chat.press("Escalate")
    await chat.press("Skip")
    posted = _escalation(chat).card or {}
    shown = card_text(posted)
    for expected in (
        "Nobody has taken this yet",
        "Asked by\nAda Lovelace",
        "Evidence",
        f"Federation certificate on every server · EX03: Certificate {FED} = missing",
        "Commands",
        "Nothing reported.",
    ):
        assert expected in shown, expected
    assert "Export-ExchangeCertificate" in shown or "Import-ExchangeCertificate" in shown
    buttons = {a["title"]: a for a in actions_of(posted)}
    assert buttons["Open runbook"]["url"] == PUBLISHED_URL
    assert buttons["I'll take it"]["data"] == {"action": TAKE, "post": f"escalation-{chat.state['id']}"}


def test_the_card_says_who_took_it_and_offers_to_take_it_over() -> None:
    base: dict[str, Any] = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "TextBlock", "id": OWNER_ID, "text": "Nobody has taken this yet."}],
        "actions": [
            {
                "type": "Action.Submit",
                "title": "I'll take it",
                "data": {"action": TAKE, "post": "escalation-1"},
            }
        ],
    }
    at = 1795255320.0  # 2026-11-21 10:02 UTC
    taken: dict[str, Any] = owned(base, Owner("Grace Hopper", at))
    assert taken["body"][0]["text"] == "Taken by Grace Hopper at 10:02 UTC on 21 Nov 2026."
    assert [a["title"] for a in actions_of(taken)] == ["Take over"]
    assert actions_of(taken)[0]["data"] == {"action": TAKE, "post": "escalation-1", "over": True}
    over = owned(base, Owner("Alan Turing", at + 180, previous="Grace Hopper"))
    assert "Taken by Alan Turing at 10:05 UTC on 21 Nov 2026 (taken over from Grace Hopper)." in card_text(
        over
    )
    assert card_problems(taken) == [] and card_problems(over) == []
    untaken: dict[str, Any] = owned(taken, None)
    assert untaken["body"][0]["text"].startswith("Nobody has taken this yet")
    assert actions_of(untaken) == base["actions"]


async def test_no_confident_cause_is_said_honestly_and_escalation_is_offered() -> None:
    chat = Chat(runner=scenario_runner(HEALTHY))
    await chat.say("hi")
    await chat.press("Cloud users cannot see on-premises free/busy")
    await chat.press("Only one pair of users")
    await chat.say("alice@contoso.com can't see bjorn@contoso.com")
    await chat.say("yes")
    await chat.say("skip")
    result = chat.last_card()
    shown = card_text(result)
    assert "I could not find a cause I am confident about." in shown
    assert "Likely cause" not in shown
    assert "Remediation" not in shown and chat.published == []
    titles = [a["title"] for a in actions_of(result)]
    assert "Escalate" in titles and "Start over" in titles
    await chat.say("status")
    assert "No confident cause; best lead:" in card_text(chat.last_card())
    await chat.press("Escalate")
    await chat.press("Skip")
    assert "No confident cause" in card_text(_escalation(chat).card or {})

"""Escalation: the summary card's content, where it went, and no secret in it."""

from __future__ import annotations

import re

from dialogs.api import Outbound
from tests.dialogs.harness import Chat, actions_of, card_text
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
        "✅ ok · Mailbox locations and AD sites",
        "❌ fail · Federation certificate on every server\nThe federation certificate "
        f"{FED} (with its private key) is missing on EX03, EX04 in site Branch.",
        "Restarted IIS on EX02 and re-ran the Hybrid Configuration wizard.",
    ):
        assert expected in summary, expected
    cause = r"The federation certificate is missing on the servers of a site \(9\d%\)\. The federation certificate \(or its private key\) is missing on EX03, EX04\."
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


async def test_without_an_escalation_channel_the_user_is_told_how_to_set_one() -> None:
    chat = Chat(runner=scenario_runner(SEED_000), escalate_to=None)
    await _done(chat)
    await chat.say("escalate")
    await chat.say("nothing")
    assert "No escalation channel is set" in chat.texts()
    assert "mentioning me in the channel with: set escalation channel" in chat.texts()
    assert chat.state["escalation"] == {"where": None, "tried": ""}


async def test_what_was_typed_without_a_channel_is_kept_and_posted_once_one_is_set() -> None:
    chat = Chat(runner=scenario_runner(SEED_000), escalate_to=None)
    await _done(chat)
    await chat.say("escalate")
    await chat.say("Restarted IIS on EX03")
    assert "What you told me was tried is kept" in chat.texts()
    chat.recorder.escalate_to = "Exchange › Escalations"  # an admin set the channel meanwhile
    await chat.say("escalate")
    assert "Before I escalate" not in chat.shown()
    assert "I posted this triage to Exchange › Escalations" in chat.texts()
    assert "Restarted IIS on EX03" in card_text(_escalation(chat).card or {})


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

"""Whole triages through the conversation, as the host drives them: buttons, typed answers, pastes."""

from __future__ import annotations

from tests.dialogs.harness import PUBLISHED_URL, Chat, actions_of, card_text
from tests.texts import pasted_text
from tests.world import FED, SEED_000, SEED_001, SEED_002, scenario_runner


async def test_seed_000_by_buttons_names_the_missing_certificate_and_the_server() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("hi")
    assert "Hi Ada!" in chat.texts()
    assert chat.awaiting() == "symptom"
    assert len(actions_of(chat.last_card())) == 6

    await chat.press("Cloud users cannot see on-premises free/busy")
    assert chat.awaiting() == "scope"
    await chat.press("Everyone in that direction")
    assert chat.awaiting() == "pair"
    sent = await chat.press("Next", requester="alice@contoso.com", target="bjorn@contoso.com")

    # The pair's card is closed with the answer; the pair is looked up at once by the topology check (the read
    # of the pair's mailboxes recorded first): the sites are said, not asked.
    assert [o.kind for o in sent] == ["card", "typing", "audit", "text", "card"]
    assert "Your answer: alice@contoso.com can't see bjorn@contoso.com" in card_text(sent[0].card or {})
    assert sent[2].audit == {
        "kind": "mailbox-read",
        "mailboxes": ["alice@contoso.com", "bjorn@contoso.com"],
        "checks": ["topology"],
    }
    assert chat.runner.requests[0].check_ids == ("topology",)
    assert "bjorn@contoso.com is on-premises, on EX03 in site Branch" in chat.texts()
    assert chat.state["said"]["target.site"] == "Branch"
    assert chat.awaiting() == "error-text"

    sent = await chat.say(pasted_text("seed-000-event-4002.txt"))
    assert "event 4002 from MSExchange Availability" in chat.texts()
    kinds = [o.kind for o in sent]
    assert kinds[:4] == ["text", "card", "checkpoint", "typing"]  # the paste read, its question closed
    progress = [o for o in sent if o.card_key.startswith("progress-")]
    ran = chat.runner.requests[-1].check_ids
    assert "topology" not in ran, "the sites lookup is not run twice"
    assert len({o.card_key for o in progress}) == 1
    assert len(progress) == len(ran) + 2  # the first card, one update per finished check, the final one
    assert "Checks finished." in card_text(progress[-1].card or {})

    result = card_text(chat.last_card())
    assert "Likely cause: The federation certificate is missing on the servers of a site" in result
    assert "Confidence: 9" in result
    assert f"Federation certificate on every server · EX03: Certificate {FED} = missing" in result
    assert f"Federation certificate on every server · EX04: Certificate {FED} = missing" in result
    assert "Import-ExchangeCertificate -Server EX03" in result
    assert "Import-ExchangeCertificate -Server EX04" in result
    assert f"-Thumbprint {FED}" in result
    assert "https://learn.microsoft.com/" in result
    open_url = [a for a in actions_of(chat.last_card()) if a["type"] == "Action.OpenUrl"]
    assert open_url == [{"type": "Action.OpenUrl", "title": "Open runbook", "url": PUBLISHED_URL}]
    assert {a["title"] for a in actions_of(chat.last_card())} >= {"Escalate", "Start over"}

    runbook = chat.published[-1]
    assert runbook["cause_id"] == "federation-cert-missing-on-site"
    assert runbook["parameters"] == {"SourceServer": "EX01", "Thumbprint": FED, "TargetServer": "EX03, EX04"}
    assert runbook["created_for"] == "Ada Lovelace"
    assert runbook["steps"][0]["changes"] is True
    assert chat.state["phase"] == "done"
    assert chat.state["conclusion"]["cause"] == "federation-cert-missing-on-site"


async def test_seed_001_typed_names_the_stale_sharing_subscription() -> None:
    chat = Chat(runner=scenario_runner(SEED_001))
    await chat.say("carol@contoso.com can't see erin@contoso.com's free/busy")
    assert chat.state["said"]["requester"] == "carol@contoso.com"
    # The lookup places both: the direction gives the symptom, and the sites are said, not asked.
    assert chat.state["said"]["symptom"] == "freebusy-onprem-to-cloud"
    assert "carol@contoso.com is on-premises, on EX01 in site HQ" in chat.texts()
    assert chat.awaiting() == "scope"

    await chat.say("just these two users")
    assert chat.state["said"]["scope"] == "pair"
    assert chat.awaiting() == "error-text"

    await chat.say(pasted_text("seed-001-fiddler.json"))
    result = card_text(chat.last_card())
    assert "Likely cause: A stale sharing subscription without its calendar permission" in result
    assert (
        "Hidden sharing subscriptions · carol@contoso.com: Sharing subscription = erin@contoso.com" in result
    )
    assert (
        "no explicit permission for the requester" in result
        and "(check: Target calendar permissions)" in result
    )
    assert "Ask Erin Müller to share their calendar with Carol Díaz again" in result
    assert (
        "Add-MailboxFolderPermission -Identity erin@contoso.com:\\Calendar -User carol@contoso.com -AccessRights AvailabilityOnly"
        in result
    )
    assert chat.published[-1]["cause_id"] == "sharing-subscription-without-permission"


async def test_a_target_in_another_forest_is_not_placed_so_the_sites_are_asked() -> None:
    chat = Chat(runner=scenario_runner(SEED_001, "carol@contoso.com", "y1@fabrikam.net"))
    await chat.say("free/busy fails between two forests: carol@contoso.com can't see y1@fabrikam.net")
    assert chat.state["said"]["symptom"] == "freebusy-cross-forest"
    assert chat.state["said"]["requester"] == "carol@contoso.com"
    assert chat.awaiting() == "scope"

    await chat.say("just these two users")
    assert chat.state["said"]["scope"] == "pair"
    # The target is in the other forest: the lookup cannot place it, so the site is asked (and skipped).
    assert "I could not look the AD sites up" in card_text(chat.last_card())
    assert chat.awaiting() == "sites"
    await chat.say("skip")
    assert chat.awaiting() == "error-text"


async def test_seed_002_owa_names_the_http_internal_url_with_the_fix() -> None:
    chat = Chat(runner=scenario_runner(SEED_002))
    await chat.say("OWA error for users in the other site")
    assert chat.state["said"]["symptom"] == "owa-ecp-cross-site-proxy"
    await chat.say("users of the branch site")
    assert chat.state["said"]["scope"] == "site"
    # For a proxy symptom the tree asks for one affected user, not a pair.
    assert chat.awaiting() == "affected-user"
    await chat.say("bjorn@contoso.com")
    assert "site Branch, server EX03" in card_text(chat.last_card())
    await chat.say("yes")
    await chat.say(pasted_text("seed-002-event-42.txt"))

    result = card_text(chat.last_card())
    assert "Likely cause: The target's OWA InternalUrl is not https" in result
    assert "Virtual directory URLs · EX03" in result
    assert "Virtual directory URLs · EX03: owa InternalUrl = http://ex03.contoso.com/owa" in result
    assert (
        "Set-OwaVirtualDirectory -Identity 'EX03\\owa (Default Web Site)' -InternalUrl https://ex03.contoso.com/owa"
        in result
    )
    # The 403 cause was looked at and ruled out by the probe.
    assert "The target's OWA virtual directory does not accept SSL" in result
    checks_asked = chat.runner.requests[-1].check_ids
    assert "sharing-subscriptions" not in checks_asked, "a check needing the requester is not run without one"
    # The one check skipped says why: an OWA proxy problem is not a cross-premises free/busy pair.
    skipped = {r["id"]: r["summary"] for r in chat.state["results"] if r["status"] == "skipped"}
    assert skipped == {
        "organization-relationships": "No cross-premises pair: organisation relationships do not serve it."
    }


async def test_a_pasted_first_message_skips_the_questions_it_answers() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say(pasted_text("seed-000-event-4002.txt"))
    assert "From the error I read: event 4002" in chat.texts()
    # A cloud requester in an Availability event implies the symptom: the first question is the scope.
    assert chat.state["said"]["symptom"] == "freebusy-cloud-to-onprem"
    assert chat.awaiting() == "scope"
    await chat.press("Everyone in that direction")
    # The pair came from the paste (request.requester / request.target): straight to the sites.
    assert chat.awaiting() == "sites"
    assert chat.runner.requests[0].facts["target"] == "UserB@contoso.com"
    await chat.press("Yes, that's right")
    # The error text was already given: the checks run at once.
    assert chat.state["phase"] == "done"
    assert "Likely cause: The federation certificate is missing" in card_text(chat.last_card())
    shown = chat.everything_shown()
    assert "Paste the error you see" not in shown
    assert "Who cannot see whose free/busy?" not in shown
    assert "What is going wrong?" not in shown


async def test_an_owa_event_pasted_first_implies_the_owa_symptom() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say(pasted_text("seed-002-event-42.txt"))
    assert chat.state["said"]["symptom"] == "owa-ecp-cross-site-proxy"
    assert chat.awaiting() == "scope"


async def test_start_is_a_command_at_any_step() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say(pasted_text("seed-000-event-4002.txt"))
    assert chat.awaiting() == "scope"
    await chat.say("start")
    assert chat.awaiting() == "symptom"
    assert "symptom" not in chat.state["said"]


async def test_a_sentence_with_the_pair_and_the_symptom_skips_both_questions() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say(
        "usera@contoso.mail.onmicrosoft.com (Exchange Online) can't see on-prem bjorn@contoso.com's free/busy"
    )
    said = chat.state["said"]
    assert said["symptom"] == "freebusy-cloud-to-onprem"
    assert (said["requester"], said["target"]) == ("usera@contoso.mail.onmicrosoft.com", "bjorn@contoso.com")
    assert chat.awaiting() == "scope"
    await chat.press("Only one pair of users")
    assert chat.awaiting() == "error-text"  # the sites were looked up with the pair


async def test_a_first_message_naming_the_scope_skips_the_scope_question() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say("cloud users can't see on-prem calendars, only me and bob")
    assert chat.state["said"] == {"symptom": "freebusy-cloud-to-onprem", "scope": "pair"}
    assert chat.awaiting() == "pair"


async def test_start_over_from_the_result_begins_a_new_triage() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say(pasted_text("seed-000-event-4002.txt"))
    await chat.press("Everyone in that direction")
    await chat.press("Yes, that's right")
    first_id = chat.state["id"]
    await chat.press("Start over")
    assert chat.state["id"] != first_id
    assert chat.state["said"] == {}
    assert chat.awaiting() == "symptom"


async def test_a_new_problem_after_the_result_starts_a_new_triage_with_it() -> None:
    chat = Chat(runner=scenario_runner(SEED_002))
    await chat.say(pasted_text("seed-000-event-4002.txt"))
    await chat.press("Everyone in that direction")
    await chat.press("Yes, that's right")
    await chat.say("OWA error for users in the other site")
    assert "Starting a new triage." in chat.texts()
    assert chat.state["said"] == {"symptom": "owa-ecp-cross-site-proxy"}
    assert chat.state["pasted"] == {}


async def test_a_thank_you_after_the_result_keeps_the_triage() -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await chat.say(pasted_text("seed-000-event-4002.txt"))
    await chat.press("Everyone in that direction")
    await chat.press("Yes, that's right")
    triage = chat.state["id"]
    await chat.say("thanks, that's great!")
    assert "This triage is finished" in chat.texts()
    assert chat.state["id"] == triage and chat.state["phase"] == "done"

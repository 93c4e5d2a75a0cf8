"""Free-text understanding: symptoms from their examples and paraphrases, scope phrases, address pairs."""

from __future__ import annotations

import pytest

from dialogs.understand import command_of, match_scope, match_symptom, read_pair, read_site
from knowledge.loader import load_knowledge
from knowledge.validators import ValueProblem

KB = load_knowledge()
EXAMPLES = [(s.id, phrase) for s in KB.symptoms.values() for phrase in [s.title, *s.examples]]


@pytest.mark.parametrize(("symptom", "phrase"), EXAMPLES)
def test_every_symptom_title_and_example_is_recognised(symptom: str, phrase: str) -> None:
    assert match_symptom(KB, phrase) == symptom


@pytest.mark.parametrize(
    ("phrase", "symptom"),
    [
        ("exchange online users see hatched lines for on-premises mailboxes", "freebusy-cloud-to-onprem"),
        ("our O365 people can't see the calendars of people still on prem", "freebusy-cloud-to-onprem"),
        ("on-prem users can't see cloud users' free/busy", "freebusy-onprem-to-cloud"),
        ("we can't see free/busy of our partner organisation", "freebusy-cross-forest"),
        ("users in the branch site can't see HQ calendars", "freebusy-cross-site"),
        ("OWA fails for branch users", "owa-ecp-cross-site-proxy"),
        ("ECP gives an error for mailboxes in the other datacenter", "owa-ecp-cross-site-proxy"),
        ("Outlook for Mac fails for users in the other site", "ews-cross-site-proxy"),
    ],
)
def test_paraphrases_are_recognised(phrase: str, symptom: str) -> None:
    assert match_symptom(KB, phrase) == symptom


@pytest.mark.parametrize(
    "phrase", ["hello", "free/busy is broken", "help me please", "the printer is jammed"]
)
def test_vague_or_unrelated_text_names_no_symptom(phrase: str) -> None:
    assert match_symptom(KB, phrase) is None


@pytest.mark.parametrize(
    ("phrase", "scope"),
    [
        ("only me and bob", "pair"),
        ("it's just alice and bob", "pair"),
        ("just one pair", "pair"),
        ("one user", "pair"),
        ("everyone", "all"),
        ("all users", "all"),
        ("Everybody in the company", "all"),
        ("users of one AD site", "site"),
        ("only the branch office", "site"),
        ("only one site", "site"),
    ],
)
def test_scope_phrases(phrase: str, scope: str) -> None:
    assert match_scope(phrase) == scope


@pytest.mark.parametrize(
    "phrase",
    [
        "alice@contoso.com can't see bob@contoso.com's free/busy",
        "alice@contoso.com cannot view the calendar of bob@contoso.com",
        "bob@contoso.com's free/busy isn't visible to alice@contoso.com",
        "bob@contoso.com’s calendar is hidden from alice@contoso.com",
        "the calendar of bob@contoso.com is not shown to alice@contoso.com",
        "requester: alice@contoso.com target: bob@contoso.com",
        "target bob@contoso.com, requester alice@contoso.com",
        "from alice@contoso.com to bob@contoso.com",
        "<alice@contoso.com> -> <bob@contoso.com>.",
        "alice@contoso.com and bob@contoso.com",
        "SMTP:alice@contoso.com can't see SMTP:bob@contoso.com",
    ],
)
def test_pairs_in_many_phrasings(phrase: str) -> None:
    reading = read_pair(phrase)
    assert (reading.requester, reading.target, reading.problem) == (
        "alice@contoso.com",
        "bob@contoso.com",
        None,
    )


def test_one_address_is_a_target_when_one_is_wanted() -> None:
    assert read_pair("it's carol@contoso.com", wanted=1).target == "carol@contoso.com"


@pytest.mark.parametrize(
    ("typed", "site"), [("Branch", "Branch"), ("it's in the HQ-2 site", "HQ-2"), ("site Main_DC", "Main_DC")]
)
def test_site_names(typed: str, site: str) -> None:
    assert read_site(typed) == site


@pytest.mark.parametrize("typed", ["Branch; rm -rf /", "x" * 80, "$(Get-Site)"])
def test_bad_site_names(typed: str) -> None:
    with pytest.raises(ValueProblem):
        read_site(typed)


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("help", "help"),
        ("?", "help"),
        ("Back", "back"),
        ("undo", "back"),
        ("start over", "restart"),
        ("/restart", "restart"),
        ("cancel.", "cancel"),
        ("status?", "status"),
        ("escalate", "escalate"),
        ("help me with free/busy", None),
        ("back office users", None),
    ],
)
def test_commands_are_whole_messages(typed: str, command: str | None) -> None:
    assert command_of(typed) == command

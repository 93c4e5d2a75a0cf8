"""Every card the conversation can send, in each of its shapes, is a valid Adaptive Card 1.5.

The transcripts validate the cards they happen to reach; this catalogue reaches the rest on purpose (a result
with no cause, a status before anything is known, an escalation with nothing found...). A new card builder
in `dialogs` fails `test_the_catalogue_names_every_card_builder` until its shapes are added here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import dialogs
from checks.api import CheckResult, Evidence
from dialogs.api import Card, Inbound, Outbound
from dialogs.cards import STATUS_ICONS, question_card, sites_confirm_card, text
from dialogs.escalation import Owner, escalation_card, owned, tried_prompt_card
from dialogs.findings import Findings
from dialogs.fix_card import approval_card
from dialogs.manners import for_conversation
from dialogs.paste_back import output_prompt_card
from dialogs.people import pick_card
from dialogs.questions import answered_card
from dialogs.result_card import progress_card, result_card
from dialogs.result_layout import layered
from dialogs.state import dump, load, new_state
from dialogs.status import status_card
from dialogs.testing import FakeCheckRunner
from dialogs.turn import Services, Turn
from dialogs.welcome import welcome_card
from knowledge.assessment import assess
from knowledge.loader import load_knowledge
from knowledge.reader.error_text import read_error_text
from tests.dialogs.harness import card_problems, card_text
from tests.dialogs.test_fix_card import RECORD as FIX_RECORD
from tests.dialogs.test_fix_card import STATES as FIX_STATES
from tests.world import FED

KB = load_knowledge()
FEDCERT_FACTS: dict[str, Any] = {
    "symptom": "freebusy-cloud-to-onprem",
    "event.id": 4002,
    "proxy.type": "CrossSite",
    "fedcert.thumbprint": FED,
    "fedcert.missing_servers": ["EX03"],
    "fedcert.missing_sites": ["Branch"],
    "fedcert.source_server": "EX01",
    "target.site": "Branch",
    "target.server": "EX03",
}
RESULTS = [
    CheckResult(
        "federation-certificates",
        "fail",
        "EX03 lacks the federation certificate.",
        (Evidence("Federation certificate", "missing", "EX03"),),
        {"fedcert.missing_servers": ["EX03"]},
    ),
    CheckResult("event-logs", "error", "Could not read the logs.", remedy="Paste the event from EX01."),
    CheckResult("https-probe", "skipped", "Needs a target."),
]


def findings(facts: dict[str, Any], results: list[CheckResult] | None = None) -> Findings:
    return Findings(assess(KB, said=facts), results or [])


def weak_lead() -> Findings:
    """Facts that point at a cause, but not confidently."""
    for facts in ({"symptom": "freebusy-cloud-to-onprem", "event.id": 4002}, {"event.id": 4002}):
        found = findings(facts)
        if found.best is not None and not found.confident:
            return found
    pytest.fail("no weakly indicated cause to show: pick other facts for this shape")


def status_of(**state: Any) -> Card:
    services = Services(KB, FakeCheckRunner(), _never_publish, read_error_text)
    inbound = Inbound("message", "conv-1", text="status")
    return status_card(Turn(services, load({**dump(new_state("u-1", "Ada")), **state}), inbound, _ignore))


async def _never_publish(runbook: dict[str, Any]) -> str:
    raise AssertionError("no runbook is published while building cards")


async def _ignore(outbound: Outbound) -> str | None:
    return None


def question_shapes() -> Iterator[tuple[str, Card]]:
    for node in KB.tree.nodes:
        if node.kind != "conclusion":
            yield f"{node.id}", question_card(KB, node)
            yield f"{node.id} re-asked", question_card(KB, node, note="I could not match that.")


def sites_shapes() -> Iterator[tuple[str, Card]]:
    node = KB.node("sites")
    one = [("Target bob@contoso.com", "site Branch, server EX03")]
    two = [("Requester alice@contoso.com", "Exchange Online"), *one]
    yield "one row", sites_confirm_card(node, one)
    yield "two rows, re-asked", sites_confirm_card(node, two, note="Please confirm.")


def pick_shapes() -> Iterator[tuple[str, Card]]:
    alice = {"address": "alice@contoso.com", "name": "Alice Martin", "location": "online"}
    alan = {"address": "alan@contoso.com", "name": "Alan Moore", "location": "online"}
    carol = {"address": "carol@contoso.com", "name": "Carol Díaz", "location": "onprem"}
    yield (
        "several",
        pick_card({"role": "requester", "query": "Al", "how": "name", "candidates": [alice, alan]}),
    )
    yield (
        "did you mean",
        pick_card({"role": "requester", "query": "carol@contso.com", "how": "close", "candidates": [carol]}),
    )
    yield (
        "close, several, noted",
        pick_card(
            {"role": "target", "query": "a@contso.com", "how": "close", "candidates": [alice, alan]},
            note="Pick one.",
        ),
    )


def progress_shapes() -> Iterator[tuple[str, Card]]:
    every_status = [(status, f"Check {status}", f"{status} summary") for status in STATUS_ICONS]
    yield "every status", progress_card(every_status, finished=False)
    yield "unknown status, no summary", progress_card([("later", "A check", "")], finished=False)
    yield "finished", progress_card(every_status, finished=True)
    yield "nothing to run", progress_card([], finished=True)


def result_shapes() -> Iterator[tuple[str, Card]]:
    confident = findings(FEDCERT_FACTS, RESULTS)
    assert confident.confident
    url = "https://triage.example/remediation/tok"
    yield (
        "cause, link, escalated",
        result_card(
            KB,
            confident,
            heading_text="Here is what I found.",
            runbook_url=url,
            escalated_to="Team › General",
        ),
    )
    yield (
        "cause, runbook not published",
        result_card(KB, confident, heading_text="Here is what I found.", runbook_url=None),
    )
    yield (
        "weak lead only",
        result_card(KB, weak_lead(), heading_text="Here is what I found.", runbook_url=None),
    )
    yield (
        "no cause, no checks",
        result_card(KB, findings({}), heading_text="Here is what I found.", runbook_url=None),
    )
    for status in ("", *FIX_STATES):
        fix = {**FIX_RECORD, **FIX_STATES[status], "status": status} if status else None
        yield (
            f"cause, Fix it offered, fix {status or 'not asked for'}",
            result_card(
                KB,
                confident,
                heading_text="Here is what I found.",
                runbook_url=url,
                fix=fix,
                fixable=frozenset({"copy-federation-certificate"}),
            ),
        )


def approval_shapes() -> Iterator[tuple[str, Card]]:
    for status, extra in FIX_STATES.items():
        yield status, approval_card({**FIX_RECORD, **extra, "status": status})


def escalation_shapes() -> Iterator[tuple[str, Card]]:
    state = load(
        {
            **dump(new_state("u-1", "Ada")),
            "said": {"symptom": "freebusy-cloud-to-onprem", "scope": "all", "target": "bob@contoso.com"},
            "paste_excerpt": "Event ID: 4002 ... password=[redacted]",
        }
    )
    yield (
        "cause, paste, tried",
        escalation_card(KB, state, findings(FEDCERT_FACTS, RESULTS), "Restarted IIS on EX03"),
    )
    yield "weak lead, nothing tried", escalation_card(KB, state, weak_lead(), "")
    yield "nothing known", escalation_card(KB, new_state(), findings({}), "  ")
    yield (
        "with the runbook link",
        escalation_card(KB, state, findings(FEDCERT_FACTS, RESULTS), "", "https://triage.example/r/tok"),
    )


def owned_shapes() -> Iterator[tuple[str, Card]]:
    posted = escalation_card(KB, new_state(), findings(FEDCERT_FACTS, RESULTS), "")
    yield "taken", owned(posted, Owner("Grace Hopper", 1795255320.0))
    yield "taken over", owned(posted, Owner("Alan Turing", 1795255500.0, previous="Grace Hopper"))
    yield "released", owned(owned(posted, Owner("Grace Hopper", 1795255320.0)), None)


def status_shapes() -> Iterator[tuple[str, Card]]:
    yield "new", status_of()
    yield (
        "asking",
        status_of(
            phase="asking",
            awaiting={"node": "scope", "step": "ask"},
            said={"symptom": "freebusy-cloud-to-onprem"},
        ),
    )
    yield "running, pasted", status_of(phase="running", pasted={"event.id": 4002})
    done = {"phase": "done", "results": [r.as_dict() for r in RESULTS]}
    yield (
        "done with a cause",
        status_of(
            **done,
            conclusion={"cause": "x", "title": "A cause", "confidence": 0.9, "runbook_url": ""},
            last_error="a1b2c3d4",
        ),
    )
    yield (
        "done without a cause",
        status_of(
            **done, conclusion={"cause": None, "title": "A lead", "confidence": 0.3, "runbook_url": ""}
        ),
    )
    yield "cancelled", status_of(phase="cancelled")


CATALOGUE: dict[str, Callable[[], Iterator[tuple[str, Card]]]] = {
    "question_card": question_shapes,
    "sites_confirm_card": sites_shapes,
    "pick_card": pick_shapes,
    "for_conversation": lambda: iter(
        [("group chat", for_conversation(question_card(KB, KB.node("scope")), "groupChat"))]
    ),
    "layered": lambda: iter(
        [
            ("top only", layered([text("Verdict")], [], [], [])),
            ("collapsed details", layered([text("Verdict")], [text("Evidence")], [], [])),
        ]
    ),
    "progress_card": progress_shapes,
    "result_card": result_shapes,
    "tried_prompt_card": lambda: iter(
        [("prompt", tried_prompt_card()), ("no channel yet", tried_prompt_card(channel=False))]
    ),
    "owned": owned_shapes,
    "welcome_card": lambda: iter([("personal chat", welcome_card())]),
    "answered_card": lambda: iter(
        [("answered", answered_card("Who is affected?", "You chose: Only one pair of users"))]
    ),
    "output_prompt_card": lambda: iter([("prompt", output_prompt_card())]),
    "escalation_card": escalation_shapes,
    "status_card": status_shapes,
    "approval_card": approval_shapes,
}


def card_builders() -> set[str]:
    """Every function in `dialogs` declared to return a Card (the generic `card` constructor aside)."""
    found = set()
    for module_info in pkgutil.iter_modules(dialogs.__path__):
        module = importlib.import_module(f"dialogs.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and function.__annotations__.get("return") == "Card":
                found.add(name)
    return found - {"card"}


def test_the_catalogue_names_every_card_builder() -> None:
    assert card_builders() == set(CATALOGUE)


@pytest.mark.parametrize("builder", sorted(CATALOGUE))
def test_every_shape_of_every_card_is_valid(builder: str) -> None:
    shapes = list(CATALOGUE[builder]())
    assert shapes
    for shape, built in shapes:
        assert card_problems(built) == [], f"{builder} ({shape})"


def test_the_shapes_differ_where_they_should() -> None:
    """The catalogue really reaches the branches it names (not one shape under several names)."""
    results = dict(result_shapes())
    assert "Likely cause:" in card_text(results["cause, link, escalated"])
    assert "Open runbook" not in card_text(results["cause, runbook not published"])
    assert "Paste command output" in card_text(results["cause, runbook not published"])
    assert "Let me look anyway" not in card_text(results["no cause, no checks"])
    assert "The best lead so far" in card_text(results["weak lead only"])
    assert "Escalate to the Exchange team: I could not pin the cause down" in card_text(
        results["weak lead only"]
    )
    # Nothing recognised: the card asks for the output that would tell (its commands are on the card).
    assert "Run the read-only commands above" in card_text(results["no cause, no checks"])
    assert "Escalate to the Exchange team: the federation certificate is missing on EX03" in card_text(
        results["cause, runbook not published"]
    )
    escalations = dict(escalation_shapes())
    assert "No cause matched what was found." in card_text(escalations["nothing known"])
    assert "Nothing reported." in card_text(escalations["nothing known"])
    assert "No confident cause. Best lead" in card_text(escalations["weak lead, nothing tried"])
    statuses = dict(status_shapes())
    assert "Last error reference: a1b2c3d4" in card_text(statuses["done with a cause"])
    assert "No confident cause; best lead" in card_text(statuses["done without a cause"])


def test_a_result_card_with_a_long_fix_stays_under_the_limit() -> None:
    from dialogs.card_budget import size
    from dialogs.result_card import CARD_BYTES

    row = {"step": "Set-ExchangeServer " + "x" * 900, "status": "done", "detail": "y" * 900}
    fix = {**FIX_RECORD, "status": "fixed", "applied": [row] * 40,
           "checks": [{"id": "freebusy-probe", "status": "ok", "summary": "z" * 900}] * 40}  # fmt: skip
    built = result_card(
        KB, findings(FEDCERT_FACTS, RESULTS), heading_text="Here is what I found.", runbook_url=None, fix=fix
    )
    assert size(built) <= CARD_BYTES and card_problems(built) == []

"""Unexpected errors apologise with a correlation id and keep the state; a triage survives a restart."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from checks.api import CheckRequest, CheckResult, Progress, ProgressEvent
from dialogs.api import Inbound, Outbound, State
from dialogs.engine import TriageConversation
from dialogs.state import VERSION
from dialogs.testing import FakeCheckRunner
from knowledge.loader import load_knowledge
from knowledge.reader.error_text import read_error_text
from tests.dialogs.harness import Chat, card_text
from tests.world import SEED_000, scenario_runner

REFERENCE = re.compile(r"reference ([0-9a-f]{8})")


async def _to_error_text(chat: Chat) -> None:
    await chat.say("hi")
    await chat.press("Cloud users cannot see on-premises free/busy")
    await chat.press("Everyone in that direction")
    await chat.say("alice@contoso.com can't see bjorn@contoso.com")
    await chat.say("yes")
    assert chat.awaiting() == "error-text"


async def test_a_runner_that_raises_gets_an_apology_and_the_answers_are_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = scenario_runner(SEED_000)
    chat = Chat(runner=runner)
    await _to_error_text(chat)
    said = dict(chat.state["said"])
    runner.fail_with = RuntimeError("backend exploded")
    with caplog.at_level(logging.ERROR, logger="dialogs"):
        await chat.say("skip")
    reference = REFERENCE.search(chat.texts())
    assert reference, chat.texts()
    assert "Sorry, something went wrong on my side" in chat.texts()
    assert chat.state["last_error"] == reference.group(1)
    assert any(reference.group(1) in r.getMessage() and r.exc_info for r in caplog.records)
    assert chat.state["said"] == {**said, "pasted": False}
    assert chat.state["phase"] == "running"

    # The next message re-runs the checks with the answers already given.
    runner.fail_with = None
    await chat.say("try again")
    assert "running them again" in chat.texts()
    assert "Likely cause: The federation certificate is missing" in card_text(chat.last_card())


async def test_a_reader_that_raises_gets_an_apology_and_the_answers_are_kept() -> None:
    broken = False

    def reader(text: str) -> dict[str, Any]:
        if broken:
            raise ValueError("reader bug")
        return read_error_text(text)

    chat = Chat(runner=scenario_runner(SEED_000))
    chat.conversation = TriageConversation(load_knowledge(), chat.runner, chat._publish, reader)
    await chat.say("hi")
    await chat.press("Cloud users cannot see on-premises free/busy")
    broken = True
    await chat.say("everyone")
    assert REFERENCE.search(chat.texts())
    assert chat.state["said"] == {"symptom": "freebusy-cloud-to-onprem"}
    assert chat.awaiting() == "scope"


async def test_an_inference_failure_apologises_and_keeps_the_check_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat = Chat(runner=scenario_runner(SEED_000))
    await _to_error_text(chat)

    def broken_assess(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a cause that is not there")

    monkeypatch.setattr("dialogs.findings.assess", broken_assess)
    await chat.say("skip")
    assert REFERENCE.search(chat.texts())
    assert chat.state["results"], "the checks that ran are kept"
    monkeypatch.undo()
    await chat.say("status")
    assert "❌ fail · Federation certificate on every server" in card_text(chat.last_card())


async def test_a_runbook_that_cannot_be_published_still_shows_the_commands() -> None:
    chat = Chat(runner=scenario_runner(SEED_000), publish_fails=True)
    await _to_error_text(chat)
    await chat.say("skip")
    assert "I could not publish the remediation page" in chat.texts()
    result = chat.last_card()
    assert "Import-ExchangeCertificate -Server EX03" in card_text(result)
    assert "Import-ExchangeCertificate -Server EX04" in card_text(result)
    assert all(a["type"] != "Action.OpenUrl" for a in result.get("actions", []))


class _HangingRunner:
    """A runner whose checks never finish: the process is about to die under it."""

    def __init__(self, topology: CheckResult) -> None:
        self.topology = topology
        self.started = asyncio.Event()

    async def run(self, request: CheckRequest, progress: Progress) -> list[CheckResult]:
        if request.check_ids == ("topology",):
            return [self.topology]
        if request.check_ids == ("directory-names",):
            return [CheckResult("directory-names", "skipped", "No directory here.")]
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_triage_killed_mid_checks_resumes_from_the_checkpoint_after_a_restart() -> None:
    kb = load_knowledge()
    topology = scenario_runner(SEED_000).results["topology"]
    hanging = _HangingRunner(topology)
    checkpoints: list[State] = []

    async def emit(outbound: Outbound) -> str | None:
        if outbound.kind == "checkpoint" and outbound.state is not None:
            checkpoints.append(outbound.state)
        return None

    async def publish(runbook: dict[str, Any]) -> str:
        return "https://triage.example/remediation/x"

    first_process = TriageConversation(kb, hanging, publish, read_error_text)
    state: State = {}
    for text in (
        "hi",
        "1",
        "everyone",
        "alice@contoso.com can't see bjorn@contoso.com",
        "yes",
    ):
        state = await first_process.handle(state, Inbound("message", "c", text=text), emit)
    turn = asyncio.ensure_future(first_process.handle(state, Inbound("message", "c", text="skip"), emit))
    await asyncio.wait_for(hanging.started.wait(), 60)
    turn.cancel()  # the process dies: only what the host stored at the checkpoint survives
    with pytest.raises(asyncio.CancelledError):
        await turn

    assert len(checkpoints) == 1 and checkpoints[0]["phase"] == "running"
    chat = Chat(runner=scenario_runner(SEED_000), state=checkpoints[0])
    await chat.say("hello? did it finish?")
    assert "I was interrupted while running the checks; running them again now." in chat.texts()
    assert "Likely cause: The federation certificate is missing" in card_text(chat.last_card())
    assert chat.state["said"]["target.site"] == "Branch"


async def test_a_state_of_an_unknown_version_starts_over(caplog: pytest.LogCaptureFixture) -> None:
    chat = Chat(state={"v": 99, "whatever": True})
    with caplog.at_level(logging.WARNING, logger="dialogs"):
        await chat.say("hi")
    assert "cannot read" in caplog.text
    assert chat.state["v"] == VERSION and chat.awaiting() == "symptom"


async def test_a_runner_that_drops_a_check_reports_it_as_an_error() -> None:
    class Forgetful(FakeCheckRunner):
        async def run(self, request: CheckRequest, progress: Progress) -> list[CheckResult]:
            results = await super().run(request, progress)
            return [r for r in results if r.id != "federation-trust"]

    chat = Chat(runner=Forgetful(scenario_runner(SEED_000).results.values()))
    await _to_error_text(chat)
    await chat.say("skip")
    dropped = next(r for r in chat.state["results"] if r["id"] == "federation-trust")
    assert dropped["status"] == "error" and "did not report back" in dropped["summary"]


async def test_a_wait_for_a_shared_exchange_session_shows_on_the_progress_card() -> None:
    note = "Waiting for a free Exchange PowerShell session on ex01 (all 8 are busy with other triages)."

    class Busy(FakeCheckRunner):
        async def run(self, request: CheckRequest, progress: Progress) -> list[CheckResult]:
            for check_id in request.check_ids:
                await progress(ProgressEvent("started", check_id, check_id))
            await progress(ProgressEvent("waiting", "", note))
            await progress(ProgressEvent("waiting", "", ""))
            return await super().run(request, progress)

    chat = Chat(runner=Busy(scenario_runner(SEED_000).results.values()))
    await _to_error_text(chat)
    await chat.say("skip")
    progress = [o.card for o in chat.history if o.card_key.startswith("progress-") and o.card]
    waiting = [card for card in progress if note in card_text(card)]
    assert waiting and "Running the checks" in card_text(waiting[0])
    assert note not in card_text(progress[-1])  # the finished card shows results, not the wait

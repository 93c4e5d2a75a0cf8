"""The factory the host calls: the conversation over a given runner, or over the lab for the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from dialogs.api import Inbound, Outbound
from dialogs.engine import TriageConversation
from dialogs.testing import Recorder
from tests.dialogs.scenarios import seed_000
from triage.app import build_conversation


@dataclass(frozen=True)
class Settings:
    backend: str = "lab"
    scenario: str = ""


async def _publish(runbook: dict[str, Any]) -> str:
    return "https://x.example/r/1"


async def test_a_given_runner_is_used_as_it_is() -> None:
    runner = seed_000()
    async with build_conversation(Settings(), _publish, runner=runner) as conversation:
        assert isinstance(conversation, TriageConversation)
        recorder = Recorder()
        state = await conversation.handle({}, Inbound("message", "c", text="hi"), recorder)
    assert state["awaiting"] == {"node": "symptom", "step": "ask"}


async def test_the_lab_backend_starts_the_scenario_and_answers_the_sites_lookup() -> None:
    pytest.importorskip("checks.factory")
    sent: list[Outbound] = []

    async def emit(outbound: Outbound) -> str | None:
        sent.append(outbound)
        return None

    async with build_conversation(Settings(scenario="seed-000-federation-cert"), _publish) as conversation:
        state: dict[str, Any] = {}
        for text in ("hi", "1", "everyone", "alice@contoso.com can't see bjorn@contoso.com"):
            state = await conversation.handle(state, Inbound("message", "c", text=text), emit)
    assert state["lookup"]["facts"]["target.site"] == "Branch"
    assert state["awaiting"] == {"node": "sites", "step": "confirm"}

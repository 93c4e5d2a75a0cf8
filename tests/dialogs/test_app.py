"""The factory the host calls, over a given runner. (Over the lab it is exercised end to end, in a separate
process, by the `triage chat` test: the lab's and the checks' EWS clients both register exchangelib properties
process-wide.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialogs.api import Inbound
from dialogs.engine import TriageConversation
from dialogs.testing import Recorder
from tests.world import SEED_000, scenario_runner
from triage.app import build_conversation


@dataclass(frozen=True)
class Settings:
    backend: str = "lab"
    scenario: str = ""
    checks_config: Path | None = None


async def _publish(runbook: dict[str, Any]) -> str:
    return "https://x.example/r/1"


async def test_a_given_runner_is_used_as_it_is() -> None:
    runner = scenario_runner(SEED_000)
    async with build_conversation(Settings(), _publish, runner=runner) as conversation:
        assert isinstance(conversation, TriageConversation)
        recorder = Recorder()
        state = await conversation.handle({}, Inbound("message", "c", text="hi"), recorder)
    assert state["awaiting"] == {"node": "symptom", "step": "ask"}

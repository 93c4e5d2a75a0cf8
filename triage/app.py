"""The conversation as the bot host and `triage chat` run it: the knowledge base, the error-text reader and
a check runner for the configured backend.

The host calls `build_conversation(settings, publish_runbook)` and enters the result (an async context
manager) for as long as it serves: the lab backend starts its loopback simulators on entry and stops them on
exit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from checks.api import CheckRunner
from dialogs.engine import TriageConversation
from dialogs.turn import PublishRunbook
from knowledge.loader import load_knowledge
from knowledge.reader.error_text import read_error_text

__all__ = ["DEFAULT_SCENARIO", "ConversationSettings", "build_conversation"]

DEFAULT_SCENARIO = "healthy"


class ConversationSettings(Protocol):
    """What the conversation needs from the host's settings (bot.settings.Settings has all three)."""

    @property
    def backend(self) -> str: ...

    @property
    def scenario(self) -> str: ...

    @property
    def checks_config(self) -> Path | None:
        """The live backend's configuration file."""
        ...


@asynccontextmanager
async def _runner_for(settings: ConversationSettings) -> AsyncIterator[CheckRunner]:
    # Imported here: the backends are heavy, and a conversation given its runner needs none of them.
    from triage.backends import build_runner

    if settings.backend == "lab":
        # The lab serves the healthy organisation unless a scenario is named.
        async with build_runner("lab", scenario=settings.scenario or DEFAULT_SCENARIO) as runner:
            yield runner
    elif settings.backend == "live":
        async with build_runner("live", config=settings.checks_config) as runner:
            yield runner
    else:
        raise ValueError(f"unknown backend {settings.backend!r}: use lab or live")


@asynccontextmanager
async def build_conversation(
    settings: ConversationSettings, publish_runbook: PublishRunbook, *, runner: CheckRunner | None = None
) -> AsyncIterator[TriageConversation]:
    """The triage conversation over `settings.backend` (or over `runner`, when one is given)."""
    kb = load_knowledge()
    if runner is not None:
        yield TriageConversation(kb, runner, publish_runbook, read_error_text)
        return
    async with _runner_for(settings) as built:
        yield TriageConversation(kb, built, publish_runbook, read_error_text)

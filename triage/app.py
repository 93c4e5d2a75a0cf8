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
from typing import TYPE_CHECKING, Any, Protocol

from checks.api import CheckRunner
from dialogs.engine import TriageConversation
from dialogs.paste import ReadText
from dialogs.turn import PublishRunbook
from knowledge.loader import KnowledgeBase, load_knowledge
from knowledge.reader.error_text import read_error_text

if TYPE_CHECKING:  # the bot's SDK is not loaded for `triage chat`
    from bot.fixes import Fixer

__all__ = ["DEFAULT_SCENARIO", "ConversationSettings", "ServedConversation", "build_conversation"]


class ServedConversation(TriageConversation):
    """The conversation with the write side it offers "Fix it" for (`bot.fixes.OffersFixes`)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        runner: CheckRunner,
        publish_runbook: PublishRunbook,
        read_text: ReadText,
        fixer: Fixer | None,
    ) -> None:
        super().__init__(
            kb, runner, publish_runbook, read_text, fixable=fixer.fixable if fixer else frozenset()
        )
        self.fixer = fixer


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


def _fixer_for(settings: ConversationSettings, runner: CheckRunner, kb: KnowledgeBase) -> Fixer | None:
    """The write side: the lab's writer account on the lab; the configuration's `write:` section live."""
    from triage.fix_service import fixer_for_config, fixer_for_lab

    lab: Any = getattr(runner, "lab", None)
    if settings.backend == "lab" and lab is not None:
        return fixer_for_lab(dict(lab.endpoints), kb)
    if settings.backend == "live" and settings.checks_config is not None:
        from checks.config import load_config

        return fixer_for_config(load_config(settings.checks_config), kb)
    return None


@asynccontextmanager
async def build_conversation(
    settings: ConversationSettings,
    publish_runbook: PublishRunbook,
    *,
    runner: CheckRunner | None = None,
    fixer: Fixer | None = None,
) -> AsyncIterator[TriageConversation]:
    """The triage conversation over `settings.backend` (or over `runner`, when one is given, with `fixer`
    as its write side when one is given)."""
    kb = load_knowledge()
    if runner is not None:
        yield ServedConversation(kb, runner, publish_runbook, read_error_text, fixer)
        return
    async with _runner_for(settings) as built:
        yield ServedConversation(kb, built, publish_runbook, read_error_text, _fixer_for(settings, built, kb))

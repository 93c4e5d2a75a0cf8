"""One turn of the conversation: the working state, the inbound, and how to answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from checks.api import CheckRunner
from dialogs.api import Card, Emit, Inbound, Outbound
from dialogs.manners import for_conversation
from dialogs.paste import ReadText
from dialogs.state import Awaiting, TriageState
from knowledge.assessment import combine_facts
from knowledge.conditions import Facts
from knowledge.loader import KnowledgeBase
from knowledge.model import TreeNode
from knowledge.walk import next_node

__all__ = ["PublishRunbook", "Services", "Turn"]

PublishRunbook = Callable[[dict[str, Any]], Awaitable[str]]


@dataclass(frozen=True)
class Services:
    """What the conversation is built with: the knowledge, the checks, the reader and the runbook publisher."""

    kb: KnowledgeBase
    runner: CheckRunner
    publish_runbook: PublishRunbook
    read_text: ReadText
    # The remediations the host can apply after approval (enabled, with a write account): "Fix it" offers them.
    fixable: frozenset[str] = frozenset()


@dataclass
class Turn:
    services: Services
    state: TriageState
    inbound: Inbound
    emit: Emit

    @property
    def kb(self) -> KnowledgeBase:
        return self.services.kb

    @property
    def action(self) -> str:
        """The action a card submit names ("" for a message). Action.Execute's verb counts too."""
        if self.inbound.kind != "submit":
            return ""
        value = self.inbound.value
        return str(value.get("action") or value.get("verb") or "")

    def facts(self) -> Facts:
        """What the tree walks on: what was said, what was pasted, and what the checks found."""
        results = self.state.results or []
        return combine_facts(self.kb, self.state.said, self.state.pasted, results)

    def next_node(self) -> TreeNode:
        return next_node(self.kb, self.facts(), frozenset(self.state.skipped))

    def node(self, node_id: str) -> TreeNode | None:
        return next((n for n in self.kb.tree.nodes if n.id == node_id), None)

    async def say(self, text: str) -> None:
        await self.emit(Outbound(kind="text", text=text))

    async def send(self, card: Card, key: str = "") -> None:
        shown = for_conversation(card, self.inbound.conversation_type)
        await self.emit(Outbound(kind="card", card=shown, card_key=key))

    async def typing(self) -> None:
        await self.emit(Outbound(kind="typing"))

    def awaiting(self, node: str | None, step: str = "ask") -> None:
        self.state.awaiting = None if node is None else Awaiting(node, step)

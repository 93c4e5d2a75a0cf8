"""The seam between the bot host and the conversation: what comes in, what goes out.

The host (bot/) turns each Teams activity into one `Inbound`, hands it to a `Conversation` with the
conversation's stored state, sends every `Outbound` the conversation emits, and stores the state it returns.
Everything here is plain data so that a triage in progress survives a restart or a change of SDK.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from knowledge.jsonvalue import JsonObject

__all__ = [
    "Card",
    "Conversation",
    "Emit",
    "Inbound",
    "InboundKind",
    "Outbound",
    "OutboundKind",
    "State",
]

State = JsonObject
"""The conversation's state as the host stores it: one plain-JSON document (`dialogs.state` reads it)."""
Card = JsonObject
"""An Adaptive Card 1.5 document."""

InboundKind = Literal["message", "submit", "added_to_team", "installed", "mention_in_channel"]
OutboundKind = Literal["text", "card", "typing", "escalation", "escalation_target", "checkpoint", "audit"]


@dataclass(frozen=True)
class Inbound:
    """One thing the user (or Teams) did, stripped of the SDK's types."""

    kind: InboundKind
    conversation_id: str
    conversation_type: Literal["personal", "groupChat", "channel"] = "personal"
    user_id: str = ""
    user_name: str = ""
    text: str = ""
    value: JsonObject = field(default_factory=dict)
    team_id: str = ""
    channel_id: str = ""
    tenant_id: str = ""


@dataclass(frozen=True)
class Outbound:
    """One thing to send back.

    `card_key` names a card so a later `Outbound` with the same key updates it in place (the progress card).
    An `escalation` outbound carries a card the host posts as a new thread in the escalation channel; `emit`
    then returns a short description of where it went (for example "Exchange › Escalations"), or None when no
    escalation channel is set or the post failed. Its `card_key` names the post: an escalation with a key
    already posted updates that post in place (keeping who has taken it) instead of starting another thread.
    An `escalation_target` outbound sends nothing: `emit` returns where an escalation would go now, or None
    when no escalation channel is set (asked before asking the user anything for the escalation). A `checkpoint` outbound carries `state`: the host stores it
    at once (it sends nothing), so that a turn which dies during a long step (the checks) resumes from there on
    the next message; the state `handle` returns still replaces it. An `audit` outbound carries `audit`
    (`{"kind": "mailbox-read", "mailboxes": [...], "checks": [...]}`): the host records it in its audit log
    before the reads happen and returns None when they may go ahead, or the reason they may not (the pair is
    outside the mailboxes the bot may look at). Other outbounds return None.
    """

    kind: OutboundKind
    text: str = ""
    card: Card | None = None
    card_key: str = ""
    state: State | None = None
    audit: JsonObject | None = None


Emit = Callable[[Outbound], Awaitable[str | None]]


class Conversation(Protocol):
    """The triage conversation, as the host sees it."""

    async def handle(self, state: State, inbound: Inbound, emit: Emit) -> State:
        """Handle one inbound against `state` (never mutated in place) and return the new state."""
        ...

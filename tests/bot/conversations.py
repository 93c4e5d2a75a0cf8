"""A small conversation at our own port (`dialogs.api.Conversation`) for driving the host in tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from dialogs.api import Card, Emit, Inbound, Outbound, State
from dialogs.escalation import OWNER_ID, TAKE
from knowledge.jsonvalue import JsonObject, JsonValue

Publish = Callable[[Mapping[str, Any]], Awaitable[str]]

RUNBOOK: dict[str, Any] = {
    "title": "Re-publish the federation certificate",
    "cause_id": "fedcert-missing",
    "cause_title": "Federation certificate missing on <EX02>",
    "summary": "The certificate is missing on one server & free/busy fails.",
    "steps": [
        {
            "summary": "Check the certificate",
            "commands": ["Get-ExchangeCertificate -Server EX02 | Where {$_.Thumbprint -eq '<thumb>'}"],
            "changes": False,
            "risk": "none",
            "verify": ["Test-FederationTrust"],
            "docs": ["https://learn.microsoft.com/exchange/federation"],
        }
    ],
    "parameters": {"Server": "EX02"},
    "created_for": "Ada Lovelace",
}


def card(text: str) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": text}]}


def escalation_card(key: str, text: str) -> dict[str, Any]:
    """A card with the owner line and the "I'll take it" button an escalation carries (`dialogs.escalation`)."""
    return {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": text},
            {"type": "TextBlock", "id": OWNER_ID, "text": "Nobody has taken this yet."},
        ],
        "actions": [
            {"type": "Action.Submit", "title": "I'll take it", "data": {"action": TAKE, "post": key}}
        ],
    }


class ScriptedConversation:
    """Counts turns in its state and reacts to a few words; `inbounds` records what it was given."""

    def __init__(self, publish: Publish | None = None) -> None:
        self.inbounds: list[Inbound] = []
        self.publish = publish
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def handle(self, state: State, inbound: Inbound, emit: Emit) -> State:
        self.inbounds.append(inbound)
        turns = state.get("turns", 0)
        seen = state.get("seen", [])
        state = {
            **state,
            "turns": (turns if isinstance(turns, int) else 0) + 1,
            "seen": [*(seen if isinstance(seen, list) else []), inbound.text],
        }
        words = inbound.text.split()
        verb = words[0] if words else ""
        if inbound.kind == "submit":
            await emit(Outbound(kind="card", card=card(f"submitted {inbound.value}"), card_key="progress"))
        elif inbound.kind == "added_to_team":
            await emit(Outbound(kind="text", text=f"hello {inbound.team_id}"))
        elif verb == "card":
            await emit(Outbound(kind="typing"))
            await emit(
                Outbound(kind="card", card=card(" ".join(words[1:]) or "progress"), card_key="progress")
            )
        elif verb == "escalate":
            # "escalate KEY" posts under a key (a triage's), with the card's owner line and its button.
            key = words[1] if len(words) > 1 else ""
            said = f"please look at this (turn {state['turns']})" if key else "please look at this"
            posted: Card = escalation_card(key, said) if key else card(said)
            where = await emit(Outbound(kind="escalation", card=posted, card_key=key))
            await emit(Outbound(kind="text", text=f"escalated to {where}"))
        elif verb == "where":
            where = await emit(Outbound(kind="escalation_target"))
            await emit(Outbound(kind="text", text=f"escalations go to {where}"))
        elif verb == "mailboxes":
            # Reads the mailboxes named after the verb, as a triage's per-mailbox checks do.
            mailboxes: list[JsonValue] = list(words[1:])
            audit: JsonObject = {"kind": "mailbox-read", "mailboxes": mailboxes, "checks": ["probe"]}
            answer = await emit(Outbound(kind="audit", audit=audit))
            await emit(Outbound(kind="text", text=f"read allowed: {answer is None} ({answer or ''})"))
        elif verb == "boom":
            await emit(Outbound(kind="text", text="about to fail"))
            raise RuntimeError("internal detail: password=hunter2")
        elif verb == "runbook" and self.publish is not None:
            await emit(Outbound(kind="text", text=await self.publish(RUNBOOK)))
        elif verb == "checkpoint":
            await emit(Outbound(kind="card", card=card("running checks"), card_key="progress"))
            await emit(Outbound(kind="checkpoint", state={**state, "stage": "checks"}))
            await self._wait(emit, loud=False)
            if "fail" in words:
                raise RuntimeError("a check crashed")
            state = {**state, "stage": "done"}
        elif verb in ("wait", "quietwait"):
            await self._wait(emit, loud=verb == "wait")
        else:
            await emit(Outbound(kind="text", text=f"echo {inbound.text} (turn {state['turns']})"))
        return state

    async def _wait(self, emit: Emit, *, loud: bool) -> None:
        # Holds the turn open until the test opens the gate (to interleave another replica's write).
        if loud:
            await emit(Outbound(kind="text", text="working"))
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()

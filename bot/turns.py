"""One conversation turn: load state, run the conversation, store the new state; never lose a turn silently.

Turns on one conversation run one at a time in this process (a lock per conversation). Another replica can
still write the same state between our read and our write; the ETag catches that. If the conversation had sent
nothing yet, the turn is simply run again on the fresh state; otherwise the user is asked to resend, because
running it again would repeat what they already saw.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from bot.outbound import TurnEmitter
from bot.storage import ConflictError, JsonDict, Store
from bot.storage.base import encode
from dialogs.api import Conversation, Inbound

__all__ = ["HOST_KEY", "KeyedLocks", "TurnRunner", "apology", "correlation_id"]

logger = logging.getLogger(__name__)

# Reserved for the host inside each conversation's stored state; the conversation never sees it.
HOST_KEY = "_host"

RESEND = (
    "Another reply in this conversation was being saved at the same moment, so I did not keep your last "
    "message. Please send it again."
)

MakeEmitter = Callable[[dict[str, str]], TurnEmitter]
Say = Callable[[str], Awaitable[Any]]


def correlation_id() -> str:
    return secrets.token_hex(4)


def apology(reference: str) -> str:
    return (
        f"Sorry, something went wrong on my side and I could not finish that (reference {reference}). "
        "Nothing was changed; please try again, or quote the reference to the helpdesk team."
    )


class KeyedLocks:
    """An asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class TurnRunner:
    """Runs conversation turns against the store."""

    def __init__(self, store: Store, conversation: Conversation, locks: KeyedLocks | None = None) -> None:
        self._store = store
        self._conversation = conversation
        self._locks = locks or KeyedLocks()

    async def run(
        self, key: str, inbound: Inbound, make_emitter: MakeEmitter, say: Say
    ) -> TurnEmitter | None:
        """Run one turn; answer the emitter of the attempt whose state was stored (None if none was)."""
        async with self._locks.hold(key):
            for attempt in (1, 2):
                emitter, outcome = await self._attempt(key, inbound, make_emitter, say)
                if outcome != "conflict":
                    return emitter if outcome == "stored" else None
                if attempt == 1 and emitter.sent == 0:
                    logger.info("state of %s changed under the turn; running it again on fresh state", key)
                    continue
                logger.warning(
                    "state of %s changed under the turn after replies were sent; asked to resend", key
                )
                await say(RESEND)
                return None
        return None

    async def _attempt(
        self, key: str, inbound: Inbound, make_emitter: MakeEmitter, say: Say
    ) -> tuple[TurnEmitter, Literal["stored", "failed", "conflict"]]:
        state, etag = await self._store.read(key)
        host = state.pop(HOST_KEY, {})
        cards = host.get("cards", {}) if isinstance(host, dict) else {}
        emitter = make_emitter(dict(cards) if isinstance(cards, dict) else {})
        try:
            new_state = await self._conversation.handle(copy.deepcopy(state), inbound, emitter)
            document = _with_host(new_state, emitter)
        except Exception:
            reference = correlation_id()
            logger.exception("turn failed in conversation %s [ref %s]", inbound.conversation_id, reference)
            await say(apology(reference))
            return emitter, "failed"
        try:
            await self._store.write(key, document, etag)
        except ConflictError:
            return emitter, "conflict"
        return emitter, "stored"


def _with_host(new_state: Any, emitter: TurnEmitter) -> JsonDict:
    if not isinstance(new_state, dict):
        raise TypeError(f"the conversation returned {type(new_state).__name__}, not a state dict")
    document = {key: value for key, value in new_state.items() if key != HOST_KEY}
    document[HOST_KEY] = {"cards": emitter.cards}
    encode(document)  # refuse a state that is not plain JSON now, inside the turn's error handling
    return document

"""One conversation turn: load state, run the conversation, store the new state; never lose a turn silently.

Turns on one conversation run one at a time in this process (a lock per conversation). Another replica can
still write the same state between our read and our write; the ETag catches that. If the conversation had sent
nothing yet, the turn is simply run again on the fresh state; otherwise the user is asked to resend, because
running it again would repeat what they already saw.

A `checkpoint` from the conversation is stored at once (so a process that dies during the checks resumes:
its job is run again). If the turn then fails with an exception, the state from before the turn is put back:
the apology says nothing was changed, and the next message must not walk into the same failure.

Redelivery: the ids of the activities handled are kept in the state (`_host.seen`, for `seen_seconds`, at most
`SEEN_LIMIT`), written with the turn's state; an activity whose id is there is acknowledged and not handled
again. While the checks run after a checkpoint, the stored state is watched: deleted, or moved on by a turn
elsewhere (cancelled in another replica), the checks stop and nothing more is posted.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, Literal

from bot.outbound import Checkpoint, ConversationGone, TurnEmitter
from bot.storage import ConflictError, JsonDict, Store
from bot.storage.base import encode
from dialogs.api import Conversation, Inbound, State

__all__ = [
    "HOST_KEY",
    "RESEND",
    "SEEN_LIMIT",
    "KeyedLocks",
    "TurnRunner",
    "TurnSlots",
    "apology",
    "correlation_id",
    "give_back_turn_slot",
]

logger = logging.getLogger(__name__)

# Reserved for the host inside each conversation's stored state; the conversation never sees it.
HOST_KEY = "_host"

RESEND = (
    "Another reply in this conversation was being saved at the same moment, so I did not keep your last "
    "message. Please send it again."
)

# Activity ids kept per conversation to recognise a redelivery (Teams retries within minutes).
SEEN_LIMIT = 50

MakeEmitter = Callable[[dict[str, str], Checkpoint], TurnEmitter]
Say = Callable[[str], Awaitable[Any]]
Outcome = Literal["stored", "failed", "conflict", "duplicate", "stopped"]


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


class TurnSlots:
    """At most `limit` activities inside the SDK and the conversation at once; the others wait their turn.

    Every turn in flight holds the SDK's per-turn objects (two HTTP client sessions, the activity, the
    conversation's state): a burst of a thousand at once cost the echo bot alone 100 MB. Queued, a turn holds
    only its request. A turn gives its slot back as soon as its long step starts (the checkpoint stored
    before the checks), so triages waiting on slow backends never hold other turns up.
    """

    def __init__(self, limit: int) -> None:
        self._free = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        await self._free.acquire()
        held = [True]

        def give_back() -> None:
            if held[0]:
                held[0] = False
                self._free.release()

        token = _SLOT.set(give_back)
        try:
            yield
        finally:
            _SLOT.reset(token)
            give_back()


_SLOT: ContextVar[Callable[[], None] | None] = ContextVar("turn_slot", default=None)


def give_back_turn_slot() -> None:
    """Give the current turn's slot back early (no-op outside `TurnSlots.hold`, or when already given)."""
    give_back = _SLOT.get()
    if give_back is not None:
        give_back()


class _Versions:
    """The stored document of one attempt: what it was, and the ETag of what is stored now."""

    def __init__(self, store: Store, key: str, original: JsonDict, etag: str | None) -> None:
        self._store = store
        self._key = key
        self._original = original
        self._etag = etag
        self._checkpointed = False
        host = original.get(HOST_KEY)
        self.host: JsonDict = dict(host) if isinstance(host, dict) else {}

    @property
    def checkpointed(self) -> bool:
        return self._checkpointed

    async def checkpoint(self, state: State, cards: dict[str, str]) -> None:
        self._etag = await self._store.write(self._key, _document(state, cards, self.host), self._etag)
        self._checkpointed = True

    async def commit(self, state: Any, cards: dict[str, str]) -> None:
        self._etag = await self._store.write(self._key, _document(state, cards, self.host), self._etag)

    async def moved_on(self) -> bool:
        """Whether the stored state was deleted, or changed by someone else to something but running checks."""
        document, etag = await self._store.read(self._key)
        if etag == self._etag:
            return False
        return not document or document.get("phase") != "running"

    async def restore(self) -> None:
        """Put back the state from before the turn, if a checkpoint replaced it."""
        if not self._checkpointed:
            return
        try:
            if self._original:
                await self._store.write(self._key, self._original, self._etag)
            else:
                await self._store.delete(self._key, self._etag)
        except ConflictError:
            logger.warning("could not restore %s after a failed turn: it changed meanwhile", self._key)


class TurnRunner:
    """Runs conversation turns against the store."""

    def __init__(
        self,
        store: Store,
        conversation: Conversation,
        locks: KeyedLocks | None = None,
        *,
        seen_seconds: float = 3600.0,
        watch_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._conversation = conversation
        self._locks = locks or KeyedLocks()
        self._seen_seconds = seen_seconds
        self._watch_seconds = watch_seconds
        self._clock = clock

    async def run(
        self, key: str, inbound: Inbound, make_emitter: MakeEmitter, say: Say, activity_id: str = ""
    ) -> TurnEmitter | None:
        """Run one turn; answer the emitter of the attempt whose state was stored (None if none was, or if
        `activity_id` was handled already)."""
        async with self._locks.hold(key):
            for attempt in (1, 2):
                emitter, outcome = await self._attempt(key, inbound, make_emitter, say, activity_id)
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
        self, key: str, inbound: Inbound, make_emitter: MakeEmitter, say: Say, activity_id: str
    ) -> tuple[TurnEmitter, Outcome]:
        document, etag = await self._store.read(key)
        versions = _Versions(self._store, key, copy.deepcopy(document), etag)
        state = {name: value for name, value in document.items() if name != HOST_KEY}
        seen = _seen(versions.host, self._clock() - self._seen_seconds)
        watcher: list[asyncio.Task[bool]] = []

        async def checkpoint(state: State, cards: dict[str, str]) -> None:
            await versions.checkpoint(state, cards)
            give_back_turn_slot()  # the long step (the checks) starts now
            if not watcher and self._watch_seconds > 0:
                watcher.append(asyncio.ensure_future(self._watch(versions, work)))

        emitter = make_emitter(_cards(document), checkpoint)
        if activity_id and activity_id in seen:
            logger.info(
                "activity %s in %s was handled already (redelivered); not handled again", activity_id, key
            )
            return emitter, "duplicate"
        versions.host["seen"] = _latest(seen)  # a checkpoint keeps the activity unseen: run again if we die
        work = asyncio.ensure_future(self._conversation.handle(state, inbound, emitter))
        try:
            try:
                new_state = await work
            finally:
                for task in watcher:
                    task.cancel()
            if activity_id:
                versions.host["seen"] = _latest({**seen, activity_id: self._clock()})
            await versions.commit(new_state, emitter.cards)
        except asyncio.CancelledError:
            if watcher and not watcher[0].cancelled() and watcher[0].done() and watcher[0].result():
                logger.info("the state of %s was deleted or moved on elsewhere: its checks stopped", key)
                return emitter, "stopped"
            raise
        except ConflictError:
            return emitter, "conflict"
        except ConversationGone:
            return emitter, "failed"  # logged where it was found; nobody left to apologise to
        except Exception:
            reference = correlation_id()
            logger.exception("turn failed in conversation %s [ref %s]", inbound.conversation_id, reference)
            await versions.restore()
            await say(apology(reference))
            return emitter, "failed"
        return emitter, "stored"

    async def _watch(self, versions: _Versions, work: asyncio.Future[Any]) -> bool:
        """Poll the stored state while the checks run; stop them when it is deleted or moved on."""
        while True:
            await asyncio.sleep(self._watch_seconds)
            try:
                if await versions.moved_on():
                    work.cancel()
                    return True
            except Exception:
                logger.debug("could not read the state to watch it", exc_info=True)


def _seen(host: JsonDict, since: float) -> dict[str, float]:
    seen = host.get("seen")
    if not isinstance(seen, dict):
        return {}
    return {str(k): float(v) for k, v in seen.items() if isinstance(v, int | float) and v >= since}


def _latest(seen: dict[str, float]) -> dict[str, float]:
    return dict(sorted(seen.items(), key=lambda item: item[1])[-SEEN_LIMIT:])


def _cards(document: JsonDict) -> dict[str, str]:
    host = document.get(HOST_KEY)
    cards = host.get("cards") if isinstance(host, dict) else None
    return {str(k): str(v) for k, v in cards.items()} if isinstance(cards, dict) else {}


def _document(state: Any, cards: dict[str, str], host: JsonDict) -> JsonDict:
    if not isinstance(state, dict):
        raise TypeError(f"the conversation returned {type(state).__name__}, not a state dict")
    document = {key: value for key, value in state.items() if key != HOST_KEY}
    document[HOST_KEY] = {**host, "cards": dict(cards)}
    encode(document)  # refuse a state that is not plain JSON here, inside the turn's error handling
    return document

"""Signed, expiring links to remediation runbooks.

A link is `{public_url}/remediation/{token}`; the token is `{id}.{expiry}.{mac}`, where the MAC is
HMAC-SHA256 over `{id}.{expiry}` with the host's link key. The runbook itself is kept in storage under its id,
so the link carries nothing but a pointer and the proof that the host issued it.

Keys rotate: links are signed with the current key and accepted with it or the previous one
(`TRIAGE_LINK_SECRET_PREVIOUS`), so links issued before a rollover keep working until they expire. A runbook
whose link has expired is deleted when it is next asked for, and by the retention purge otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.runbook_schema import Runbook, parse_runbook
from bot.storage import Store

__all__ = [
    "RUNBOOK_PREFIX",
    "Clock",
    "ExpiredLink",
    "LinkError",
    "LinkService",
    "LinkSigner",
    "PublishRunbook",
    "StoredRunbook",
    "TamperedLink",
    "UnknownLink",
    "load_link_key",
    "load_link_keys",
]

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
PublishRunbook = Callable[[Mapping[str, Any]], Awaitable[str]]

KEY_FILE = "link-signing.key"
_TOKEN = re.compile(r"^([0-9a-f]{32})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")


class LinkError(Exception):
    """A remediation link cannot be served."""


class TamperedLink(LinkError):
    """Malformed, or the signature does not match: not a link this host issued."""


class ExpiredLink(LinkError):
    """Genuine, but past its expiry."""


class UnknownLink(LinkError):
    """Genuine and current, but the runbook is no longer stored."""


class LinkSigner:
    """Signs and checks link tokens; the clock is injected so expiry can be tested.

    `key` signs; it and each of `previous` verify (a key rollover: two keys accepted at once)."""

    def __init__(
        self, key: bytes, ttl_seconds: float, clock: Clock = time.time, *, previous: tuple[bytes, ...] = ()
    ) -> None:
        if any(len(k) < 32 for k in (key, *previous)):
            raise ValueError("link keys are at least 32 bytes")
        self._key = key
        self._keys = (key, *previous)
        self._ttl = ttl_seconds
        self._clock = clock

    def sign(self, runbook_id: str) -> tuple[str, int]:
        """Answer the token for `runbook_id` and its expiry (Unix seconds)."""
        expires = int(self._clock() + self._ttl)
        return f"{runbook_id}.{expires}.{self._mac(runbook_id, expires, self._key)}", expires

    def verify(self, token: str) -> str:
        """Answer the runbook id a genuine, current token points to."""
        match = _TOKEN.match(token)
        if match is None:
            raise TamperedLink("malformed token")
        runbook_id, expires_text, mac = match.groups()
        expires = int(expires_text)
        if not any(hmac.compare_digest(mac, self._mac(runbook_id, expires, key)) for key in self._keys):
            raise TamperedLink("signature mismatch")
        if self._clock() >= expires:
            raise ExpiredLink(runbook_id)
        return runbook_id

    def _mac(self, runbook_id: str, expires: int, key: bytes) -> str:
        digest = hmac.new(key, f"{runbook_id}.{expires}".encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class StoredRunbook:
    runbook: Runbook
    created_at: int
    expires_at: int


class LinkService:
    """Publishes runbooks (store + sign) and resolves tokens back to them."""

    def __init__(self, store: Store, signer: LinkSigner, base_url: str, clock: Clock = time.time) -> None:
        self._store = store
        self._signer = signer
        self._base_url = base_url.rstrip("/")
        self._clock = clock

    async def publish(self, runbook: Mapping[str, Any]) -> str:
        """Store a runbook and answer a signed link to it (the port the conversation is given)."""
        parsed = parse_runbook(runbook)
        runbook_id = secrets.token_hex(16)
        token, expires = self._signer.sign(runbook_id)
        document = {"runbook": parsed, "created_at": int(self._clock()), "expires_at": expires}
        await self._store.write(_key(runbook_id), dict(document), None)
        logger.info("published runbook %s (%s)", runbook_id, parsed["cause_id"])
        return f"{self._base_url}/remediation/{token}"

    async def resolve(self, token: str) -> StoredRunbook:
        try:
            runbook_id = self._signer.verify(token)
        except ExpiredLink as expired:
            await self._store.delete(_key(str(expired)))  # a genuine link past its time: the runbook goes
            raise
        document, etag = await self._store.read(_key(runbook_id))
        if etag is None:
            raise UnknownLink(runbook_id)
        if int(document.get("expires_at", 0)) <= self._clock():
            await self._store.delete(_key(runbook_id), etag)
            raise ExpiredLink(runbook_id)
        return StoredRunbook(
            runbook=parse_runbook(document["runbook"]),
            created_at=int(document["created_at"]),
            expires_at=int(document["expires_at"]),
        )


def load_link_keys(configured: str | None, previous: str | None, state_dir: Path) -> tuple[bytes, ...]:
    """The signing key first, then the previous one while a rollover lasts."""
    key = load_link_key(configured, state_dir)
    return (key, previous.encode("utf-8")) if previous else (key,)


def load_link_key(configured: str | None, state_dir: Path) -> bytes:
    """The configured secret, or a key generated once and kept (0600) in the state directory."""
    if configured:
        return configured.encode("utf-8")
    path = state_dir / KEY_FILE
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            logger.warning("%s was readable by others; restricting it to its owner", path)
            path.chmod(0o600)
        key = path.read_bytes().strip()
        if len(key) < 32:
            raise ValueError(f"{path} holds no usable link key: delete it to generate a new one") from None
        return key
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secrets.token_urlsafe(48).encode("ascii"))
    logger.info("generated a new link signing key in %s", path)
    return path.read_bytes().strip()


RUNBOOK_PREFIX = "runbook/"


def _key(runbook_id: str) -> str:
    return f"{RUNBOOK_PREFIX}{runbook_id}"

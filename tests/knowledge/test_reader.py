"""The error-text reader on the seed documents: the extracted error texts and the whole articles."""

from __future__ import annotations

from typing import Any

import pytest

from knowledge.reader.error_text import MAX_PASTE_BYTES, PasteTooLarge
from tests.knowledge.reader_support import paste, read
from tests.texts import EXAMPLE, PASTES

SEED_000_CHAIN = ["ProxyWebRequestProcessingException", "WebException", "IOException", "SocketException"]
SEED_000: dict[str, Any] = {
    "event.id": 4002,
    "event.ids": [4002],
    "event.source": "MSExchange Availability",
    "proxy.type": "CrossSite",
    "request.requester": "UserA@contoso.mail.onmicrosoft.com",
    "request.target": "UserB@fabrikam.com",
    "caller.sids": "WSSecurity",
    "freebusy.view": "Detailed",
    "freebusy.merged_interval": 30,
    "target.url_scheme": "https",
    "exception.types": SEED_000_CHAIN,
}


@pytest.mark.parametrize("name", ["seed-000-event-4002.md", "seed-000-article.txt"])
def test_seed_000_event_4002(name: str) -> None:
    facts = read(paste(name))
    assert {k: facts.get(k) for k in SEED_000} == SEED_000
    assert "An existing connection was forcibly closed by the remote host" in facts["exception.messages"]
    assert {"connection-forcibly-closed", "proxy-web-request-failed"} <= set(facts["signatures"])
    assert "availability-site-needs-local-server" in facts["signatures"]
    # The article names no real server: its placeholders are not facts.
    for placeholder_fact in ("event.computer", "origin.server", "target.url", "target.fqdn"):
        assert placeholder_fact not in facts


@pytest.mark.parametrize("name", ["seed-001-messagetext.txt", "seed-001-article.txt"])
def test_seed_001_messagetext(name: str) -> None:
    facts = read(paste(name))
    assert facts["exception.types"] == ["WebException", "IOException", "SocketException"]
    assert facts["exception.messages"][0] == (
        "The underlying connection was closed: An unexpected error occurred on a receive"
    )
    assert facts["signatures"][:2] == ["proxy-web-request-failed", "connection-forcibly-closed"]
    assert "event.id" not in facts


@pytest.mark.parametrize("name", ["seed-002-event-42-reference.txt", "seed-002-article.txt"])
def test_seed_002_owa_42_reference(name: str) -> None:
    facts = read(paste(name))
    assert facts["event.id"] == 42
    assert facts["event.ids"] == [42]
    assert facts["event.source"] == "MSExchange OWA"
    assert facts["http.statuses"] == [403]
    assert "ProxyErrorSslConnection" in facts["error.codes"]
    assert "owa-proxy-ssl-configuration" in facts["signatures"]
    # "%1" and "%2" are the reference page's insertion markers, not servers; "http://" is no URL.
    for fact in ("proxy.source_server", "proxy.target_server", "target.url", "target.url_scheme"):
        assert fact not in facts


def test_seed_002_owa_42_with_real_server_names() -> None:
    facts = read(paste("seed-002-event-42.txt"))
    assert facts["event.id"] == 42
    assert facts["event.source"] == "MSExchange OWA"
    assert facts["event.computer"] == "EX01.contoso.com"
    assert facts["proxy.source_server"] == "mail.contoso.com"
    assert facts["proxy.target_server"] == "ex02.branch.contoso.com"
    assert facts["http.statuses"] == [403]


def test_unrecognised_text_gives_no_facts() -> None:
    assert read("The printer on the third floor is out of toner again.") == {}
    assert read("") == {}


def test_a_paste_over_one_mebibyte_is_refused() -> None:
    with pytest.raises(PasteTooLarge, match="1 MiB"):
        read("x" * (MAX_PASTE_BYTES + 1))
    # The limit counts UTF-8 bytes, not characters.
    with pytest.raises(PasteTooLarge):
        read("é" * (MAX_PASTE_BYTES // 2 + 1))
    assert read("x" * MAX_PASTE_BYTES) == {}


def test_the_seeds_are_within_the_paste_limit() -> None:
    for path in [*PASTES.glob("seed-*"), EXAMPLE]:
        assert len(path.read_bytes()) <= MAX_PASTE_BYTES
        read(path.read_text(encoding="utf-8"))

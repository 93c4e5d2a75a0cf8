"""Properties of the reader: typed facts, no crash on any text, deterministic, anchored scans equal to
plain regex scans, signatures applied as declared."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.loader import DATA_DIR
from knowledge.model import FactSpec, Signature
from knowledge.reader import cmdlets as reader_cmdlets
from knowledge.reader import errors as reader_errors
from knowledge.reader import events as reader_events
from knowledge.reader import request as reader_request
from knowledge.reader import xml_events as reader_xml
from knowledge.reader.error_text import MAX_PASTE_BYTES, PasteTooLarge, read_error_text
from knowledge.reader.scan import Paste, plan, scan
from knowledge.yamlio import read_yaml
from tests.knowledge.reader_support import FACTS, SIGNATURES, read
from tests.texts import every_text

PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
}
ALL_PASTES = every_text()
CASE_TEXTS = ["\n".join(c["error_text"]) for c in read_yaml(DATA_DIR / "cases.yaml")["cases"]]
FRAGMENTS = [path.read_text(encoding="utf-8")[:600] for path in ALL_PASTES] + CASE_TEXTS


def typed_as_declared(name: str, value: Any) -> bool:
    """Whether `value` has the type facts.yaml declares for `name` (and is not empty)."""
    spec: FactSpec | None = FACTS.get(name)
    if spec is None or spec.source != "reader" or value in (None, "", []):
        return False
    if spec.type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if spec.type in PYTHON_TYPES:
        return isinstance(value, PYTHON_TYPES[spec.type])
    if not isinstance(value, list):
        return False
    if spec.type == "strings":
        return all(isinstance(item, str) and item for item in value)
    if spec.type == "integers":
        return all(isinstance(item, int) and not isinstance(item, bool) for item in value)
    return all(isinstance(item, dict) and all(isinstance(v, str) for v in item.values()) for item in value)


def assert_typed(facts: dict[str, Any]) -> None:
    wrong = {name: value for name, value in facts.items() if not typed_as_declared(name, value)}
    assert wrong == {}


@pytest.mark.parametrize("path", ALL_PASTES, ids=lambda p: p.name)
def test_every_fact_from_every_paste_is_typed_as_the_registry_says(path: Any) -> None:
    facts = read(path.read_text(encoding="utf-8"))
    assert facts
    assert_typed(facts)


def test_every_fact_from_the_reference_cases_is_typed_as_the_registry_says() -> None:
    for text in CASE_TEXTS:
        assert_typed(read(text))


def test_the_typing_check_itself_rejects_wrong_values() -> None:
    assert not typed_as_declared("event.id", "4002")
    assert not typed_as_declared("event.id", True)
    assert not typed_as_declared("error.lids", [1, "2"])
    assert not typed_as_declared("signatures", [])
    assert not typed_as_declared("no.such.fact", "x")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
def test_arbitrary_text_never_crashes_and_gives_typed_facts(text: str) -> None:
    facts = read(text)
    assert_typed(facts)
    assert read(text) == facts


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_decoded_with_replacement_never_crash(data: bytes) -> None:
    assert_typed(read(data.decode("utf-8", errors="replace")))


GARBAGE = st.text(
    alphabet=st.sampled_from(list("\\\"'{}<>&;:%-\n\t `\u201c\u2014\u00a0#@./0123456789Ea")), max_size=40
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(FRAGMENTS), st.integers(0, 600), st.integers(0, 600), GARBAGE), max_size=6
    )
)
def test_pasted_fragments_spliced_with_garbage_never_crash(pieces: list[tuple[str, int, int, str]]) -> None:
    text = "".join(fragment[a : a + b] + junk for fragment, a, b, junk in pieces)
    facts = read(text)
    assert_typed(facts)
    assert read(text) == facts


def reader_patterns() -> list[re.Pattern[str]]:
    found = []
    for module in (reader_errors, reader_events, reader_request, reader_cmdlets, reader_xml):
        for value in vars(module).values():
            items = value if isinstance(value, tuple) else (value,)
            found += [item for item in items if isinstance(item, re.Pattern)]
    flags = {True: re.IGNORECASE, False: 0}
    return found + [re.compile(s.pattern, flags[s.ignore_case]) for s in SIGNATURES]


PATTERNS = reader_patterns()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(FRAGMENTS), st.integers(0, 500), st.integers(0, 300), GARBAGE), max_size=5
    ),
    st.sampled_from(["", "\u0130", "\u017f", "\u212a", "\u0131", "\U0001f642"]),
)
def test_anchored_scans_find_what_plain_regex_scans_find(
    pieces: list[tuple[str, int, int, str]], odd: str
) -> None:
    text = "".join(fragment[a : a + b] + junk + odd for fragment, a, b, junk in pieces)
    paste = Paste(text)
    for pattern in PATTERNS:
        expected = [m.span() for m in pattern.finditer(text)]
        assert [m.span() for m in scan(pattern, paste, limit=10_000)] == expected, pattern.pattern


def test_anchored_scan_plans() -> None:
    assert plan(re.compile(r"\bEvent[ \t]?ID\b")) is not None
    assert plan(re.compile(r"(?i)proxy web request failed")).anchors == ("proxy web request failed",)  # type: ignore[union-attr]
    # A branch without a literal, or a literal arbitrarily far into the match, leaves only the plain scan.
    assert plan(re.compile(r"\d+|foo")) is None
    assert plan(re.compile(r"[a-z]*foobar")) is None


def test_every_bundled_signature_scans_by_anchor() -> None:
    """Each signature must name a literal near its start, or a 1 MiB paste costs a full regex pass."""
    slow = [
        s.id for s in SIGNATURES if plan(re.compile(s.pattern, re.IGNORECASE if s.ignore_case else 0)) is None
    ]
    assert slow == []


def signature(pattern: str, sid: str = "test-signature", **sets: Any) -> Signature:
    return Signature.model_validate(
        {"id": sid, "title": "t", "pattern": pattern, "sets": [{"fact": f, **v} for f, v in sets.items()]}
    )


def test_signatures_set_constant_and_group_facts_typed_by_the_registry() -> None:
    sigs = [
        signature(
            r"The request failed with HTTP status (\d{3})", "status-group", **{"http.statuses": {"group": 1}}
        ),
        signature(r"tried to proxy", "constant", **{"proxy.type": {"value": "OwaProxy"}}),
        signature(r"LID (?P<lid>\w+)", "named-group", **{"error.lids": {"group": "lid"}}),
    ]
    facts = read_error_text(
        "LID abc. The request failed with HTTP status 503: no. Server A tried to proxy.",
        signatures=sigs,
        facts=FACTS,
    )
    assert facts["signatures"] == ["named-group", "status-group", "constant"]
    assert facts["http.statuses"] == [503]
    assert facts["proxy.type"] == "OwaProxy"
    # "abc" is no integer, so it sets nothing.
    assert "error.lids" not in facts


def test_a_signature_never_overrides_what_the_text_says_structurally() -> None:
    sigs = [signature(r"ProxyWebRequest", "pwr", **{"proxy.type": {"value": "Other"}})]
    facts = read_error_text(
        "ProxyWebRequest CrossSite from a@b.com to https://x.contoso.com/ews", sigs, FACTS
    )
    assert facts["proxy.type"] == "CrossSite"


def test_a_signature_naming_a_missing_group_sets_nothing() -> None:
    sigs = [signature(r"boom", "missing-group", **{"caller.sids": {"group": 3}})]
    assert read_error_text("boom", sigs, FACTS) == {"signatures": ["missing-group"]}


def test_signatures_default_to_the_bundled_knowledge_base() -> None:
    text = "An existing connection was forcibly closed by the remote host"
    assert read_error_text(text) == {"signatures": ["connection-forcibly-closed"]}


def test_paste_too_large_says_what_to_do() -> None:
    with pytest.raises(PasteTooLarge) as caught:
        read_error_text("é" * MAX_PASTE_BYTES)
    assert isinstance(caught.value, ValueError)
    assert caught.value.size == 2 * MAX_PASTE_BYTES
    assert str(caught.value) == (
        "That paste is 2,048 KiB; I read at most 1,024 KiB (1 MiB). Paste just the error message or one event entry."
    )


@pytest.mark.parametrize(
    ("text", "literal", "lacks"),
    [
        ("xxproxy web request failedyy", "proxy web request failed", False),
        ("Proxy Web Request Failed", "proxy web request failed", False),
        ("proxy web", "proxy request", True),
        ("proxy request failed", "proxy web request failed", True),
        # The outer words of a longer literal are not looked up: the search decides.
        ("proxy web req", "proxy web request", False),
        ("a" * 100 + "tokenissueruri" + "b" * 100, "tokenissueruri", False),
        ("a" * 1000, "event", True),
        # Words cannot tell "error-code" from "error code": the filter lets the search decide.
        ("error-code 5037", "error code", False),
        ("", "x", True),
    ],
)
def test_a_paste_lacks_a_literal_only_when_it_does_not_occur(text: str, literal: str, lacks: bool) -> None:
    assert Paste(text).lacks(literal) is lacks


@pytest.mark.parametrize(
    "text",
    [
        "ZAn existing connection was forcibly closed by the remote hostZ",
        "xxProxy web request failedyy and ErrorProxyRequestProcessingFailedX",
        "  Id   : 4002\nId: 7\n   Type : Error\n-- ---\n----- -----\nEvent ID:\n\n42",
        "eventevent ID 1 EVENT id 2 \u0130d : 3",
    ],
)
def test_anchored_scans_on_glued_and_odd_text(text: str) -> None:
    paste = Paste(text)
    for pattern in PATTERNS:
        assert [m.span() for m in scan(pattern, paste, limit=10_000)] == [
            m.span() for m in pattern.finditer(text)
        ]


def test_case_insensitive_patterns_fall_back_when_lower_casing_moves_positions() -> None:
    paste = Paste("EVENT ID: 4002")
    paste.low = None  # as if lower-casing had changed the text's length
    pattern = re.compile(r"event id: (\d+)", re.IGNORECASE)
    assert [m.group(1) for m in scan(pattern, paste)] == ["4002"]


def test_non_ascii_case_insensitive_anchors_are_not_used() -> None:
    assert plan(re.compile("\u00b5seconds elapsed", re.IGNORECASE)) is None
    assert plan(re.compile("\u00b5seconds elapsed")) is not None

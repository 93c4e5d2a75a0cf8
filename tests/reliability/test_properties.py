"""Property-based fuzzing of what users type and click: the conversation at every step of the tree, the
error-text reader on mangled real pastes, and the address and server-name validators."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs.api import Inbound, State
from dialogs.engine import TriageConversation
from dialogs.testing import FakeCheckRunner, Recorder
from knowledge.loader import load_knowledge
from knowledge.reader.error_text import read_error_text
from tests.texts import EXAMPLE, every_text

KB = load_knowledge()
PASTE = EXAMPLE.read_text("utf-8")
APOLOGY = "Sorry, something went wrong"


def _message(text: str) -> Inbound:
    return Inbound("message", "a:fuzz", user_id="u-1", user_name="Ada Lovelace", text=text)


def _submit(**value: Any) -> Inbound:
    return Inbound("submit", "a:fuzz", user_id="u-1", user_name="Ada Lovelace", value=value)


# One whole triage, a step at a time: fuzzing starts after any prefix of it (every step of the tree, the
# result, and the escalation's "what did you try" question).
PATH = [
    _message("hi"),
    _submit(action="answer", node="symptom", value="freebusy-cloud-to-onprem"),
    _submit(action="answer", node="scope", value="all"),
    _submit(action="answer", node="pair", requester="alice@contoso.com", target="bjorn@contoso.com"),
    _submit(action="answer", node="sites", value="confirm"),
    _message(PASTE),
    _submit(action="escalate"),
]

WORDS = ["help", "back", "restart", "cancel", "status", "escalate", "yes", "no", "skip", "start", "Branch"]
KEYS = ["action", "node", "value", "requester", "target", "site", "text", "verb", "skip", "tried"]
ACTIONS = [
    "answer",
    "skip",
    "back",
    "restart",
    "cancel",
    "status",
    "escalate",
    "escalate_send",
    "help",
    "paste",
]
NODES = [node.id for node in KB.tree.nodes]

json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
)
typed = st.one_of(
    st.text(max_size=300),
    st.sampled_from(WORDS),
    st.sampled_from(["alice@contoso.com", "bjorn@contoso.com", "x@y", "@", "a@b.c"]).map(
        lambda a: f"{a} can't see bob@contoso.com"
    ),
    st.sampled_from([PASTE[:400], PASTE, "Event ID: 4002 " * 50]),
).map(_message)
clicked = st.builds(
    lambda known, extra: _submit(**{**extra, **known}),
    st.fixed_dictionaries(
        {},
        optional={
            "action": st.sampled_from(ACTIONS) | st.text(max_size=10),
            "node": st.sampled_from(NODES) | st.text(max_size=10),
            "value": json_value,
        },
    ),
    st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_value, max_size=4),
)


async def _publish(_runbook: dict[str, Any]) -> str:
    return "https://triage.example/remediation/1"


def _conversation() -> TriageConversation:
    return TriageConversation(KB, FakeCheckRunner(), _publish, read_error_text)


async def _turn(conversation: TriageConversation, state: State, inbound: Inbound) -> tuple[State, Recorder]:
    recorder = Recorder()
    before = json.dumps(state, sort_keys=True)
    new_state = await conversation.handle(state, inbound, recorder)
    assert json.dumps(state, sort_keys=True) == before, "the state handed in was changed"
    stored = json.dumps(new_state, ensure_ascii=False, allow_nan=False).encode("utf-8")
    assert json.loads(stored) == new_state, "the state is not plain JSON"
    return new_state, recorder


async def _fuzz(step: int, noise: list[Inbound]) -> None:
    conversation = _conversation()
    state: State = {}
    for inbound in PATH[:step]:
        state, _ = await _turn(conversation, state, inbound)
    for inbound in noise:
        state, recorder = await _turn(conversation, state, inbound)
        replies = [o for o in recorder.sent if o.kind in ("text", "card", "escalation")]
        assert replies, f"no reply to {inbound}"
        assert not any(APOLOGY in o.text for o in replies), (inbound, recorder.texts())
        assert state.get("last_error") is None


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(step=st.integers(0, len(PATH)), noise=st.lists(typed | clicked, min_size=1, max_size=4))
def test_any_message_or_click_at_any_step_gets_a_reply_and_keeps_a_json_state(
    step: int, noise: list[Inbound]
) -> None:
    asyncio.run(_fuzz(step, noise))


# The error-text reader on real pastes mangled the way chat clients and hurried people mangle them.

PASTES = [path.read_text("utf-8") for path in every_text() if path.suffix in (".txt", ".json", ".xml", ".md")]
GARBAGE = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]) | st.sampled_from("\r\n\t\x00\u200b\ufeff<>&;\"'\\"),
    max_size=60,
)


@st.composite
def mangled_paste(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(PASTES))
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 200)))
        how = draw(st.sampled_from(["cut", "insert", "replace", "crlf", "html", "quote", "double"]))
        piece = text[start:end]
        if how == "cut":
            text = text[:start] + text[end:]
        elif how == "insert":
            text = text[:start] + draw(GARBAGE) + text[start:]
        elif how == "replace":
            text = text[:start] + draw(GARBAGE) + text[end:]
        elif how == "crlf":
            text = text.replace("\n", "\r\n") if draw(st.booleans()) else text.replace("\n", " ")
        elif how == "html":
            text = text[:start] + piece.replace("<", "&lt;").replace(">", "&gt;") + text[end:]
        elif how == "quote":
            text = text[:start] + "\n".join("> " + line for line in piece.splitlines()) + text[end:]
        else:
            text = text[:end] + piece + text[end:]
    return text


def _reader_fact_types_hold(facts: dict[str, Any]) -> None:
    for name, value in facts.items():
        spec = KB.facts.get(name)
        assert spec is not None and spec.source == "reader", name
        python = {
            "string": str,
            "integer": int,
            "boolean": bool,
            "strings": list,
            "integers": list,
            "records": list,
        }
        assert isinstance(value, python[spec.type]) and not (
            spec.type == "integer" and isinstance(value, bool)
        )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled_paste())
def test_mangled_real_pastes_read_to_typed_json_facts_the_same_way_every_time(text: str) -> None:
    facts = read_error_text(text)
    _reader_fact_types_hold(facts)
    assert json.loads(json.dumps(facts, ensure_ascii=False).encode("utf-8")) == facts
    assert read_error_text(text) == facts


# The address and server-name validators: what they accept they keep, and accept again unchanged.

# RFC 5322's atext without ' ` { } | $ #: characters PowerShell and the remediation templates read specially,
# which the address check refuses (FORBIDDEN below).
ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!%&*+/=?^_~-"
label = st.from_regex(r"\A[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?\Z")
domain = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(label, min_size=1, max_size=3),
    st.from_regex(r"\A[a-zA-Z]{2,6}\Z"),
)
local_part = st.lists(st.text(alphabet=ATEXT, min_size=1, max_size=10), min_size=1, max_size=3).map(".".join)
FORBIDDEN = st.sampled_from([*list(' ,;:"()<>[]\\\t\n'), *list("'`{}|$#"), "é", "ß", "\u200b", "\x00"])


@given(local_part, domain, st.sampled_from(["{}", " {} ", "<{}>", "SMTP:{}", "smtp:{}"]))
def test_a_well_formed_address_is_accepted_as_written_in_any_wrapping(
    local: str, host: str, wrapping: str
) -> None:
    from knowledge.validators import check_smtp, normalise_smtp

    accepted = check_smtp(wrapping.format(f"{local}@{host}"))
    assert accepted == f"{local}@{host.lower()}"
    assert check_smtp(accepted) == accepted
    assert normalise_smtp(accepted) == accepted.lower() == normalise_smtp(normalise_smtp(accepted))


@given(local_part, domain, FORBIDDEN, st.data())
def test_an_address_with_a_character_it_cannot_have_is_refused(
    local: str, host: str, bad: str, data: st.DataObject
) -> None:
    """The validator and this property agree on angle brackets: a helpdesk agent pastes an address the way
    Outlook shows it, `Carol <carol@contoso.com>`, so one whole pair around the address is accepted (the
    property above); a lone `<` before it (`<0@0.AA`, which an earlier validator stripped) is a pair cut in
    half by the paste, and is refused like any other character an address cannot have."""
    from knowledge.validators import ValueProblem, check_smtp

    where = data.draw(st.integers(1, len(local) - 1)) if len(local) > 1 else 0
    broken = f"{local[:where]}{bad}{local[where:]}@{host}"
    try:
        accepted = check_smtp(broken)
    except ValueProblem:
        return
    # Only surrounding whitespace may be dropped: what is accepted has none of those characters.
    assert bad.isspace() and where == 0 and accepted == f"{local}@{host.lower()}"


@given(st.text(max_size=100))
def test_the_validators_accept_their_own_answers_unchanged(raw: str) -> None:
    from knowledge.validators import ValueProblem, check_server, check_smtp

    for check in (check_smtp, check_server):
        try:
            accepted = check(raw)
        except ValueProblem:
            continue
        assert check(accepted) == accepted
        assert accepted == accepted.strip() and accepted.isascii() and accepted.isprintable()


@given(st.one_of(st.from_regex(r"\A[A-Za-z0-9](?:[A-Za-z0-9-]{0,13}[A-Za-z0-9])?\Z"), domain), FORBIDDEN)
def test_server_names_are_netbios_names_or_domain_names_and_nothing_else(name: str, bad: str) -> None:
    from knowledge.validators import ValueProblem, check_server

    assert check_server(name) == name
    broken = name[:1] + bad + "x" + name[1:]  # inside the name, never at an end (where spaces are trimmed)
    try:
        check_server(broken)
    except ValueProblem:
        return
    raise AssertionError(f"{broken!r} was accepted as a server name")

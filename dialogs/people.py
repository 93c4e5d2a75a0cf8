"""People by name: what a message says in plain words, and the mailboxes behind the names it gives.

`read_plainly` applies `dialogs.reading` to a typed message: the symptom (from the symptom and direction
words), the scope, and the people, which are looked up in the directory (`directory-names`: Get-Recipient
-Anr). One match is taken; several give a pick-list card; a mistyped address gives "Did you mean
carol@contoso.com?"; nobody found is said, and the address asked for. A person is never dropped silently: each
one named is either resolved, asked about, or named in what the bot says.

State: `state.reading` = {"topic": str, "pending": [{role, query, how, candidates}], "looked_up": str}.
"""

from __future__ import annotations

from typing import Any

from checks.api import CheckRequest, ProgressEvent
from dialogs.api import Card
from dialogs.cards import card, heading, submit, subtle, text
from dialogs.questions import PICK, send_question
from dialogs.reading import Person, Reading, describes_a_pair, read_message, symptom_of
from dialogs.state import asking, push_snapshot
from dialogs.turn import Turn
from knowledge.jsonvalue import JsonValue
from knowledge.model import TreeNode
from knowledge.validators import ValueProblem, check_smtp

__all__ = [
    "LOOKUP_NAMES",
    "PICK",
    "answer_pick",
    "ask_pending",
    "pending",
    "pick_question",
    "read_plainly",
    "reading_state",
]

LOOKUP_NAMES = "directory-names"
_ROLES = ("requester", "target")
_WORDS = {"requester": "who cannot see", "target": "whose free/busy"}


def reading_state(turn: Turn) -> dict[str, Any]:
    found = turn.state.reading
    found.setdefault("topic", "")
    found.setdefault("pending", [])
    return found


def pending(turn: Turn) -> list[dict[str, Any]]:
    return list(reading_state(turn)["pending"])


async def _quiet(_: ProgressEvent) -> None:
    return None


async def _directory(turn: Turn, queries: list[str]) -> dict[str, dict[str, Any]] | None:
    """The directory's records by query; None when it could not be searched (no backend, an error)."""
    await turn.typing()
    asked: list[JsonValue] = list(queries)
    request = CheckRequest((LOOKUP_NAMES,), {"people.query": asked})
    results = await turn.services.runner.run(request, _quiet)
    result = next((r for r in results if r.id == LOOKUP_NAMES), None)
    records = (result.facts or {}).get("people.found") if result is not None else None
    if result is None or result.status == "error" or not isinstance(records, list):
        return None
    return {str(r.get("query")): r for r in records if isinstance(r, dict)}


def _valid(address: str) -> str | None:
    try:
        return check_smtp(address)
    except ValueProblem:
        return None


def _roles_wanted(node: TreeNode | None, reading: Reading, said: dict[str, Any]) -> list[tuple[str, Person]]:
    """Each named person with the role they take: the reading's, or the one still open."""
    out: list[tuple[str, Person]] = []
    named = [p for p in reading.people if p.role in _ROLES]
    for person in named:
        out.append((person.role, person))
    loose = [p for p in reading.people if not p.role]
    if loose and not named:
        # One person named on their own: the target when the requester is known or only a target is asked.
        open_roles = [r for r in _ROLES if not said.get(r)]
        if node is not None and node.asks == ["target"]:
            open_roles = ["target"]
        for person, role in zip(loose, open_roles, strict=False):
            out.append((role, person))
    return out


def _candidate_line(candidate: dict[str, Any]) -> str:
    where = {"online": "Exchange Online", "onprem": "on-premises"}.get(str(candidate.get("location")), "")
    name = str(candidate.get("name") or "")
    shown = f"{name} ({candidate['address']})" if name else str(candidate["address"])
    return f"{shown}, {where}" if where else shown


async def _resolve(turn: Turn, wanted: list[tuple[str, Person]]) -> list[str]:
    """Look the people up; resolved ones go into `said`, open ones into pending. Returns lines to say."""
    said = turn.state.said
    queries = list(dict.fromkeys(p.text for _, p in wanted))[:4]
    records = await _directory(turn, queries)
    lines: list[str] = []
    waiting: list[dict[str, Any]] = []
    for role, person in wanted:
        address = _valid(person.text) if person.kind == "address" else None
        record = (records or {}).get(person.text)
        if record is None:
            if address:
                said[role] = address  # no directory to ask: take the address as typed
            elif person.kind == "name":
                lines.append(
                    f"I could not look {person.text} up in the directory; give me {_WORDS[role]}'s email address."
                )
            continue
        candidates = [c for c in record.get("candidates") or [] if isinstance(c, dict) and c.get("address")]
        how = str(record.get("how") or "")
        if how == "identity" and candidates:
            said[role] = str(candidates[0]["address"])
        elif how == "name" and len(candidates) == 1:
            said[role] = str(candidates[0]["address"])
            lines.append(f"{person.text}: {_candidate_line(candidates[0])}.")
        elif candidates:
            if person.kind == "address":
                said.pop(role, None)  # a mistyped address: "Did you mean ...?" first
            waiting.append({"role": role, "query": person.text, "how": how, "candidates": candidates[:8]})
        else:
            if person.kind == "address":
                said.pop(role, None)  # an address nobody has: asked for again, never kept quietly
            lines.append(f"I found nobody called {person.text} in the directory.")
    # Two roles resolved to one mailbox is no pair: keep the requester, ask for the target again.
    if said.get("requester") and said.get("requester") == said.get("target"):
        said.pop("target")
        lines.append("Both names point to the same mailbox; whose free/busy cannot be seen?")
    reading_state(turn)["pending"] = waiting
    return lines


async def read_plainly(
    turn: Turn,
    node: TreeNode | None,
    text: str,
    *,
    is_paste: bool,
    fresh: set[str] | frozenset[str] = frozenset(),
    people: bool = True,
) -> str:
    """Apply what `text` says in plain words to the state; returns what to say about it ("" for nothing).
    `fresh` are facts this same message already set another way (the plain reading may replace them)."""
    if is_paste:
        # Only a sentence typed above a paste speaks for the user ("carol can't see erin:"), not the paste.
        first = text.strip().split("\n", 1)[0]
        text = first if len(first) <= 300 and describes_a_pair(first) else ""
    reading = read_message(text)
    said = turn.state.said
    state = reading_state(turn)
    lines: list[str] = []
    if reading.topic:
        state["topic"] = reading.topic
    asks = set(node.asks) if node else set()
    symptom = symptom_of(reading.topic, reading.direction)
    if symptom and (not said.get("symptom") or {"symptom"} & (asks | fresh) or reading.correction):
        said["symptom"] = symptom
    scope_open = not said.get("scope") or bool({"scope"} & (asks | fresh)) or reading.correction
    # "site" is read from loose words (site, branch, office): trusted when asked, or with a site named.
    if reading.scope and scope_open and (reading.scope != "site" or "scope" in asks or reading.sites):
        said["scope"] = reading.scope
    wanted = _roles_wanted(node, reading, said) if people else []
    if reading.correction and wanted:
        # "no wait, typo: carol@contoso.com": the person meant replaces the one it looks like.
        wanted = [(_closest_role(said, person) or role, person) for role, person in wanted]
    # People told before are not looked up again unless this message corrects or answers them.
    wanted = [
        (r, p)
        for r, p in wanted
        if reading.correction or r in asks or r in fresh or not said.get(r) or p.kind == "name"
    ]
    if wanted:
        lines += await _resolve(turn, wanted)
    return " ".join(lines)


def _closest_role(said: dict[str, Any], person: Person) -> str:
    """The role whose address the corrected one resembles most (same local part or same domain)."""
    local = person.text.split("@", 1)[0].casefold()
    for role in _ROLES:
        known = str(said.get(role) or "")
        if known and known.split("@", 1)[0].casefold() == local:
            return role
    return ""


def pick_question(item: dict[str, Any]) -> str:
    """The question a pick-list asks about one person."""
    query, candidates = item["query"], item["candidates"]
    if item.get("how") == "close":
        if len(candidates) == 1:
            return f"I could not find {query}. Did you mean {candidates[0]['address']}?"
        return f"I could not find {query}. Did you mean one of these?"
    return f"Several people match {query}. Which one is {_WORDS[item['role']]}?"


def pick_card(item: dict[str, Any], note: str = "") -> Card:
    """Several mailboxes match a name (or a mistyped address resembles one): which one was meant?"""
    candidates = item["candidates"]
    body = [text(note, color="Attention")] if note else []
    body.append(heading(pick_question(item)))
    if item.get("how") == "close" and len(candidates) == 1:
        actions = [
            submit(f"Yes, {candidates[0]['address']}", "pick", node=PICK, value=candidates[0]["address"]),
            submit("No, I'll type it", "pick", node=PICK, value=""),
        ]
    else:
        actions = [submit(_candidate_line(c), "pick", node=PICK, value=c["address"]) for c in candidates]
        actions.append(submit("None of these", "pick", node=PICK, value=""))
    body.append(subtle("Or type the email address."))
    return card(body, actions)


async def ask_pending(turn: Turn, note: str = "") -> bool:
    """Ask about the first person still open; False when none is."""
    waiting = pending(turn)
    if not waiting:
        return False
    asking(turn.state)
    role = waiting[0]["role"]
    turn.awaiting(PICK, role)
    question = pick_card(waiting[0], note)
    await send_question(turn, question, node=PICK, prompt=pick_question(waiting[0]), facts=[role])
    return True


async def answer_pick(turn: Turn, choice: str | None, typed: str) -> str:
    """The answer to a pick-list: a button's address, or a typed address or name. Returns a re-prompt."""
    waiting = pending(turn)
    if not waiting:
        return ""
    item = waiting[0]
    role = item["role"]
    offered = {str(c["address"]).casefold(): str(c["address"]) for c in item["candidates"]}
    address = ""
    if choice is not None:
        address = offered.get(choice.casefold(), "") if choice else ""
        if choice and not address:
            return "That choice is not one I offered; pick one of the buttons."
    elif typed.strip():
        if typed.strip().casefold() in ("yes", "y", "yep", "yeah", "correct", "right") and len(offered) == 1:
            address = next(iter(offered.values()))
        else:
            number = typed.strip().rstrip(".")
            if number.isascii() and number.isdigit() and 1 <= int(number) <= len(item["candidates"]):
                address = str(item["candidates"][int(number) - 1]["address"])
    if address:
        push_snapshot(turn.state)
        turn.state.said[role] = address
        reading_state(turn)["pending"] = waiting[1:]
        return ""
    if choice == "" or typed.strip():
        # "None of these" or a typed answer that is not a pick: read it as a new name or address for the role.
        reading_state(turn)["pending"] = waiting[1:]
        turn.state.said.pop(role, None)
        if typed.strip():
            reading = read_message(typed)
            person = next(iter(reading.people), None)
            if person is not None:
                lines = await _resolve(turn, [(role, person)])
                reading_state(turn)["pending"] = [*pending(turn), *waiting[1:]]
                return " ".join(lines)
        return f"Then give me {_WORDS[role]}'s email address."
    return ""

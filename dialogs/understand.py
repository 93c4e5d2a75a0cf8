"""Understanding what people type: commands, symptoms, scope, address pairs, AD sites and yes/no.

Symptoms are matched on concepts (cloud, on-premises, forest, site, OWA, EWS, proxy, free/busy) found in
the user's words and in each symptom's title, description and examples from symptoms.yaml, so a new
symptom in the data is understood without code changes. Concepts that every symptom shares weigh little.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from dialogs.bounds import MAX_MESSAGE, collapse
from knowledge.loader import KnowledgeBase
from knowledge.model import TreeOption
from knowledge.validators import ValueProblem, check_smtp, normalise_smtp

__all__ = [
    "PairReading",
    "command_of",
    "is_greeting",
    "is_no",
    "is_skip",
    "is_yes",
    "match_option",
    "match_scope",
    "match_symptom",
    "read_pair",
    "read_site",
]

# Every text is collapsed and capped before a pattern sees it (dialogs.bounds): a command, a yes or a site at
# `_SHORT` characters, a description of the problem at `_DESCRIPTION`.
_SHORT = 200
_DESCRIPTION = 2_000

_COMMANDS = {
    "help": r"help|\?|what can i (?:say|do)|commands",
    "back": r"back|go back|undo|previous",
    "restart": r"restart|start|start over|start again|reset|new triage",
    "cancel": r"cancel|stop|abort|never ?mind",
    "status": r"status|where are we|progress",
    "escalate": r"escalate|escalation|escalate this",
}
_COMMAND_RES = {name: re.compile(rf"^/?(?:{pattern})[\s.!?]*$", re.I) for name, pattern in _COMMANDS.items()}


def command_of(text: str) -> str | None:
    """The command a whole message is, if it is one (help, back, restart, cancel, status, escalate)."""
    stripped = collapse(text, _SHORT)
    return next((name for name, regex in _COMMAND_RES.items() if regex.match(stripped)), None)


_GREETING = re.compile(
    r"^(?:hi+|hello|hey+|hiya|howdy|hallo|greetings|yo|morning|afternoon|evening|"
    r"good (?:morning|afternoon|evening|day))"
    r"(?:[\s,]+(?:there|all|everyone|team|folks|bot|triage|again))*[\s.!,:)]*$",
    re.I,
)


def is_greeting(text: str) -> bool:
    """A message that is only a greeting ("hi", "hey there", "good morning!")."""
    return bool(_GREETING.match(collapse(text, _SHORT)))


_YES = re.compile(
    r"^(?:y|yes|yep|yeah|correct|right|that'?s right|ok|okay|confirm(?:ed)?|sure|looks good)\W*$", re.I
)
_NO = re.compile(r"^(?:n|no|nope|wrong|not right|incorrect|that'?s wrong)\b", re.I)
_SKIP = re.compile(
    r"^(?:skip|none|no|nothing|n/?a|no error|no errors|i don'?t have (?:one|it|any)|don'?t have (?:one|it|any)|pass)\W*$",
    re.I,
)


def is_yes(text: str) -> bool:
    return bool(_YES.match(collapse(text, _SHORT)))


def is_no(text: str) -> bool:
    return bool(_NO.match(collapse(text, _SHORT)))


def is_skip(text: str) -> bool:
    return bool(_SKIP.match(collapse(text, _SHORT)))


# --- symptoms ---------------------------------------------------------------------------------------------

_CONCEPTS = {
    "cloud": r"cloud|exchange online|exo|o365|office ?365|m365|microsoft 365|online|migrated",
    "onprem": r"on[- ]?prem(?:ise|ises)?|onpremises|local exchange|exchange server",
    "freebusy": r"free ?/ ?busy|freebusy|f/b|availability|scheduling assistant|calendars?|hatched|no information",
    "forest": (
        r"forests?|cross[- ]forest|cross[- ]org\w*|federated sharing|availability address space|"
        r"(?:two|other|another|different|partner|external) (?:organi[sz]ations?|orgs?|compan(?:y|ies)|tenants?)|"
        r"between organi[sz]ations|partner"
    ),
    "site": r"(?:ad |active directory )?sites?|branch|hq|headquarters|data ?cent(?:er|re)s?|non-internet-facing",
    "owa": r"owa|outlook on the web|outlook web (?:app|access)|ecp|eac|event 42",
    "ews": r"ews|exchange web services|outlook for mac|mac outlook|mobile",
    "proxy": r"prox(?:y|ied|ying)",
}
_CONCEPT_RES = {name: re.compile(rf"\b(?:{pattern})\b", re.I) for name, pattern in _CONCEPTS.items()}
_DIRECTIONS = {"cloud_to_onprem": ("cloud", "onprem"), "onprem_to_cloud": ("onprem", "cloud")}


def _concepts(text: str) -> dict[str, int]:
    """Each concept the text mentions, with where it is first mentioned."""
    found = {}
    for name, regex in _CONCEPT_RES.items():
        match = regex.search(text)
        if match:
            found[name] = match.start()
    return found


def _similarity(text: str, phrases: list[str]) -> float:
    flat = " ".join(text.lower().split())
    return max((SequenceMatcher(None, flat, p.lower()).ratio() for p in phrases), default=0.0)


def _direction_conflicts(direction: str, said: dict[str, int]) -> bool:
    sides = _DIRECTIONS.get(direction)
    if sides is None or not all(side in said for side in sides):
        return False
    requester_side, target_side = sides
    # "cloud users can't see on-prem": the side named first is the one that cannot see.
    return said[requester_side] > said[target_side]


def _symptom_scores(kb: KnowledgeBase, text: str) -> dict[str, float]:
    said = _concepts(text)
    described = {
        s.id: set(_concepts(" ".join([s.title, s.description, *s.examples]))) for s in kb.symptoms.values()
    }
    total = len(described)
    weight = {
        c: math.log((total + 1) / (1 + sum(c in d for d in described.values()))) + 0.05 for c in _CONCEPTS
    }
    scores = {}
    for symptom in kb.symptoms.values():
        if _direction_conflicts(symptom.direction, said):
            continue
        concepts = described[symptom.id]
        score = sum(weight[c] for c in said if c in concepts)
        score -= 0.5 * sum(weight[c] for c in said if c not in concepts)
        score -= 0.25 * sum(weight[c] for c in concepts if c not in said)
        if _similarity(text, [symptom.title, *symptom.examples]) >= 0.85:
            score += 5.0
        scores[symptom.id] = score
    return scores


def match_symptom(kb: KnowledgeBase, text: str) -> str | None:
    """The symptom id the text describes, or None when it names none clearly (or two equally)."""
    text = collapse(text, _DESCRIPTION)
    if (
        not _concepts(text)
        and _similarity(text, [e for s in kb.symptoms.values() for e in s.examples]) < 0.85
    ):
        return None
    ranked = sorted(_symptom_scores(kb, text).items(), key=lambda item: -item[1])
    if not ranked or ranked[0][1] <= 0:
        return None
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < 0.2:
        return None
    return ranked[0][0]


# --- scope and options ------------------------------------------------------------------------------------

_SCOPE_SITE = re.compile(r"\b(?:sites?|branch|office|data ?cent(?:er|re))\b", re.I)
_SCOPE_PAIR = re.compile(
    r"\b(?:pair|(?:only|just) (?:me|us|him|her|them|one|two|this|these|a couple|\w+ and \w+)|"
    r"one (?:user|person|mailbox)|two (?:users|people|mailboxes)|single user|me and \w+|specific users?|"
    r"a few users)\b",
    re.I,
)
_SCOPE_ALL = re.compile(
    r"\b(?:every(?:one|body)|all(?: of (?:us|them)| users| the users| staff| mailboxes)?|whole (?:company|org\w*)|"
    r"entire (?:company|org\w*)|nobody|no ?one|(?:organi[sz]ation|company)[- ]wide|all directions?)\b",
    re.I,
)


def match_scope(text: str) -> str | None:
    """all, site or pair, from phrases like "everyone", "users of the branch site", "only me and bob"."""
    text = collapse(text, _DESCRIPTION)
    if _SCOPE_SITE.search(text):
        return "site"
    if _SCOPE_PAIR.search(text):
        return "pair"
    if _SCOPE_ALL.search(text):
        return "all"
    return None


def match_option(options: list[TreeOption], text: str) -> str | None:
    """An option by its number, value or label (or the only label that contains the text)."""
    wanted = collapse(text, _SHORT).casefold().rstrip(".!")
    if wanted.isascii() and wanted.isdigit() and 1 <= int(wanted) <= len(options):
        return options[int(wanted) - 1].value
    for option in options:
        if wanted in (option.value.casefold(), option.label.casefold()):
            return option.value
    containing = [o.value for o in options if len(wanted) >= 3 and wanted in o.label.casefold()]
    return containing[0] if len(containing) == 1 else None


# --- address pairs ----------------------------------------------------------------------------------------

# Bounded on both sides of the @ (a local part is at most 64 characters, a domain 253), and starting only
# where a word starts: linear, where an unbounded run tried from every position of a long word is quadratic.
_NOT_ADDRESS = r"\s<>()\[\]{}\"',;:\u2018\u2019\u201c\u201d`"
_ADDRESS = re.compile(rf"(?<![^{_NOT_ADDRESS}])[^{_NOT_ADDRESS}@]{{1,64}}@[^{_NOT_ADDRESS}]{{1,253}}")
_REQUESTER_LABEL = re.compile(r"\b(?:requester|requestor|viewer|organi[sz]er|user a|from)\W*$", re.I)
_TARGET_LABEL = re.compile(r"\b(?:target|owner|attendee|user b|mailbox)\W*$", re.I)
_POSSESSIVE = re.compile(
    r"^['\u2019]s?\s*(?:free ?/ ?busy|freebusy|f/b|calendar|availability|schedule)", re.I
)
_PASSIVE = re.compile(
    r"\b(?:visible|seen|shown|showing|available|viewable|hidden|blocked)\b.*\b(?:to|by|from|for)\W*$", re.I
)


@dataclass(frozen=True)
class PairReading:
    """Addresses read from a message: a checked pair, or the problem to re-prompt with."""

    requester: str | None = None
    target: str | None = None
    problem: str | None = None
    found: int = 0


def _candidates(text: str) -> list[re.Match[str]]:
    return [m for m in _ADDRESS.finditer(text) if m.group().strip(".").count("@") == 1]


def _clean(raw: str) -> str:
    return raw.rstrip(".!?").removesuffix("'s")


def _ordered(text: str, first: re.Match[str], second: re.Match[str]) -> bool:
    """True when the first address is the requester (the one who cannot see)."""
    before_first, before_second = text[: first.start()][-24:], text[first.end() : second.start()][-24:]
    if _TARGET_LABEL.search(before_first) or _REQUESTER_LABEL.search(before_second):
        return False
    if _REQUESTER_LABEL.search(before_first) or _TARGET_LABEL.search(before_second):
        return True
    between = text[first.end() : second.start()]
    return not (_POSSESSIVE.match(between) or _PASSIVE.search(between))


def read_pair(text: str, wanted: int = 2) -> PairReading:
    """The requester and target in a message ("alice@x can't see bob@y", "bob@y's free/busy is hidden
    from alice@x", "requester: alice@x target: bob@y"). With `wanted=1`, just one address: the target."""
    text = collapse(text, MAX_MESSAGE)
    matches = _candidates(text)
    if not matches:
        return PairReading()
    checked: list[str] = []
    for match in matches[:2]:
        try:
            checked.append(check_smtp(_clean(match.group())))
        except ValueProblem as problem:
            return PairReading(problem=str(problem), found=len(matches))
    if wanted == 1:
        return PairReading(target=checked[0], found=len(matches))
    if len(checked) == 1:
        return PairReading(
            problem=f"I found one address ({checked[0]}); I need both: who cannot see whose free/busy?",
            found=1,
        )
    first, second = checked
    if normalise_smtp(first) == normalise_smtp(second):
        return PairReading(
            problem=f"Both addresses are {first}: the requester and the target must be two different users.",
            found=2,
        )
    if _ordered(text, matches[0], matches[1]):
        return PairReading(requester=first, target=second, found=2)
    return PairReading(requester=second, target=first, found=2)


def _shown(value: str, limit: int = 60) -> str:
    """A user's value, safe to echo back: one line, printable, not too long."""
    flat = "".join(c if c.isprintable() else " " for c in value).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- AD sites ---------------------------------------------------------------------------------------------

_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
_SITE_PREFIX = re.compile(r"^(?:(?:it'?s|it is|the|in|site|ad site|their site is) )+", re.I)
_SITE_SUFFIX = re.compile(r" (?:ad )?site$", re.I)


def read_site(text: str) -> str:
    """An AD site name typed by the user ("Branch", "it's in the Branch site"); ValueProblem otherwise."""
    # Collapsed first: on a run of 20,000 spaces the suffix pattern below was quadratic (seconds per answer).
    name = _SITE_PREFIX.sub("", collapse(text, _SHORT)).strip().rstrip(".")
    name = _SITE_SUFFIX.sub("", name).strip()
    if not _SITE.match(name):
        raise ValueProblem(
            f"'{_shown(text)}' is not an AD site name: letters, digits, spaces, dots, dashes and "
            "underscores, up to 64 characters (for example Branch or HQ-Site)."
        )
    return name

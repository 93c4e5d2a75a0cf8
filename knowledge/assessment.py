"""One assessment of a triage: everything it knows in, one `Assessment` out. Pure: no I/O, no clock.

Every way the product shows a triage (`triage diagnose`, the chat's result card, the escalation summary, the
runbook) renders an `Assessment` made here; nothing else combines facts, evaluates a condition or a weight.

Facts come from three places, and when two speak of one fact the first of these wins:

1. what the user said (they may correct us);
2. the check results. A later result of the same check replaces an earlier one (a check run again on
   command output pasted since). Two different checks establishing one fact is a load error
   (`knowledge.loader`) unless `checks.yaml` declares it under `shared_facts`, whose list of checks is the
   order of precedence;
3. what the reader found in pasted error text (a requester or target named in a pasted request stands in for
   one the user has not given).

A symptom nobody gave but the facts imply (`symptoms.yaml` `implied_by`) is added last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from knowledge.conditions import Facts
from knowledge.inference import Inference, Match, RankedCause, RuledOut, implied_symptom, infer
from knowledge.jsonvalue import JsonObject, JsonValue
from knowledge.loader import KnowledgeBase
from knowledge.walk import Question, open_questions

__all__ = [
    "CONFIDENT",
    "Assessment",
    "CheckOutcome",
    "CheckRun",
    "FactSource",
    "Reported",
    "SourcedMatch",
    "assess",
    "check_facts",
    "combine_facts",
    "latest_results",
]

# Below this the best cause is only a lead: the chat says so plainly and offers escalation, and no runbook
# is published for it.
CONFIDENT = 0.6

# Facts the reader finds that stand for conversation facts when the user has not given them.
_READER_STANDS_IN = {"requester": "request.requester", "target": "request.target"}
_LOOKED = ("ok", "warn", "fail")

SourceKind = Literal["said", "check", "pasted", "implied"]


class CheckOutcome(Protocol):
    """What the assessment reads of a check result (`checks.api.CheckResult` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def facts(self) -> Mapping[str, JsonValue]: ...


@dataclass(frozen=True)
class Reported:
    """A `CheckOutcome` from plain values: facts a check reported (for callers holding no check result)."""

    id: str
    facts: Mapping[str, JsonValue]
    status: str = "ok"


@dataclass(frozen=True)
class FactSource:
    """Where a fact's value came from: the user, a check (`check` is its id), the pasted text, or implied."""

    kind: SourceKind
    check: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "check": self.check} if self.check else {"kind": self.kind}


@dataclass(frozen=True)
class SourcedMatch:
    """A matched indicator or rule-out with where its fact came from."""

    match: Match
    source: FactSource | None

    def as_dict(self) -> JsonObject:
        out = self.match.as_dict()
        if self.source is not None:
            out["source"] = dict[str, JsonValue](self.source.as_dict())
        return out


@dataclass(frozen=True)
class CheckRun:
    id: str
    status: str


@dataclass(frozen=True)
class Assessment:
    facts: Facts
    sources: dict[str, FactSource]
    inference: Inference
    questions: list[Question] = field(default_factory=list)
    checks: list[CheckRun] = field(default_factory=list)
    """Every check with a result, once (its latest), in the order they first reported."""

    @property
    def causes(self) -> list[RankedCause]:
        return self.inference.causes

    @property
    def ruled_out(self) -> list[RuledOut]:
        return self.inference.ruled_out

    @property
    def best(self) -> RankedCause | None:
        return self.inference.best

    @property
    def confident(self) -> bool:
        return self.best is not None and self.best.confidence >= CONFIDENT

    @property
    def checks_ran(self) -> list[str]:
        """The checks that looked (ok, warn or fail): a cause need not ask for them again."""
        return [c.id for c in self.checks if c.status in _LOOKED]

    @property
    def checks_failed(self) -> list[str]:
        """The checks that looked and found something wrong (fail or warn)."""
        return [c.id for c in self.checks if c.status in ("fail", "warn")]

    @property
    def checks_errored(self) -> list[str]:
        """The checks that could not look (their backend failed)."""
        return [c.id for c in self.checks if c.status == "error"]

    def source_of(self, fact: str) -> FactSource | None:
        return self.sources.get(fact)

    def indicators(self, cause: RankedCause) -> list[SourcedMatch]:
        """The matched indicators of `cause`, strongest first, each with where its fact came from."""
        return [SourcedMatch(m, self.sources.get(m.fact)) for m in cause.indicators]

    def ruled_out_by_strength(self) -> list[RuledOut]:
        """The ruled-out causes, the ones the facts pointed to most strongly first."""
        return sorted(self.ruled_out, key=lambda r: (-r.strength, r.id))

    def as_dict(self) -> JsonObject:
        causes: list[JsonValue] = [
            {**cause.as_dict(), "indicators": [m.as_dict() for m in self.indicators(cause)]}
            for cause in self.causes
        ]
        return {
            "facts": self.facts,
            "causes": causes,
            "ruled_out": [
                {"id": r.id, "title": r.title, "reason": r.reason} for r in self.inference.ruled_out
            ],
            "questions": [question.as_dict() for question in self.questions],
        }


_Result = TypeVar("_Result", bound=CheckOutcome)


def latest_results(results: Iterable[_Result]) -> list[_Result]:
    """One result per check, its latest, in the order each check first reported."""
    latest: dict[str, _Result] = {}
    for result in results:
        latest[result.id] = result
    return list(latest.values())


def _check_sources(kb: KnowledgeBase, results: Sequence[CheckOutcome]) -> dict[str, tuple[JsonValue, str]]:
    """Each check fact's value and the check it comes from: the declared precedence for a shared fact,
    else the first check in catalogue order that gives it."""
    order = {check_id: i for i, check_id in enumerate(kb.checks)}
    ranked = sorted(latest_results(results), key=lambda r: order.get(r.id, len(order)))
    found: dict[str, tuple[JsonValue, str]] = {}
    for result in ranked:
        for name, value in result.facts.items():
            if name in found:
                preference = kb.shared_facts.get(name, [])
                held = found[name][1]
                if result.id in preference and (
                    held not in preference or preference.index(result.id) < preference.index(held)
                ):
                    found[name] = (value, result.id)
                continue
            found[name] = (value, result.id)
    return found


def check_facts(kb: KnowledgeBase, results: Sequence[CheckOutcome]) -> Facts:
    """Every check's facts, merged by the precedence rule (the latest result per check)."""
    return {name: value for name, (value, _) in _check_sources(kb, results).items()}


def _combine(
    kb: KnowledgeBase,
    said: Mapping[str, JsonValue],
    pasted: Mapping[str, JsonValue],
    results: Sequence[CheckOutcome],
) -> tuple[Facts, dict[str, FactSource]]:
    facts: Facts = {}
    sources: dict[str, FactSource] = {}

    def put(name: str, value: JsonValue, source: FactSource) -> None:
        facts[name] = value
        sources[name] = source

    for name, value in pasted.items():
        put(name, value, FactSource("pasted"))
    for fact, stand_in in _READER_STANDS_IN.items():
        if said.get(fact) is None and stand_in in pasted:
            put(fact, pasted[stand_in], FactSource("pasted"))
    for name, (value, check_id) in _check_sources(kb, results).items():
        put(name, value, FactSource("check", check_id))
    for name, value in said.items():
        if value is not None:
            put(name, value, FactSource("said"))
    return facts, sources


def combine_facts(
    kb: KnowledgeBase,
    said: Mapping[str, JsonValue],
    pasted: Mapping[str, JsonValue],
    results: Sequence[CheckOutcome] = (),
) -> Facts:
    """What the tree walks on: the facts by the precedence rule (without the implied symptom)."""
    return _combine(kb, said, pasted, results)[0]


def assess(
    kb: KnowledgeBase,
    *,
    said: Mapping[str, JsonValue] | None = None,
    pasted: Mapping[str, JsonValue] | None = None,
    results: Sequence[CheckOutcome] = (),
) -> Assessment:
    """Assess a triage: what the user `said`, what the reader found in `pasted` error text, and the check
    `results` (command output pasted back reaches the assessment through the checks it answered)."""
    facts, sources = _combine(kb, said or {}, pasted or {}, results)
    if facts.get("symptom") is None and (symptom := implied_symptom(kb, facts)) is not None:
        facts["symptom"] = symptom
        sources["symptom"] = FactSource("implied")
    latest = latest_results(results)
    ran = frozenset(r.id for r in latest if r.status in _LOOKED)
    return Assessment(
        facts=dict(sorted(facts.items())),
        sources=sources,
        inference=infer(kb, facts, checks_run=ran),
        questions=open_questions(kb, facts),
        checks=[CheckRun(r.id, r.status) for r in latest],
    )

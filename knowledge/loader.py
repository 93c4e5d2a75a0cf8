"""Load the knowledge base once and validate it whole.

Every problem names the file, the id and the key: unknown keys, duplicate ids, dangling references,
unreachable tree nodes, unknown check ids, remediation parameters that no fact can fill.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from knowledge.catalogue import Catalogue, event_entry_id
from knowledge.model import (
    HELPDESK_NAMES,
    CatalogueEntry,
    Cause,
    CheckSpec,
    Condition,
    EventFile,
    FactSpec,
    Indicator,
    Remediation,
    Signature,
    Symptom,
    Tree,
    TreeNode,
)
from knowledge.yamlio import YamlError, read_yaml

__all__ = ["DATA_DIR", "KnowledgeBase", "KnowledgeError", "ReferenceCase", "load_knowledge"]

DATA_DIR = Path(__file__).resolve().parent / "data"

M = TypeVar("M", bound=BaseModel)

# Which fact types a remediation parameter of each type can be filled from.
PARAM_FACT_TYPES: dict[str, tuple[str, ...]] = {
    "server": ("string",),
    "servers": ("strings", "string"),
    "thumbprint": ("string",),
    "url": ("string",),
    "smtp": ("string",),
    "domain": ("string",),
    "domains": ("strings", "string"),
    "site": ("string",),
    "text": ("string", "integer", "boolean"),
    "identity": ("string",),
}


class KnowledgeError(ValueError):
    """The knowledge base is broken; the message lists every problem, one a line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("knowledge base is invalid:\n" + "\n".join(f"  {p}" for p in problems))


class ReferenceCase(BaseModel):
    """A public case from cases.yaml; only the fields the product reads are typed."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    category: str
    symptom: str
    error_text: list[str] = []
    cause: str
    fix: str
    source: str
    seed_case: int | None = None


@dataclass(frozen=True)
class KnowledgeBase:
    facts: dict[str, FactSpec]
    symptoms: dict[str, Symptom]
    tree: Tree
    checks: dict[str, CheckSpec]
    signatures: tuple[Signature, ...]
    causes: dict[str, Cause]
    remediations: dict[str, Remediation]
    cases: dict[str, ReferenceCase]
    shared_facts: dict[str, list[str]] = field(default_factory=dict)
    """checks.yaml `shared_facts`: a fact two checks establish, and those checks, the one that wins first."""
    catalogue: Catalogue = field(default_factory=Catalogue)
    """Every recognisable event, code, request line and command output line (knowledge/catalogue.py)."""
    escalate: dict[str, str] = field(default_factory=dict)
    """helpdesk.yaml: for each cause category, why a cause of it needs the Exchange team, in helpdesk words
    (a cause's own `helpdesk` advice comes first)."""

    def node(self, node_id: str) -> TreeNode:
        return next(n for n in self.tree.nodes if n.id == node_id)


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(DATA_DIR.parent.parent))
    except ValueError:
        return str(path)


def _key_path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validation_problems(where: str, exc: ValidationError) -> list[str]:
    found = []
    for error in exc.errors():
        key = _key_path(error["loc"]) or "(top level)"
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        if key.endswith(("sources", "docs")) and error["type"] in ("missing", "too_short"):
            message = "names no source: every entry needs at least one public page it comes from"
        found.append(f"{where}: {key}: {message}")
    return found


def _parse_list(path: Path, data: Any, key: str, model: type[M], problems: _Problems) -> list[M]:
    """Parse `data[key]`, a list of objects with an `id`, into models; collect problems, skip bad items."""
    where = _rel(path)
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        problems.add(where, f"expected a mapping with a list under '{key}'")
        return []
    items: list[M] = []
    seen: set[str] = set()
    for index, raw in enumerate(data[key]):
        ident = raw.get("id") if isinstance(raw, dict) else None
        label = f"{where}: {_singular(key)} '{ident}'" if ident else f"{where}: {key}[{index}]"
        if ident in seen:
            problems.add(label, "duplicate id")
            continue
        try:
            items.append(model.model_validate(raw))
        except ValidationError as exc:
            problems.items.extend(_validation_problems(label, exc))
            continue
        if ident:
            seen.add(ident)
    return items


def _singular(key: str) -> str:
    return "entry" if key == "entries" else key[:-1] if key.endswith("s") else key


def _shared_facts(path: Path, data: Any, problems: _Problems) -> dict[str, list[str]]:
    """checks.yaml `shared_facts`: {fact: [check id, ...]} (optional)."""
    raw = data.get("shared_facts", {}) if isinstance(data, dict) else {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(c, str) for c in v)
        for k, v in raw.items()
    ):
        problems.add(_rel(path), "shared_facts: expected a mapping of fact to a list of check ids")
        return {}
    return {fact: list(check_ids) for fact, check_ids in raw.items()}


def _read(path: Path, problems: _Problems) -> Any:
    try:
        return read_yaml(path)
    except YamlError as exc:
        problems.add(_rel(path), str(exc).split(": ", 1)[-1])
        return None


def load_knowledge_from(data_dir: Path) -> KnowledgeBase:
    """Load and validate the knowledge base in `data_dir`; raise KnowledgeError listing every problem."""
    problems = _Problems()
    facts_path = data_dir / "facts.yaml"
    raw_facts = _read(facts_path, problems)
    facts: dict[str, FactSpec] = {}
    if isinstance(raw_facts, dict) and isinstance(raw_facts.get("facts"), dict):
        for name, spec in raw_facts["facts"].items():
            try:
                facts[name] = FactSpec.model_validate(spec)
            except ValidationError as exc:
                problems.items.extend(_validation_problems(f"{_rel(facts_path)}: fact '{name}'", exc))
    else:
        problems.add(_rel(facts_path), "expected a mapping under 'facts'")

    symptoms_path = data_dir / "symptoms.yaml"
    symptoms = _parse_list(symptoms_path, _read(symptoms_path, problems), "symptoms", Symptom, problems)
    checks_path = data_dir / "checks.yaml"
    raw_checks = _read(checks_path, problems)
    checks = _parse_list(checks_path, raw_checks, "checks", CheckSpec, problems)
    shared_facts = _shared_facts(checks_path, raw_checks, problems)
    signatures = _parse_dir(data_dir / "signatures", "signatures", Signature, problems)
    remediations = _parse_dir(data_dir / "remediations", "remediations", Remediation, problems)
    cases_path = data_dir / "cases.yaml"
    cases = _parse_list(cases_path, _read(cases_path, problems), "cases", ReferenceCase, problems)

    causes = _parse_dir(data_dir / "causes", "causes", Cause, problems)
    event_files = _parse_event_files(data_dir / "events", problems)
    entries = _parse_dir(data_dir / "catalogues", "entries", CatalogueEntry, problems)
    catalogue = Catalogue.build((f for _, f in event_files), (e for _, e in entries.values()))

    escalate = _escalate_reasons(data_dir / "helpdesk.yaml", problems)

    tree_path = data_dir / "tree.yaml"
    tree: Tree | None = None
    raw_tree = _read(tree_path, problems)
    try:
        tree = Tree.model_validate(raw_tree)
    except ValidationError as exc:
        problems.items.extend(_validation_problems(_rel(tree_path), exc))

    kb = KnowledgeBase(
        facts=facts,
        symptoms={s.id: s for s in symptoms},
        tree=tree or Tree(root="", nodes=[]),
        checks={c.id: c for c in checks},
        signatures=tuple(item for _, item in signatures.values()),
        causes={cid: cause for cid, (_, cause) in causes.items()},
        remediations={rid: remediation for rid, (_, remediation) in remediations.items()},
        cases={c.id: c for c in cases},
        catalogue=catalogue,
        shared_facts=shared_facts,
        escalate=escalate,
    )
    files = _Files(
        causes={cid: path for cid, (path, _) in causes.items()},
        remediations={rid: path for rid, (path, _) in remediations.items()},
        signatures={sid: path for sid, (path, _) in signatures.items()},
        data_dir=data_dir,
    )
    _cross_check(kb, files, problems, tree_ok=tree is not None)
    _check_catalogue(kb, event_files, {i: p for i, (p, _) in entries.items()}, problems)
    if problems.items:
        raise KnowledgeError(problems.items)
    return _with_catalogue_indicators(kb)


def _escalate_reasons(path: Path, problems: _Problems) -> dict[str, str]:
    """helpdesk.yaml `escalate`: {category: why the Exchange team is needed}, naming only the pair as
    {Requester} or {Target}."""
    raw = _read(path, problems)
    reasons = raw.get("escalate") if isinstance(raw, dict) else None
    if not isinstance(reasons, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in reasons.items()
    ):
        problems.add(_rel(path), "escalate: expected a mapping of cause category to a sentence")
        return {}
    for category, reason in reasons.items():
        for name in re.findall(r"\{([^{}]*)\}", reason):
            if name not in HELPDESK_NAMES:
                problems.add(
                    f"{_rel(path)}: escalate '{category}'", f"uses {{{name}}}, which is not a person"
                )
    return {str(k): str(v).strip() for k, v in reasons.items()}


def _parse_event_files(folder: Path, problems: _Problems) -> list[tuple[Path, EventFile]]:
    """Every events file, each one provider's events; an event whose entry is broken is left out."""
    files: list[tuple[Path, EventFile]] = []
    for path in sorted(folder.glob("*.yaml")):
        raw = _read(path, problems)
        where = _rel(path)
        if not isinstance(raw, dict) or not isinstance(raw.get("events"), list):
            problems.add(where, "expected a mapping with 'provider' and a list under 'events'")
            continue
        good = []
        for index, item in enumerate(raw["events"]):
            number = item.get("event") if isinstance(item, dict) else None
            label = f"{where}: event {number}" if number is not None else f"{where}: events[{index}]"
            try:
                EventFile.model_validate({**raw, "events": [item]})
            except ValidationError as exc:
                found = _validation_problems(label, exc)
                problems.items.extend(p.replace(".events[0]", "").replace("events[0].", "") for p in found)
                continue
            good.append(item)
        try:
            files.append((path, EventFile.model_validate({**raw, "events": good})))
        except ValidationError as exc:
            problems.items.extend(_validation_problems(where, exc))
    if not files:
        problems.add(_rel(folder), "no events files")
    return files


def _check_catalogue(
    kb: KnowledgeBase,
    event_files: list[tuple[Path, EventFile]],
    entry_files: dict[str, Path],
    problems: _Problems,
) -> None:
    """Every cause, check and fact a catalogue entry names exists; no event is catalogued twice."""
    seen: dict[str, str] = {}
    rows: list[tuple[str, Any]] = []
    for path, file in event_files:
        for event in file.events:
            ident = event_entry_id(file.provider, event.event)
            where = f"{_rel(path)}: event {event.event}"
            if ident in seen or ident in kb.catalogue.entries:
                problems.add(where, f"duplicate: {file.provider} {event.event} is catalogued twice")
            seen[ident] = where
            rows.append((where, event))
    for ident, entry in kb.catalogue.entries.items():
        rows.append((f"{_rel(entry_files[ident])}: entry '{ident}'", entry))
    # A cause that failed its own validation is reported there; naming it again here would only repeat it.
    broken = {m.group(1) for p in problems.items if (m := re.search(r": cause '([^']+)'", p))}
    for where, item in rows:
        _check_refs(
            where, "causes", [c for c in item.causes if c not in broken], kb.causes, "cause", problems
        )
        _check_refs(where, "checks", item.checks, kb.checks, "check id", problems)
        for index, setting in enumerate(item.sets):
            if setting.fact not in kb.facts:
                problems.add(where, f"sets[{index}].fact: unknown fact '{setting.fact}'")
        _check_conditions(where, "when", getattr(item, "when", []), kb.facts, problems)


def _generic(indicator: Indicator, generic_signatures: set[str], generic_entries: set[str]) -> bool:
    if indicator.generic or indicator.fact == "http.statuses":
        return True
    if indicator.fact == "signatures":
        return indicator.contains in generic_signatures
    if indicator.fact == "recognised":
        return indicator.contains in generic_entries
    return False


def _with_catalogue_indicators(kb: KnowledgeBase) -> KnowledgeBase:
    """Each cause with the indicators the catalogues add to it, and its generic indicators marked."""
    added = kb.catalogue.indicators()
    generic_signatures = {s.id for s in kb.signatures if s.generic}
    generic_entries = {
        ident for ident in kb.catalogue.ids if (d := kb.catalogue.describe(ident)) is not None and d.generic
    }
    causes: dict[str, Cause] = {}
    for cid, cause in kb.causes.items():
        indicators = [
            i.model_copy(update={"generic": True}) if _generic(i, generic_signatures, generic_entries) else i
            for i in [*cause.indicators, *added.get(cid, [])]
        ]
        causes[cid] = cause.model_copy(update={"indicators": indicators})
    return replace(kb, causes=causes)


@dataclass(frozen=True)
class _Files:
    """Which file each item came from, so every problem names its file."""

    causes: dict[str, Path]
    remediations: dict[str, Path]
    signatures: dict[str, Path]
    data_dir: Path

    def of(self, name: str) -> str:
        return _rel(self.data_dir / name)


def _parse_dir(folder: Path, key: str, model: type[M], problems: _Problems) -> dict[str, tuple[Path, M]]:
    """Parse every YAML file in `folder` (a list under `key` each); ids are unique across the files."""
    found: dict[str, tuple[Path, M]] = {}
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        problems.add(_rel(folder), f"no {key} files")
    for path in paths:
        for item in _parse_list(path, _read(path, problems), key, model, problems):
            ident = str(getattr(item, "id", ""))
            if ident in found:
                label = f"{_rel(path)}: {_singular(key)} '{ident}'"
                problems.add(label, f"duplicate id (also in {_rel(found[ident][0])})")
                continue
            found[ident] = (path, item)
    return found


def _check_conditions(
    where: str, field: str, conditions: Iterable[Condition], facts: dict[str, FactSpec], problems: _Problems
) -> None:
    for index, condition in enumerate(conditions):
        if condition.fact not in facts:
            problems.add(where, f"{field}[{index}].fact: unknown fact '{condition.fact}'")
        for extra_index, extra in enumerate(getattr(condition, "also", [])):
            if extra.fact not in facts:
                problems.add(where, f"{field}[{index}].also[{extra_index}].fact: unknown fact '{extra.fact}'")


def _check_refs(
    where: str,
    field: str,
    ids: Iterable[str],
    known: dict[str, Any] | set[str],
    kind: str,
    problems: _Problems,
) -> None:
    for index, ident in enumerate(ids):
        if ident not in known:
            problems.add(where, f"{field}[{index}]: unknown {kind} '{ident}'")


def _cross_check(kb: KnowledgeBase, files: _Files, problems: _Problems, *, tree_ok: bool) -> None:
    facts = kb.facts
    established = {f for c in kb.checks.values() for f in c.establishes}
    for name, spec in facts.items():
        if spec.evidence is not None and spec.source != "check":
            problems.add(f"{files.of('facts.yaml')}: fact '{name}'", "evidence: only a check's fact has rows")
    for check in kb.checks.values():
        where = f"{files.of('checks.yaml')}: check '{check.id}'"
        _check_refs(where, "establishes", check.establishes, facts, "fact", problems)
        _check_refs(where, "needs", check.needs, facts, "fact", problems)
    _check_shared_facts(kb, files.of("checks.yaml"), problems)
    for symptom in kb.symptoms.values():
        where = f"{files.of('symptoms.yaml')}: symptom '{symptom.id}'"
        _check_refs(where, "checks", symptom.checks, kb.checks, "check id", problems)
        for index, group in enumerate(symptom.implied_by):
            _check_conditions(where, f"implied_by[{index}]", group, facts, problems)
    for signature in kb.signatures:
        where = f"{_rel(files.signatures[signature.id])}: signature '{signature.id}'"
        for index, setting in enumerate(signature.sets):
            if setting.fact not in facts:
                problems.add(where, f"sets[{index}].fact: unknown fact '{setting.fact}'")
    for remediation in kb.remediations.values():
        _check_remediation(
            remediation, _rel(files.remediations[remediation.id]), facts, established, problems
        )
        if remediation.apply is not None:
            where = f"{_rel(files.remediations[remediation.id])}: remediation '{remediation.id}'"
            _check_refs(
                where, "apply.verify_checks", remediation.apply.verify_checks, kb.checks, "check id", problems
            )
            _check_refs(
                where, "apply.current", list(remediation.apply.current.values()), facts, "fact", problems
            )
    for cause in kb.causes.values():
        where = f"{_rel(files.causes[cause.id])}: cause '{cause.id}'"
        _check_refs(where, "symptoms", cause.symptoms, kb.symptoms, "symptom", problems)
        _check_refs(where, "checks", cause.checks, kb.checks, "check id", problems)
        _check_refs(where, "remediations", cause.remediations, kb.remediations, "remediation", problems)
        _check_refs(where, "cases", cause.cases, kb.cases, "reference case", problems)
        _check_conditions(where, "indicators", cause.indicators, facts, problems)
        _check_conditions(where, "rule_outs", cause.rule_outs, facts, problems)
        if cause.helpdesk is not None:
            for name, param in cause.helpdesk.params.items():
                if param.fact not in facts:
                    problems.add(where, f"helpdesk.params.{name}.fact: unknown fact '{param.fact}'")
        elif cause.category not in kb.escalate:
            problems.add(
                where,
                f"helpdesk: none given, and {files.of('helpdesk.yaml')} gives no escalate reason for "
                f"category '{cause.category}'",
            )
    if tree_ok:
        _check_tree(kb, files.of("tree.yaml"), problems)


def _check_shared_facts(kb: KnowledgeBase, file: str, problems: _Problems) -> None:
    """Two checks may establish one fact only where `shared_facts` declares it (naming exactly them): the
    assessment then knows which of them wins."""
    setters: dict[str, list[str]] = {}
    for check in kb.checks.values():
        for fact in check.establishes:
            setters.setdefault(fact, []).append(check.id)
    for fact, check_ids in setters.items():
        declared = kb.shared_facts.get(fact)
        if len(check_ids) > 1 and declared is None:
            problems.add(
                file,
                f"fact '{fact}' is established by {', '.join(check_ids)}: declare which wins under shared_facts",
            )
    for fact, declared in kb.shared_facts.items():
        where = f"{file}: shared_facts '{fact}'"
        if fact not in kb.facts:
            problems.add(where, f"unknown fact '{fact}'")
        elif sorted(declared) != sorted(setters.get(fact, [])):
            problems.add(
                where, f"lists {declared}, but the checks that establish it are {setters.get(fact, [])}"
            )


def _check_remediation(
    remediation: Remediation,
    file: str,
    facts: dict[str, FactSpec],
    established: set[str],
    problems: _Problems,
) -> None:
    where = f"{file}: remediation '{remediation.id}'"
    for index, param in enumerate(remediation.params):
        spec = facts.get(param.fact)
        key = f"params[{index}].fact"
        if spec is None:
            problems.add(where, f"{key}: no fact '{param.fact}' can fill parameter {param.name}")
        elif spec.source == "check" and param.fact not in established:
            problems.add(where, f"{key}: no check establishes '{param.fact}' to fill parameter {param.name}")
        elif spec.type == "records" and param.field is None:
            problems.add(
                where, f"{key}: fact '{param.fact}' is records; parameter {param.name} needs a field"
            )
        elif spec.type != "records" and param.field is not None:
            problems.add(
                where,
                f"{key}: parameter {param.name} names field '{param.field}' of '{param.fact}', not records",
            )
        elif param.field is None and spec.type not in PARAM_FACT_TYPES[param.type]:
            problems.add(
                where, f"{key}: fact '{param.fact}' is {spec.type}, parameter {param.name} needs {param.type}"
            )
    record_facts = {p.name: p.fact for p in remediation.params if p.field is not None}
    for line in (*remediation.commands, *remediation.verify):
        named = {record_facts[n] for n in re.findall(r"\{([A-Za-z0-9]+)\}", line) if n in record_facts}
        if len(named) > 1:
            problems.add(
                where, f"one line names the fields of several records facts ({', '.join(sorted(named))})"
            )


def _check_tree(kb: KnowledgeBase, file: str, problems: _Problems) -> None:
    nodes = {}
    for node in kb.tree.nodes:
        if node.id in nodes:
            problems.add(f"{file}: node '{node.id}'", "duplicate id")
        nodes[node.id] = node
    if kb.tree.root not in nodes:
        problems.add(file, f"root: unknown node '{kb.tree.root}'")
        return
    for node in kb.tree.nodes:
        where = f"{file}: node '{node.id}'"
        _check_refs(where, "asks", node.asks, kb.facts, "fact", problems)
        for index, transition in enumerate(node.next):
            if transition.goto not in nodes:
                problems.add(where, f"next[{index}].goto: unknown node '{transition.goto}'")
            _check_conditions(where, f"next[{index}].when", transition.when, kb.facts, problems)
        if node.kind != "conclusion" and not node.next:
            problems.add(where, "next: only a conclusion node may end the tree")
    reachable: set[str] = set()
    frontier = [kb.tree.root]
    while frontier:
        current = frontier.pop()
        if current in reachable or current not in nodes:
            continue
        reachable.add(current)
        frontier.extend(t.goto for t in nodes[current].next)
    for node_id in nodes:
        if node_id not in reachable:
            problems.add(f"{file}: node '{node_id}'", f"unreachable from the root '{kb.tree.root}'")


@cache
def load_knowledge() -> KnowledgeBase:
    """The bundled knowledge base, loaded and validated once per process."""
    return load_knowledge_from(DATA_DIR)

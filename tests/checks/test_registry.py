"""The catalogue and the implementations agree; checks say only facts they declare; clients stay in backends."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from checks.catalogue import registry
from checks.typing_rules import fact_problems, has_type
from knowledge.loader import KnowledgeBase
from tests.checks.conftest import run_checks
from tests.checks.test_checks import MUTATION_FACTS, MUTATIONS, PORT_FAULTS, mutated
from tests.world import PAIR, World

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ("pypsrp", "winrm", "exchangelib", "msal", "spnego", "requests_ntlm")


def test_every_catalogue_check_has_an_implementation_and_no_more(kb: KnowledgeBase) -> None:
    assert sorted(registry()) == sorted(kb.checks)


@pytest.mark.parametrize("mutation", ["healthy", *MUTATIONS, *PORT_FAULTS])
async def test_every_fact_a_check_says_is_declared_in_its_establishes(
    kb: KnowledgeBase, mutation: str
) -> None:
    org: World = mutated(mutation)
    results = await run_checks(org, kb, facts=MUTATION_FACTS.get(mutation, PAIR))
    for result in results.values():
        assert "does not declare" not in result.summary, result.summary
        assert fact_problems(kb, result.id, result.facts) == []


async def test_every_fact_a_check_declares_it_sets_in_some_organisation(kb: KnowledgeBase) -> None:
    """The other way round: a declared fact no check ever sets would be a cause's indicator or rule-out
    that can never fire (and a remediation parameter never filled)."""
    seen: dict[str, set[str]] = {}
    for mutation in ["healthy", *MUTATIONS, *PORT_FAULTS]:
        org = mutated(mutation)
        for result in (await run_checks(org, kb, facts=MUTATION_FACTS.get(mutation, PAIR))).values():
            seen.setdefault(result.id, set()).update(result.facts)
    never = {c.id: sorted(set(c.establishes) - seen.get(c.id, set())) for c in kb.checks.values()}
    assert {check_id: facts for check_id, facts in never.items() if facts} == {}


def test_fact_problems_names_an_undeclared_fact_and_a_wrong_type(kb: KnowledgeBase) -> None:
    problems = fact_problems(kb, "topology", {"fedcert.missing_servers": [], "target.server": 3})
    assert problems == [
        "fedcert.missing_servers is not in topology's establishes",
        "target.server should be string, got int",
    ]
    assert has_type([1, 2], "integers") and not has_type([True], "integers")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_backend_modules_import_client_libraries() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "checks").rglob("*.py"))
        if "backends" not in path.parts and _imports(path) & set(CLIENTS)
    ]
    assert offenders == []
    assert _imports(ROOT / "checks" / "backends" / "psrp.py") & set(CLIENTS) == {"pypsrp"}

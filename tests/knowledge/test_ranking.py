"""What each seed's and each public case's error text puts first: the knowledge base's accuracy contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.diagnosis import diagnose
from knowledge.loader import load_knowledge
from tests.texts import pasted_text

KB = load_knowledge()


def ranked(text: str, **conversation: str) -> list[str]:
    return [cause.id for cause in diagnose(KB, text=text, conversation=conversation).inference.causes]


def seed(name: str) -> str:
    return pasted_text(name)


@pytest.mark.parametrize("paste", ["seed-000-event-4002.txt", "seed-000-article.txt"])
def test_seed_000_puts_the_missing_federation_certificate_first(paste: str) -> None:
    assert ranked(seed(paste))[0] == "federation-cert-missing-on-site"


@pytest.mark.parametrize("paste", ["seed-001-fiddler.json", "seed-001-article.txt"])
def test_seed_001_puts_the_sharing_subscription_in_the_first_three(paste: str) -> None:
    assert "sharing-subscription-without-permission" in ranked(seed(paste))[:3]


@pytest.mark.parametrize("paste", ["seed-001-fiddler.json", "seed-001-article.txt"])
def test_seed_001_puts_the_sharing_subscription_first_when_only_the_pair_fails(paste: str) -> None:
    assert ranked(seed(paste), scope="pair")[0] == "sharing-subscription-without-permission"


@pytest.mark.parametrize("paste", ["seed-002-event-42.txt", "seed-002-article.txt"])
def test_seed_002_puts_its_two_configuration_problems_first(paste: str) -> None:
    assert set(ranked(seed(paste))[:2]) == {"owa-internalurl-not-https", "owa-target-vdir-not-ssl"}


def test_every_public_case_is_covered_by_a_cause() -> None:
    covered = {case for cause in KB.causes.values() for case in cause.cases}
    assert sorted(set(KB.cases) - covered) == []


def test_the_vendored_cases_match_the_reference_file() -> None:
    reference = Path(__file__).resolve().parents[3] / "shared" / "reference" / "cases.yaml"
    if not reference.exists():
        pytest.skip("the shared reference folder is not beside this checkout")
    import yaml

    ids = [case["id"] for case in yaml.safe_load(reference.read_text(encoding="utf-8"))["cases"]]
    assert ids == list(KB.cases)


@pytest.mark.parametrize("case_id", sorted(KB.cases))
def test_each_public_case_puts_its_cause_in_the_first_three(case_id: str) -> None:
    case = KB.cases[case_id]
    causes = [cause.id for cause in KB.causes.values() if case_id in cause.cases]
    top3 = ranked("\n".join(case.error_text))[:3]
    assert set(causes) & set(top3), f"{case_id}: its cause {causes} is not in the first three {top3}"

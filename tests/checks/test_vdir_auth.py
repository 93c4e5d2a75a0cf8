"""The proxy target's OWA/ECP must accept a method a proxied request can sign in with (a warning)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge.loader import KnowledgeBase
from lab.runtime import RunningLab, start_lab
from tests.checks.conftest import run_on_lab

PAIR = {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}  # bjorn lives on EX03


async def test_the_healthy_lab_targets_accept_forms_and_basic(lab: RunningLab, kb: KnowledgeBase) -> None:
    result = (await run_on_lab(lab, kb, PAIR, "virtual-directories"))["virtual-directories"]
    assert result.status == "ok", result.summary
    assert result.facts["vdirs.target_auth_unusable"] == []


@pytest.mark.lab
async def test_an_owa_accepting_only_oauth_is_a_warning(kb: KnowledgeBase, tmp_path: Path) -> None:
    scenario = {
        "extends": "healthy",
        "name": "owa-oauth-only",
        "organization": {
            "servers": [{"name": "EX03", "virtual_directories": {"owa": {"authentication": ["OAuth"]}}}]
        },
    }
    path = tmp_path / "owa-oauth-only.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    lab = start_lab(path)
    try:
        result = (await run_on_lab(lab, kb, PAIR, "virtual-directories"))["virtual-directories"]
    finally:
        lab.close()
    assert result.status == "warn", result.summary
    assert result.facts["vdirs.target_auth_unusable"] == ["EX03/owa"]
    assert "EX03's OWA accepts neither forms, Basic nor Windows authentication" in result.summary
    assert any(e.server == "EX03" and e.value == "OAuth" for e in result.evidence)

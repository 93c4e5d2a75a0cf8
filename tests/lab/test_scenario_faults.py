"""A scenario file's `faults:` list is live from the moment the lab starts, for its service only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pypsrp.exceptions import AuthenticationError

from checks.api import CheckRequest, ProgressEvent
from knowledge.loader import load_knowledge
from lab.faults import FaultSpec
from lab.runtime import start_lab
from lab.scenario.load import load_scenario
from tests.lab.conftest import exchange_pool
from triage.backends import runner_for_lab

PAIR = {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "psrp-refused.yaml"
    text = {
        "extends": "healthy",
        "name": "psrp-refused",
        "faults": [{"service": "psrp", "kind": "unauthorized"}],
    }
    path.write_text(yaml.safe_dump(text), encoding="utf-8")
    return path


def test_the_faults_key_loads_from_a_file_extending_healthy(tmp_path: Path) -> None:
    scenario = load_scenario(_scenario(tmp_path))
    assert scenario.faults == [FaultSpec(service="psrp", kind="unauthorized")]
    assert load_scenario("healthy").faults == []


async def test_a_scenario_fault_is_a_401_to_the_client_and_an_error_to_the_check(tmp_path: Path) -> None:
    lab = start_lab(_scenario(tmp_path))
    try:
        # pypsrp raises AuthenticationError for an HTTP 401 and for nothing else; the password is right.
        with pytest.raises(AuthenticationError, match="Failed to authenticate"):
            exchange_pool(lab).open()
        assert [t[:2] for t in lab.faults.taken] == [("psrp", "RunspacePool")]

        async def quiet(_event: ProgressEvent) -> None:
            return None

        runner = runner_for_lab(lab, kb=load_knowledge())
        results = {r.id: r for r in await runner.run(CheckRequest(("topology", "event-logs"), PAIR), quiet)}
        taken = lab.faults.taken
    finally:
        lab.close()
    topology = results["topology"]
    assert topology.status == "error", topology.summary
    assert "refused the service account" in topology.summary, topology.summary
    assert topology.remedy, "the error carries the commands to run instead"
    # Every check that needs Exchange PowerShell says so; the fault hit nothing but PSRP.
    assert results["event-logs"].status == "error" and "refused" in results["event-logs"].summary
    assert {t[0] for t in taken} == {"psrp"}

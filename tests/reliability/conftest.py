"""Fixtures for the reliability suite: a timed loopback connector, Teams activities, settings with state in
tmp_path, and a check runner at our own port whose answers name the conversation they were asked for."""

from __future__ import annotations

import asyncio
import random
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings, load_settings
from checks.api import CheckRequest, CheckResult, Evidence, Progress, ProgressEvent
from lab.runtime import RunningLab, start_lab
from triage.backends import LabRunner, runner_for_lab


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Anonymous loopback settings with state under tmp_path; keyword arguments are environment keys."""

    def build(**environ: Any) -> Settings:
        base = {"TRIAGE_STATE_DIR": str(tmp_path / "var")}
        if "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID" not in environ:
            base["TRIAGE_DEV_ANONYMOUS"] = "1"  # the explicit local development mode
        base.update({key: str(value) for key, value in environ.items()})
        return load_settings(base)

    return build


class NamingRunner:
    """A `CheckRunner` whose every result names the target it was asked about (and whose lookup puts each
    target in a site of its own), after a short random pause: conversations interleave, and a result that
    reached the wrong conversation shows."""

    def __init__(self, pause: float = 0.01, seed: int = 7) -> None:
        self.pause = pause
        self._random = random.Random(seed)
        self.runs = 0

    async def run(self, request: CheckRequest, progress: Progress) -> list[CheckResult]:
        self.runs += 1
        target = str(request.facts.get("target") or "")
        local = target.split("@")[0]
        results = []
        for check_id in request.check_ids:
            await progress(ProgressEvent("started", check_id, check_id))
        for check_id in request.check_ids:
            await asyncio.sleep(self._random.uniform(0, self.pause))
            facts = {}
            if check_id == "topology":
                facts = {
                    "target.site": f"Site-{local}",
                    "target.server": f"EX-{local}",
                    "target.location": "onprem",
                }
            evidence = (Evidence("Looked at", target, f"EX-{local}"),)
            result = CheckResult(check_id, "ok", f"Nothing wrong for {target}.", evidence, facts)
            await progress(ProgressEvent("finished", check_id, check_id, result))
            results.append(result)
        return results


def pytest_configure(config: pytest.Config) -> None:
    # The SDK keys aiohttp's request and app state with strings; aiohttp silences this warning outside tests.
    config.addinivalue_line("filterwarnings", "ignore::aiohttp.web_exceptions.NotAppKeyWarning")


@pytest.fixture(scope="session")
def seed_lab() -> Iterator[RunningLab]:
    """The seed-000 organisation (EX03/EX04 in Branch lack the federation certificate), on loopback."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lab = start_lab("seed-000-federation-cert")
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def lab(seed_lab: RunningLab) -> Iterator[RunningLab]:
    """The seed lab with no faults left behind by the test."""
    seed_lab.faults.clear()
    yield seed_lab
    seed_lab.faults.clear()


@pytest.fixture
def lab_runner(lab: RunningLab) -> LabRunner:
    """The real check runner (pypsrp, pywinrm, exchangelib, msal + Graph) against the lab."""
    return runner_for_lab(lab)


@pytest.fixture(autouse=True)
def _quiet_clients() -> Iterator[None]:
    # pypsrp and requests warn about loopback certificates and such.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield

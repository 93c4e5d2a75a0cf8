"""What every test shares: the hypothesis profile and the markers that sort the suite into its make targets.

Hypothesis: with `CI` set (any value but empty, 0 or false) the `ci` profile runs: derandomised (the same
examples every run, from a fixed seed, so a red build is a real change and runs again the same way), no
example database, no deadline. Elsewhere the `dev` profile explores new examples on every run and remembers
failures in `.hypothesis/`; `HYPOTHESIS_PROFILE` picks either by name. Neither has a deadline: how long an
example takes on a shared 2-core machine says nothing about whether it is right (speed is measured in
`bench/`).

Markers (`make unit` leaves the first four out, `make test` runs everything):
- `lab`: starts a lab scenario, the simulated organisation over PSRP, WS-Management, EWS and Graph on
  loopback, or a KDC (every test under `tests/lab/` and `tests/kerberos/`, every test using a fixture that
  starts one, and the tests marked by hand because they start one themselves);
- `reliability`: `tests/reliability/`, faults, restarts, concurrency and fuzzing through whole triages;
- `e2e`: `tests/e2e/`, the Agents Playground in Chromium;
- `cli`: runs the `triage` command in a child process (the command line's contract: exit codes, pipes).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The timed loopback connector and its Teams activities, for the reliability suite and the fix flow
# (tests/bot/conftest.py has its own, plain connector under the same names).
pytest_plugins = ("tests.timed",)

TESTS = Path(__file__).resolve().parent

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])


def hypothesis_profile(environ: dict[str, str] | os._Environ[str]) -> str:
    """`ci` when the CI variable is set to something true, else `dev`; HYPOTHESIS_PROFILE overrides both."""
    chosen = environ.get("HYPOTHESIS_PROFILE", "")
    if chosen:
        return chosen
    return "ci" if environ.get("CI", "").strip().lower() not in ("", "0", "false", "no") else "dev"


settings.load_profile(hypothesis_profile(os.environ))

# Folders whose every test carries a marker.
FOLDER_MARKERS = {"lab": "lab", "kerberos": "lab", "reliability": "reliability", "e2e": "e2e"}
# Fixtures that start a lab scenario; a test that uses one (directly or through another fixture) is `lab`.
LAB_FIXTURES = frozenset(
    {
        "healthy_lab",
        "lab",
        "broken_lab",
        "scenario_lab",
        "seed_lab",
        "outcomes",
        "kdc",
        "kerberos_lab",
        "klab",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path)).resolve()
        try:
            folder = path.relative_to(TESTS).parts[0]
        except (ValueError, IndexError):
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & LAB_FIXTURES and item.get_closest_marker("lab") is None:
            item.add_marker("lab")

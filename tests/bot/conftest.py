"""Fixtures for the host's tests: a loopback connector, Teams activities and settings for a loopback bot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings, load_settings
from bot.testing import LoopbackConnector, TeamsActivities
from tests.bot.azurite import running_azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """A connection string to an Azurite blob service, one per test session."""
    with running_azurite() as connection_string:
        yield connection_string


@pytest.fixture
async def connector() -> AsyncIterator[LoopbackConnector]:
    recorder = LoopbackConnector()
    await recorder.start()
    yield recorder
    await recorder.stop()


@pytest.fixture
def activities(connector: LoopbackConnector) -> TeamsActivities:
    assert connector._server is not None
    return TeamsActivities(service_url=connector._server.url + "/")


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


def pytest_configure(config: pytest.Config) -> None:
    # The SDK keys aiohttp's request and app state with strings; aiohttp itself silences this warning
    # outside of tests.
    config.addinivalue_line("filterwarnings", "ignore::aiohttp.web_exceptions.NotAppKeyWarning")

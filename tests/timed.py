"""Fixtures for tests that drive the bot through a timed loopback connector (the reliability suite, the fix
flow): import them into a conftest or a test module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bench.driver import TimedConnector
from bot.testing import TeamsActivities

__all__ = ["activities", "connector"]


@pytest.fixture
async def connector() -> AsyncIterator[TimedConnector]:
    recorder = TimedConnector()
    await recorder.start()
    yield recorder
    await recorder.stop()


@pytest.fixture
def activities(connector: TimedConnector) -> TeamsActivities:
    assert connector._server is not None
    return TeamsActivities(service_url=connector._server.url + "/")

"""event-logs looks around the reported time (`event.time`), else over the last 24 hours."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from checks.impl.events import REMEDY
from knowledge.loader import KnowledgeBase
from lab.runtime import start_lab
from tests.checks.conftest import run_on_lab, run_ports
from tests.world import NOW, PAIR, World, scenario, server

THREE_DAYS_AGO = NOW - datetime.timedelta(days=3)


def _old_event() -> World:
    """The healthy organisation with one 4002 on EX01 three days before `NOW`."""
    event = {
        "time_created": THREE_DAYS_AGO.isoformat(),
        "provider": "MSExchange Availability",
        "id": 4002,
        "level": "Error",
        "message": "ProxyWebRequest CrossSite failed",
    }
    return World(scenario("healthy", server("EX01", events=[event])))


async def _event_logs(org: World, kb: KnowledgeBase, facts: dict[str, Any]) -> tuple[Any, list[Any]]:
    ports, fakes = org.ports()
    results = await run_ports(ports, kb, facts, "event-logs")
    return results["event-logs"], [a for op, a in fakes["host"].calls if op == "win-events"]


async def test_without_a_reported_time_the_last_day_is_searched(org: World, kb: KnowledgeBase) -> None:
    org = _old_event()
    result, _ = await _event_logs(org, kb, PAIR)
    assert result.status == "ok" and result.facts["events.ids"] == []
    assert "between 2026-03-01 09:00 and 2026-03-02 09:00 UTC" in result.summary, result.summary


async def test_the_window_is_centred_on_the_reported_time(org: World, kb: KnowledgeBase) -> None:
    org = _old_event()
    reported = THREE_DAYS_AGO + datetime.timedelta(hours=2)
    result, sent = await _event_logs(org, kb, {**PAIR, "event.time": reported.isoformat()})
    assert result.status == "warn", result.summary
    assert result.facts["events.ids"] == [4002]
    assert sent and {(a["since"], a["until"]) for a in sent} == {
        ("2026-02-26T23:00:00+00:00", "2026-02-27T23:00:00+00:00")
    }
    assert "between 2026-02-26 23:00 and 2026-02-27 23:00 UTC" in result.summary, result.summary


async def test_a_time_without_offset_is_utc_and_one_in_the_future_falls_back(
    org: World, kb: KnowledgeBase
) -> None:
    org = _old_event()
    naive = THREE_DAYS_AGO.replace(tzinfo=None).isoformat()
    result, _ = await _event_logs(org, kb, {**PAIR, "event.time": naive})
    assert result.status == "warn" and "between 2026-02-26 21:00 and 2026-02-27 21:00" in result.summary
    future = (NOW + datetime.timedelta(days=2)).isoformat()
    result, _ = await _event_logs(org, kb, {**PAIR, "event.time": future})
    assert result.status == "ok" and "between 2026-03-01 09:00 and 2026-03-02 09:00" in result.summary


async def test_a_recent_reported_time_ends_the_window_now(org: World, kb: KnowledgeBase) -> None:
    reported = NOW - datetime.timedelta(hours=1)
    result, _ = await _event_logs(org, kb, {**PAIR, "event.time": reported.isoformat()})
    assert "between 2026-03-01 20:00 and 2026-03-02 09:00 UTC" in result.summary, result.summary


def test_the_remedy_asks_for_the_same_window() -> None:
    assert "StartTime=(Get-Date).AddDays(-1)}" in REMEDY(PAIR)
    shown = REMEDY({**PAIR, "event.time": "2026-02-27T07:00:00Z"})
    assert "StartTime=[datetime]::Parse('2026-02-26T19:00:00Z').ToLocalTime()" in shown
    assert "EndTime=[datetime]::Parse('2026-02-27T19:00:00Z').ToLocalTime()}" in shown


@pytest.mark.lab
async def test_the_lab_finds_a_three_day_old_event_only_around_its_time(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    scenario: dict[str, Any] = {"extends": "healthy", "name": "old-event"}
    scenario["organization"] = {
        "servers": [
            {
                "name": "EX01",
                "events": [
                    {
                        "provider": "MSExchange Availability",
                        "id": 4002,
                        "time_created": "now-3d",
                        "message": "Process 1234: ProxyWebRequest CrossSite from EX01 to EX03 failed.",
                    },
                    {
                        "provider": "MSExchange OWA",
                        "id": 42,
                        "time_created": "now-1h",
                        "message": "OWA could not proxy to EX03.",
                    },
                ],
            }
        ]
    }
    path = tmp_path / "old-event.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    lab = start_lab(path)
    try:
        pair = {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}
        without = (await run_on_lab(lab, kb, pair, "event-logs"))["event-logs"]
        reported = lab.ctx.time("now-3d").isoformat()
        around = (await run_on_lab(lab, kb, {**pair, "event.time": reported}, "event-logs"))["event-logs"]
    finally:
        lab.close()
    assert without.status == "warn" and without.facts["events.ids"] == [42], without.summary
    assert around.status == "warn" and around.facts["events.ids"] == [4002], around.summary
    assert "EX01: MSExchange Availability 4002" in around.summary

"""`triage serve`: refusals on the command line, and the server it runs."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.server import serve
from bot.settings import load_settings
from bot.testing import reserve_loopback_socket
from tests.bot.conversations import ScriptedConversation
from triage.cli import main


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith(("TRIAGE_", "CONNECTIONS__")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TRIAGE_STATE_DIR", str(tmp_path / "var"))


def test_serve_refuses_to_start_without_an_identity_or_the_development_mode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve"]) == 2
    assert "TRIAGE_DEV_ANONYMOUS=1" in capsys.readouterr().err


def test_serve_refuses_anonymous_on_all_interfaces(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    error = capsys.readouterr().err
    assert "refusing to start" in error
    assert "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID" in error


def test_serve_refuses_a_bad_environment_value_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRIAGE_STORAGE", "floppy")
    assert main(["serve"]) == 2
    assert "TRIAGE_STORAGE:" in capsys.readouterr().err


def test_serve_builds_its_conversation_with_the_composition_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command imports the conversation factory by name (triage.app), no longer from a string."""
    served: dict[str, Any] = {}

    async def fake_serve(settings: Any, factory: Any) -> None:
        served["conversation"] = factory("publish")

    monkeypatch.setattr("bot.server.serve", fake_serve)
    monkeypatch.setattr(
        "triage.app.build_conversation", lambda settings, publish: ("built", settings.backend, publish)
    )
    monkeypatch.setenv("TRIAGE_DEV_ANONYMOUS", "1")
    assert main(["serve"]) == 0
    assert served["conversation"] == ("built", "lab", "publish")


def test_serve_reports_a_conversation_that_cannot_be_built(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TRIAGE_DEV_ANONYMOUS", "1")

    async def fake_serve(settings: Any, factory: Any) -> None:
        factory("publish")

    def broken(settings: Any, publish: Any) -> Any:
        raise RuntimeError("no knowledge base")

    monkeypatch.setattr("bot.server.serve", fake_serve)
    monkeypatch.setattr("triage.app.build_conversation", broken)
    assert main(["serve"]) == 1
    assert "the bot could not start" in caplog.text


async def test_serve_runs_the_host_until_stopped(tmp_path: Path) -> None:
    sock = reserve_loopback_socket()
    port = sock.getsockname()[1]
    sock.close()
    settings = load_settings(
        {"TRIAGE_STATE_DIR": str(tmp_path / "state"), "TRIAGE_DEV_ANONYMOUS": "1"}, port=port
    )
    stop = asyncio.Event()
    server = asyncio.create_task(serve(settings, ScriptedConversation, stop))
    try:
        # Until it answers: the wait is a safety net for a broken start, not a guess at a busy machine's speed.
        async with aiohttp.ClientSession() as session, asyncio.timeout(60):
            while True:
                assert not server.done(), "the server stopped before it answered"
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        health = await response.json()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(server, 60)
    assert health["status"] == "ok" and health["storage"] == "sqlite" and health["backend"] == "lab"
    assert health["auth"] == "anonymous" and health["version"]
    assert (tmp_path / "state" / "state.sqlite3").exists()


async def test_audit_prints_the_newest_records_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from bot.audit import AuditLog, AuditRecord
    from bot.storage import SqliteStore

    monkeypatch.setenv("TRIAGE_DEV_ANONYMOUS", "1")
    store = await SqliteStore.open(tmp_path / "var" / "state.sqlite3")
    try:
        clock = iter([1_700_000_000.0, 1_700_000_060.0])
        log = AuditLog(store, lambda: next(clock))
        await log.append(AuditRecord("mailbox-read", "a1", "Ada", mailboxes=("alice@contoso.com",)))
        await log.append(AuditRecord("escalation-channel-set", "b2", "Grace", detail={"channel": "X › Y"}))
    finally:
        await store.close()
    assert await asyncio.to_thread(main, ["audit"]) == 0
    first, second = capsys.readouterr().out.strip().splitlines()
    assert first.startswith("2023-11-14 22:14:20 UTC | escalation-channel-set | Grace (b2)")
    assert "mailbox-read | Ada (a1) | mailboxes alice@contoso.com" in second
    assert await asyncio.to_thread(main, ["audit", "--kind", "mailbox-read", "--json"]) == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    assert json.loads(line)["mailboxes"] == ["alice@contoso.com"]

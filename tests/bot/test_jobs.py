"""Every activity answered at once, its turn run as a job that posts proactively; redelivery; cancel; the Bot
Connector's 429 and 403; a job that fails for good."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from bot.jobs import Job
from bot.jobs.sqlite import JOBS_FILE, SqliteJobs
from bot.settings import Settings
from bot.storage import SqliteStore
from bot.storage.factory import SQLITE_FILE
from bot.testing import LoopbackConnector, TeamsActivities, running_bot
from dialogs.api import Emit, Inbound, Outbound, State
from tests.bot.conversations import card
from tests.dialogs.harness import card_problems

PERSONAL = "a:personal-1"
KEY = f"conv/msteams/{PERSONAL}"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class SlowChecks:
    """A conversation whose "run" starts checks that last until the test opens `gate` (as checks against a
    slow organisation would); "cancel" ends the triage; a submit updates the clicked card, then waits too."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started = 0
        self.stopped = 0
        self.inbounds: list[Inbound] = []

    async def handle(self, state: State, inbound: Inbound, emit: Emit) -> State:
        self.inbounds.append(inbound)
        if inbound.text == "cancel":
            await emit(Outbound(kind="text", text="Cancelled."))
            return {"phase": "cancelled"}
        if inbound.text == "question":
            await emit(Outbound(kind="card", card=card("pick one"), card_key="question"))
            return {**state, "phase": "asking"}
        if inbound.kind == "submit":
            await emit(Outbound(kind="card", card=card(f"you chose {inbound.value}"), card_key="question"))
            await self.gate.wait()
            return state
        self.started += 1
        await emit(Outbound(kind="card", card=card("Running the checks"), card_key="progress"))
        await emit(Outbound(kind="checkpoint", state={**state, "phase": "running"}))
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.stopped += 1
            raise
        await emit(Outbound(kind="card", card=card("Checks finished."), card_key="progress"))
        await emit(Outbound(kind="card", card=card("the result"), card_key="result"))
        return {**state, "phase": "done"}


def results(connector: LoopbackConnector) -> list[Any]:
    return [c for c in connector.messages(PERSONAL) if c.cards and "the result" in str(c.cards)]


async def test_the_answer_comes_at_once_and_the_result_is_posted_when_the_checks_end(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = SlowChecks()
    async with running_bot(make_settings(), conversation, answer_seconds=0.2) as bot:
        response = await bot.post(activities.message("run"))
        # Answered while the checks are still running (the gate is shut).
        assert response.status == 202
        assert conversation.started == 1 and not conversation.gate.is_set()
        assert results(connector) == []
        conversation.gate.set()
        await bot.idle()
    assert len(results(connector)) == 1
    [progress] = [c for c in connector.messages(PERSONAL) if "Running the checks" in str(c.cards)]
    [update] = connector.of("update")
    assert update.activity_id == progress.returned_id and "Checks finished." in str(update.cards)


async def test_an_activity_posted_twice_at_once_is_one_triage(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = SlowChecks()
    activity = activities.message("run")
    async with running_bot(make_settings(), conversation, answer_seconds=0.2) as bot:
        first, second = await asyncio.gather(bot.post(activity), bot.post(activity))
        assert {first.status, second.status} == {202}
        conversation.gate.set()
        await bot.idle()
    assert conversation.started == 1
    assert len(results(connector)) == 1


async def test_an_activity_redelivered_15_s_later_is_acknowledged_and_not_handled_again(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = SlowChecks()
    conversation.gate.set()
    clock = Clock()
    settings = make_settings()
    activity = activities.message("run")
    async with running_bot(settings, conversation, clock=clock, answer_seconds=0.2) as bot:
        assert (await bot.post(activity)).status == 202
        await bot.idle()
        clock.now += 15  # Teams' retry of an answer it thinks timed out
        assert (await bot.post(activity)).status == 202
        await bot.idle()
        assert conversation.started == 1
        assert len(results(connector)) == 1
        # The ids are kept for a bounded time (TRIAGE_SEEN_SECONDS, an hour by default), then forgotten.
        clock.now += settings.seen_seconds + 1
        assert (await bot.post(activity)).status == 202
        await bot.idle()
    assert conversation.started == 2


async def test_a_redelivery_after_a_restart_is_found_in_the_conversations_state(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = SlowChecks()
    conversation.gate.set()
    settings = make_settings()
    activity = activities.message("run")
    async with running_bot(settings, conversation, answer_seconds=0.2) as bot:
        await bot.post(activity)
        await bot.idle()
    (settings.state_dir / JOBS_FILE).unlink()  # the jobs are gone; the state still knows the id
    async with running_bot(settings, conversation, answer_seconds=0.2) as bot:
        assert (await bot.post(activity)).status == 202
        await bot.idle()
    assert conversation.started == 1
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    try:
        document, _ = await store.read(KEY)
    finally:
        await store.close()
    assert activity["id"] in document["_host"]["seen"]


async def test_an_invoke_is_answered_at_once_and_its_card_updated_when_the_turn_gets_there(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = SlowChecks()
    async with running_bot(make_settings(), conversation, answer_seconds=0.2) as bot:
        await bot.post(activities.message("question"))
        await bot.idle()
        [question] = connector.messages(PERSONAL)
        response = await bot.post(
            activities.execute("choose", {"scope": "one"}, reply_to_id=question.returned_id)
        )
        assert response.status == 200
        assert response.body == {
            "statusCode": 200,
            "type": "application/vnd.microsoft.activity.message",
            "value": "Received",
        }
        conversation.gate.set()
        await bot.idle()
    [update] = connector.of("update")
    assert update.activity_id == question.returned_id and "you chose" in str(update.cards)


async def test_cancel_stops_the_running_checks_and_nothing_more_is_posted(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    conversation = SlowChecks()
    async with running_bot(make_settings(), conversation, answer_seconds=0.2) as bot:
        await bot.post(activities.message("run"))
        assert (await bot.post(activities.message("cancel"))).status == 202
        await bot.idle()
        conversation.gate.set()
    assert conversation.stopped == 1
    assert [i.text for i in conversation.inbounds] == ["run", "cancel"]
    assert results(connector) == []
    assert connector.texts(PERSONAL) == ["Cancelled."]


async def test_checks_stop_when_the_state_is_deleted_elsewhere(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    """Another replica (or the retention purge) deleted the conversation: its checks stop, nothing is posted."""
    conversation = SlowChecks()
    settings = make_settings()
    async with running_bot(settings, conversation, answer_seconds=0.2) as bot:
        await bot.post(activities.message("run"))
        store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
        try:
            await store.delete(KEY)
        finally:
            await store.close()
        await bot.idle()
    assert conversation.stopped == 1 and results(connector) == []


class RefusingConnector(LoopbackConnector):
    """The loopback connector answering the first `throttle` posts 429 (Retry-After: 1), or every post 403."""

    def __init__(self, *, throttle: int = 0, forbid: bool = False) -> None:
        super().__init__()
        self.throttle = throttle
        self.forbid = forbid
        self.refused: list[float] = []

    async def _activity(self, request: web.Request) -> web.Response:
        if self.forbid:
            self.refused.append(time.monotonic())
            return web.json_response({"error": {"code": "BotNotInConversationRoster"}}, status=403)
        if self.throttle > 0 and request.method == "POST":
            self.throttle -= 1
            self.refused.append(time.monotonic())
            return web.json_response(
                {"error": {"code": "Throttled"}}, status=429, headers={"Retry-After": "1"}
            )
        return await super()._activity(request)


async def test_connector_throttling_is_retried_after_its_retry_after(
    make_settings: Callable[..., Settings], activities: TeamsActivities
) -> None:
    connector = RefusingConnector(throttle=2)
    url = await connector.start()
    try:
        async with running_bot(make_settings(), SlowChecks(), answer_seconds=0.2) as bot:
            began = time.monotonic()
            await bot.post(TeamsActivities(service_url=url).message("question"))
            await bot.idle()
            finished = time.monotonic()
    finally:
        await connector.stop()
    assert len(connector.refused) == 2
    assert len(connector.messages(PERSONAL)) == 1  # posted once, after waiting as told
    assert finished - began >= 2.0


async def test_a_conversation_the_bot_was_removed_from_ends_the_job_with_a_log_line(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    connector = RefusingConnector(forbid=True)
    url = await connector.start()
    settings = make_settings()
    try:
        async with running_bot(settings, SlowChecks(), answer_seconds=0.2) as bot:
            with caplog.at_level(logging.WARNING, logger="bot.outbound"):
                assert (await bot.post(TeamsActivities(service_url=url).message("question"))).status == 202
                await bot.idle()
    finally:
        await connector.stop()
    assert len(connector.refused) == 1  # no retries
    assert any(
        "can no longer be posted to (Bot Connector HTTP 403)" in r.getMessage() for r in caplog.records
    )
    jobs = SqliteJobs(settings.state_dir / JOBS_FILE)
    try:
        assert jobs.pending() == 0
    finally:
        await jobs.close()


async def test_a_job_that_failed_for_good_ends_with_a_card_saying_what_was_not_checked(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> None:
    """A job that crashed its process on every attempt: at the next start the user is told, never silence."""
    settings = make_settings()
    conversation = SlowChecks()
    activity = activities.message("run")
    store = await SqliteStore.open(settings.state_dir / SQLITE_FILE)
    jobs = SqliteJobs(settings.state_dir / JOBS_FILE)
    try:
        said = {"symptom": "freebusy-cloud-to-onprem", "target": "bjorn@contoso.com"}
        await store.write(KEY, {"phase": "running", "said": said}, None)
        reference = {
            "channelId": "msteams",
            "serviceUrl": activity["serviceUrl"],
            "conversation": activity["conversation"],
            "user": activity["from"],
            "bot": activity["recipient"],
        }
        job = await jobs.submit(Job(KEY, activity["id"], activity, reference))
        assert job is not None
        await jobs.attempted(job.again(settings.job_attempts))
    finally:
        await jobs.close()
        await store.close()
    async with running_bot(settings, conversation, answer_seconds=0.2) as bot:
        await bot.idle()
    assert conversation.started == 0
    [message] = connector.messages(PERSONAL)
    text = str(message.cards)
    assert "I could not run the checks" in text and "None of the checks could be run" in text
    assert "bjorn@contoso.com" in text
    assert card_problems(message.cards[0]) == []  # a valid Adaptive Card 1.5

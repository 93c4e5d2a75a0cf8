"""Malformed activities: a 4xx answer (or, for invokes the bot does not implement, the protocol's 501) or a
polite reply; never a 500 or a traceback; the server answers the next good message after each."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bench.driver import TimedConnector
from bot.settings import Settings
from bot.testing import RunningBot, TeamsActivities, running_bot
from dialogs.testing import FakeCheckRunner
from triage.app import build_conversation

JSON = "application/json"


def _without(activity: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in activity.items() if k not in keys}


def bad_activities(activities: TeamsActivities) -> dict[str, Any]:
    """name -> a JSON body that is not a usable activity."""
    good = activities.message("hello", conversation="a:bad")
    submit = activities.submit({"action": "answer"}, conversation="a:bad")
    return {
        "empty object": {},
        "a list": [good],
        "a string": "hello",
        "null": None,
        "no type": _without(good, "type"),
        "no conversation": _without(good, "conversation"),
        "no serviceUrl": _without(good, "serviceUrl"),
        "no channelId": _without(good, "channelId"),
        "no from": _without(good, "from"),
        "no recipient": _without(good, "recipient"),
        "conversation is a string": {**good, "conversation": "a:bad"},
        "conversation id is a number": {**good, "conversation": {"id": 5}},
        "text is a number": {**good, "text": 12},
        "text is a list": {**good, "text": ["a"]},
        "from is a string": {**good, "from": "bob"},
        "serviceUrl is a number": {**good, "serviceUrl": 5},
        "serviceUrl is not a URL": {**good, "serviceUrl": "not a url"},
        "serviceUrl is not http": {**good, "serviceUrl": "file:///etc/passwd"},
        "entities is a string": {**good, "entities": "x"},
        "attachment with a numeric content type": {**good, "attachments": [{"contentType": 5}]},
        "timestamp is not a time": {**good, "timestamp": "yesterday"},
        "membersAdded is a string": {**good, "type": "conversationUpdate", "membersAdded": "x"},
        "submit value is a list": {**submit, "value": [1, 2]},
        "submit value is a string": {**submit, "value": "x"},
        "channelData is a list": {**good, "channelData": [1]},
        "deeply nested value": {**submit, "value": json.loads("[" * 400 + "]" * 400)},
        "unknown type": {**good, "type": "hologram"},
        "event": {**good, "type": "event", "name": "x"},
        "typing": {**good, "type": "typing"},
        "messageReaction": {**good, "type": "messageReaction"},
        "installationUpdate": {**good, "type": "installationUpdate"},
        "endOfConversation": {**good, "type": "endOfConversation"},
        "conversationUpdate with no members": {**good, "type": "conversationUpdate"},
        "unknown invoke": {**good, "type": "invoke", "name": "composeExtension/query"},
        "invoke without a name": {**good, "type": "invoke"},
        "Action.Execute without a value": {**good, "type": "invoke", "name": "adaptiveCard/action"},
        "5 MB of text": {**good, "text": "x" * (5 * 1024 * 1024)},
    }


def surrogate_activities(activities: TeamsActivities) -> dict[str, bytes]:
    """Half a UTF-16 surrogate pair, escaped in the JSON: no such string can be stored as UTF-8."""
    good = activities.message("hello", conversation="a:bad")
    return {
        "in the text": json.dumps({**good, "text": "\ud800 hello"}).encode(),
        "in the user's name": json.dumps({**good, "from": {**good["from"], "name": "Ada \udc80"}}).encode(),
        "in a card's data": json.dumps({**good, "text": "", "value": {"text": "\udbff"}}).encode(),
    }


RAW = {
    "invalid JSON": (b'{"type": "message", ', JSON),
    "an empty body": (b"", JSON),
    "binary": (bytes(range(256)), "application/octet-stream"),
    "UTF-16 JSON": ('{"type": "message"}'.encode("utf-16"), JSON),
    "form fields": (b"type=message&text=hi", "application/x-www-form-urlencoded"),
}


@pytest.fixture
async def bot(make_settings: Callable[..., Settings]) -> AsyncIterator[RunningBot]:
    settings = make_settings()
    runner = FakeCheckRunner()
    async with running_bot(
        settings, lambda publish: build_conversation(settings, publish, runner=runner)
    ) as running:
        yield running


async def _post(bot: RunningBot, body: bytes, content_type: str) -> tuple[int, str]:
    headers = {"Content-Type": content_type}
    async with bot.session.post(f"{bot.url}/api/messages", data=body, headers=headers) as response:
        return response.status, await response.text()


async def _still_serving(
    bot: RunningBot, connector: TimedConnector, activities: TeamsActivities, n: int
) -> None:
    conversation = f"a:after-{n}"
    status, _ = await _post(
        bot, json.dumps(activities.message("hi", conversation=conversation)).encode(), JSON
    )
    assert status == 202
    assert connector.texts(conversation)[0].startswith("Hi Ada!")


def _refused_cleanly(name: str, status: int, body: str) -> None:
    invoke = name.endswith("invoke") or "invoke" in name or "Action.Execute" in name
    assert status < 500 or (invoke and status == 501), (name, status, body)
    assert "Traceback" not in body and 'File "' not in body, name


async def test_malformed_activities_are_refused_and_the_server_keeps_serving(
    bot: RunningBot, connector: TimedConnector, activities: TeamsActivities
) -> None:
    for n, (name, activity) in enumerate(bad_activities(activities).items()):
        status, body = await _post(bot, json.dumps(activity).encode(), JSON)
        _refused_cleanly(name, status, body)
        await _still_serving(bot, connector, activities, n)
    # What the bot could read as a message (a list for channelData, say) got an ordinary answer, not an apology.
    assert not [t for t in connector.texts("a:bad") if t.startswith("Sorry")]


async def test_bodies_that_are_not_json_activities_are_4xx(
    bot: RunningBot, connector: TimedConnector, activities: TeamsActivities
) -> None:
    for n, (name, (body, content_type)) in enumerate(RAW.items()):
        status, text = await _post(bot, body, content_type)
        assert 400 <= status < 500, (name, status, text)
        _refused_cleanly(name, status, text)
        await _still_serving(bot, connector, activities, n)


async def test_strings_that_are_not_unicode_are_refused(
    bot: RunningBot, connector: TimedConnector, activities: TeamsActivities
) -> None:
    for n, (name, body) in enumerate(surrogate_activities(activities).items()):
        status, text = await _post(bot, body, JSON)
        assert status == 400, (name, status, text)
        await _still_serving(bot, connector, activities, n)
    emoji = activities.message("\U0001f600 hello", conversation="a:emoji")  # a whole pair is fine
    status, _ = await _post(bot, json.dumps(emoji).encode(), JSON)
    assert status == 202 and connector.texts("a:emoji")[0].startswith("Hi Ada!")


async def test_a_good_activity_with_a_wrong_content_type_is_415(
    bot: RunningBot, connector: TimedConnector, activities: TeamsActivities
) -> None:
    body = json.dumps(activities.message("hi", conversation="a:plain")).encode()
    status, _ = await _post(bot, body, "text/plain")
    assert status == 415
    assert connector.in_conversation("a:plain") == []


async def test_the_largest_message_teams_can_send_gets_a_polite_answer(
    bot: RunningBot, connector: TimedConnector, activities: TeamsActivities
) -> None:
    """Just under the 1 MiB body limit: the conversation refuses a paste that large, politely."""
    activity = activities.message("", conversation="a:huge")
    activity["text"] = "Event 4002 " + "x" * (1024 * 1024 - len(json.dumps(activity)) - 64)
    status, _ = await _post(bot, json.dumps(activity).encode(), JSON)
    assert status == 202
    replies = connector.texts("a:huge")
    assert replies and not any(r.startswith("Sorry") for r in replies)

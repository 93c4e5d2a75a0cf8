"""Roles given to Entra groups: membership read from Graph (checkMemberGroups) with the bot's own token.

The bot runs with its identity against the loopback identity provider (its tokens) and a loopback Graph (the
memberships); activities carry real Bot Framework tokens.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from bot.settings import Settings
from bot.testing import (
    TEAMS_TENANT,
    LoopbackConnector,
    LoopbackGraph,
    LoopbackHostValidator,
    LoopbackIdentityProvider,
    RunningBot,
    TeamsActivities,
    loopback_connections,
    running_bot,
    signing_keys_from,
)
from tests.bot.conversations import ScriptedConversation

APP_ID = "0b0b0b0b-1111-2222-3333-444444444444"
SECRET = "loopback-client-secret-value"
HELPDESK_GROUP = "6a1d0c1e-0000-4000-8000-00000000d001"
ADMIN_GROUP = "6a1d0c1e-0000-4000-8000-00000000d002"
SCOPE_GROUP = "6a1d0c1e-0000-4000-8000-00000000d003"
ADA = "00000000-0000-0000-0000-0000000000a1"
MALLORY = "00000000-0000-0000-0000-0000000000c3"


@dataclass
class GroupBot:
    bot: RunningBot
    idp: LoopbackIdentityProvider
    graph: LoopbackGraph
    conversation: ScriptedConversation
    activities: TeamsActivities
    ids: itertools.count[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    async def say(self, text: str, *, user: str, name: str, conversation: str) -> None:
        sender = TeamsActivities(
            service_url=self.activities.service_url,
            bot_id=f"28:{APP_ID}",
            user_id=f"29:{name}",
            user_name=name,
            user_aad_id=user,
            _ids=self.ids,  # activity ids stay unique across senders: a repeated id is a redelivery
        )
        token = self.idp.mint(service_url=self.activities.service_url)
        assert (
            await self.bot.post(sender.message(text, conversation=conversation), token=token)
        ).status == 202
        await self.bot.idle()  # the turn runs after the answer: each message is handled before the next


@pytest.fixture
async def group_bot(
    make_settings: Callable[..., Settings], connector: LoopbackConnector, activities: TeamsActivities
) -> AsyncIterator[GroupBot]:
    idp = LoopbackIdentityProvider(APP_ID, SECRET)
    graph = LoopbackGraph({ADA: {HELPDESK_GROUP}, "bjorn@contoso.com": {SCOPE_GROUP}})
    await idp.start()
    await graph.start()
    settings = make_settings(
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID=APP_ID,
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET=SECRET,
        CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID=TEAMS_TENANT,
        TRIAGE_ROLES_FROM_GROUPS="true",
        TRIAGE_HELPDESK=HELPDESK_GROUP,
        TRIAGE_ADMINS=ADMIN_GROUP,
        TRIAGE_MAILBOX_SCOPE=f"@contoso.com,{SCOPE_GROUP}",
    )
    conversation = ScriptedConversation()
    try:
        with signing_keys_from(idp.jwks_url):
            async with running_bot(
                settings,
                conversation,
                connections=loopback_connections(idp, TEAMS_TENANT),
                outbound_hosts=LoopbackHostValidator([activities.service_url]),
                graph_url=graph.url,
            ) as bot:
                yield GroupBot(bot, idp, graph, conversation, activities)
    finally:
        await graph.stop()
        await idp.stop()


async def test_a_member_of_the_helpdesk_group_may_triage_and_a_stranger_may_not(
    group_bot: GroupBot, connector: LoopbackConnector
) -> None:
    await group_bot.say("hi", user=ADA, name="Ada", conversation="a:ada")
    await group_bot.say("hi", user=MALLORY, name="Mallory", conversation="a:mallory")
    assert [inbound.user_name for inbound in group_bot.conversation.inbounds] == ["Ada"]
    assert "not on the list" in connector.texts("a:mallory")[0]
    # Graph was asked with the bot's own token, obtained by client credentials from the identity provider.
    assert group_bot.graph.tokens and set(group_bot.graph.tokens) <= set(group_bot.idp.issued)


async def test_memberships_are_kept_for_a_while_and_a_failing_graph_grants_nothing(
    group_bot: GroupBot, connector: LoopbackConnector
) -> None:
    await group_bot.say("one", user=ADA, name="Ada", conversation="a:ada")
    asked = len(group_bot.graph.tokens)
    await group_bot.say("two", user=ADA, name="Ada", conversation="a:ada")
    assert len(group_bot.graph.tokens) == asked  # the answer was kept
    group_bot.graph.failing = True
    await group_bot.say("hi", user=MALLORY, name="Mallory", conversation="a:mallory")
    assert [inbound.text for inbound in group_bot.conversation.inbounds] == ["one", "two"]
    assert "not on the list" in connector.texts("a:mallory")[0]


async def test_a_group_in_the_mailbox_scope_admits_its_members_only(
    group_bot: GroupBot, connector: LoopbackConnector
) -> None:
    # Bjorn is in the scope's group; Carol at fabrikam.com is neither in it nor in an allowed domain.
    await group_bot.say(
        "mailboxes alice@contoso.com bjorn@fabrikam.com", user=ADA, name="Ada", conversation="a:1"
    )
    await group_bot.say("mailboxes bjorn@contoso.com", user=ADA, name="Ada", conversation="a:2")
    await group_bot.say("mailboxes carol@fabrikam.com", user=ADA, name="Ada", conversation="a:3")
    assert connector.texts("a:1")[0].startswith("read allowed: False")
    assert connector.texts("a:2") == ["read allowed: True ()"]
    refused = connector.texts("a:3")[0]
    assert refused.startswith("read allowed: False") and f"the members of group {SCOPE_GROUP}" in refused


def test_group_roles_need_the_bots_identity(make_settings: Callable[..., Settings]) -> None:
    from bot.settings import SettingsError

    with pytest.raises(SettingsError, match="TRIAGE_ROLES_FROM_GROUPS"):
        make_settings(TRIAGE_ROLES_FROM_GROUPS="true")
    with pytest.raises(SettingsError, match="TRIAGE_MAILBOX_SCOPE"):
        make_settings(TRIAGE_MAILBOX_SCOPE=SCOPE_GROUP)

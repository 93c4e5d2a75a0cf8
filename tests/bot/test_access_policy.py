"""The access policy on its own: which roles a principal holds, by user id, by group, or by default."""

from __future__ import annotations

from collections.abc import Callable

from bot.access import AccessPolicy, Principal
from bot.settings import Settings

ADA, GRACE, ALAN, HELPDESK_GROUP = (f"00000000-0000-0000-0000-00000000000{n}" for n in range(1, 5))
APP = {
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID": "0b0b0b0b-1111-2222-3333-444444444444",
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET": "a-client-secret",
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
}


class Groups:
    def __init__(self, memberships: dict[str, set[str]]) -> None:
        self.memberships = memberships
        self.asked: list[str] = []

    async def member_of(self, object_id: str, group_ids: frozenset[str]) -> frozenset[str]:
        self.asked.append(object_id)
        return frozenset(self.memberships.get(object_id, set()) & group_ids)


async def test_roles_by_user_and_group_with_admins_also_helpdesk(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        **APP, TRIAGE_HELPDESK=HELPDESK_GROUP, TRIAGE_ADMINS=GRACE, TRIAGE_APPROVERS=ALAN
    )
    groups = Groups({ADA: {HELPDESK_GROUP}})
    policy = AccessPolicy.from_settings(settings, groups)
    assert await policy.roles(Principal(ADA)) == {"helpdesk"}
    assert await policy.roles(Principal(GRACE)) == {"helpdesk", "admin"}
    assert await policy.roles(Principal(ALAN)) == {"approver"}  # approving is not triaging
    assert await policy.roles(Principal("")) == frozenset()  # a Teams id only: no configured role
    assert "" not in groups.asked


async def test_without_a_helpdesk_list_everyone_admitted_may_triage_but_nobody_else_is_admin(
    make_settings: Callable[..., Settings],
) -> None:
    policy = AccessPolicy.from_settings(make_settings(**APP))
    assert await policy.roles(Principal(ADA)) == {"helpdesk"}
    assert not await policy.holds(Principal(ADA), "admin")


async def test_the_development_mode_without_roles_gives_everyone_every_role(
    make_settings: Callable[..., Settings],
) -> None:
    assert await AccessPolicy.from_settings(make_settings()).roles(Principal("")) == {
        "helpdesk",
        "admin",
        "approver",
    }
    configured = AccessPolicy.from_settings(make_settings(TRIAGE_ADMINS=GRACE))
    assert await configured.roles(Principal(ADA)) == {"helpdesk"}

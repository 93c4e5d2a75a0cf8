"""Who may do what: roles given to Entra object ids (users, or groups through a membership resolver).

| role | may | configured by |
| --- | --- | --- |
| `helpdesk` | start and run triages | `TRIAGE_HELPDESK` (empty: everyone the tenant allow-list admits) |
| `admin` | set the escalation channel, read the audit log; also helpdesk | `TRIAGE_ADMINS` |
| `approver` | approve, reject and roll back a fix asked for from a result card (`bot/fixes.py`) | `TRIAGE_APPROVERS` |

The principal is the `from.aadObjectId` of an authenticated activity: the Entra object id Teams puts there.
A sender without one (a Teams id only) holds no configured role. In the anonymous development mode, with no
roles configured, everyone holds every role (a local lab needs no set-up).

Groups: an id in a role's list may be a group's object id; `GroupMembership.member_of` answers which of the
given groups a user belongs to (transitively; `bot.directory.GraphGroups` asks Microsoft Graph, with
`TRIAGE_ROLES_FROM_GROUPS=true`). Without a resolver, ids are matched as user ids only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.settings import Settings

__all__ = ["ROLES", "AccessPolicy", "GroupMembership", "Principal", "Role"]

Role = Literal["helpdesk", "admin", "approver"]
ROLES: tuple[Role, ...] = ("helpdesk", "admin", "approver")


@dataclass(frozen=True)
class Principal:
    """Who sent an activity: the Entra object id (may be empty), the display name, the tenant."""

    object_id: str
    name: str = ""
    tenant_id: str = ""


class GroupMembership(Protocol):
    async def member_of(self, object_id: str, group_ids: frozenset[str]) -> frozenset[str]:
        """Which of `group_ids` the user `object_id` is a member of."""
        ...


class AccessPolicy:
    """Answers whether a principal holds a role."""

    def __init__(
        self,
        members: Mapping[Role, frozenset[str]],
        *,
        everyone_is_helpdesk: bool,
        everyone_holds_every_role: bool = False,
        groups: GroupMembership | None = None,
    ) -> None:
        self._members = {role: frozenset(ids) for role, ids in members.items()}
        self._everyone_is_helpdesk = everyone_is_helpdesk
        self._everyone = everyone_holds_every_role
        self._groups = groups

    @classmethod
    def from_settings(cls, settings: Settings, groups: GroupMembership | None = None) -> AccessPolicy:
        members: dict[Role, frozenset[str]] = {
            "helpdesk": frozenset(settings.helpdesk),
            "admin": frozenset(settings.admins),
            "approver": frozenset(settings.approvers),
        }
        configured = any(members.values())
        return cls(
            members,
            everyone_is_helpdesk=not settings.helpdesk,
            everyone_holds_every_role=settings.anonymous and not configured,
            groups=groups,
        )

    async def roles(self, principal: Principal) -> frozenset[Role]:
        if self._everyone:
            return frozenset(ROLES)
        held: set[Role] = set()
        if self._everyone_is_helpdesk:
            held.add("helpdesk")
        object_id = principal.object_id.lower()
        if not object_id:
            return frozenset(held)
        groups = await self._memberships(object_id)
        for role, ids in self._members.items():
            if object_id in ids or groups & ids:
                held.add(role)
        if "admin" in held:
            held.add("helpdesk")
        return frozenset(held)

    async def holds(self, principal: Principal, role: Role) -> bool:
        return role in await self.roles(principal)

    async def _memberships(self, object_id: str) -> frozenset[str]:
        if self._groups is None:
            return frozenset()
        every = frozenset().union(*self._members.values()) - {object_id}
        return await self._groups.member_of(object_id, every) if every else frozenset()

"""The authentication of one lab listener (Exchange PowerShell, a WinRM host), built from the scenario."""

from __future__ import annotations

from aiohttp import web

from lab.auth.windows import SESSION_KEY, AuthPolicy, Identity, WindowsAuth
from lab.context import LabContext, realm_of

__all__ = ["by_writer", "listener_auth"]


def listener_auth(ctx: LabContext, server_name: str) -> WindowsAuth:
    access = ctx.scenario.access
    credentials = ctx.credentials
    identity = Identity(
        domain=credentials.domain,
        user=credentials.user,
        realm=ctx.kerberos.realm if ctx.kerberos else realm_of(ctx.scenario),
        password=credentials.password,
        others=((credentials.writer_user, credentials.writer_password),)
        if credentials.writer_username
        else (),
    )
    policy = AuthPolicy(ntlm=access.ntlm, basic=access.basic, allow_unencrypted=access.allow_unencrypted)
    return WindowsAuth(identity, server_name, policy, ctx.kerberos.keytab if ctx.kerberos else None)


def by_writer(request: web.Request, ctx: LabContext) -> bool:
    """Whether the request's authenticated account is the one holding the write rights (roles, local admin)."""
    user = str(getattr(request.get(SESSION_KEY), "user", "") or "")
    name = user.rsplit("\\", 1)[-1].split("@", 1)[0].lower()
    writer = ctx.credentials.writer_user.lower()
    return bool(writer) and name == writer

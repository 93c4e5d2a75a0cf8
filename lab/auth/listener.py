"""The authentication of one lab listener (Exchange PowerShell, a WinRM host), built from the scenario."""

from __future__ import annotations

from lab.auth.windows import AuthPolicy, Identity, WindowsAuth
from lab.context import LabContext, realm_of

__all__ = ["listener_auth"]


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

"""The live backend configuration: a YAML file, validated on load, errors naming the key.

Secrets are never written in the file: each is named by the environment variable that holds it
(`password_env`) or a file that contains it (`password_file`), read at load time and never shown.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["ConfigError", "LiveConfig", "load_config", "parse_config"]

_INLINE_SECRETS = ("password", "client_secret", "secret")


class ConfigError(ValueError):
    """The configuration is unusable; the message names the file and key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in _INLINE_SECRETS:
                if key in data:
                    raise ValueError(
                        f"'{key}' may not be written in the file: use {key}_env (an environment variable) or {key}_file"
                    )
        return data


def _secret(env: str | None, file: str | None, where: str) -> str:
    if env and file:
        raise ConfigError(f"{where}: give either the _env or the _file form, not both")
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"{where}_env: the environment variable {env} is not set")
        return value
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(f"{where}_file: cannot read {file} ({error.strerror})") from None
    return ""


class _Login(_Section):
    username: str = ""
    password_env: str | None = None
    password_file: str | None = None
    ca_file: str | None = None
    verify_tls: bool = True

    def password(self, where: str) -> str:
        return _secret(self.password_env, self.password_file, f"{where}.password")


_SPN = r"^[A-Za-z][A-Za-z0-9-]*/[^/\s@]+$"


class KerberosSection(_Section):
    """The service account's Kerberos identity; the ticket is acquired in-process from the keytab or password."""

    principal: str = Field(pattern=r"^[^@\s]+@[A-Z0-9][A-Z0-9.-]*$")  # user@REALM, the realm in capitals
    keytab: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    krb5_conf: str | None = None  # default: /etc/krb5.conf (or KRB5_CONFIG)
    # The realm's KDCs (domain controllers, host or host:port) instead of a krb5.conf: one is written for them.
    kdcs: list[str] = Field(default=[], max_length=16)

    @model_validator(mode="after")
    def _one_source_of_kdcs(self) -> KerberosSection:
        if self.kdcs and self.krb5_conf:
            raise ValueError("give either krb5_conf or kdcs, not both")
        for kdc in self.kdcs:
            if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?", kdc):
                raise ValueError(f"kdcs: {kdc[:60]!r} is not a host name or host:port")
        return self

    def password(self, where: str) -> str:
        return _secret(self.password_env, self.password_file, f"{where}.password")


class ExchangeSection(_Login):
    server: str
    port: int | None = Field(default=None, ge=1, le=65535)
    path: str = "PowerShell"
    ssl: bool = True
    auth: Literal["kerberos", "ntlm", "negotiate", "basic"] = "kerberos"
    spn: str | None = Field(default=None, pattern=_SPN)  # default HTTP/<server>
    connections: int = Field(default=3, ge=1, le=8)
    operation_timeout: int = Field(default=20, ge=1)
    read_timeout: int = Field(default=30, ge=2)

    @model_validator(mode="after")
    def _basic_only_over_https(self) -> ExchangeSection:
        if self.auth == "basic" and not self.ssl:
            raise ValueError(
                "auth: basic sends the password in the clear over HTTP: use ssl: true, or kerberos/negotiate/ntlm (encrypted over HTTP)"
            )
        return self


class WinrmSection(_Login):
    url_template: str = "https://{server}:5986/wsman"
    endpoints: dict[str, str] = {}
    transport: Literal["kerberos", "negotiate", "ntlm", "basic", "ssl", "credssp"] = "kerberos"
    spn: str | None = Field(
        default=None, pattern=r"^[A-Za-z][A-Za-z0-9-]*/[^/\s@]+$"
    )  # {server}: default WSMAN/<URL host>
    operation_timeout: int = Field(default=20, ge=1)
    read_timeout: int = Field(default=30, ge=2)

    @model_validator(mode="after")
    def _read_after_operation(self) -> WinrmSection:
        if self.read_timeout <= self.operation_timeout:
            raise ValueError("read_timeout must be longer than operation_timeout (pywinrm retries otherwise)")
        if self.transport in ("basic", "ssl"):
            plain = [
                u
                for u in [self.url_template, *self.endpoints.values()]
                if not u.lower().startswith("https://")
            ]
            if plain:
                raise ValueError(
                    f"transport: {self.transport} (Basic) needs HTTPS, not {plain[0]}: use kerberos/negotiate/ntlm over HTTP (encrypted)"
                )
        return self


class EwsSection(_Login):
    endpoint: str
    auth: Literal["ntlm", "basic"] = "ntlm"
    version: str = Field(default="15.2.1544.4", pattern=r"^\d+\.\d+\.\d+\.\d+$")
    access: Literal["impersonation", "delegate"] = "impersonation"
    timeout: int = Field(default=30, ge=1)


class GraphSection(_Section):
    tenant_id: str
    client_id: str
    client_secret_env: str | None = None
    client_secret_file: str | None = None
    authority: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    ca_file: str | None = None
    timeout: int = Field(default=20, ge=1)
    # Exchange Online EWS for what Graph cannot read (hidden sharing subscriptions); same app, OAuth.
    exchange_online_ews: str | None = None

    def client_secret(self, where: str) -> str:
        return _secret(self.client_secret_env, self.client_secret_file, f"{where}.client_secret")


class ExchangeOnlineSection(_Section):
    """The Windows management host that runs Connect-ExchangeOnline (certificate, app-only)."""

    management_host: str
    organization: str
    app_id: str
    certificate_thumbprint: str = Field(pattern=r"^[0-9A-Fa-f]{40}$")
    winrm: WinrmSection = WinrmSection()


class ProbeSection(_Section):
    ca_file: str | None = None
    timeout: int = Field(default=10, ge=1)
    # host -> "address:port" to dial instead of resolving it (a server behind a load balancer, a lab).
    hosts: dict[str, str] = {}


class WriteSection(_Section):
    """The separate account the tool applies approved remediations with, and which remediations it may
    apply (none unless listed). Its Exchange endpoint defaults to the read-only section's server."""

    username: str
    password_env: str | None = None
    password_file: str | None = None
    auth: Literal["kerberos", "ntlm", "negotiate", "basic"] | None = None  # default: the exchange section's
    enabled_remediations: list[str] = []
    approvers: list[str] = []  # Entra object ids (or group ids) who may approve a fix in Teams
    requester_may_approve: bool = False
    # Exchange Online writes run on the exchange_online section's management host (as the write account over
    # its WinRM), connecting with this separate app and certificate, never the read-only app.
    exchange_online_app_id: str | None = None
    exchange_online_certificate_thumbprint: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{40}$")

    def password(self, where: str) -> str:
        return _secret(self.password_env, self.password_file, f"{where}.password")


class LimitsSection(_Section):
    check_seconds: float = Field(default=30, gt=0)
    triage_seconds: float = Field(default=90, gt=0)
    # Remote PowerShell runspace pools (and WinRM shells per host) this process keeps open at most, per
    # endpoint and account, shared by every triage. Exchange allows an account 18 shells by default
    # (PowerShellMaxConcurrency): keep `sessions` × replicas (+ anything else using the account) under it.
    sessions: int = Field(default=8, ge=1, le=64)
    # How long organisation-wide configuration is shared between triages (0: never).
    org_cache_seconds: float = Field(default=60, ge=0, le=3600)


class LiveConfig(_Section):
    kerberos: KerberosSection | None = None
    exchange: ExchangeSection | None = None
    winrm: WinrmSection | None = None
    ews: EwsSection | None = None
    graph: GraphSection | None = None
    exchange_online: ExchangeOnlineSection | None = None
    probe: ProbeSection = ProbeSection()
    limits: LimitsSection = LimitsSection()
    write: WriteSection | None = None


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_config(data: Any, source: str = "config") -> LiveConfig:
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping of sections (kerberos, exchange, winrm, ews, graph, ...)"
        )
    try:
        return LiveConfig.model_validate(data)
    except ValidationError as invalid:
        problems = [
            f"{source}: {_where(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in invalid.errors()
        ]
        raise ConfigError("\n".join(problems)) from None


def load_config(path: str | Path) -> LiveConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    return parse_config(data, str(path))

"""The host's configuration: read from the environment once at start-up, validated, errors name the key.

The bot's identity uses the Microsoft 365 Agents SDK's own keys (`CONNECTIONS__SERVICE_CONNECTION__SETTINGS__*`);
everything else is ours and starts with `TRIAGE_`. Secrets are `SecretStr` so they never print.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

__all__ = [
    "DEV_ANONYMOUS",
    "SDK_PREFIX",
    "Settings",
    "SettingsError",
    "is_loopback",
    "is_loopback_url",
    "key_entropy_problem",
    "load_settings",
]

SDK_PREFIX = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__"
CLIENT_ID = SDK_PREFIX + "CLIENTID"
CLIENT_SECRET = SDK_PREFIX + "CLIENTSECRET"
TENANT_ID = SDK_PREFIX + "TENANTID"
AUTH_TYPE = SDK_PREFIX + "AUTHTYPE"
DEV_ANONYMOUS = "TRIAGE_DEV_ANONYMOUS"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CONTAINER = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_CHANNEL_ID = re.compile(r"^19:[^\s/]+$")
_HOST = re.compile(r"^[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,10}$")
_SCOPE_ITEM = re.compile(r"^[a-z0-9._%+-]{0,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8}$")


class SettingsError(Exception):
    """The configuration cannot be used; each line names the key at fault."""


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")


def key_entropy_problem(secret: str) -> str:
    """Why `secret` is not a usable signing key ("" when it is): at least 32 characters, and not a
    repetition or a short alphabet (32 times "a" is 32 characters and no key)."""
    if len(secret) < 32:
        return "use at least 32 characters"
    counts = [secret.count(c) for c in set(secret)]
    entropy = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts)
    periodic = any(secret == (secret[:k] * (len(secret) // k + 1))[: len(secret)] for k in range(1, 17))
    if periodic or len(counts) < 10 or entropy * len(secret) < 128:
        return (
            "too predictable (repeated or few distinct characters): generate one, for example with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
        )
    return ""


def _ids(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip().lower() for part in value.split(",") if part.strip())
    return value


class Settings(BaseModel):
    """Everything the host needs to start. Field aliases are the environment keys."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    host: str = Field("127.0.0.1", alias="TRIAGE_HOST", min_length=1)
    port: int = Field(3978, alias="TRIAGE_PORT", ge=0, le=65535)
    public_url: str = Field("", alias="TRIAGE_PUBLIC_URL")
    state_dir: Path = Field(Path("var"), alias="TRIAGE_STATE_DIR")
    storage: Literal["sqlite", "blob"] = Field("sqlite", alias="TRIAGE_STORAGE")
    blob_connection_string: SecretStr | None = Field(None, alias="TRIAGE_BLOB_CONNECTION_STRING")
    blob_container: str = Field("triage-state", alias="TRIAGE_BLOB_CONTAINER")
    link_secret: SecretStr | None = Field(None, alias="TRIAGE_LINK_SECRET")
    link_previous_secret: SecretStr | None = Field(None, alias="TRIAGE_LINK_SECRET_PREVIOUS")
    link_ttl_hours: float = Field(24.0, alias="TRIAGE_LINK_TTL_HOURS", gt=0, le=24 * 7)
    internet_host: str = Field("", alias="TRIAGE_INTERNET_HOST")
    dev_anonymous: bool = Field(False, alias="TRIAGE_DEV_ANONYMOUS")
    trusted_client_apps: tuple[str, ...] = Field((), alias="TRIAGE_TRUSTED_CLIENT_APPS")
    helpdesk: tuple[str, ...] = Field((), alias="TRIAGE_HELPDESK")
    admins: tuple[str, ...] = Field((), alias="TRIAGE_ADMINS")
    approvers: tuple[str, ...] = Field((), alias="TRIAGE_APPROVERS")
    # How long an approval request for a fix stays open (default one hour).
    fix_ttl_seconds: float = Field(3600.0, alias="TRIAGE_FIX_APPROVAL_SECONDS", gt=0, le=7 * 86400)
    # Whether whoever asked for a fix may approve it too (default: another approver must).
    fix_requester_may_approve: bool = Field(False, alias="TRIAGE_FIX_REQUESTER_MAY_APPROVE")
    roles_from_groups: bool = Field(False, alias="TRIAGE_ROLES_FROM_GROUPS")
    mailbox_scope: tuple[str, ...] = Field((), alias="TRIAGE_MAILBOX_SCOPE")
    conversation_ttl_days: float = Field(30.0, alias="TRIAGE_CONVERSATION_TTL_DAYS", gt=0, le=3650)
    job_ttl_days: float = Field(7.0, alias="TRIAGE_JOB_TTL_DAYS", gt=0, le=3650)
    audit_ttl_days: float = Field(365.0, alias="TRIAGE_AUDIT_TTL_DAYS", gt=0, le=3650)
    turn_budget_seconds: float = Field(300.0, alias="TRIAGE_TURN_BUDGET_SECONDS", gt=0, le=3600)
    purge_interval_minutes: float = Field(60.0, alias="TRIAGE_PURGE_INTERVAL_MINUTES", gt=0, le=24 * 60)
    escalation_service_url: str = Field("", alias="TRIAGE_ESCALATION_SERVICE_URL")
    escalation_channel_id: str = Field("", alias="TRIAGE_ESCALATION_CHANNEL_ID")
    escalation_tenant_id: str = Field("", alias="TRIAGE_ESCALATION_TENANT_ID")
    allowed_tenants: tuple[str, ...] = Field((), alias="TRIAGE_ALLOWED_TENANTS")
    outbound_host_check: bool | None = Field(None, alias="TRIAGE_OUTBOUND_HOST_CHECK")
    backend: Literal["lab", "live"] = Field("lab", alias="TRIAGE_BACKEND")
    scenario: str = Field("", alias="TRIAGE_SCENARIO")
    checks_config: Path | None = Field(None, alias="TRIAGE_CHECKS_CONFIG")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="TRIAGE_LOG_LEVEL")
    # Jobs (docs/bot-hosting.md): every activity is stored as a job and answered at once.
    job_queue: str = Field("", alias="TRIAGE_JOB_QUEUE", pattern=r"^$|^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    job_attempts: int = Field(3, alias="TRIAGE_JOB_ATTEMPTS", ge=1, le=10)
    job_visibility_seconds: int = Field(30, alias="TRIAGE_JOB_VISIBILITY_SECONDS", ge=2, le=600)
    job_poll_seconds: float = Field(1.0, alias="TRIAGE_JOB_POLL_SECONDS", gt=0, le=60)
    answer_within_ms: int = Field(150, alias="TRIAGE_ANSWER_WITHIN_MS", ge=0, le=900)
    seen_seconds: float = Field(3600.0, alias="TRIAGE_SEEN_SECONDS", ge=60, le=7 * 86400)

    client_id: str = Field("", alias="CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID")
    client_secret: SecretStr | None = Field(
        None, alias="CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET"
    )
    tenant_id: str = Field("", alias="CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID")
    auth_type: str = Field("ClientSecret", alias="CONNECTIONS__SERVICE_CONNECTION__SETTINGS__AUTHTYPE")
    # Every SDK connection key as given, handed to the SDK untouched (it knows the other auth types).
    sdk_environment: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)

    @field_validator(
        "allowed_tenants",
        "trusted_client_apps",
        "helpdesk",
        "admins",
        "approvers",
        "mailbox_scope",
        mode="before",
    )
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        return _ids(value)

    @field_validator("trusted_client_apps", "helpdesk", "admins", "approvers")
    @classmethod
    def _object_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not _GUID.match(item):
                raise ValueError(f"{item!r} is not an Entra object or application id (a GUID)")
        return value

    @field_validator("mailbox_scope")
    @classmethod
    def _mailbox_scope(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not (_SCOPE_ITEM.match(item) or _GUID.match(item)):
                raise ValueError(
                    f"{item[:80]!r} is neither an address (alice@contoso.com), a domain (@contoso.com) nor a "
                    "group's object id"
                )
        return value

    @field_validator("allowed_tenants")
    @classmethod
    def _tenants_are_guids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tenant in value:
            if not _GUID.match(tenant):
                raise ValueError(f"{tenant!r} is not a tenant id (a GUID)")
        return value

    @field_validator("tenant_id", "escalation_tenant_id")
    @classmethod
    def _guid_or_empty(cls, value: str) -> str:
        if value and not _GUID.match(value):
            raise ValueError("expected a tenant id (a GUID)")
        return value.lower()

    @field_validator("blob_container")
    @classmethod
    def _container_name(cls, value: str) -> str:
        if not _CONTAINER.match(value):
            raise ValueError("container names are 3-63 lower-case letters, digits and single hyphens")
        return value

    @field_validator("public_url", "escalation_service_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("expected an http(s) URL")
        return value.rstrip("/")

    @field_validator("internet_host")
    @classmethod
    def _host_name(cls, value: str) -> str:
        if value and not _HOST.match(value):
            raise ValueError("expected a bare host name such as triage.contoso.com")
        return value.lower()

    @field_validator("escalation_channel_id")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        if value and not _CHANNEL_ID.match(value):
            raise ValueError("expected a Teams channel id such as 19:...@thread.tacv2")
        return value

    @field_validator("link_secret", "link_previous_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        problem = key_entropy_problem(value.get_secret_value()) if value is not None else ""
        if problem:
            raise ValueError(problem)
        return value

    @property
    def anonymous(self) -> bool:
        """No bot identity: only with TRIAGE_DEV_ANONYMOUS=1, on loopback, with the lab (local development)."""
        return not self.client_id

    @property
    def base_url(self) -> str:
        """Where people reach this server: for remediation links."""
        return self.public_url or f"http://{_url_host(self.host)}:{self.port}"

    @property
    def tenants(self) -> tuple[str, ...]:
        """Tenants whose activities are accepted; empty means any (anonymous development only)."""
        if self.allowed_tenants:
            return self.allowed_tenants
        return (self.tenant_id,) if self.tenant_id else ()

    @property
    def check_outbound_hosts(self) -> bool:
        """The SDK's service-url host validator: always on, except in the anonymous development mode, where
        it is off unless asked for (replies go to the local Teams-like client on loopback http)."""
        if self.anonymous:
            return bool(self.outbound_host_check)
        return True

    @property
    def link_ttl_seconds(self) -> float:
        return self.link_ttl_hours * 3600

    @property
    def escalation_configured(self) -> bool:
        return bool(self.escalation_channel_id)


def load_settings(environ: Mapping[str, str], **overrides: Any) -> Settings:
    """Validate the environment (and command-line overrides, by field name) into `Settings`."""
    values: dict[str, Any] = {key: value for key, value in environ.items() if value.strip() != ""}
    values["sdk_environment"] = {k: v for k, v in values.items() if k.startswith("CONNECTIONS__")}
    for name, value in overrides.items():
        if value is not None:
            values[Settings.model_fields[name].alias or name] = value
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    problems = _startup_problems(settings)
    if problems:
        raise SettingsError("\n".join(problems))
    return settings


def _describe(exc: ValidationError) -> str:
    # Only the key and pydantic's message: the offending value may be a secret, so it is never echoed.
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        key = ".".join(str(part) for part in error["loc"]) or "configuration"
        lines.append(f"{key}: {error['msg']}")
    return "\n".join(lines)


def _startup_problems(settings: Settings) -> list[str]:
    problems = []
    if settings.storage == "blob":
        if settings.blob_connection_string is None:
            problems.append("TRIAGE_BLOB_CONNECTION_STRING: required when TRIAGE_STORAGE=blob")
        if settings.link_secret is None:
            problems.append(
                "TRIAGE_LINK_SECRET: required when TRIAGE_STORAGE=blob, so that every replica signs and "
                "checks remediation links with the same key"
            )
    if settings.job_queue and settings.storage != "blob":
        problems.append(
            "TRIAGE_JOB_QUEUE: needs TRIAGE_STORAGE=blob (the queue and the state live in one storage account)"
        )
    if settings.backend == "live" and settings.checks_config is None:
        problems.append(
            "TRIAGE_CHECKS_CONFIG: required when TRIAGE_BACKEND=live: the path of the live backend's "
            "configuration file (see docs/live-backend.example.yaml)"
        )
    elif settings.checks_config is not None and not settings.checks_config.is_file():
        problems.append(f"TRIAGE_CHECKS_CONFIG: no file at {settings.checks_config}")
    escalation = {
        "TRIAGE_ESCALATION_SERVICE_URL": settings.escalation_service_url,
        "TRIAGE_ESCALATION_CHANNEL_ID": settings.escalation_channel_id,
        "TRIAGE_ESCALATION_TENANT_ID": settings.escalation_tenant_id,
    }
    if any(escalation.values()) and not all(escalation.values()):
        missing = ", ".join(key for key, value in escalation.items() if not value)
        problems.append(f"{missing}: the escalation channel needs all three TRIAGE_ESCALATION_* keys")
    return problems + _identity_problems(settings)


def _identity_problems(settings: Settings) -> list[str]:
    if settings.anonymous:
        return _anonymous_problems(settings)
    problems = []
    if any(_GUID.match(item) for item in settings.mailbox_scope) and not settings.roles_from_groups:
        problems.append(
            "TRIAGE_MAILBOX_SCOPE: a group in the scope needs TRIAGE_ROLES_FROM_GROUPS=true (membership is read "
            "from Microsoft Graph)"
        )
    if settings.dev_anonymous:
        problems.append(f"{DEV_ANONYMOUS}: set together with {CLIENT_ID}; unset one of them")
    if settings.auth_type == "ClientSecret" and settings.client_secret is None:
        problems.append(f"{CLIENT_SECRET}: required when {CLIENT_ID} is set (auth type ClientSecret)")
    if not settings.tenants:
        problems.append(
            f"TRIAGE_ALLOWED_TENANTS: name the tenant(s) allowed to use the bot (or set {TENANT_ID})"
        )
    if settings.outbound_host_check is False:
        problems.append(
            f"TRIAGE_OUTBOUND_HOST_CHECK: cannot be turned off with a bot identity (only in the {DEV_ANONYMOUS} "
            "development mode)"
        )
    if settings.public_url and urlsplit(settings.public_url).scheme != "https":
        problems.append("TRIAGE_PUBLIC_URL: must be an https URL (remediation links travel in it)")
    if settings.public_url and not settings.internet_host:
        problems.append(
            "TRIAGE_INTERNET_HOST: required with TRIAGE_PUBLIC_URL: the host name Teams reaches the bot on "
            "through the Internet-facing proxy, where runbook pages are never served"
        )
    elif settings.public_url and (urlsplit(settings.public_url).hostname or "") == settings.internet_host:
        problems.append(
            "TRIAGE_PUBLIC_URL: runbook pages are served only on an internal URL, not on the Internet-facing "
            f"host {settings.internet_host} (TRIAGE_INTERNET_HOST); give the links an internal host name"
        )
    return problems


def _anonymous_problems(settings: Settings) -> list[str]:
    """Without a bot identity anybody can post activities: only an explicit local development mode."""
    if settings.roles_from_groups or any(_GUID.match(item) for item in settings.mailbox_scope):
        return [
            "TRIAGE_ROLES_FROM_GROUPS, TRIAGE_MAILBOX_SCOPE: group membership is read with the bot's identity; "
            "set its client id"
        ]
    if not settings.dev_anonymous:
        return [
            f"{CLIENT_ID}: not set. Without a bot identity the endpoint would accept unauthenticated "
            f"requests from anyone. Configure the bot's client id, secret and tenant; for local development "
            f"on 127.0.0.1 with the lab only, set {DEV_ANONYMOUS}=1 instead."
        ]
    problems = []
    if not is_loopback(settings.host):
        problems.append(
            f"{DEV_ANONYMOUS}: the anonymous development mode listens only on loopback (127.0.0.1), "
            f"not on {settings.host}"
        )
    if settings.backend == "live":
        problems.append(f"{DEV_ANONYMOUS}: the anonymous development mode runs only with the lab backend")
    if settings.public_url and not is_loopback_url(settings.public_url):
        problems.append(
            f"{DEV_ANONYMOUS}: the anonymous development mode cannot have a public URL "
            "(TRIAGE_PUBLIC_URL names a host that is not loopback)"
        )
    if settings.escalation_service_url and not is_loopback_url(settings.escalation_service_url):
        problems.append(
            f"{DEV_ANONYMOUS}: the anonymous development mode posts escalations only on loopback "
            "(TRIAGE_ESCALATION_SERVICE_URL)"
        )
    return problems


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host

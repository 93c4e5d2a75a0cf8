"""The host's configuration: read from the environment once at start-up, validated, errors name the key.

The bot's identity uses the Microsoft 365 Agents SDK's own keys (`CONNECTIONS__SERVICE_CONNECTION__SETTINGS__*`);
everything else is ours and starts with `TRIAGE_`. Secrets are `SecretStr` so they never print.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

__all__ = ["SDK_PREFIX", "Settings", "SettingsError", "is_loopback", "load_settings"]

SDK_PREFIX = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__"
CLIENT_ID = SDK_PREFIX + "CLIENTID"
CLIENT_SECRET = SDK_PREFIX + "CLIENTSECRET"
TENANT_ID = SDK_PREFIX + "TENANTID"
AUTH_TYPE = SDK_PREFIX + "AUTHTYPE"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CONTAINER = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_CHANNEL_ID = re.compile(r"^19:[^\s/]+$")


class SettingsError(Exception):
    """The configuration cannot be used; each line names the key at fault."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    link_ttl_days: float = Field(7.0, alias="TRIAGE_LINK_TTL_DAYS", gt=0, le=365)
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

    @field_validator("allowed_tenants", mode="before")
    @classmethod
    def _split_tenants(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip().lower() for part in value.split(",") if part.strip())
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

    @field_validator("escalation_channel_id")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        if value and not _CHANNEL_ID.match(value):
            raise ValueError("expected a Teams channel id such as 19:...@thread.tacv2")
        return value

    @field_validator("link_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("use at least 32 characters")
        return value

    @property
    def anonymous(self) -> bool:
        """No bot identity configured: only allowed on loopback, for local development."""
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
        """The SDK's service-url host validator: on whenever the bot has an identity, unless turned off."""
        if self.anonymous:
            return False
        return True if self.outbound_host_check is None else self.outbound_host_check

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
    problems = _identity_problems(settings)
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
    return problems


def _identity_problems(settings: Settings) -> list[str]:
    loopback = is_loopback(settings.host)
    if settings.anonymous:
        if not loopback:
            return [
                f"{CLIENT_ID}: not set, and the server would listen on {settings.host}: without a bot "
                "identity the endpoint accepts unauthenticated requests, which is allowed only on "
                "loopback (127.0.0.1). Configure the bot's client id and secret, or bind to 127.0.0.1."
            ]
        return []
    problems = []
    if settings.auth_type == "ClientSecret" and settings.client_secret is None:
        problems.append(f"{CLIENT_SECRET}: required when {CLIENT_ID} is set (auth type ClientSecret)")
    if not settings.tenants:
        problems.append(
            f"TRIAGE_ALLOWED_TENANTS: name the tenant(s) allowed to use the bot (or set {TENANT_ID})"
        )
    if settings.outbound_host_check is False and not loopback:
        problems.append(
            "TRIAGE_OUTBOUND_HOST_CHECK: may be turned off only on a loopback server (local testing)"
        )
    return problems


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host

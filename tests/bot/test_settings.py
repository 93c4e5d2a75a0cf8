"""Start-up configuration: validated once, refusals say why and name the key, secrets never echoed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.auth import auth_configuration, host_validator
from bot.settings import SettingsError, load_settings

CLIENT_ID = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID"
CLIENT_SECRET = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET"
TENANT_ID = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID"
APP = "0b0b0b0b-1111-2222-3333-444444444444"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SECRET = "a-client-secret-that-must-never-print"


def refusal(environ: dict[str, str], **overrides: Any) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, **overrides)
    return str(caught.value)


def test_defaults_are_an_anonymous_loopback_development_server() -> None:
    settings = load_settings({})
    assert (settings.host, settings.port, settings.storage, settings.backend) == (
        "127.0.0.1",
        3978,
        "sqlite",
        "lab",
    )
    assert settings.anonymous
    assert settings.base_url == "http://127.0.0.1:3978"
    assert not settings.check_outbound_hosts


def test_anonymous_on_all_interfaces_is_refused() -> None:
    message = refusal({}, host="0.0.0.0")
    assert CLIENT_ID in message and "0.0.0.0" in message and "loopback" in message


def test_a_client_id_without_its_secret_is_refused_on_any_host() -> None:
    environ = {CLIENT_ID: APP, TENANT_ID: TENANT}
    assert CLIENT_SECRET in refusal(environ, host="0.0.0.0")
    assert CLIENT_SECRET in refusal(environ)


def test_a_bot_identity_needs_a_tenant_allow_list() -> None:
    assert "TRIAGE_ALLOWED_TENANTS" in refusal({CLIENT_ID: APP, CLIENT_SECRET: SECRET}, host="0.0.0.0")


def test_a_full_identity_may_listen_on_all_interfaces_with_every_check_on() -> None:
    settings = load_settings({CLIENT_ID: APP, CLIENT_SECRET: SECRET, TENANT_ID: TENANT}, host="0.0.0.0")
    assert not settings.anonymous
    assert settings.tenants == (TENANT,)
    assert settings.check_outbound_hosts and host_validator(settings).enabled
    configuration = auth_configuration(settings)
    assert configuration.VALIDATE_ISSUER is True
    assert configuration.ANONYMOUS_ALLOWED is False
    assert configuration.CLIENT_ID == APP


def test_the_environment_cannot_switch_anonymous_access_on_or_issuer_checks_off() -> None:
    settings = load_settings(
        {
            CLIENT_ID: APP,
            CLIENT_SECRET: SECRET,
            TENANT_ID: TENANT,
            "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__ANONYMOUS_ALLOWED": "true",
            "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__VALIDATE_ISSUER": "false",
        }
    )
    configuration = auth_configuration(settings)
    assert (configuration.ANONYMOUS_ALLOWED, configuration.VALIDATE_ISSUER) == (False, True)


def test_the_outbound_host_check_may_be_turned_off_only_on_loopback() -> None:
    environ = {
        CLIENT_ID: APP,
        CLIENT_SECRET: SECRET,
        TENANT_ID: TENANT,
        "TRIAGE_OUTBOUND_HOST_CHECK": "false",
    }
    assert not load_settings(environ).check_outbound_hosts
    assert "TRIAGE_OUTBOUND_HOST_CHECK" in refusal(environ, host="0.0.0.0")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TRIAGE_PORT", "eighty"),
        ("TRIAGE_PORT", "70000"),
        ("TRIAGE_STORAGE", "postgres"),
        ("TRIAGE_BACKEND", "production"),
        ("TRIAGE_LINK_TTL_DAYS", "0"),
        ("TRIAGE_PUBLIC_URL", "ftp://example.com"),
        ("TRIAGE_ALLOWED_TENANTS", "contoso.com"),
        ("TRIAGE_BLOB_CONTAINER", "Bad_Name"),
        ("TRIAGE_ESCALATION_CHANNEL_ID", "general"),
        ("TRIAGE_OUTBOUND_HOST_CHECK", "perhaps"),
        ("TRIAGE_LOG_LEVEL", "chatty"),
        ("TRIAGE_JOB_QUEUE", "Triage_Jobs"),
        ("TRIAGE_JOB_ATTEMPTS", "0"),
        ("TRIAGE_ANSWER_WITHIN_MS", "5000"),
        (TENANT_ID, "contoso"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(key: str, value: str) -> None:
    message = refusal({key: value})
    assert message.startswith(key + ":")


def test_blob_storage_needs_its_connection_string_and_a_shared_link_secret() -> None:
    message = refusal({"TRIAGE_STORAGE": "blob"})
    assert "TRIAGE_BLOB_CONNECTION_STRING" in message and "TRIAGE_LINK_SECRET" in message


def test_a_job_queue_needs_the_blob_storage_account() -> None:
    message = refusal({"TRIAGE_JOB_QUEUE": "triage-jobs"})
    assert message.startswith("TRIAGE_JOB_QUEUE: needs TRIAGE_STORAGE=blob")


def test_the_escalation_channel_needs_all_three_keys() -> None:
    message = refusal({"TRIAGE_ESCALATION_CHANNEL_ID": "19:esc@thread.tacv2"})
    assert "TRIAGE_ESCALATION_SERVICE_URL" in message and "TRIAGE_ESCALATION_TENANT_ID" in message


def test_refusals_never_echo_a_secret() -> None:
    short_secret = "tooshort-but-secret"
    message = refusal({"TRIAGE_LINK_SECRET": short_secret, CLIENT_SECRET: SECRET}, host="0.0.0.0")
    assert "TRIAGE_LINK_SECRET" in message
    assert short_secret not in message and SECRET not in message


def test_secrets_do_not_print_with_the_settings() -> None:
    settings = load_settings(
        {CLIENT_ID: APP, CLIENT_SECRET: SECRET, TENANT_ID: TENANT, "TRIAGE_LINK_SECRET": "x" * 40}
    )
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert "x" * 40 not in repr(settings)


def test_empty_values_count_as_unset() -> None:
    assert load_settings({"TRIAGE_PORT": "", CLIENT_ID: " "}).anonymous


def test_the_live_backend_needs_its_configuration_file(tmp_path: Path) -> None:
    message = refusal({"TRIAGE_BACKEND": "live"})
    assert message.startswith("TRIAGE_CHECKS_CONFIG: required when TRIAGE_BACKEND=live")
    missing = tmp_path / "nowhere.yaml"
    assert refusal({"TRIAGE_BACKEND": "live", "TRIAGE_CHECKS_CONFIG": str(missing)}).startswith(
        f"TRIAGE_CHECKS_CONFIG: no file at {missing}"
    )
    config = tmp_path / "live.yaml"
    config.write_text("exchange: {}\n", encoding="utf-8")
    settings = load_settings({"TRIAGE_BACKEND": "live", "TRIAGE_CHECKS_CONFIG": str(config)})
    assert settings.checks_config == config

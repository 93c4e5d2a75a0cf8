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
DEV = {"TRIAGE_DEV_ANONYMOUS": "1"}
LINK_SECRET = "Zt8kq3VbN1xW5mR7pL2cJ9hF4dS6gA0eYuIoT"
APP = "0b0b0b0b-1111-2222-3333-444444444444"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SECRET = "a-client-secret-that-must-never-print"


def refusal(environ: dict[str, str], **overrides: Any) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, **overrides)
    return str(caught.value)


def test_without_a_bot_identity_the_server_refuses_to_start_unless_the_development_mode_is_asked_for() -> (
    None
):
    # A typo in the client id's variable name must not start a server that serves anyone.
    message = refusal({})
    assert message.startswith(CLIENT_ID + ": not set") and "TRIAGE_DEV_ANONYMOUS=1" in message
    settings = load_settings(DEV)
    assert (settings.host, settings.port, settings.storage, settings.backend) == (
        "127.0.0.1",
        3978,
        "sqlite",
        "lab",
    )
    assert settings.anonymous
    assert settings.base_url == "http://127.0.0.1:3978"
    assert not settings.check_outbound_hosts


@pytest.mark.parametrize(
    ("environ", "overrides", "named"),
    [
        ({}, {"host": "0.0.0.0"}, "0.0.0.0"),
        ({"TRIAGE_HOST": "10.1.2.3"}, {}, "10.1.2.3"),
        ({"TRIAGE_BACKEND": "live", "TRIAGE_CHECKS_CONFIG": __file__}, {}, "lab backend"),
        ({"TRIAGE_PUBLIC_URL": "https://triage.contoso.com"}, {}, "TRIAGE_PUBLIC_URL"),
        (
            {
                "TRIAGE_ESCALATION_SERVICE_URL": "https://smba.trafficmanager.net/emea/",
                "TRIAGE_ESCALATION_CHANNEL_ID": "19:esc@thread.tacv2",
                "TRIAGE_ESCALATION_TENANT_ID": TENANT,
            },
            {},
            "TRIAGE_ESCALATION_SERVICE_URL",
        ),
    ],
    ids=["all-interfaces", "private-address", "live-backend", "public-url", "escalation-url"],
)
def test_the_anonymous_development_mode_is_refused_beyond_the_local_lab(
    environ: dict[str, str], overrides: dict[str, str], named: str
) -> None:
    message = refusal({**DEV, **environ}, **overrides)
    assert "TRIAGE_DEV_ANONYMOUS" in message and named in message


def test_the_development_mode_and_a_bot_identity_are_not_mixed() -> None:
    message = refusal({**DEV, CLIENT_ID: APP, CLIENT_SECRET: SECRET, TENANT_ID: TENANT})
    assert message.startswith("TRIAGE_DEV_ANONYMOUS:")


def test_anonymous_on_all_interfaces_is_refused() -> None:
    message = refusal({}, host="0.0.0.0")
    assert CLIENT_ID in message


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


def test_the_outbound_host_check_cannot_be_turned_off_with_a_bot_identity_even_on_loopback() -> None:
    environ = {
        CLIENT_ID: APP,
        CLIENT_SECRET: SECRET,
        TENANT_ID: TENANT,
        "TRIAGE_OUTBOUND_HOST_CHECK": "false",
    }
    assert "TRIAGE_OUTBOUND_HOST_CHECK" in refusal(environ)
    assert "TRIAGE_OUTBOUND_HOST_CHECK" in refusal(environ, host="0.0.0.0")
    assert not load_settings({**DEV, "TRIAGE_OUTBOUND_HOST_CHECK": "false"}).check_outbound_hosts
    assert load_settings({**DEV, "TRIAGE_OUTBOUND_HOST_CHECK": "true"}).check_outbound_hosts


def test_the_public_url_of_a_bot_with_identity_is_https() -> None:
    environ = {CLIENT_ID: APP, CLIENT_SECRET: SECRET, TENANT_ID: TENANT}
    assert "TRIAGE_PUBLIC_URL" in refusal({**environ, "TRIAGE_PUBLIC_URL": "http://triage.contoso.com"})
    https = load_settings(
        {
            **environ,
            "TRIAGE_PUBLIC_URL": "https://triage.corp.contoso.com/",
            "TRIAGE_INTERNET_HOST": "bot.contoso.com",
        }
    )
    assert https.base_url == "https://triage.corp.contoso.com"


@pytest.mark.parametrize(
    "secret", ["a" * 32, "ab" * 40, "0123456789abcdef" * 2, "password1234password1234password1234"]
)
def test_a_link_secret_with_little_entropy_is_refused(secret: str) -> None:
    for key in ("TRIAGE_LINK_SECRET", "TRIAGE_LINK_SECRET_PREVIOUS"):
        message = refusal({**DEV, key: secret})
        assert message.startswith(key + ":") and secret not in message


def test_a_generated_link_secret_is_accepted() -> None:
    secret = "q0Z3rS8yJk1xvB7nP4tW2mLc9aHfE6uD5gR-_YiTo"
    assert load_settings({**DEV, "TRIAGE_LINK_SECRET": secret}).link_secret is not None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TRIAGE_PORT", "eighty"),
        ("TRIAGE_PORT", "70000"),
        ("TRIAGE_STORAGE", "postgres"),
        ("TRIAGE_BACKEND", "production"),
        ("TRIAGE_LINK_TTL_HOURS", "0"),
        ("TRIAGE_LINK_TTL_HOURS", "1000"),
        ("TRIAGE_HELPDESK", "alice@contoso.com"),
        ("TRIAGE_TRUSTED_CLIENT_APPS", "teams"),
        ("TRIAGE_MAILBOX_SCOPE", "contoso.com|evil"),
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
    message = refusal({**DEV, "TRIAGE_STORAGE": "blob"})
    assert "TRIAGE_BLOB_CONNECTION_STRING" in message and "TRIAGE_LINK_SECRET" in message


def test_a_job_queue_needs_the_blob_storage_account() -> None:
    message = refusal({"TRIAGE_JOB_QUEUE": "triage-jobs"})
    assert message.startswith("TRIAGE_JOB_QUEUE: needs TRIAGE_STORAGE=blob")


def test_the_escalation_channel_needs_all_three_keys() -> None:
    message = refusal({**DEV, "TRIAGE_ESCALATION_CHANNEL_ID": "19:esc@thread.tacv2"})
    assert "TRIAGE_ESCALATION_SERVICE_URL" in message and "TRIAGE_ESCALATION_TENANT_ID" in message


def test_refusals_never_echo_a_secret() -> None:
    short_secret = "tooshort-but-secret"
    message = refusal({"TRIAGE_LINK_SECRET": short_secret, CLIENT_SECRET: SECRET}, host="0.0.0.0")
    assert "TRIAGE_LINK_SECRET" in message
    assert short_secret not in message and SECRET not in message


def test_secrets_do_not_print_with_the_settings() -> None:
    settings = load_settings(
        {CLIENT_ID: APP, CLIENT_SECRET: SECRET, TENANT_ID: TENANT, "TRIAGE_LINK_SECRET": LINK_SECRET}
    )
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert LINK_SECRET not in repr(settings)


def test_empty_values_count_as_unset() -> None:
    assert load_settings({**DEV, "TRIAGE_PORT": "", CLIENT_ID: " "}).anonymous


def test_the_live_backend_needs_its_configuration_file(tmp_path: Path) -> None:
    message = refusal({**DEV, "TRIAGE_BACKEND": "live"})
    assert message.startswith("TRIAGE_CHECKS_CONFIG: required when TRIAGE_BACKEND=live")
    missing = tmp_path / "nowhere.yaml"
    assert refusal({**DEV, "TRIAGE_BACKEND": "live", "TRIAGE_CHECKS_CONFIG": str(missing)}).startswith(
        f"TRIAGE_CHECKS_CONFIG: no file at {missing}"
    )
    config = tmp_path / "live.yaml"
    config.write_text("exchange: {}\n", encoding="utf-8")
    identity = {CLIENT_ID: APP, CLIENT_SECRET: SECRET, TENANT_ID: TENANT}
    settings = load_settings({**identity, "TRIAGE_BACKEND": "live", "TRIAGE_CHECKS_CONFIG": str(config)})
    assert settings.checks_config == config


def test_runbook_links_need_an_internal_host_apart_from_the_internet_facing_one() -> None:
    identity = {CLIENT_ID: APP, CLIENT_SECRET: SECRET, TENANT_ID: TENANT}
    internal = "https://triage.corp.contoso.com"
    assert "TRIAGE_INTERNET_HOST: required" in refusal({**identity, "TRIAGE_PUBLIC_URL": internal})
    same = {**identity, "TRIAGE_PUBLIC_URL": internal, "TRIAGE_INTERNET_HOST": "triage.corp.contoso.com"}
    assert "only on an internal URL" in refusal(same)
    settings = load_settings(
        {**identity, "TRIAGE_PUBLIC_URL": internal, "TRIAGE_INTERNET_HOST": "triage.contoso.com"}
    )
    assert (settings.base_url, settings.internet_host) == (internal, "triage.contoso.com")

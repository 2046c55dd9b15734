"""Settings: read once from STALWART_* variables; a wrong value names variable, value and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from stalwart.errors import SettingsError
from stalwart.settings import ConsoleUser, Settings


def test_defaults_are_the_embedded_stores(tmp_path: Path) -> None:
    settings = Settings.from_env({"STALWART_DATA_DIR": str(tmp_path)})
    assert settings.embedded
    assert settings.effective_broker_url == f"redis+socket://{tmp_path}/valkey.sock"
    assert settings.effective_redis_url == f"unix://{tmp_path}/valkey.sock"
    assert settings.effective_database_url == f"sqlite:///{tmp_path}/stalwart.db"
    assert settings.max_deliveries == 3
    assert settings.history_days == 14
    assert settings.timezone == "UTC"
    assert settings.redact == ("password", "token", "secret", "authorization", "api_key")


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "STALWART_BROKER_URL": "amqp://guest:guest@localhost:5672//",
            "STALWART_REDIS_URL": "redis://localhost:6379/3",
            "STALWART_MAX_DELIVERIES": "5",
            "STALWART_REDACT": "Password, ssn",
            "STALWART_CONSOLE_USERS": "ann:operator:$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA;"
            "bob:viewer:$argon2id$v=19$m=65536,t=3,p=4$c2FsdDI$aGFzaDI",
            "STALWART_TIMEZONE": "America/New_York",
        }
    )
    assert not settings.broker_is_redis
    assert settings.effective_redis_url == "redis://localhost:6379/3"
    assert settings.max_deliveries == 5
    assert settings.redact == ("password", "ssn")
    assert settings.is_redacted("PASSWORD")
    assert settings.console_users == (
        ConsoleUser("ann", "operator", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"),
        ConsoleUser("bob", "viewer", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdDI$aGFzaDI"),
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ann:pw", "expected 'name:role:hash' entries"),
        ("ann:admin:$argon2id$x", "the role of 'ann' must be viewer or operator, not 'admin'"),
        ("ann:viewer:hunter2", "is not an argon2 hash (plain text is refused)"),
    ],
)
def test_console_users_are_checked_and_never_echoed(value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"STALWART_CONSOLE_USERS": value})
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert "STALWART_CONSOLE_USERS='***'" in str(caught.value)


def test_redis_broker_is_the_coordination_store() -> None:
    settings = Settings.from_env({"STALWART_BROKER_URL": "redis://h:6379/2"})
    assert settings.effective_redis_url == "redis://h:6379/2"
    assert not settings.needs_embedded


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "STALWART_MAX_DELIVERIES",
            "abc",
            "STALWART_MAX_DELIVERIES='abc' is invalid: Input should be a valid integer",
        ),
        (
            "STALWART_MAX_DELIVERIES",
            "0",
            "STALWART_MAX_DELIVERIES='0' is invalid: Input should be greater than or equal to 1",
        ),
        (
            "STALWART_TIMEZONE",
            "Mars/Olympus",
            "STALWART_TIMEZONE='Mars/Olympus' is invalid: expected an IANA time zone",
        ),
        (
            "STALWART_BROKER_URL",
            "http://x",
            "STALWART_BROKER_URL='http://x' is invalid: expected a URL starting with one of",
        ),
        (
            "STALWART_CONSOLE_USERS",
            "ann",
            "STALWART_CONSOLE_USERS='***' is invalid: expected 'name:role:hash' entries",
        ),
        ("STALWART_MAX_DELIVERYS", "3", "STALWART_MAX_DELIVERYS is not a Stalwart setting"),
    ],
)
def test_wrong_values_name_variable_value_and_expectation(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({variable: value})
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_timeouts_must_be_ordered() -> None:
    with pytest.raises(SettingsError, match=r"timeouts must be ordered"):
        Settings.from_env({"STALWART_TASK_TIME_LIMIT": "7200"})


def test_secret_values_are_not_echoed() -> None:
    settings = Settings.from_env({"STALWART_CONSOLE_TOKEN": "s3cret"})
    assert "s3cret" not in repr(settings)

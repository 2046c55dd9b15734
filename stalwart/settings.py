"""The one typed settings object, read from ``STALWART_*`` variables once and passed in.

Nothing in Stalwart reads the environment anywhere else. Build it with
:meth:`Settings.from_env` (what :class:`stalwart.Stalwart` does when given no settings)
or construct it directly in tests and application code::

    settings = Settings(broker_url="redis://127.0.0.1:6379/0", max_deliveries=5)
    app = Stalwart("crm", settings=settings)

A wrong value raises :class:`~stalwart.errors.SettingsError` naming the variable, the
value and what is expected.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from stalwart.errors import SettingsError

__all__ = ["CONSOLE_ROLES", "ConsoleUser", "Settings", "display_url", "find_data_dir"]

ENV_PREFIX = "STALWART_"
DATA_DIR_NAME = ".stalwart"
DEFAULT_REDACT = ("password", "token", "secret", "authorization", "api_key")
# A unix socket path longer than this does not fit in sockaddr_un on Linux/macOS.
_MAX_SOCKET_PATH = 100
# Never echoed in an error message (a refused plain-text password included).
_SECRET_FIELDS = ("console_token", "console_users")


CONSOLE_ROLES = ("viewer", "operator")
# Encoded password hashes the console accepts (argon2, as argon2-cffi writes them).
_HASH_PREFIXES = ("$argon2id$", "$argon2i$", "$argon2d$")


@dataclass(frozen=True)
class ConsoleUser:
    """A person who may log in to the console: a ``viewer`` reads, an ``operator`` acts.

    ``password_hash`` is an encoded argon2 hash, never the password:
    ``stalwart console --hash-password`` prints one.
    """

    name: str
    role: str
    password_hash: str = field(repr=False)


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseModel):
    """Every Stalwart setting. Environment variable = ``STALWART_`` + field name, upper case.

    A plain pydantic model: the environment is read in one place, :meth:`from_env`, so
    that a typo in a variable name is reported instead of silently ignored.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    data_dir: Path = Field(
        default_factory=lambda: find_data_dir(),  # noqa: PLW0108 - not given the data
        description="Embedded server socket, pid/lock files and the SQLite file. Unset: the "
        "nearest .stalwart directory from the current one upward, else ./.stalwart.",
    )
    broker_url: str | None = Field(
        default=None,
        description="Celery broker (redis://, rediss://, redis+socket://, amqp://). "
        "Unset: the embedded Valkey server.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Coordination store. Unset: the broker when it is Redis, else embedded.",
    )
    database_url: str | None = Field(
        default=None,
        description="Durable store (SQLAlchemy URL). Unset: sqlite file stalwart.db in DATA_DIR.",
    )
    timezone: str = Field(default="UTC", description="Default zone for quotas and windows.")
    max_deliveries: int = Field(default=3, ge=1, description="Poison cap: deliveries per task.")
    history_days: int = Field(default=14, ge=1, description="Task history retention in days.")
    console_token: SecretStr | None = Field(default=None, description="Console bearer token.")
    console_users: tuple[ConsoleUser, ...] = Field(
        default=(),
        description="Console users: 'name:role:hash' entries (role viewer or operator, "
        "hash from 'stalwart console --hash-password') separated by ';' or newlines.",
    )
    redact: tuple[str, ...] = Field(
        default=DEFAULT_REDACT, description="Argument names masked wherever arguments are shown."
    )
    visibility_timeout: int = Field(
        default=3600,
        ge=60,
        description="Seconds before an unacknowledged message is redelivered (Redis broker).",
    )
    task_soft_time_limit: int = Field(
        default=1740, ge=1, description="Default soft time limit of a task, seconds."
    )
    task_time_limit: int = Field(
        default=1800, ge=1, description="Default hard time limit of a task, seconds."
    )
    defer_threshold: float = Field(
        default=30.0,
        ge=0,
        description="Retries/deferrals longer than this go to the durable schedule.",
    )
    stream_maxlen: int = Field(
        default=1_000_000, ge=1000, description="Bound of the event stream (entries)."
    )
    recorder_max_defer: float = Field(
        default=60.0,
        ge=0,
        le=60,
        description="Longest the recorder yields to saturated workers, seconds (0: never).",
    )
    embedded_idle_seconds: float = Field(
        default=2.0,
        ge=0,
        description="The embedded server stops this long after its last user exits.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("expected an IANA time zone such as 'America/New_York'") from exc
        return value

    @field_validator("redact", mode="before")
    @classmethod
    def _parse_redact(cls, value: Any) -> Any:
        parsed = _split_csv(value)
        if isinstance(parsed, tuple):
            return tuple(name.lower() for name in parsed)
        return parsed

    @field_validator("console_users", mode="before")
    @classmethod
    def _parse_users(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        users: list[ConsoleUser] = []
        for entry in (part.strip() for part in value.replace("\n", ";").split(";")):
            if not entry:
                continue
            name, _, rest = entry.partition(":")
            role, _, password_hash = rest.partition(":")
            if not name or not role or not password_hash:
                raise ValueError(
                    "expected 'name:role:hash' entries separated by ';' (hash from "
                    "'stalwart console --hash-password')"
                )
            if role not in CONSOLE_ROLES:
                raise ValueError(f"the role of {name!r} must be viewer or operator, not {role!r}")
            if not password_hash.startswith(_HASH_PREFIXES):
                raise ValueError(
                    f"the password of {name!r} is not an argon2 hash (plain text "
                    "is refused): run 'stalwart console --hash-password'"
                )
            if any(user.name == name for user in users):
                raise ValueError(f"user {name!r} is listed twice")
            users.append(ConsoleUser(name, role, password_hash))
        return tuple(users)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("broker_url", "redis_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        schemes = ("redis://", "rediss://", "redis+socket://", "unix://", "amqp://", "pyamqp://")
        if not value.startswith(schemes):
            raise ValueError("expected a URL starting with one of " + ", ".join(schemes))
        return _check_port(value)

    @field_validator("database_url")
    @classmethod
    def _database_port(cls, value: str | None) -> str | None:
        return None if value is None else _check_port(value)

    @model_validator(mode="after")
    def _ordered_timeouts(self) -> Settings:
        if not self.task_soft_time_limit < self.task_time_limit < self.visibility_timeout:
            raise ValueError(
                "timeouts must be ordered: TASK_SOFT_TIME_LIMIT "
                f"({self.task_soft_time_limit}) < TASK_TIME_LIMIT ({self.task_time_limit}) "
                f"< VISIBILITY_TIMEOUT ({self.visibility_timeout})"
            )
        if self.redis_url is not None and self.redis_url.startswith(("amqp", "pyamqp")):
            raise ValueError("STALWART_REDIS_URL must be a Redis URL")
        return self

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every ``STALWART_*`` variable (from ``environ`` or the process environment)."""
        if environ is None:
            environ = os.environ
        try:
            known = {name.upper(): name for name in cls.model_fields}
            values: dict[str, Any] = {}
            for key, value in environ.items():
                if key.startswith(ENV_PREFIX):
                    name = known.get(key[len(ENV_PREFIX) :])
                    if name is None:
                        raise SettingsError(_unknown_variable(key))
                    values[name] = value
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None

    # -- derived values -----------------------------------------------------------------

    @property
    def embedded(self) -> bool:
        """True when the broker is the embedded Valkey server."""
        return self.broker_url is None

    @property
    def embedded_socket(self) -> Path:
        """Unix socket of the embedded server (in DATA_DIR unless that path is too long)."""
        data_dir = self.data_dir.resolve()
        socket = data_dir / "valkey.sock"
        if len(str(socket)) <= _MAX_SOCKET_PATH:
            return socket
        digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"stalwart-{digest}" / "valkey.sock"

    @property
    def effective_broker_url(self) -> str:
        """The broker Celery connects to."""
        if self.broker_url is not None:
            return self.broker_url
        return f"redis+socket://{self.embedded_socket}"

    @property
    def broker_is_redis(self) -> bool:
        return not self.effective_broker_url.startswith(("amqp://", "pyamqp://"))

    @property
    def needs_embedded(self) -> bool:
        """True when some store (broker or coordination) is the embedded server."""
        return self.broker_url is None or (self.redis_url is None and not self.broker_is_redis)

    @property
    def effective_redis_url(self) -> str:
        """The coordination store as a redis-py URL."""
        if self.redis_url is not None:
            url = self.redis_url
        elif self.broker_url is not None and self.broker_is_redis:
            url = self.broker_url
        else:
            url = f"unix://{self.embedded_socket}"
        if url.startswith("redis+socket://"):
            url = "unix://" + url[len("redis+socket://") :]
        return url

    @property
    def effective_database_url(self) -> str:
        """The durable store as a SQLAlchemy URL."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'stalwart.db').resolve()}"

    def is_redacted(self, name: str) -> bool:
        """True if an argument of this name is masked when shown."""
        return name.lower() in self.redact


def find_data_dir(start: Path | None = None) -> Path:
    """The nearest ``.stalwart`` directory from ``start`` (default: the current one)
    upward, as git finds its repository; else ``start/.stalwart`` (created on first use)."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / DATA_DIR_NAME
        if candidate.is_dir():
            return candidate
    return here / DATA_DIR_NAME


def _check_port(url: str) -> str:
    try:
        port = urlsplit(url).port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError("the port must be a number from 1 to 65535")
    return url


def display_url(url: str) -> str:
    """``url`` with its password shown as ``***`` (for messages and health checks)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _unknown_variable(key: str) -> str:
    names = ", ".join(ENV_PREFIX + name.upper() for name in Settings.model_fields)
    return f"{key} is not a Stalwart setting; known settings: {names}"


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        loc = error.get("loc") or ()
        if loc:
            name = ENV_PREFIX + str(loc[0]).upper()
            shown = error.get("input")
            if isinstance(shown, SecretStr | dict) or loc[0] in _SECRET_FIELDS:
                shown = "***"
            elif isinstance(shown, str) and str(loc[0]).endswith("_url"):
                shown = display_url(shown)
            problems.append(f"{name}={shown!r} is invalid: {_reason(error)}")
        else:
            problems.append(_reason(error))
    return "; ".join(problems)


def _reason(error: Any) -> str:
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")

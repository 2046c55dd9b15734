"""What a periodic schedule is: its kinds, missed-run policies, the record, and validation.

A schedule is one of three kinds:

- ``cron``: a crontab expression evaluated in the schedule's own time zone;
- ``interval``: every N seconds, counted from the moment it became active;
- ``at``: once, at one UTC instant.

Every fire belongs to a *slot*: the schedule's name plus the UTC instant it was due.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from stalwart.errors import ScheduleError

__all__ = [
    "DEFAULT_CATCH_UP_MAX",
    "PUBLISH_OPTIONS",
    "MissedPolicy",
    "Origin",
    "Schedule",
    "ScheduleKind",
    "ScheduleSpec",
    "check_zone",
    "format_duration",
    "from_ms",
    "parse_duration",
    "parse_instant",
    "parse_json_arg",
    "slot_iso",
    "to_ms",
]

DEFAULT_CATCH_UP_MAX = 100
# Options of a schedule that are handed to send_task; anything else is refused.
PUBLISH_OPTIONS = frozenset(
    {"queue", "priority", "routing_key", "exchange", "expires", "time_limit", "soft_time_limit"}
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,199}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}


class ScheduleKind(StrEnum):
    CRON = "cron"
    INTERVAL = "interval"
    AT = "at"


class MissedPolicy(StrEnum):
    """What the leader does with slots that fell due longer ago than the grace period."""

    SKIP = "skip"  # fire none of them
    RUN_ONCE = "run_once"  # fire one run (the newest missed slot) for all of them
    CATCH_UP = "catch_up"  # fire each of them, oldest first, at most catch_up_max


class Origin(StrEnum):
    DATABASE = "database"  # added through the CLI, the console or the store API
    CODE = "code"  # synced from app.conf.beat_schedule at beat start


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule as a user defines it (validated by :meth:`validate`)."""

    name: str
    task: str
    kind: ScheduleKind
    cron: str | None = None
    timezone: str | None = None
    every: float | None = None
    at: datetime | None = None
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    missed: MissedPolicy = MissedPolicy.RUN_ONCE
    catch_up_max: int = DEFAULT_CATCH_UP_MAX
    enabled: bool = True

    def validate(self) -> ScheduleSpec:
        """Return self, or raise ScheduleError saying what is wrong and what to write."""
        if not _NAME.match(self.name):
            raise ScheduleError(
                f"schedule name {self.name!r} is invalid: use 1-200 letters, digits and _.:@/-"
            )
        if not self.task:
            raise ScheduleError(f"schedule {self.name!r}: a task name is required")
        timing = [self.cron is not None, self.every is not None, self.at is not None]
        if sum(timing) != 1:
            raise ScheduleError(
                f"schedule {self.name!r}: give exactly one of a cron expression, an interval "
                "or an 'at' instant"
            )
        if self.kind is ScheduleKind.CRON:
            _check_cron(self.name, self.cron or "")
            check_zone(self.timezone or "UTC")
        elif self.kind is ScheduleKind.INTERVAL:
            if self.every is None or not self.every >= 0.001:
                raise ScheduleError(
                    f"schedule {self.name!r}: the interval must be at least 1ms, got {self.every}"
                )
        elif self.at is None or self.at.tzinfo is None:
            raise ScheduleError(f"schedule {self.name!r}: 'at' needs a timezone-aware instant")
        if self.catch_up_max < 1:
            raise ScheduleError(f"schedule {self.name!r}: catch_up_max must be at least 1")
        if not isinstance(self.args, list) or not isinstance(self.kwargs, dict):
            raise ScheduleError(
                f"schedule {self.name!r}: args must be a JSON list, kwargs a JSON object"
            )
        unknown = sorted(set(self.options) - PUBLISH_OPTIONS)
        if unknown:
            raise ScheduleError(
                f"schedule {self.name!r}: unknown options {unknown}; allowed: "
                + ", ".join(sorted(PUBLISH_OPTIONS))
            )
        try:
            json.dumps([self.args, self.kwargs, self.options])
        except (TypeError, ValueError) as exc:
            raise ScheduleError(f"schedule {self.name!r}: arguments must be JSON: {exc}") from None
        return self


@dataclass(frozen=True)
class Schedule(ScheduleSpec):
    """A stored schedule: the spec plus what the store and the leader keep about it."""

    origin: Origin = Origin.DATABASE
    active_since: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_slot: datetime | None = None
    last_fired_at: datetime | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def describe(self) -> str:
        """The timing in one short phrase: ``cron '30 2 * * *' Europe/Berlin``."""
        if self.kind is ScheduleKind.CRON:
            return f"cron '{self.cron}' {self.timezone or 'UTC'}"
        if self.kind is ScheduleKind.INTERVAL:
            return f"every {format_duration(self.every or 0)}"
        return f"at {slot_iso(self.at)}" if self.at else "at ?"


def check_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"time zone {name!r} is unknown: use an IANA name such as 'America/New_York'"
        ) from None


def _check_cron(name: str, expression: str) -> None:
    fields = expression.split()
    if not (expression.startswith("@") or len(fields) in (5, 6)) or not croniter.is_valid(
        expression
    ):
        raise ScheduleError(
            f"schedule {name!r}: {expression!r} is not a valid cron expression; expected 5 "
            "fields 'minute hour day-of-month month day-of-week' (optionally a 6th for "
            "seconds), e.g. '30 2 * * *'"
        )


def parse_duration(text: str) -> float:
    """``"30"``, ``"30s"``, ``"5m"``, ``"1.5h"``, ``"1d"``, ``"250ms"`` -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ScheduleError(
            f"interval {text!r} is invalid: use seconds or a number with ms/s/m/h/d, e.g. '5m'"
        )
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def format_duration(seconds: float) -> str:
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds:g}s"


def parse_json_arg(text: str | None, what: str, expect: type) -> Any:
    """A CLI ``--args``/``--kwargs`` value as JSON of the expected shape."""
    if text is None:
        return expect()
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ScheduleError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, expect):
        shape = "a JSON list, e.g. '[1, \"a\"]'" if expect is list else "a JSON object"
        raise ScheduleError(f"{what} must be {shape}")
    return value


def parse_instant(text: str, zone: str) -> datetime:
    """An ISO 8601 instant; without an offset it is read in ``zone``. Returns UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleError(
            f"--at {text!r} is not an ISO 8601 time such as '2030-01-31T09:00' "
            "or '2030-01-31T09:00:00+01:00'"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=check_zone(zone))
    return value.astimezone(UTC)


def slot_iso(instant: datetime | None) -> str:
    """A slot's UTC instant as text: ``2024-03-10T07:30:00Z`` (milliseconds when present)."""
    if instant is None:
        return ""
    instant = instant.astimezone(UTC)
    if instant.microsecond:
        return instant.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_ms(instant: datetime) -> int:
    """A UTC instant as integer epoch milliseconds (the slot's number in the store)."""
    return round(instant.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)

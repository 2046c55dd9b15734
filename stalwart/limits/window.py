"""``Window("09:00-18:00", days="mon-fri", tz="America/New_York", holidays="US")``.

A task with a window runs only while the window is open in its time zone; otherwise
it is deferred to the next opening. Time zones come from ``zoneinfo`` and public
holidays from the ``holidays`` package: no calendar is written by hand here. Local
times are wall-clock times, so 09:00 stays 09:00 across DST changes; a start time
that does not exist on a spring-forward day opens at the first instant after the gap.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from datetime import time as dtime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package
import redis

from stalwart.errors import TaskOptionError
from stalwart.limits.base import Admission, Limit, LimitState
from stalwart.middleware.base import OptionTarget, TaskOption

__all__ = ["WINDOW", "Window", "WindowLimit"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_SEARCH_DAYS = 800
_UTC = ZoneInfo("UTC")


class Window:
    """Hours of the week (in a time zone, minus public holidays) when a task may run.

    ``hours`` is ``"HH:MM-HH:MM"`` (end after start; ``24:00`` allowed). ``days`` is
    ``"mon-fri"``, ``"mon,wed,fri"``, ``"sat-sun"`` or ``None`` for every day. ``tz``
    is an IANA zone (``None``: the app's ``STALWART_TIMEZONE``). ``holidays`` is a
    country code of the ``holidays`` package (``"US"``), optionally with a
    subdivision (``"US-NY"``), or ``None``.
    """

    def __init__(
        self,
        hours: str,
        *,
        days: str | None = None,
        tz: str | None = None,
        holidays: str | None = None,
    ) -> None:
        match = _HOURS.match(hours) if isinstance(hours, str) else None
        if match is None:
            raise TaskOptionError(f"Window hours must look like '09:00-18:00', not {hours!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise TaskOptionError(f"Window hours {hours!r}: not a valid time of day")
        self.start = h1 * 60 + m1
        self.end = h2 * 60 + m2
        if self.end <= self.start:
            raise TaskOptionError(
                f"Window hours {hours!r}: the end must be after the start (windows "
                "across midnight are not supported; use '00:00-06:00' and '22:00-24:00' "
                "on two tasks)"
            )
        self.hours = hours.strip()
        self.days = days
        self.weekdays = _parse_days(days)
        self.tz = tz
        self.zone: ZoneInfo | None = _zone(tz) if tz is not None else None
        self.holidays = holidays
        if holidays is not None:
            self._calendar  # noqa: B018 - validate the country code now, at decoration

    def __repr__(self) -> str:
        parts = [repr(self.hours)]
        for name in ("days", "tz", "holidays"):
            if getattr(self, name) is not None:
                parts.append(f"{name}={getattr(self, name)!r}")
        return f"Window({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Window) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    @cached_property
    def _calendar(self) -> Any:
        if self.holidays is None:
            return None
        country, _, subdiv = self.holidays.partition("-")
        try:
            return holidays_package.country_holidays(country, subdiv=subdiv or None)
        except NotImplementedError:
            raise TaskOptionError(
                f"Window holidays {self.holidays!r}: unknown country or subdivision "
                "(use a code of the 'holidays' package such as 'US' or 'US-NY')"
            ) from None

    def zone_or(self, default: str) -> ZoneInfo:
        """The window's zone, or ``default`` (the app's zone) when none was given."""
        return self.zone if self.zone is not None else _zone(default)

    def runs_on(self, day: date) -> bool:
        """True if the window opens at all on this local date."""
        if day.weekday() not in self.weekdays:
            return False
        return self._calendar is None or day not in self._calendar

    def is_open(self, now: float, zone: ZoneInfo) -> bool:
        local = datetime.fromtimestamp(now, zone)
        minute = local.hour * 60 + local.minute
        return self.runs_on(local.date()) and self.start <= minute < self.end

    def next_open(self, now: float, zone: ZoneInfo) -> float | None:
        """None if open at ``now`` (epoch seconds), else the epoch of the next opening."""
        if self.is_open(now, zone):
            return None
        today = datetime.fromtimestamp(now, zone).date()
        for offset in range(_SEARCH_DAYS):
            day = today + timedelta(days=offset)
            if not self.runs_on(day):
                continue
            opening = _opening(day, self.start, zone)
            if opening > now:
                return opening
        raise TaskOptionError(f"{self!r} never opens in the next {_SEARCH_DAYS} days")


def _opening(day: date, minute: int, zone: ZoneInfo) -> float:
    """The first instant at or after local ``day`` + ``minute`` (handles DST gaps)."""
    wall = datetime.combine(day, dtime(minute // 60, minute % 60))
    local = wall.replace(tzinfo=zone)
    if local.astimezone(_UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return local.timestamp()
    # ``wall`` falls in a spring-forward gap: open when the clock jumps past it.
    instant = wall.replace(tzinfo=zone, fold=1).timestamp()
    while datetime.fromtimestamp(instant, zone).replace(tzinfo=None) < wall:
        instant += 60
    return instant - instant % 60


def _parse_days(days: str | None) -> frozenset[int]:
    if days is None:
        return frozenset(range(7))
    if not isinstance(days, str):
        raise TaskOptionError(f"Window days must be a string such as 'mon-fri', not {days!r}")
    result: set[int] = set()
    for part in days.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise TaskOptionError(
                f"Window days {days!r}: use day names {', '.join(DAY_NAMES)} as "
                "'mon-fri' or 'mon,wed,fri'"
            )
        a, b = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        result.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
    return frozenset(result)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise TaskOptionError(
            f"Window tz {name!r} is not an IANA time zone such as 'America/New_York'"
        ) from None


def _parse(value: Any, target: OptionTarget) -> Window | None:
    if value is not None and not isinstance(value, Window):
        raise TaskOptionError(
            f'window must be a stalwart.Window("09:00-18:00", days=..., tz=..., '
            f"holidays=...), not {value!r}"
        )
    return value


WINDOW: TaskOption[Window | None] = TaskOption(
    "window",
    parse=_parse,
    default=None,
    doc='Hours the task may run: Window("09:00-18:00", days="mon-fri", tz=..., holidays="US").',
)


class WindowLimit(Limit):
    """Outside its window a task is deferred to the next opening (no Redis needed)."""

    kind = "window"
    option = WINDOW
    value: Window

    def precheck(self, admission: Admission) -> float | None:
        opens = self.value.next_open(admission.now, admission.zone)
        if opens is None:
            return None
        return time.time() + (opens - admission.now)  # real time, whatever the clock

    def describe(self) -> dict[str, Any]:
        window = self.value
        return {
            "hours": window.hours,
            "days": window.days,
            "tz": window.tz,
            "holidays": window.holidays,
        }

    @classmethod
    def read_state(
        cls, client: redis.Redis, scope: str, info: Mapping[str, Any], now: float
    ) -> list[LimitState]:
        spec = info["window"]
        if not isinstance(spec, dict):
            return []
        hours = spec.get("hours", "")
        window = Window(hours, **{k: v for k, v in spec.items() if k != "hours"})
        zone = window.zone_or(str(info.get("zone") or "UTC"))
        opens = window.next_open(time.time(), zone)
        state = "open" if opens is None else "closed"
        task, key = info["task"], info.get("limit_key", "")
        return [LimitState("window", task, key, f"{window!r} {state}", int(opens is None), opens)]

"""``quota="125/d"``: a calendar quota (per day or per ISO week) in a time zone.

Unlike a throttle, a quota resets at calendar boundaries: midnight (or Monday
midnight) in the window's time zone when the task has a ``window``, else in the
app's ``STALWART_TIMEZONE``. A task over quota is deferred to the start of the next
period; the counter is per (task, ``limit_key``, period), kept a day past its end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from stalwart.errors import TaskOptionError

__all__ = ["Period", "Quota"]

_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*([dw])\s*$")


@dataclass(frozen=True)
class Period:
    """One calendar period: a label for keys, and when it ends (epoch seconds)."""

    label: str
    ends_at: float


@dataclass(frozen=True)
class Quota:
    """At most ``limit`` runs per calendar ``unit`` ('d' day, 'w' ISO week)."""

    limit: int
    unit: str

    @classmethod
    def parse(cls, value: object) -> Quota:
        """``"125/d"`` or ``"5000/w"``."""
        if isinstance(value, Quota):
            return value
        match = _PATTERN.match(value) if isinstance(value, str) else None
        if match is None or int(match.group(1)) < 1:
            raise TaskOptionError(
                f"quota must look like '125/d' (per day) or '5000/w' (per ISO week), "
                f"a count >= 1, not {value!r}"
            )
        return cls(int(match.group(1)), match.group(2))

    def period(self, now: float, zone: ZoneInfo) -> Period:
        """The period containing ``now`` in ``zone``."""
        today = datetime.fromtimestamp(now, zone).date()
        if self.unit == "d":
            start, label = today, today.isoformat()
            end = today + timedelta(days=1)
        else:
            start = today - timedelta(days=today.weekday())
            year, week, _ = start.isocalendar()
            label = f"{year}-W{week:02d}"
            end = start + timedelta(days=7)
        return Period(label, _midnight(end, zone))

    def __str__(self) -> str:
        return f"{self.limit}/{self.unit}"


def _midnight(day: date, zone: ZoneInfo) -> float:
    # Midnight exists in every IANA zone on every day Stalwart cares about except a
    # few historic transitions; fold=0 picks the first instant if it is ambiguous.
    return datetime.combine(day, time(0), tzinfo=zone).timestamp()

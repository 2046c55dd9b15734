"""``quota="125/d"``: a calendar quota (per day or per ISO week) in a time zone.

Unlike a throttle, a quota resets at calendar boundaries: midnight (or Monday
midnight) in the window's time zone when the task has a ``window``, else in the
app's ``STALWART_TIMEZONE``. A task over quota is deferred to the start of the next
period; the counter is per (task, ``limit_key``, period), kept a day past its end.
A duplicate stopped by its idempotency key gives its unit back: quotas count runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import redis

from stalwart.errors import TaskOptionError
from stalwart.limits.base import Admission, Limit, LimitState, Value
from stalwart.limits.keys import scoped
from stalwart.middleware.base import TaskOption

__all__ = ["QUOTA", "Period", "Quota", "QuotaLimit"]

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


QUOTA: TaskOption[Quota | None] = TaskOption.optional(
    "quota",
    Quota.parse,
    doc="Calendar quota, e.g. '125/d' or '5000/w', in the window's or the app's time zone.",
)


class QuotaLimit(Limit):
    """At most N runs per calendar day or ISO week (in the window's or app's zone)."""

    kind = "quota"
    option = QUOTA
    value: Quota

    KEYS: ClassVar[tuple[str, ...]] = ("counter",)
    CHECK_ARGS: ClassVar[tuple[str, ...]] = ("limit", "left")
    CHECK_LUA = """
local quota_left = tonumber(A.left)
if tonumber(redis.call('GET', K.counter) or '0') >= tonumber(A.limit) then
  deny('quota', quota_left)
end
"""
    TAKE_LUA = """
redis.call('INCR', K.counter)
redis.call('EXPIRE', K.counter, math.ceil(quota_left) + 86400)
"""
    REFUND_LUA = """
if tonumber(redis.call('GET', K.counter) or '0') > 0 then redis.call('DECR', K.counter) end
"""

    def keys(self, admission: Admission) -> dict[str, str]:
        period = self.value.period(admission.now, admission.zone)
        return {"counter": scoped("quota", admission.scope, period.label)}

    def check_args(self, admission: Admission) -> dict[str, Value]:
        period = self.value.period(admission.now, admission.zone)
        return {"limit": self.value.limit, "left": repr(max(0.0, period.ends_at - admission.now))}

    def describe(self) -> Value:
        return str(self.value)

    @classmethod
    def read_state(
        cls, client: redis.Redis, scope: str, info: Mapping[str, Any], now: float
    ) -> list[LimitState]:
        quota = Quota.parse(info["quota"])
        period = quota.period(now, ZoneInfo(info.get("zone") or "UTC"))
        used = int(client.get(scoped("quota", scope, period.label)) or 0)
        next_free = period.ends_at if used >= quota.limit else None
        task, key = info["task"], info.get("limit_key", "")
        return [
            LimitState("quota", task, key, f"{info['quota']} ({period.label})", used, next_free)
        ]

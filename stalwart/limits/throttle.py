"""``throttle="100/m"``: a cluster-wide rate limit, shared by every worker and process.

Celery's own ``rate_limit`` is enforced inside each worker process separately (so
four workers with ``rate_limit="10/s"`` run up to 40/s); ``throttle`` is enforced in
Redis for the whole cluster. It is a sliding-window log checked in the task's one check
script: a task starts only if fewer than N tasks of the same (task, ``limit_key``)
started in the last period, measured on the Redis server's clock. So in *every* window of one
period, at most N executions start. A denied task is deferred to the next slot; the
denied tasks are spread over the coming slots so they do not all wake at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import redis

from stalwart.errors import TaskOptionError
from stalwart.limits.base import Admission, Limit, LimitState, Value
from stalwart.limits.keys import scoped
from stalwart.middleware.base import TaskOption

__all__ = ["THROTTLE", "Throttle", "ThrottleLimit"]

_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*$")


@dataclass(frozen=True)
class Throttle:
    """At most ``limit`` starts in any ``period`` seconds."""

    limit: int
    period: float

    @classmethod
    def parse(cls, value: object) -> Throttle:
        """``"20/s"``, ``"100/m"``, ``"1000/h"``, or ``"5/10s"`` (5 per 10 seconds)."""
        if isinstance(value, Throttle):
            return value
        match = _PATTERN.match(value) if isinstance(value, str) else None
        if match is None or int(match.group(1)) < 1 or match.group(2) == "0":
            raise TaskOptionError(
                f"throttle must look like '20/s', '100/m', '1000/h' or '5/10s' "
                f"(a count >= 1 per s, m or h), not {value!r}"
            )
        multiple = int(match.group(2) or 1)
        return cls(int(match.group(1)), multiple * _PERIODS[match.group(3)])

    def __str__(self) -> str:
        return f"{self.limit}/{self.period:g}s"


THROTTLE: TaskOption[Throttle | None] = TaskOption.optional(
    "throttle",
    Throttle.parse,
    doc="Cluster-wide rate limit, e.g. '100/m' (per limit_key value when one is given).",
)


class ThrottleLimit(Limit):
    """At most N starts per period in every window, for the whole cluster."""

    kind = "throttle"
    option = THROTTLE
    value: Throttle

    KEYS: ClassVar[tuple[str, ...]] = ("log", "hint")
    CHECK_ARGS: ClassVar[tuple[str, ...]] = ("limit", "period")
    REFUND_ARGS: ClassVar[tuple[str, ...]] = ("admitted",)
    CHECK_LUA = """
local th_limit, th_period = tonumber(A.limit), tonumber(A.period)
redis.call('ZREMRANGEBYSCORE', K.log, '-inf', now - th_period)
if redis.call('ZCARD', K.log) >= th_limit then
  local oldest = redis.call('ZRANGE', K.log, 0, 0, 'WITHSCORES')
  local earliest = tonumber(oldest[2]) + th_period + 0.002
  if wait == 0 and earliest - now > th_period / th_limit then
    -- Spread the denied tasks over the coming slots instead of waking them together
    -- (a task whose slot frees within one interval just comes back then).
    local hint = tonumber(redis.call('GET', K.hint) or '0')
    if hint < earliest then hint = earliest end
    local ttl = math.ceil((hint - now + th_period) * 1000) + 1000
    redis.call('SET', K.hint, tostring(hint + th_period / th_limit), 'PX', ttl)
    earliest = hint
  end
  deny('throttle', earliest - now)
end
"""
    TAKE_LUA = """
redis.call('ZADD', K.log, now, id .. '@' .. tostring(now))
redis.call('PEXPIRE', K.log, math.ceil(th_period * 1000) + 1000)
"""
    REFUND_LUA = """
redis.call('ZREM', K.log, id .. '@' .. A.admitted)
"""

    def keys(self, admission: Admission) -> dict[str, str]:
        log = scoped("throttle", admission.scope)
        return {"log": log, "hint": log + ":next"}

    def check_args(self, admission: Admission) -> dict[str, Value]:
        return {"limit": self.value.limit, "period": self.value.period}

    def refund_args(self, admission: Admission, admitted_at: str) -> dict[str, Value]:
        return {"admitted": admitted_at}

    def describe(self) -> Value:
        return str(self.value)

    @classmethod
    def read_state(
        cls, client: redis.Redis, scope: str, info: Mapping[str, Any], now: float
    ) -> list[LimitState]:
        text = str(info["throttle"])
        limit, _, period = text.partition("/")
        throttle = Throttle(int(limit), float(period.rstrip("s")))
        log = scoped("throttle", scope)
        used = int(client.zcount(log, f"({now - throttle.period}", "+inf"))
        next_free = None
        if used >= throttle.limit:
            oldest = client.zrangebyscore(log, f"({now - throttle.period}", "+inf", 0, 1, True)
            next_free = float(oldest[0][1]) + throttle.period if oldest else None
        task, key = info["task"], info.get("limit_key", "")
        return [LimitState("throttle", task, key, text, used, next_free)]

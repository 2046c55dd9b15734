"""``breaker="sms-gateway"``: a named circuit breaker shared by every task naming it.

Closed: tasks run; consecutive failures are counted (a success resets the count).
After ``failures`` consecutive failures it opens: tasks naming it are deferred (not
failed) for ``reset_after`` seconds. Then it is half-open: exactly one task runs as a
probe (the others keep waiting); the probe's success closes the breaker, its failure
opens it again. The state is one Redis hash per name, visible with
``stalwart limits`` and on the console's /limits page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import redis

from stalwart.coordination import as_text
from stalwart.errors import TaskOptionError
from stalwart.limits.base import Admission, Limit, LimitState, Value
from stalwart.limits.keys import scoped
from stalwart.middleware.base import TaskOption
from stalwart.middleware.controls import Outcome, OutcomeKind

__all__ = ["BREAKER", "Breaker", "BreakerLimit", "BreakerState", "breaker_key", "read_breaker"]


def breaker_key(name: str) -> str:
    return scoped("breaker", name)


@dataclass(frozen=True)
class Breaker:
    """A named breaker: opens after ``failures`` in a row, probes after ``reset_after`` s."""

    name: str
    failures: int = 5
    reset_after: float = 30.0
    probe_lease: float = 60.0

    @classmethod
    def parse(cls, value: object) -> Breaker:
        """``"sms-gateway"`` or ``Breaker("sms-gateway", failures=3, reset_after=10)``."""
        if isinstance(value, str) and value.strip():
            return cls(value.strip())
        if isinstance(value, Breaker):
            if not value.name or value.failures < 1 or value.reset_after <= 0:
                raise TaskOptionError(
                    f"breaker: needs a name, failures >= 1 and reset_after > 0, not {value!r}"
                )
            return value
        raise TaskOptionError(
            f"breaker must be a name such as 'sms-gateway' or Breaker(name, ...), not {value!r}"
        )


@dataclass(frozen=True)
class BreakerState:
    name: str
    state: str  # closed | open | half-open
    failures: int
    opened_at: float | None
    reopens_at: float | None


def read_breaker(client: redis.Redis, name: str, now: float) -> BreakerState:
    """The current state of breaker ``name`` (``now`` on the Redis clock)."""
    raw: dict[Any, Any] = client.hgetall(breaker_key(name))
    data = {as_text(k): as_text(v) for k, v in raw.items()}
    state = data.get("state", "closed")
    opened = float(data["opened_at"]) if "opened_at" in data else None
    reopens = None
    if state == "open" and opened is not None:
        reopens = opened + float(data.get("reset", "0"))
        if reopens <= now:
            state = "half-open"
    return BreakerState(name, state, int(data.get("failures", "0")), opened, reopens)


BREAKER: TaskOption[Breaker | None] = TaskOption.optional(
    "breaker",
    Breaker.parse,
    doc="Name of a circuit breaker shared by every task naming it, or Breaker(name, ...).",
)


class BreakerLimit(Limit):
    """Defers tasks while their breaker is open; one probe when it is half-open."""

    kind = "breaker"
    option = BREAKER
    value: Breaker
    rides_early = False  # a half-open probe is claimed only when the body will run

    KEYS: ClassVar[tuple[str, ...]] = ("state",)
    CHECK_ARGS: ClassVar[tuple[str, ...]] = ("reset", "probe")
    FINISH_ARGS: ClassVar[tuple[str, ...]] = ("result", "threshold", "reset")
    FINISH_IDLE: ClassVar[Mapping[str, Value]] = {"result": "", "threshold": 0, "reset": 0}
    CHECK_LUA = """
local br_take_probe = false
local br_reset, br_probe = tonumber(A.reset), tonumber(A.probe)
local br = redis.call('HMGET', K.state, 'state', 'opened_at', 'probe', 'probe_until')
if br[1] == 'open' then
  local reopen = tonumber(br[2]) + br_reset
  if now < reopen then
    deny('breaker', reopen - now)
  elseif br[3] and br[3] ~= id and tonumber(br[4]) > now then
    deny('breaker', math.min(tonumber(br[4]) - now, br_reset))
  else
    br_take_probe = true
  end
end
"""
    TAKE_LUA = """
if br_take_probe then
  redis.call('HSET', K.state, 'probe', id, 'probe_until', tostring(now + br_probe))
end
"""
    FINISH_LUA = """
local br_result = A.result
if br_result ~= '' then
  local st = redis.call('HMGET', K.state, 'state', 'probe')
  redis.call('HSET', K.state, 'threshold', A.threshold, 'reset', A.reset)
  if st[1] == 'open' then
    -- Only the half-open probe decides; late results of earlier runs do not.
    if st[2] == id then
      if br_result == 'ok' then
        redis.call('HSET', K.state, 'state', 'closed', 'failures', 0, 'changed_at', tostring(now))
      else
        redis.call('HSET', K.state, 'opened_at', tostring(now), 'changed_at', tostring(now))
      end
      redis.call('HDEL', K.state, 'probe', 'probe_until')
    end
  elseif br_result == 'ok' then
    redis.call('HSET', K.state, 'failures', 0)
  else
    local failures = redis.call('HINCRBY', K.state, 'failures', 1)
    if failures >= tonumber(A.threshold) then
      redis.call('HSET', K.state, 'state', 'open', 'opened_at', tostring(now),
        'changed_at', tostring(now))
    end
  end
end
"""

    def keys(self, admission: Admission) -> dict[str, str]:
        return {"state": breaker_key(self.value.name)}

    def check_args(self, admission: Admission) -> dict[str, Value]:
        return {"reset": self.value.reset_after, "probe": self.value.probe_lease}

    def finish_args(self, admission: Admission, outcome: Outcome) -> dict[str, Value] | None:
        result = _result(outcome)
        if result is None:
            return None
        return {"result": result, "threshold": self.value.failures, "reset": self.value.reset_after}

    def describe(self) -> Value:
        return self.value.name

    @classmethod
    def read_state(
        cls, client: redis.Redis, scope: str, info: Mapping[str, Any], now: float
    ) -> list[LimitState]:
        breaker = read_breaker(client, str(info["breaker"]), now)
        reopens = breaker.reopens_at if breaker.state == "open" else None
        task = info["task"]
        return [LimitState("breaker", task, breaker.name, breaker.state, breaker.failures, reopens)]


def _result(outcome: Outcome) -> str | None:
    """What the breaker learns from an outcome: 'ok', 'fail', or nothing."""
    if outcome.control is not None or outcome.kind in (OutcomeKind.REQUEUED, OutcomeKind.IGNORED):
        return None  # deferred, a duplicate, or not the provider's doing
    return "ok" if outcome.kind is OutcomeKind.SUCCEEDED else "fail"

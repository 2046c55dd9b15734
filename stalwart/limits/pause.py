"""``raise RetryAfter(seconds)``: a provider said "not now" (HTTP 429 + Retry-After).

Raised from a task body, it defers this task (no retry consumed) and pauses its whole
limit scope (the task, or the task and its ``limit_key`` value, e.g. one sender) for
``seconds``: the other queued tasks of that scope are deferred too instead of calling
the provider only to be refused again::

    @app.task(throttle="100/m", limit_key="{sender}")
    def send_sms(sender, to, body):
        response = provider.send(sender, to, body)
        if response.status_code == 429:
            raise RetryAfter(float(response.headers.get("Retry-After", 60)))

A task with no flow-control option is only deferred (it has no scope to pause). The
pause is a limit every limited task has (:class:`PauseLimit`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import ClassVar

from stalwart.limits.base import Admission, Limit, Value
from stalwart.limits.keys import scoped
from stalwart.middleware.controls import Deferred, Outcome

__all__ = ["PauseLimit", "RetryAfter"]


class RetryAfter(Deferred):
    """Defer this task and pause its limit scope for ``seconds``."""

    def __init__(self, seconds: float, reason: str = "retry_after") -> None:
        self.seconds = max(0.0, float(seconds))
        super().__init__(time.time() + self.seconds, reason)


class PauseLimit(Limit):
    """The scope's pause after a RetryAfter: every limited task checks it."""

    kind = "pause"
    implied = True

    KEYS: ClassVar[tuple[str, ...]] = ("pause",)
    FINISH_ARGS: ClassVar[tuple[str, ...]] = ("seconds",)
    FINISH_IDLE: ClassVar[Mapping[str, Value]] = {"seconds": "0"}
    CHECK_LUA = """
local paused = tonumber(redis.call('GET', K.pause) or '0')
if paused > now then deny('retry_after', paused - now) end
"""
    FINISH_LUA = """
local pause = tonumber(A.seconds)
if pause > 0 then
  local current = tonumber(redis.call('GET', K.pause) or '0')
  if now + pause > current then
    redis.call('SET', K.pause, tostring(now + pause), 'PX', math.ceil(pause * 1000))
  end
end
"""

    def keys(self, admission: Admission) -> dict[str, str]:
        return {"pause": scoped("pause", admission.scope)}

    def finish_args(self, admission: Admission, outcome: Outcome) -> dict[str, Value] | None:
        if isinstance(outcome.control, RetryAfter) and outcome.control.seconds > 0:
            return {"seconds": repr(outcome.control.seconds)}
        return None

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

A task with no flow-control option is only deferred (it has no scope to pause).
"""

from __future__ import annotations

import time

from stalwart.hooks import Deferred

__all__ = ["RetryAfter"]


class RetryAfter(Deferred):
    """Defer this task and pause its limit scope for ``seconds``."""

    def __init__(self, seconds: float, reason: str = "retry_after") -> None:
        self.seconds = max(0.0, float(seconds))
        super().__init__(time.time() + self.seconds, reason)

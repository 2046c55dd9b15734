"""The clock quotas and windows read: the real one, or one a test injects.

Throttle, concurrency and breaker timing use the Redis server's clock (one clock for
the whole cluster). Calendar decisions (which quota day it is, whether the business
window is open) use the app's clock, so a test can move a worker to 23:59:50 in New
York without sleeping a day::

    use_clock(app, lambda: time.time() + offset)

Deferral times are always converted back to real seconds-from-now, so an injected
clock shifts *which* calendar period applies, never how long a deferral waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["Clock", "clock_for", "use_clock"]

Clock = Callable[[], float]


def use_clock(app: Any, clock: Clock) -> None:
    """Make ``app``'s flow control read ``clock`` (epoch seconds) for calendar decisions."""
    app.calendar_clock = clock


def clock_for(app: Any) -> Clock:
    """The clock of ``app`` (``time.time`` unless a test injected one)."""
    clock: Clock = getattr(app, "calendar_clock", time.time)
    return clock

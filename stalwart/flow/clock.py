"""The clock quotas and windows read: the real one, or one a test injects.

Throttle, concurrency and breaker timing use the Redis server's clock (one clock for
the whole cluster). Calendar decisions (which quota day it is, whether the business
window is open) use this clock, so a test can move a worker to 23:59:50 in New York
without sleeping a day::

    use_clock(app, lambda: time.time() + offset)

Deferral times are always converted back to real seconds-from-now, so an injected
clock shifts *which* calendar period applies, never how long the schedule waits.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["Clock", "clock_for", "use_clock"]

Clock = Callable[[], float]

_clocks: weakref.WeakKeyDictionary[Any, Clock] = weakref.WeakKeyDictionary()


def use_clock(app: Any, clock: Clock) -> None:
    """Make ``app``'s flow control read ``clock`` (epoch seconds) for calendar decisions."""
    _clocks[app] = clock


def clock_for(app: Any) -> Clock:
    """The clock of ``app`` (``time.time`` unless a test injected one)."""
    return _clocks.get(app, time.time)

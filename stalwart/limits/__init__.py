"""Cluster-wide flow control: the limits, each a :class:`~stalwart.limits.base.Limit`.

Task options (see docs/FLOW_CONTROL.md): ``throttle`` (:mod:`.throttle`), ``quota``
(:mod:`.quota`), ``window`` (:mod:`.window`), ``concurrency`` (:mod:`.concurrency`),
``unique`` (:mod:`.unique`), ``breaker`` (:mod:`.breaker`), and the scope pause of
:class:`RetryAfter` (:mod:`.pause`). The flow middleware
(:mod:`stalwart.middleware.flow`) checks all the limits a task has in one script.

:data:`LIMITS` is the one place that names them, in the order their checks run: a new
limit is its own module plus one line here.
"""

from __future__ import annotations

from stalwart.limits.base import Limit
from stalwart.limits.breaker import Breaker, BreakerLimit
from stalwart.limits.concurrency import Concurrency, ConcurrencyLimit
from stalwart.limits.pause import PauseLimit, RetryAfter
from stalwart.limits.quota import QuotaLimit
from stalwart.limits.throttle import ThrottleLimit
from stalwart.limits.unique import UniqueLimit
from stalwart.limits.window import Window, WindowLimit

__all__ = ["LIMITS", "Breaker", "Concurrency", "RetryAfter", "Window"]

# Check order: a duplicate ends first (consuming nothing); the throttle spreads denied
# tasks only when nothing else denied them, so it comes last.
LIMITS: tuple[type[Limit], ...] = (
    WindowLimit,
    UniqueLimit,
    PauseLimit,
    BreakerLimit,
    ConcurrencyLimit,
    QuotaLimit,
    ThrottleLimit,
)

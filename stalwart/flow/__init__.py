"""Cluster-wide flow control and the durable schedule.

Task options (see docs/FLOW_CONTROL.md): ``throttle`` (:mod:`.throttle`), ``quota``
(:mod:`.quota`), ``window`` (:class:`Window`), ``concurrency`` (:mod:`.concurrency`),
``unique`` (:mod:`.unique`), ``breaker`` (:mod:`.breaker`), ``limit_key``. The worker
side is one hook (:mod:`.hook`); waiting messages live on the durable schedule
(:mod:`.durable`) and the pump (:mod:`.pump`) moves them into their queues.
"""

from __future__ import annotations

from typing import Any

from stalwart.flow.breaker import Breaker
from stalwart.flow.concurrency import Concurrency
from stalwart.flow.retry_after import RetryAfter
from stalwart.flow.window import Window

__all__ = ["Breaker", "Concurrency", "RetryAfter", "Window", "admitted_at"]


def admitted_at(task: Any) -> float | None:
    """When flow control let the running execution of ``task`` start (Redis clock)."""
    value = getattr(task.request, "stalwart_admitted_at", None)
    return float(value) if value is not None else None

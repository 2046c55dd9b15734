"""The recorder's lag: how far durable history is behind the event stream.

Shown by ``stalwart health`` (and exported by the console's ``/metrics``). ``backlog``
counts events not yet recorded (never delivered to a recorder, plus delivered but not
acknowledged); ``oldest_age`` is how long the oldest of them has waited; ``yielding``
says the recorder is skipping rounds while the workers are saturated
(:mod:`stalwart.history.backoff`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from stalwart.coordination import as_text
from stalwart.events import EVENT_STREAM

__all__ = ["LAG_ALERT_SECONDS", "RECORDER_GROUP", "YIELDING_KEY", "RecorderLag", "recorder_lag"]

# The consumer group of every recorder (stalwart.history.recorder). Named here so that
# reading the lag (stalwart health) needs no SQL machinery.
RECORDER_GROUP = "recorder"
GROUP = RECORDER_GROUP
# Set (expiring) by a recorder while it yields to saturated workers (.backoff).
YIELDING_KEY = "stalwart:recorder:yielding"

LAG_ALERT_SECONDS = 300.0


@dataclass(frozen=True)
class RecorderLag:
    stream_length: int
    undelivered: int
    pending: int
    consumers: int
    oldest_age: float  # seconds; 0 when nothing waits
    group_exists: bool
    yielding: bool = False  # a recorder skips rounds while the workers are saturated

    @property
    def backlog(self) -> int:
        return self.undelivered + self.pending

    @property
    def ok(self) -> bool:
        return self.oldest_age < LAG_ALERT_SECONDS

    def describe(self) -> str:
        if not self.group_exists:
            if self.stream_length == 0:
                return "no events yet"
            return f"{self.stream_length} events, no recorder has run yet"
        if self.backlog == 0:
            return f"up to date ({self.consumers} recorders)"
        note = "; yielding to saturated workers" if self.yielding else ""
        return (
            f"{self.backlog} events behind, oldest {self.oldest_age:.0f}s "
            f"({self.consumers} recorders{note})"
        )


def _age(entry_id: Any, now: float) -> float:
    millis = int(as_text(entry_id).split("-")[0])
    return max(0.0, now - millis / 1000)


def recorder_lag(client: redis.Redis) -> RecorderLag:
    """Measure the lag now (a few commands; no scan)."""
    now = time.time()
    length = int(client.xlen(EVENT_STREAM))
    try:
        groups = client.xinfo_groups(EVENT_STREAM)
    except redis.ResponseError:  # no stream yet
        groups = []
    group = next((g for g in groups if as_text(g["name"]) == GROUP), None)
    if group is None:
        oldest = 0.0
        if length:
            first = client.xrange(EVENT_STREAM, count=1)
            oldest = _age(first[0][0], now) if first else 0.0
        return RecorderLag(length, length, 0, 0, oldest, False)
    pending = int(group["pending"])
    last = as_text(group["last-delivered-id"])
    lag = group.get("lag")
    ages = []
    if pending:
        summary = client.xpending(EVENT_STREAM, GROUP)
        if summary.get("min"):
            ages.append(_age(summary["min"], now))
    following = client.xrange(EVENT_STREAM, min=f"({last}", count=1)
    if lag is None:  # Redis could not tell (trimmed stream): count what follows
        lag = len(client.xrange(EVENT_STREAM, min=f"({last}", count=100_000) or [])
    if following:
        ages.append(_age(following[0][0], now))
    return RecorderLag(
        length,
        int(lag),
        pending,
        int(group["consumers"]),
        max(ages, default=0.0),
        True,
        yielding=bool(client.exists(YIELDING_KEY)),
    )

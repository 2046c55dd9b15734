"""What the console counts from the event stream: throughput series and Prometheus counters.

Collected apart from display: :class:`EventTap` (a background service of the console
process) follows ``stalwart:events`` with plain ``XREAD`` (not the recorder's consumer
group, so it takes nothing from the recorder) and feeds :class:`Stats`, which keeps

- per-10-second counts of succeeded, failed, retried, deferred and dead-lettered
  events over the last hour (the overview's charts), filled at start-up from the
  last hour of the stream itself, so a restarted console still shows the hour;
- Prometheus counters of events since this process started (tasks by name and state,
  runtimes, retries, deferrals by reason, dead letters): an exporter, as Flower and
  celery-exporter are, with the usual counter-reset semantics on restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any

import redis
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as PromCounter

from stalwart.coordination import as_text
from stalwart.events import EVENT_STREAM, EventKind, TaskEvent, decode_entry
from stalwart.services import Service

__all__ = ["CHART_KINDS", "EventTap", "Stats"]

log = logging.getLogger("stalwart.console")

BUCKET = 10  # seconds per chart point
SPAN = 3600  # seconds shown
CHART_KINDS = ("succeeded", "failed", "retried", "deferred", "dead_lettered")
BACKFILL_ENTRIES = 20_000
RUNTIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)


class Stats:
    """Counts of task events: a one-hour series for charts, counters for /metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[int, Counter[str]] = {}
        self.events = PromCounter(
            "stalwart_task_events", "Task events seen, by task name and event (state).",
            ["task", "event"], registry=registry,
        )  # fmt: skip
        self.runtime = Histogram(
            "stalwart_task_runtime_seconds", "Runtime of finished task bodies.",
            ["task"], buckets=RUNTIME_BUCKETS, registry=registry,
        )  # fmt: skip
        self.retries = PromCounter(
            "stalwart_task_retries", "Retries scheduled, by task.", ["task"], registry=registry
        )
        self.deferrals = PromCounter(
            "stalwart_task_deferrals", "Deferrals by flow control, by task and reason.",
            ["task", "reason"], registry=registry,
        )  # fmt: skip
        self.dead = PromCounter(
            "stalwart_dead_letters", "Tasks dead-lettered, by task and reason.",
            ["task", "reason"], registry=registry,
        )  # fmt: skip

    def observe(self, event: TaskEvent, live: bool = True) -> None:
        kind = event.kind.value
        if kind in CHART_KINDS:
            slot = int(event.at) // BUCKET * BUCKET
            with self._lock:
                self._buckets.setdefault(slot, Counter())[kind] += 1
        if live:
            self._count(event)

    def _count(self, event: TaskEvent) -> None:
        name, fields = event.name, event.fields
        self.events.labels(name, event.kind.value).inc()
        if event.kind in (EventKind.SUCCEEDED, EventKind.FAILED):
            runtime = fields.get("runtime")
            if isinstance(runtime, int | float) and runtime >= 0:
                self.runtime.labels(name).observe(runtime)
        elif event.kind is EventKind.RETRIED:
            self.retries.labels(name).inc()
        elif event.kind is EventKind.DEFERRED:
            self.deferrals.labels(name, str(fields.get("reason") or "deferred")).inc()
        elif event.kind is EventKind.DEAD_LETTERED:
            self.dead.labels(name, str(fields.get("reason") or "failed")).inc()

    def series(self, now: float | None = None) -> dict[str, Any]:
        """``{"t": [epoch...], kind: [events/s...]}`` for the last hour, oldest first."""
        now = time.time() if now is None else now
        end = int(now) // BUCKET * BUCKET
        slots = list(range(end - SPAN + BUCKET, end + BUCKET, BUCKET))
        with self._lock:
            for old in [s for s in self._buckets if s < slots[0]]:
                del self._buckets[old]
            rows = [self._buckets.get(slot, Counter()) for slot in slots]
        data: dict[str, Any] = {"t": slots, "bucket_seconds": BUCKET}
        for kind in CHART_KINDS:
            data[kind] = [round(row[kind] / BUCKET, 3) for row in rows]
        return data


class EventTap(Service):
    """Follows the event stream (XREAD, no group) and feeds :class:`Stats`."""

    name = "console-events"
    interval = 0.0  # each tick blocks in XREAD for up to a second

    def __init__(self, client: redis.Redis, stats: Stats) -> None:
        self.client = client
        self.stats = stats
        self.last: str | None = None
        self.seen = 0

    def tick(self) -> None:
        if self.last is None:
            self.last = self._backfill()
        replies: Any = self.client.xread({EVENT_STREAM: self.last}, count=500, block=1000)
        for _stream, entries in replies or []:
            for entry_id, fields in entries:
                self.last = as_text(entry_id)
                self._feed(fields, live=True)

    def _feed(self, fields: Any, live: bool) -> None:
        try:
            pairs = decode_entry(fields)
        except (KeyError, ValueError, TypeError):
            return  # a malformed entry: the recorder reports it; charts skip it
        for _eid, event in pairs:
            self.stats.observe(event, live)
            self.seen += 1

    def _backfill(self) -> str:
        """Read the last hour of the stream (newest first, bounded); return where to go on."""
        since = f"{int((time.time() - SPAN) * 1000)}-0"
        newest: str | None = None
        upper, read = "+", 0
        while read < BACKFILL_ENTRIES:
            entries: Any = self.client.xrevrange(EVENT_STREAM, max=upper, min=since, count=1000)
            if not entries:
                break
            for entry_id, fields in entries:
                newest = newest or as_text(entry_id)
                self._feed(fields, live=False)
            read += len(entries)
            upper = "(" + as_text(entries[-1][0])
        if newest is None:  # nothing in the last hour: go on after the newest entry, if any
            latest: Any = self.client.xrevrange(EVENT_STREAM, count=1)
            newest = as_text(latest[0][0]) if latest else "0-0"
        return newest

"""``/metrics``: Prometheus text from the console's counters and a look at the stores.

Counters of task events come from :class:`~stalwart.console.stats.Stats`. Gauges are
read from the stores when scraped, at most once per :data:`CACHE_SECONDS` however many
scrapers ask, and each costs a bounded query: queue depth and oldest age (the broker),
recorder lag (a few stream commands), dead letters waiting, breaker states and quota
use (the limit keys), workers alive, and tasks in each *unfinished* state, counted
through the ``(state, updated_at, task_id)`` index, so a scrape does not grow with
the millions of finished rows history keeps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from stalwart.events import EventKind
from stalwart.history.lag import recorder_lag
from stalwart.history.tables import history_tasks
from stalwart.limits.state import read_limits
from stalwart.ops.queues import list_queues
from stalwart.worker.heartbeat import list_workers

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["CACHE_SECONDS", "StoreCollector"]

log = logging.getLogger("stalwart.console")

CACHE_SECONDS = 5.0
UNFINISHED = (
    EventKind.SENT, EventKind.RECEIVED, EventKind.STARTED, EventKind.RETRIED, EventKind.DEFERRED,
)  # fmt: skip
BREAKER_STATES = ("closed", "half-open", "open")


def _gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


class StoreCollector(Collector):
    """Gauges read from the stores of ``app`` (cached for a few seconds)."""

    def __init__(self, app: Stalwart) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._cached: list[Metric] = []
        self._at = 0.0

    def expire(self) -> None:
        """Forget the cached gauges (the next scrape reads the stores)."""
        with self._lock:
            self._at = 0.0

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() - self._at > CACHE_SECONDS:
                self._cached = self._read()
                self._at = time.monotonic()
            return iter(list(self._cached))

    def _read(self) -> list[Metric]:
        errors = _gauge("stalwart_console_scrape_errors", "Sources that failed this scrape.",
                        ["source"])  # fmt: skip
        metrics: list[Metric] = []
        sources: list[tuple[str, Callable[[], list[Metric]]]] = [
            ("queues", self._queues), ("recorder", self._recorder), ("dead_letters", self._dead),
            ("limits", self._limits), ("workers", self._workers), ("history", self._unfinished),
        ]  # fmt: skip
        for source, read in sources:
            try:
                metrics.extend(read())
                errors.add_metric([source], 0)
            except Exception:
                log.warning("metrics: reading %s failed", source, exc_info=True)
                errors.add_metric([source], 1)
        return [*metrics, errors]

    def _queues(self) -> list[Metric]:
        depth = _gauge("stalwart_queue_depth", "Messages waiting in the queue.", ["queue"])
        age = _gauge("stalwart_queue_oldest_age_seconds", "Age of the oldest message.", ["queue"])
        app = self.app
        default = str(app.conf.task_default_queue)
        for row in list_queues(app.settings, app.redis, app.engine, default):
            depth.add_metric([row.queue], row.depth)
            age.add_metric([row.queue], row.oldest_age or 0.0)
        return [depth, age]

    def _recorder(self) -> list[Metric]:
        lag = recorder_lag(self.app.redis)
        events = _gauge("stalwart_recorder_lag_events", "Events not yet recorded in history.")
        events.add_metric([], lag.backlog)
        seconds = _gauge("stalwart_recorder_lag_seconds", "Age of the oldest unrecorded event.")
        seconds.add_metric([], lag.oldest_age)
        return [events, seconds]

    def _dead(self) -> list[Metric]:
        waiting = _gauge("stalwart_dead_letters_waiting", "Dead letters not replayed yet.")
        waiting.add_metric([], self.app.dead_letters.count(replayed=False))
        return [waiting]

    def _limits(self) -> list[Metric]:
        breaker = _gauge("stalwart_breaker_state", "1 for the breaker's current state.",
                         ["breaker", "state"])  # fmt: skip
        used = _gauge("stalwart_quota_used", "Runs counted in the current quota period.",
                      ["task", "key"])  # fmt: skip
        limit = _gauge("stalwart_quota_limit", "Runs allowed per quota period.", ["task", "key"])
        for state in read_limits(self.app.redis):
            if state.kind == "breaker":
                for name in BREAKER_STATES:
                    breaker.add_metric([state.key, name], float(state.limit == name))
            elif state.kind == "quota":
                used.add_metric([state.task, state.key], state.used)
                limit.add_metric([state.task, state.key], float(state.limit.split("/")[0]))
        return [breaker, used, limit]

    def _workers(self) -> list[Metric]:
        alive = _gauge("stalwart_workers_alive", "Workers with a recent heartbeat.")
        alive.add_metric([], len(list_workers(self.app.redis)))
        return [alive]

    def _unfinished(self) -> list[Metric]:
        gauge = _gauge("stalwart_tasks_unfinished", "Tasks history shows in an unfinished state.",
                       ["state"])  # fmt: skip
        c = history_tasks.c
        with self.app.engine.connect() as db:
            for state in UNFINISHED:
                query = sa.select(sa.func.count()).where(c.state == state.value)
                gauge.add_metric([state.value], int(db.execute(query).scalar_one()))
        return [gauge]

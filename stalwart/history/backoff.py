"""When the recorder yields: while the workers are saturated, history can wait a little.

On a small machine the recorder takes CPU the tasks want (history into SQLite inside
the worker's process tree cost about 20 % of the drain rate on 2 cores,
docs/PERFORMANCE.md). So while no core is spare (the 1-minute load average is at least
the number of CPUs) and a queue that a live worker consumes has messages waiting, the
recorder skips its rounds: the events wait in the stream, in order, and it catches up
once the burst is over. It is bounded:

- never longer than ``max_defer`` seconds (60) in a row: then it records until it has
  caught up (no backlog) before it may yield again;
- never while its backlog is a quarter of ``STALWART_STREAM_MAXLEN`` or more: the stream
  is trimmed at that length, and an entry trimmed before it was recorded would be lost.

Its lag stays visible: ``stalwart health`` shows the backlog and the age of the oldest
event as always, and says the recorder is yielding (the key :data:`YIELDING_KEY`, which
expires a few seconds after the last round it skipped).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

import redis

from stalwart.compat.kombu_layout import consumption_order
from stalwart.history.lag import YIELDING_KEY
from stalwart.worker.heartbeat import list_workers

__all__ = ["MAX_DEFER", "YIELDING_KEY", "Backoff", "workers_saturated"]

MAX_DEFER = 60.0
YIELDING_TTL = 5


class Backoff:
    """Decides, before each recorder round, whether to skip it.

    ``saturated()`` says whether the workers are busy and no core is spare;
    ``backlog()`` counts the events not yet recorded. Both are asked only when needed."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        saturated: Callable[[], bool],
        backlog: Callable[[], int],
        stream_maxlen: int,
        max_defer: float = MAX_DEFER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.saturated = saturated
        self.backlog = backlog
        self.max_backlog = max(1, stream_maxlen // 4)
        self.max_defer = max_defer
        self.clock = clock
        self._since: float | None = None  # when the current run of skipped rounds began
        self._catching_up = False

    def should_yield(self) -> bool:
        """True: skip this round (and mark the recorder as yielding for ``health``)."""
        now = self.clock()
        if self._since is not None and now - self._since >= self.max_defer:
            self._since, self._catching_up = None, True
        if self._catching_up:
            if self.backlog() > 0:
                return False
            self._catching_up = False
        if not self.saturated():
            self._since = None
            return False
        if self.backlog() >= self.max_backlog:
            return False  # record a round; the deferral clock keeps running
        if self._since is None:
            self._since = now
        self.client.set(YIELDING_KEY, "1", ex=YIELDING_TTL)
        return True


def workers_saturated(
    coordination: redis.Redis,
    broker: redis.Redis,
    *,
    load: Callable[[], float] = lambda: os.getloadavg()[0],
    cpus: int | None = None,
) -> Callable[[], bool]:
    """A ``saturated()`` for :class:`Backoff`: no core spare and a live worker's queue
    (as its heartbeat lists them) holds messages. The load is read first (no I/O)."""
    cores = cpus or os.cpu_count() or 1

    def saturated() -> bool:
        if load() < cores:
            return False
        queues = {queue for info in list_workers(coordination) for queue in info.queues}
        return _any_waiting(broker, queues)

    return saturated


def _any_waiting(broker: redis.Redis, queues: Iterable[str]) -> bool:
    lists = [name for queue in sorted(queues) for name in consumption_order(queue)]
    if not lists:
        return False
    pipe = broker.pipeline(transaction=False)
    for name in lists:
        pipe.llen(name)
    return any(int(n) > 0 for n in pipe.execute())

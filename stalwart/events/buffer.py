"""Recording events without a round trip per task: a per-process buffer flushed in batches.

Recording must not slow the hot path (DESIGN.md: no extra blocking round trip per
task). Each process keeps one :class:`EventBuffer` per app (``app.task_events``); recording
an event is an append to a list, and a daemon thread sends what accumulated every ``interval``
seconds (or as soon as ``batch`` events wait) as one pipelined round trip. The buffer
is flushed on orderly exit (``atexit``, pool child shutdown), so only a SIGKILL can
lose the last fraction of a second of events. A flush sends one stream entry per
``batch`` events (:func:`~stalwart.events.encode_batch`), not one per event: three
events per task cost Redis and the recorder a third of an entry's work, not three.

Every buffered event carries its own id (``eid``): if a flush fails after Redis
applied part of it and is sent again, the recorder stores each event once.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import threading
import uuid
import weakref
from collections import deque

import redis

from stalwart.events import EVENT_STREAM, TaskEvent, encode_batch

__all__ = ["EventBuffer", "flush_all"]

log = logging.getLogger("stalwart.history")

MAX_PENDING = 100_000  # beyond this (Redis down for long) the oldest events are dropped


class EventBuffer:
    """Collects events in memory and XADDs them in batched entries from a thread."""

    def __init__(
        self, client: redis.Redis, maxlen: int, interval: float = 0.1, batch: int = 500
    ) -> None:
        self.client = client
        self.maxlen = maxlen
        self.interval = interval
        self.batch = batch
        self._pending: deque[tuple[str, TaskEvent]] = deque(maxlen=MAX_PENDING)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._prefix = f"{uuid.uuid4().hex[:12]}-"
        self._counter = itertools.count()
        _buffers.add(self)

    def add(self, event: TaskEvent) -> None:
        """Queue ``event`` for the next flush (cheap: no I/O on the caller's thread)."""
        if self._pid != os.getpid():
            self._after_fork()
        eid = self._prefix + str(next(self._counter))
        with self._lock:
            self._pending.append((eid, event))
            full = len(self._pending) >= self.batch
            if self._thread is None:
                self._start()
        if full:
            self._wake.set()

    def flush(self) -> int:
        """Send everything buffered now; returns how many events were sent."""
        if self._pid != os.getpid():
            return 0
        sent = 0
        with self._flush_lock:
            while True:
                with self._lock:
                    entries = [self._pending.popleft() for _ in range(len(self._pending))]
                if not entries:
                    return sent
                try:
                    pipe = self.client.pipeline(transaction=False)
                    for start in range(0, len(entries), self.batch):
                        entry = encode_batch(entries[start : start + self.batch])
                        pipe.xadd(EVENT_STREAM, entry, maxlen=self.maxlen, approximate=True)  # type: ignore[arg-type]
                    pipe.execute()
                except redis.RedisError:
                    with self._lock:
                        self._pending.extendleft(reversed(entries))
                    raise
                sent += len(entries)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="stalwart-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pid = self._pid
        while pid == os.getpid():
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except redis.RedisError as exc:
                log.warning("sending %d task events failed (%s); retrying", self.pending(), exc)
                self._wake.wait(1.0)
            except Exception:
                log.exception("sending task events failed")

    def _after_fork(self) -> None:
        # A forked child inherits the parent's buffer: the parent sends those events,
        # the child starts empty with its own flusher thread, locks and event ids.
        # (Locks are replaced, not acquired: a parent thread may have held them.)
        self._pending = deque(maxlen=MAX_PENDING)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None
        self._pid = os.getpid()
        self._prefix = f"{uuid.uuid4().hex[:12]}-"
        self._counter = itertools.count()


# Every buffer of this process, so exit paths (atexit, a pool child's shutdown) and
# forks can reach them all; buffers belong to their apps (``app.task_events``).
_buffers: weakref.WeakSet[EventBuffer] = weakref.WeakSet()


def flush_all() -> None:
    """Flush every buffer in this process (exit paths call this)."""
    for buffer in list(_buffers):
        try:
            buffer.flush()
        except Exception as exc:
            log.warning("could not send %d task events at exit: %s", buffer.pending(), exc)


def _reset_after_fork() -> None:
    for buffer in list(_buffers):
        buffer._after_fork()


atexit.register(flush_all)
os.register_at_fork(after_in_child=_reset_after_fork)

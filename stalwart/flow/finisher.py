"""Give back what finished executions held, without a round trip of their own.

After a task with ``concurrency`` or ``breaker`` ends, its concurrency slot must be
returned and its result reported to the breaker (``lua/finish.lua``). Doing that in
a round trip of its own costs as much as the check itself, so the finish waits
here: the next check of this process carries it in the same pipeline, and if no
check comes within :data:`FLUSH_DELAY`, a background thread sends it. A slot is
therefore held at most that much longer than its task ran (never less: the cap is
never exceeded), and a worker that stops still frees its slots when their leases
end.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from typing import Any

import redis

from stalwart.flow.scripts import execute, queue

__all__ = ["FLUSH_DELAY", "Finisher"]

log = logging.getLogger("stalwart.flow")

FLUSH_DELAY = 0.01

Finish = tuple[list[str], list[Any]]


class Finisher:
    """Pending ``finish.lua`` calls of this process."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._pending: list[Finish] = []
        self._ready = threading.Condition()
        self._pid = 0

    def add(self, keys: list[str], args: list[Any]) -> None:
        with self._ready:
            self._pending.append((keys, args))
            if self._pid != os.getpid():  # first use in this (possibly forked) process
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="stalwart-finish", daemon=True).start()
            self._ready.notify()

    def take(self) -> list[Finish]:
        """Everything pending (the caller sends it in its own pipeline)."""
        with self._ready:
            pending, self._pending = self._pending, []
        return pending

    def queue(self, pipe: Any, pending: list[Finish]) -> None:
        for keys, args in pending:
            queue(pipe, self.client, "finish", keys, args)

    def _queue_into(self, pending: list[Finish], pipe: Any) -> None:
        self.queue(pipe, pending)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._pending:
                    self._ready.wait()
            threading.Event().wait(FLUSH_DELAY)  # give the next check the chance
            pending = self.take()
            if not pending:
                continue
            try:
                execute(self.client, functools.partial(self._queue_into, pending))
            except redis.RedisError:
                log.warning("could not give back %d finished executions", len(pending))

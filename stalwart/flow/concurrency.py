"""``concurrency=4``: a cluster-wide cap on running instances (per ``limit_key``).

A slot is a lease in a Redis sorted set (member: task id, score: lease expiry on the
Redis clock), taken atomically by ``lua/check.lua``. While the task runs, a
:class:`LeaseKeeper` thread in the executing process extends its leases; when the
task ends the slot is given back at once (``lua/finish.lua``). If the process dies
(SIGKILL, OOM), nothing extends the lease and the slot frees itself after ``lease``
seconds. A task waiting for a slot is deferred briefly and tries again; it holds no
worker slot while waiting.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

import redis

from stalwart.errors import TaskOptionError
from stalwart.flow.scripts import script

__all__ = ["Concurrency", "LeaseKeeper"]

log = logging.getLogger("stalwart.flow")

DEFAULT_LEASE = 30.0


@dataclass(frozen=True)
class Concurrency:
    """At most ``limit`` running at once; a dead holder's slot frees after ``lease`` s."""

    limit: int
    lease: float = DEFAULT_LEASE

    @classmethod
    def parse(cls, value: object) -> Concurrency:
        """``4`` or ``Concurrency(4, lease=60)``."""
        if isinstance(value, Concurrency):
            if value.limit < 1 or isinstance(value.limit, bool) or not value.lease >= 3:
                raise TaskOptionError(
                    f"concurrency: limit must be >= 1 and lease >= 3 seconds, not {value!r}"
                )
            return value
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise TaskOptionError(
                f"concurrency must be a whole number >= 1 or Concurrency(limit, lease=...), "
                f"not {value!r}"
            )
        return cls(value)


class LeaseKeeper:
    """Extends the concurrency leases held by this process, every third of a lease."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._held: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = 0

    def hold(self, holders_key: str, task_id: str, lease: float) -> None:
        with self._lock:
            self._held[(holders_key, task_id)] = lease
            if self._pid != os.getpid():  # first use in this (possibly forked) process
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="stalwart-leases", daemon=True).start()

    def release(self, holders_key: str, task_id: str) -> None:
        with self._lock:
            self._held.pop((holders_key, task_id), None)

    def _run(self) -> None:
        renew = script(self.client, "renew")
        while True:
            with self._lock:
                held = dict(self._held)
            interval = min(held.values(), default=DEFAULT_LEASE) / 3
            self._wake.wait(interval)
            by_lease: dict[float, list[tuple[str, str]]] = {}
            for (holders, task_id), lease in held.items():
                by_lease.setdefault(lease, []).append((holders, task_id))
            try:
                for lease, pairs in by_lease.items():
                    with self._lock:
                        pairs = [p for p in pairs if p in self._held]
                    if pairs:
                        renew(keys=[p[0] for p in pairs], args=[lease, *[p[1] for p in pairs]])
            except redis.RedisError:
                log.warning("could not extend concurrency leases; retrying", exc_info=True)

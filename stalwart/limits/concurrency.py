"""``concurrency=4``: a cluster-wide cap on running instances (per ``limit_key``).

A slot is a lease in a Redis sorted set (member: task id, score: lease expiry on the
Redis clock), taken atomically by the task's check script. While the task runs, a
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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import redis

from stalwart.errors import TaskOptionError
from stalwart.limits.base import Admission, Limit, LimitState, Value
from stalwart.limits.keys import scoped
from stalwart.lua import Lua
from stalwart.middleware.base import TaskOption
from stalwart.middleware.controls import Outcome

__all__ = ["CONCURRENCY", "Concurrency", "ConcurrencyLimit", "LeaseKeeper"]

log = logging.getLogger("stalwart.limits")

_RENEW = Lua.packaged("stalwart.limits", "renew")

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
                        _RENEW.run(
                            self.client, [p[0] for p in pairs], [lease, *[p[1] for p in pairs]]
                        )
            except redis.RedisError:
                log.warning("could not extend concurrency leases; retrying", exc_info=True)


CONCURRENCY: TaskOption[Concurrency | None] = TaskOption.optional(
    "concurrency",
    Concurrency.parse,
    doc="Cluster-wide cap of running instances, e.g. 4 or Concurrency(4, lease=60).",
)


class ConcurrencyLimit(Limit):
    """At most N running at once in the scope, across every worker."""

    kind = "concurrency"
    option = CONCURRENCY
    value: Concurrency

    KEYS: ClassVar[tuple[str, ...]] = ("holders",)
    CHECK_ARGS: ClassVar[tuple[str, ...]] = ("limit", "lease")
    CHECK_LUA = """
local conc_limit, conc_lease = tonumber(A.limit), tonumber(A.lease)
redis.call('ZREMRANGEBYSCORE', K.holders, '-inf', now)
if not redis.call('ZSCORE', K.holders, id) and redis.call('ZCARD', K.holders) >= conc_limit then
  local first = redis.call('ZRANGE', K.holders, 0, 0, 'WITHSCORES')
  deny('concurrency', math.min(tonumber(first[2]) - now, 1.0))
end
"""
    TAKE_LUA = """
redis.call('ZADD', K.holders, now + conc_lease, id)
redis.call('PEXPIRE', K.holders, math.ceil(conc_lease * 2000))
"""
    FINISH_LUA = """
redis.call('ZREM', K.holders, id)
"""
    REFUND_LUA = FINISH_LUA

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self._keeper: LeaseKeeper | None = None

    def keys(self, admission: Admission) -> dict[str, str]:
        return {"holders": scoped("running", admission.scope)}

    def check_args(self, admission: Admission) -> dict[str, Value]:
        return {"limit": self.value.limit, "lease": self.value.lease}

    def finish_args(self, admission: Admission, outcome: Outcome) -> dict[str, Value]:
        return {}

    def admitted(self, admission: Admission, keys: Mapping[str, str], client: redis.Redis) -> None:
        if self._keeper is None:
            self._keeper = LeaseKeeper(client)
        self._keeper.hold(keys["holders"], admission.task_id, self.value.lease)

    def finished(self, admission: Admission, keys: Mapping[str, str]) -> None:
        if self._keeper is not None:
            self._keeper.release(keys["holders"], admission.task_id)

    def describe(self) -> Value:
        return self.value.limit

    @classmethod
    def read_state(
        cls, client: redis.Redis, scope: str, info: Mapping[str, Any], now: float
    ) -> list[LimitState]:
        limit = int(info["concurrency"])
        used = int(client.zcount(scoped("running", scope), f"({now}", "+inf"))
        task, key = info["task"], info.get("limit_key", "")
        return [LimitState("concurrency", task, key, str(limit), used, None)]

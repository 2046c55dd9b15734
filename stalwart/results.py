"""Celery's Redis result backend, carrying Stalwart's per-task writes in its round trips.

A worker already talks to Redis twice per task to store the task's state (``STARTED``
before the body, the result after it). Stalwart's idempotency key needs two writes of
its own at the same moments (take the lease before; store the result and drop the
lease after), and each cost a round trip: 6 per task instead of Celery's 4, the largest
share of Stalwart's overhead in a profile of a no-op drain (docs/PERFORMANCE.md).

Here such a write is a :class:`Rider`: queued for the calling thread, it is sent in
the same pipeline as that thread's next result write, and its reply handed back. It
only rides when the result backend is this module's :class:`RedisBackend` on the
same Redis server as the coordination store; otherwise :func:`carry` returns False and
the caller sends it itself. A rider marked ``required`` that found no result write to
ride (a task that ignores its result) is sent by :func:`send_stranded` when the task
ends (``task_postrun``); an optional one is dropped.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis
from celery.app.task import get_actual_ignore_result
from celery.backends.redis import RedisBackend as CeleryRedisBackend
from celery.exceptions import BackendStoreError

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = [
    "RedisBackend",
    "Rider",
    "can_carry",
    "carry",
    "send_stranded",
    "started_write_follows",
    "withdraw",
]


@dataclass(eq=False)
class Rider:
    """One Lua script call that travels with the next result write of this thread."""

    script: str
    keys: list[str]
    args: list[Any]
    required: bool = True
    on_reply: Callable[[Any], None] | None = None
    sent: bool = field(default=False, init=False)
    reply: Any = field(default=None, init=False)  # the script's reply (or its error)

    @property
    def answered(self) -> list[Any] | None:
        """The reply if the script ran and returned a list (every Stalwart rider's shape)."""
        return self.reply if self.sent and isinstance(self.reply, list) else None

    def queue(self, pipe: Any) -> None:
        # EVAL, not EVALSHA: a lost script cache (Redis restart) can never fail the
        # result write; Redis caches the compiled script by its hash either way.
        pipe.eval(self.script, len(self.keys), *self.keys, *self.args)

    def deliver(self, reply: Any) -> None:
        self.sent, self.reply = True, reply
        if self.on_reply is not None:
            self.on_reply(reply)


_local = threading.local()


def _pending() -> list[Rider]:
    pending: list[Rider] | None = getattr(_local, "riders", None)
    if pending is None:
        pending = _local.riders = []
    return pending


def can_carry(app: Stalwart) -> bool:
    """True if ``app``'s result writes can carry riders to its coordination store."""
    backend = app.backend
    return isinstance(backend, RedisBackend) and backend.shares_server_with(app.redis)


def started_write_follows(task: Any) -> bool:
    """True if Celery will write ``STARTED`` for ``task``'s current request (at prerun).

    The rule of ``celery.app.trace``: not eager, ``track_started``, result not ignored.
    """
    request = task.request
    if request.is_eager or not task.track_started:
        return False
    return not get_actual_ignore_result(task, request)


def carry(app: Stalwart, rider: Rider) -> bool:
    """Queue ``rider`` for this thread's next result write; False if it cannot ride."""
    if not can_carry(app):
        return False
    _pending().append(rider)
    return True


def withdraw(rider: Rider) -> bool:
    """Take back a rider that has not been sent; False if it was sent already."""
    pending = _pending()
    if rider in pending:
        pending.remove(rider)
        return True
    return False


def send_stranded(app: Stalwart) -> None:
    """At the end of a task: send required riders no result write carried, drop the rest."""
    pending = _pending()
    if not pending:
        return
    client = app.redis
    riders = [rider for rider in pending if rider.required]
    pending.clear()
    if not riders:
        return
    with client.pipeline(transaction=False) as pipe:
        for rider in riders:
            rider.queue(pipe)
        replies = pipe.execute(raise_on_error=False)
    _deliver(riders, replies)


def _address(client: redis.Redis) -> tuple[Any, ...]:
    """Where ``client`` connects: (host, port, unix socket path, database number)."""
    kwargs = client.connection_pool.connection_kwargs
    return (kwargs.get("host"), kwargs.get("port"), kwargs.get("path"), int(kwargs.get("db") or 0))


def _deliver(riders: list[Rider], replies: list[Any]) -> None:
    for rider, reply in zip(riders, replies, strict=True):
        rider.deliver(reply)


class RedisBackend(CeleryRedisBackend):  # type: ignore[misc]
    """Celery's Redis result backend; a state write also sends the thread's riders."""

    def shares_server_with(self, client: redis.Redis) -> bool:
        """True if ``client`` talks to the same Redis server and database (asked per task:
        the answer is kept per client)."""
        known: weakref.WeakKeyDictionary[redis.Redis, bool]
        known = self.__dict__.setdefault("_stalwart_shares", weakref.WeakKeyDictionary())
        shares = known.get(client)
        if shares is None:
            shares = known[client] = _address(self.client) == _address(client)
        return shares

    def set(self, key: Any, value: Any, expires: Any = None, **retry_policy: Any) -> Any:
        pending = _pending()
        if not pending:
            return super().set(key, value, expires, **retry_policy)
        if isinstance(value, str) and len(value) > self._MAX_STR_VALUE_SIZE:
            raise BackendStoreError("value too large for Redis backend")
        riders = list(pending)
        pending.clear()
        # ensure() retries the whole pipeline on a connection error. Claims and
        # finishes are idempotent; a flow check repeated after a lost reply can count
        # one extra throttle/quota unit, as its own round trip can when redis-py
        # retries it: limits err on the side of admitting less, never more.
        return self.ensure(self._set_with_riders, (key, value, expires, riders), **retry_policy)

    def _set_with_riders(self, key: Any, value: Any, expires: Any, riders: list[Rider]) -> None:
        if expires is None:
            expires = self.expires
        with self.client.pipeline() as pipe:
            if expires:
                pipe.set(key, value, ex=expires)
            else:
                pipe.set(key, value)
            pipe.publish(key, value)
            for rider in riders:
                rider.queue(pipe)
            replies = pipe.execute(raise_on_error=False)
        for reply in replies[:2]:
            if isinstance(reply, Exception):
                raise reply  # the state write itself failed
        _deliver(riders, replies[2:])

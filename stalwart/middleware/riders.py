"""Riders: Stalwart's per-task Redis writes, carried in Celery's own state writes.

A worker already talks to Redis twice per task to store the task's state (``STARTED``
before the body, the result after it). Middleware often needs a write at exactly those
moments (claim an idempotency key and check the limits before the body; store the key's
result and give back a concurrency slot after it). Each would cost a round trip of its
own: 6 or more per task instead of Celery's 4.

Instead a middleware hands the pipeline a :class:`Rider` (one Lua script call) through
the execution (:meth:`~stalwart.middleware.call.Execution.early` before the body,
:meth:`~stalwart.middleware.call.Execution.late` after it). Riders are queued per
thread and leave with that thread's next result write
(:class:`stalwart.compat.backend.RedisBackend`), in the same pipeline, when the result
backend is on the coordination store's Redis server. Whatever found no write to ride
is sent by the pipeline's driver in one pipeline of its own: before the first
``before_execute`` for early riders (their replies are needed), at the end of the
execution for late ones. So a middleware never decides how its write travels.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

__all__ = ["Rider", "deliver", "pending", "send", "take_pending"]


@dataclass(eq=False)
class Rider:
    """One Lua script call that travels with a state write of this thread."""

    script: str
    keys: list[str]
    args: list[Any]
    on_reply: Callable[[Any], None] | None = None
    sent: bool = field(default=False, init=False)
    reply: Any = field(default=None, init=False)  # the script's reply (or its error)

    @property
    def answered(self) -> list[Any] | None:
        """The reply if the script ran and returned a list (every Stalwart rider's shape)."""
        return self.reply if self.sent and isinstance(self.reply, list) else None

    def queue(self, pipe: Any) -> None:
        # EVAL, not EVALSHA: a lost script cache (Redis restart) can never fail the
        # state write; Redis caches the compiled script by its hash either way.
        pipe.eval(self.script, len(self.keys), *self.keys, *self.args)

    def deliver(self, reply: Any) -> None:
        self.sent, self.reply = True, reply
        if self.on_reply is not None:
            self.on_reply(reply)


_local = threading.local()


def pending() -> list[Rider]:
    """This thread's riders waiting for a state write."""
    queued: list[Rider] | None = getattr(_local, "riders", None)
    if queued is None:
        queued = _local.riders = []
    return queued


def take_pending(riders: Sequence[Rider] | None = None) -> list[Rider]:
    """Remove ``riders`` (default: all) from this thread's queue; returns those removed."""
    queued = pending()
    if riders is None:
        taken = list(queued)
        queued.clear()
        return taken
    taken = [rider for rider in riders if rider in queued]
    queued[:] = [rider for rider in queued if rider not in taken]
    return taken


def deliver(riders: Sequence[Rider], replies: Sequence[Any]) -> None:
    for rider, reply in zip(riders, replies, strict=True):
        rider.deliver(reply)


def send(client: redis.Redis, riders: Sequence[Rider]) -> None:
    """Send ``riders`` in one pipeline of their own (nothing to ride on)."""
    if not riders:
        return
    with client.pipeline(transaction=False) as pipe:
        for rider in riders:
            rider.queue(pipe)
        replies = pipe.execute(raise_on_error=False)
    deliver(riders, replies)

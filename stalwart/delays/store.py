"""The delay store: messages waiting for a time, in Redis, indexed by task id.

Long waits never ride on broker ETAs (a Redis-broker ETA longer than the visibility
timeout is delivered again and again, and every waiting ETA sits in a worker's memory).
Retries, deferrals and a caller's own long ``countdown``/``eta`` wait here instead,
scored by due time on the Redis clock, and the :class:`~stalwart.delays.pump.Pump` (in
every worker, beat and console) moves them into their queue when due.

Two keys: ``stalwart:delays`` (sorted set: task id -> due time) and
``stalwart:delays:messages`` (hash: task id -> message). Indexed by task id, a waiting
task can be found, revoked (:meth:`DelayStore.remove`) or made due now
(:meth:`DelayStore.due_now`) in O(log n). What a message is depends on the broker:

- **Redis broker** (keys in the broker's Redis): the Redis commands kombu would send to
  publish it (:mod:`stalwart.compat.capture`); ``lua/move_due.lua`` runs them and drops
  the entry atomically. Exactly once.
- **Other brokers (AMQP)** (keys in the coordination store): the arguments of the
  publish. ``lua/claim_due.lua`` moves due entries to ``stalwart:delays:inflight`` with a
  lease; the pump publishes them with publisher confirms and then drops the claims. A claim
  whose process died first goes back after the lease: at least once (give such tasks an
  ``idempotency_key``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis

from stalwart.compat.capture import EnvelopeCapture
from stalwart.coordination import key
from stalwart.lua import Lua

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["DUE_KEY", "INFLIGHT_KEY", "MESSAGES_KEY", "DelayStore"]

DUE_KEY = key("delays")
MESSAGES_KEY = key("delays", "messages")
INFLIGHT_KEY = key("delays", "inflight")

_ADD = Lua.packaged("stalwart.delays", "add")


class DelayStore:
    """The delay store of one app (``app.delays``)."""

    def __init__(self, app: Stalwart) -> None:
        self.app = app
        self.moves_lists = app.settings.broker_is_redis
        self._capture = EnvelopeCapture(app)
        self._broker: redis.Redis | None = None

    @property
    def broker_client(self) -> redis.Redis:
        """The Redis holding the broker's lists (the coordination client when the same)."""
        if self._broker is None:
            settings = self.app.settings
            url = settings.effective_broker_url.replace("redis+socket://", "unix://", 1)
            if url == settings.effective_redis_url:
                self._broker = self.app.redis
            else:
                self._broker = redis.Redis.from_url(url, socket_timeout=10)
        return self._broker

    @property
    def client(self) -> redis.Redis:
        """The Redis holding this app's delay store."""
        return self.broker_client if self.moves_lists else self.app.redis

    def capture(self, publish: Callable[[Any], Any]) -> str:
        """What this store keeps for the message ``publish(producer)`` would send."""
        return self._capture.capture(publish)

    def keep(self, task_id: str, message: str, delay: float) -> None:
        """Keep a captured ``message`` (task ``task_id``) until ``delay`` s from now."""
        _ADD.run(self.client, [DUE_KEY, MESSAGES_KEY], [repr(max(0.0, delay)), task_id, message])

    def add(self, signature: Any, delay: float, **options: Any) -> str:
        """Keep ``signature`` until ``delay`` seconds from now; returns its task id."""
        task_id = str(signature.freeze().id)
        message = self.capture(lambda producer: signature.apply_async(producer=producer, **options))
        self.keep(task_id, message, delay)
        return task_id

    def remove(self, task_id: str) -> bool:
        """Drop a waiting message (revoke); False if it was not waiting here."""
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(DUE_KEY, task_id)
        pipe.zrem(INFLIGHT_KEY, task_id)
        pipe.hdel(MESSAGES_KEY, task_id)
        removed = pipe.execute()
        return bool(removed[0] or removed[1])

    def due_now(self, task_id: str) -> bool:
        """Make a waiting message due at once ("retry now"); False if it is not waiting."""
        seconds, micros = self.client.time()
        return bool(self.client.zadd(DUE_KEY, {task_id: seconds + micros / 1e6}, xx=True, ch=True))

    def due_at(self, task_id: str) -> float | None:
        """When a waiting message is due (epoch seconds, Redis clock), or None."""
        score = self.client.zscore(DUE_KEY, task_id)
        return float(score) if score is not None else None

    def pending(self) -> int:
        """How many messages wait."""
        return int(self.client.zcard(DUE_KEY))

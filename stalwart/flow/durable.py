"""The durable schedule: messages waiting for a time, in a Redis sorted set.

Long retries and deferrals never ride on broker ETAs (a Redis-broker ETA longer than
the visibility timeout is delivered again and again, and every waiting ETA sits in a
worker's memory). Instead they wait here, scored by due time on the Redis clock, and
the :class:`~stalwart.flow.pump.Pump` (in every worker, beat and console) moves them
into their queue when due.

Two ways to move, chosen by the broker:

- **Redis broker** (``stalwart:schedule`` in the broker's Redis): each member holds the
  target list key and the exact kombu envelope (see :mod:`stalwart.flow.capture`);
  ``lua/move_due.lua`` does ZRANGEBYSCORE + LPUSH + ZREM atomically. Exactly once.
- **Other brokers (AMQP)** (``stalwart:schedule:publish`` in the coordination store):
  each member holds the Celery signature. ``lua/claim_due.lua`` moves due members to
  an in-flight set with a lease; the pump publishes them with publisher confirms and
  then removes the claims. A claim whose process died before removing it goes back
  after the lease: at least once (a message may be published twice if the process
  dies between the broker's confirm and the removal; give such tasks an
  ``idempotency_key``).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from typing import TYPE_CHECKING, Any

import redis
from kombu.utils.json import dumps

from stalwart.coordination import key
from stalwart.events import TaskEvent, append_event
from stalwart.flow.capture import EnvelopeCapture
from stalwart.flow.scripts import execute, queue

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["INFLIGHT_KEY", "PUBLISH_KEY", "SCHEDULE_KEY", "DurableSchedule", "schedule_for"]

SCHEDULE_KEY = key("schedule")
PUBLISH_KEY = key("schedule", "publish")
INFLIGHT_KEY = key("schedule", "inflight")

_lock = threading.Lock()


class DurableSchedule:
    """The durable schedule of one app."""

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
    def shares_client(self) -> bool:
        return self.broker_client is self.app.redis

    @property
    def client(self) -> redis.Redis:
        """The Redis holding this app's schedule."""
        return self.broker_client if self.moves_lists else self.app.redis

    @property
    def key(self) -> str:
        return SCHEDULE_KEY if self.moves_lists else PUBLISH_KEY

    def add(self, signature: Any, delay: float, event: TaskEvent | None = None) -> None:
        """Put ``signature`` on the schedule, due in ``delay`` seconds; record ``event``."""
        if self.moves_lists:
            members = [
                f"{len(list_key)}:{list_key}{envelope}"
                for list_key, envelope in self._capture.capture(signature)
            ]
        else:
            data = {"n": uuid.uuid4().hex, "sig": dict(signature)}
            members = ["P" + str(dumps(data))]  # type: ignore[no-untyped-call]
        client = self.client
        same = client is self.app.redis

        def build(pipe: Any) -> None:
            queue(pipe, client, "schedule", [self.key], [repr(delay), *members])
            if event is not None and same:
                append_event(pipe, event, self.app.settings.stream_maxlen)

        execute(client, build)
        if event is not None and not same:
            append_event(self.app.redis, event, self.app.settings.stream_maxlen)

    def pending(self) -> int:
        """How many messages wait on the schedule."""
        return int(self.client.zcard(self.key))


_schedules: weakref.WeakKeyDictionary[Any, DurableSchedule] = weakref.WeakKeyDictionary()


def schedule_for(app: Stalwart) -> DurableSchedule:
    """The durable schedule of ``app`` (one per app and process)."""
    with _lock:
        found = _schedules.get(app)
        if found is None:
            found = _schedules[app] = DurableSchedule(app)
        return found

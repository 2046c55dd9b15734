"""Looking into the broker's queues: depth, age of the oldest message, a task's position.

Read-only and bounded: a position search scans at most ``MAX_SCAN`` messages from the
consuming end of a queue, so asking about a task in a million-message queue costs
milliseconds, and the answer says when it is only a lower bound. On RabbitMQ only the
depth and consumer count can be known (AMQP has no peeking).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis
from kombu.connection import Connection

from stalwart.compat.kombu_layout import BINDING_PATTERN, binding_queue, consumption_order
from stalwart.middleware.recording import SENT_AT_HEADER
from stalwart.settings import Settings

__all__ = ["QueueProbe", "QueueState", "probe_for"]

MAX_SCAN = 20_000
CHUNK = 1000


@dataclass(frozen=True)
class QueueState:
    name: str
    depth: int
    oldest_age: float | None  # seconds; None when empty or unknown
    consumers: int | None = None


class QueueProbe:
    """Reads queue state from the broker (the base: depth only, no positions)."""

    def queue_names(self) -> list[str]:
        return []

    def state(self, queue: str) -> QueueState:
        raise NotImplementedError

    def position(self, queue: str, task_id: str) -> tuple[int, bool] | None:
        """``(position, True)`` counted from the consuming end (1 = next), ``(n, False)``
        when the task is not among the first ``n`` looked at, None when not queued."""
        return None

    def close(self) -> None:
        """Release the connection."""


class RedisQueueProbe(QueueProbe):
    """Kombu's Redis transport: a queue is a list per priority step, consumed from the tail."""

    def __init__(self, url: str) -> None:
        if url.startswith("redis+socket://"):
            url = "unix://" + url[len("redis+socket://") :]
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def _lists(self, queue: str) -> list[str]:
        # BRPOP checks priority 0 first: that list's messages come out first.
        return consumption_order(queue)

    def queue_names(self) -> list[str]:
        names: set[str] = set()
        for binding in self.client.scan_iter(match=BINDING_PATTERN, count=1000):
            for member in self.client.smembers(binding):
                queue = binding_queue(member)
                if queue and not queue.endswith(".pidbox"):
                    names.add(queue)
        return sorted(names)

    def state(self, queue: str) -> QueueState:
        pipe = self.client.pipeline(transaction=False)
        for name in self._lists(queue):
            pipe.llen(name)
            pipe.lindex(name, -1)
        replies = pipe.execute()
        depth = sum(int(n) for n in replies[0::2])
        ages = [_age(raw) for raw in replies[1::2] if raw is not None]
        known = [age for age in ages if age is not None]
        return QueueState(queue, depth, max(known) if known else None)

    def position(self, queue: str, task_id: str) -> tuple[int, bool] | None:
        needle = f'"id": "{task_id}"'.encode()
        compact = f'"id":"{task_id}"'.encode()
        ahead, scanned = 0, 0
        for name in self._lists(queue):
            length = int(self.client.llen(name))
            offset = 0
            while offset < length and scanned < MAX_SCAN:
                # The tail (index -1) is consumed next; read backwards from it.
                chunk = self.client.lrange(name, -(offset + CHUNK), -(offset + 1))
                for index, raw in enumerate(reversed(chunk)):
                    if needle in raw or compact in raw:
                        return ahead + offset + index + 1, True
                offset += len(chunk)
                scanned += len(chunk)
                if not chunk:
                    break
            if scanned >= MAX_SCAN:
                return scanned, False  # not among the first MAX_SCAN: "beyond N"
            ahead += length
        return None

    def close(self) -> None:
        self.client.close()


class AmqpQueueProbe(QueueProbe):
    """RabbitMQ: depth and consumers from a passive declare."""

    def __init__(self, url: str) -> None:
        self.connection = Connection(url, connect_timeout=5)  # type: ignore[no-untyped-call]

    def state(self, queue: str) -> QueueState:
        channel = self.connection.channel()  # type: ignore[no-untyped-call]
        try:
            _, depth, consumers = channel.queue_declare(queue=queue, passive=True)
        except Exception:
            return QueueState(queue, 0, None, 0)
        finally:
            channel.close()
        return QueueState(queue, int(depth), None, int(consumers))

    def close(self) -> None:
        self.connection.release()  # type: ignore[no-untyped-call]


def probe_for(settings: Settings) -> QueueProbe:
    """The probe for this deployment's broker."""
    if settings.broker_is_redis:
        return RedisQueueProbe(settings.effective_broker_url)
    return AmqpQueueProbe(settings.effective_broker_url)


def _age(raw: Any) -> float | None:
    try:
        message = json.loads(raw)
        sent = float(message["headers"][SENT_AT_HEADER])
    except (ValueError, KeyError, TypeError):
        return None
    return max(0.0, time.time() - sent)

"""Worker heartbeats in the coordination store, and reading them back.

Each worker writes a hash ``stalwart:worker:<hostname>`` (expiring) and its name in the
sorted set ``stalwart:workers`` (score: last beat), every few seconds. This costs no
Celery events and no round trip per task.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import redis

from stalwart.coordination import as_text, key
from stalwart.services import Service

__all__ = ["HEARTBEAT_TTL", "Heartbeat", "WorkerInfo", "list_workers"]

HEARTBEAT_INTERVAL = 2.0
HEARTBEAT_TTL = 15


@dataclass(frozen=True)
class WorkerInfo:
    hostname: str
    host: str
    pid: int
    pool: str
    concurrency: int
    queues: tuple[str, ...]
    started: float
    last_beat: float

    @property
    def age(self) -> float:
        return max(0.0, time.time() - self.last_beat)

    @property
    def alive(self) -> bool:
        return self.age < HEARTBEAT_TTL


class Heartbeat(Service):
    name = "heartbeat"
    interval = HEARTBEAT_INTERVAL

    def __init__(
        self, client: redis.Redis, hostname: str, pool: str, concurrency: int, queues: list[str]
    ) -> None:
        self.client = client
        self.hostname = hostname
        self.static: dict[str, str | int | float] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "pool": pool,
            "concurrency": concurrency,
            "queues": json.dumps(sorted(queues)),
            "started": time.time(),
        }

    def tick(self) -> None:
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        fields: Any = {**self.static, "last_beat": now}
        pipe.hset(key("worker", self.hostname), mapping=fields)
        pipe.expire(key("worker", self.hostname), HEARTBEAT_TTL)
        pipe.zadd(key("workers"), {self.hostname: now})
        pipe.zremrangebyscore(key("workers"), 0, now - 86_400)
        pipe.execute()

    def close(self) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(key("worker", self.hostname))
        pipe.zrem(key("workers"), self.hostname)
        pipe.execute()


def list_workers(client: redis.Redis, include_dead: bool = False) -> list[WorkerInfo]:
    """Workers that sent a heartbeat recently (all known ones with ``include_dead``)."""
    names = [as_text(n) for n in client.zrange(key("workers"), 0, -1)]
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(key("worker", name))
    workers = []
    for name, raw in zip(names, pipe.execute(), strict=True):
        if not raw:
            continue
        info = _decode(name, raw)
        if include_dead or info.alive:
            workers.append(info)
    return workers


def _decode(name: str, raw: dict[Any, Any]) -> WorkerInfo:
    data = {k.decode(): v.decode() for k, v in raw.items()}
    return WorkerInfo(
        hostname=name,
        host=data.get("host", "?"),
        pid=int(data.get("pid", 0)),
        pool=data.get("pool", "?"),
        concurrency=int(data.get("concurrency", 0)),
        queues=tuple(json.loads(data.get("queues", "[]"))),
        started=float(data.get("started", 0)),
        last_beat=float(data.get("last_beat", 0)),
    )

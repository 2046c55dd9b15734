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

import redis

from stalwart.presence import Presence
from stalwart.services import Service

__all__ = ["HEARTBEAT_TTL", "Heartbeat", "WorkerInfo", "list_workers"]

HEARTBEAT_INTERVAL = 2.0
HEARTBEAT_TTL = 15
WORKERS = Presence("worker")


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
        fields = {**self.static, "last_beat": time.time()}
        WORKERS.announce(self.client, self.hostname, fields, HEARTBEAT_TTL)

    def close(self) -> None:
        WORKERS.withdraw(self.client, self.hostname)


def list_workers(client: redis.Redis, include_dead: bool = False) -> list[WorkerInfo]:
    """Workers that sent a heartbeat recently (all known ones with ``include_dead``)."""
    workers = [_decode(name, data) for name, data in WORKERS.read(client)]
    return [info for info in workers if include_dead or info.alive]


def _decode(name: str, data: dict[str, str]) -> WorkerInfo:
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

"""Which beat processes are running, and which one leads (for health, the console, the CLI).

Each beat writes ``stalwart:beat:<id>`` (a hash, expiring) and its id in the sorted set
``stalwart:beats`` every tick, as workers do with their heartbeat.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import redis

from stalwart.coordination import as_text, key

__all__ = ["BeatInfo", "list_beats", "write_presence"]

BEATS_KEY = key("beats")


@dataclass(frozen=True)
class BeatInfo:
    id: str
    host: str
    pid: int
    role: str  # "leader" or "standby"
    token: int | None
    started: float
    last_tick: float
    lease: float

    @property
    def alive(self) -> bool:
        return time.time() - self.last_tick < max(3 * self.lease, 10.0)


def write_presence(
    client: redis.Redis,
    beat_id: str,
    *,
    leader: bool,
    token: int | None,
    started: float,
    lease: float,
) -> None:
    now = time.time()
    name = key("beat", beat_id)
    fields: Any = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "role": "leader" if leader else "standby",
        "token": "" if token is None else token,
        "started": started,
        "last_tick": now,
        "lease": lease,
    }
    pipe = client.pipeline(transaction=False)
    pipe.hset(name, mapping=fields)
    pipe.expire(name, max(10, round(3 * lease)))
    pipe.zadd(BEATS_KEY, {beat_id: now})
    pipe.zremrangebyscore(BEATS_KEY, 0, now - 86_400)
    pipe.execute()


def remove_presence(client: redis.Redis, beat_id: str) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.delete(key("beat", beat_id))
    pipe.zrem(BEATS_KEY, beat_id)
    pipe.execute()


def list_beats(client: redis.Redis) -> list[BeatInfo]:
    """Beat processes seen recently, leader first."""
    ids = [as_text(i) for i in client.zrange(BEATS_KEY, 0, -1)]
    pipe = client.pipeline(transaction=False)
    for beat_id in ids:
        pipe.hgetall(key("beat", beat_id))
    beats = []
    for beat_id, raw in zip(ids, pipe.execute(), strict=True):
        if not raw:
            continue
        data = {as_text(k): as_text(v) for k, v in raw.items()}
        info = BeatInfo(
            id=beat_id,
            host=data.get("host", "?"),
            pid=int(data.get("pid", 0)),
            role=data.get("role", "standby"),
            token=int(data["token"]) if data.get("token") else None,
            started=float(data.get("started", 0)),
            last_tick=float(data.get("last_tick", 0)),
            lease=float(data.get("lease", 10)),
        )
        if info.alive:
            beats.append(info)
    return sorted(beats, key=lambda b: (b.role != "leader", b.id))

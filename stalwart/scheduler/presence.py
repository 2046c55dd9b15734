"""Which beat processes are running, and which one leads (for health, the console, the CLI).

Each beat writes ``stalwart:beat:<id>`` (a hash, expiring) and its id in the sorted set
``stalwart:beats`` every tick, as workers do with their heartbeat.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

import redis

from stalwart.presence import Presence

__all__ = ["BeatInfo", "list_beats", "write_presence"]

BEATS = Presence("beat")


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
    fields = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "role": "leader" if leader else "standby",
        "token": "" if token is None else token,
        "started": started,
        "last_tick": time.time(),
        "lease": lease,
    }
    BEATS.announce(client, beat_id, fields, max(10, round(3 * lease)))


def remove_presence(client: redis.Redis, beat_id: str) -> None:
    BEATS.withdraw(client, beat_id)


def list_beats(client: redis.Redis) -> list[BeatInfo]:
    """Beat processes seen recently, leader first."""
    beats = []
    for beat_id, data in BEATS.read(client):
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

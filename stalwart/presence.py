"""Which Stalwart processes are alive: one registry for workers and beats alike.

Each member of a kind (``worker``, ``beat``) writes a hash ``stalwart:<kind>:<name>``
(expiring) and its name in the sorted set ``stalwart:<kind>s`` (score: last beat), every
few seconds: no Celery events, no round trip per task. :func:`worker heartbeats
<stalwart.worker.heartbeat>` and :mod:`beat presence <stalwart.scheduler.presence>` are
two kinds of this one registry.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from stalwart.coordination import as_text, key

__all__ = ["Presence"]

FORGET_AFTER = 86_400  # names silent this long leave the sorted set


@dataclass(frozen=True)
class Presence:
    """The registry of one kind of process (``worker`` or ``beat``)."""

    kind: str

    @property
    def members_key(self) -> str:
        return key(f"{self.kind}s")

    def member_key(self, name: str) -> str:
        return key(self.kind, name)

    def announce(self, client: redis.Redis, name: str, fields: Mapping[str, Any], ttl: int) -> None:
        """Say ``name`` is alive now, with ``fields``; forgotten after ``ttl`` s of silence."""
        now = time.time()
        pipe = client.pipeline(transaction=False)
        pipe.hset(self.member_key(name), mapping=dict(fields))  # type: ignore[arg-type]
        pipe.expire(self.member_key(name), ttl)
        pipe.zadd(self.members_key, {name: now})
        pipe.zremrangebyscore(self.members_key, 0, now - FORGET_AFTER)
        pipe.execute()

    def withdraw(self, client: redis.Redis, name: str) -> None:
        """``name`` stopped on purpose."""
        pipe = client.pipeline(transaction=False)
        pipe.delete(self.member_key(name))
        pipe.zrem(self.members_key, name)
        pipe.execute()

    def read(self, client: redis.Redis) -> list[tuple[str, dict[str, str]]]:
        """Every member whose hash has not expired, with its fields (as text)."""
        names = [as_text(n) for n in client.zrange(self.members_key, 0, -1)]
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self.member_key(name))
        found = []
        for name, raw in zip(names, pipe.execute(), strict=True):
            if raw:
                found.append((name, {as_text(k): as_text(v) for k, v in raw.items()}))
        return found

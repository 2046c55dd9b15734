"""Reading flow-control state for people: what ``stalwart limits`` and /limits show.

Every limit scope a worker has checked is listed in ``stalwart:flow:limits`` with its
configuration; its live state (used, next free time) is read from the same keys the
check script uses, on the Redis clock.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

import redis

from stalwart.coordination import as_text
from stalwart.flow.breaker import read_breaker
from stalwart.flow.keys import REGISTRY, concurrency_key, quota_key, throttle_key
from stalwart.flow.quota import Quota
from stalwart.flow.throttle import Throttle

__all__ = ["LimitState", "read_limits"]


@dataclass(frozen=True)
class LimitState:
    """One limit of one scope (task, or task + limit_key value)."""

    kind: str  # throttle | quota | concurrency | breaker
    task: str
    key: str
    limit: str
    used: int
    next_free: float | None  # epoch seconds; None = free now

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_limits(client: redis.Redis) -> list[LimitState]:
    """Every known limit and its state, sorted by task, key and kind."""
    seconds, micros = client.time()
    now = seconds + micros / 1e6
    registry: dict[Any, Any] = client.hgetall(REGISTRY)
    states: list[LimitState] = []
    breakers: set[str] = set()
    for raw_scope, raw in sorted(registry.items()):
        scope, info = as_text(raw_scope), json.loads(as_text(raw))
        task, key = info["task"], info.get("limit_key", "")
        if info.get("throttle"):
            states.append(_throttle(client, scope, task, key, info["throttle"], now))
        if info.get("quota"):
            states.append(_quota(client, scope, task, key, info, now))
        if info.get("concurrency"):
            limit = int(info["concurrency"])
            used = int(client.zcount(concurrency_key(scope), f"({now}", "+inf"))
            states.append(LimitState("concurrency", task, key, str(limit), used, None))
        name = info.get("breaker")
        if name and name not in breakers:
            breakers.add(name)
            breaker = read_breaker(client, name, now)
            states.append(
                LimitState(
                    "breaker",
                    task,
                    name,
                    breaker.state,
                    breaker.failures,
                    breaker.reopens_at if breaker.state == "open" else None,
                )
            )
    return states


def _throttle(
    client: redis.Redis, scope: str, task: str, key: str, text: str, now: float
) -> LimitState:
    throttle = Throttle.parse(_as_throttle(text))
    log = throttle_key(scope)
    used = int(client.zcount(log, f"({now - throttle.period}", "+inf"))
    next_free = None
    if used >= throttle.limit:
        oldest = client.zrangebyscore(log, f"({now - throttle.period}", "+inf", 0, 1, True)
        next_free = float(oldest[0][1]) + throttle.period if oldest else None
    return LimitState("throttle", task, key, text, used, next_free)


def _quota(
    client: redis.Redis, scope: str, task: str, key: str, info: dict[str, Any], now: float
) -> LimitState:
    quota = Quota.parse(info["quota"])
    period = quota.period(now, ZoneInfo(info.get("zone") or "UTC"))
    used = int(client.get(quota_key(scope, period.label)) or 0)
    next_free = period.ends_at if used >= quota.limit else None
    return LimitState("quota", task, key, f"{info['quota']} ({period.label})", used, next_free)


def _as_throttle(text: str) -> str:
    # Stored as "<limit>/<period>s" (Throttle.__str__).
    limit, _, period = text.partition("/")
    return f"{limit}/{int(float(period.rstrip('s')))}s"

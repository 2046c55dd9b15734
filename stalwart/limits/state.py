"""Reading flow-control state for people: what ``stalwart limits`` and /limits show.

Every limit scope a worker has checked is listed in ``stalwart:flow:limits`` with its
configuration (each limit's :meth:`~stalwart.limits.base.Limit.describe`); its live
state is read by each limit class from the keys its check uses, on the Redis clock.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from stalwart.coordination import as_text
from stalwart.limits import LIMITS
from stalwart.limits.base import LimitState
from stalwart.limits.keys import REGISTRY

__all__ = ["LimitState", "read_limits"]


def read_limits(client: redis.Redis) -> list[LimitState]:
    """Every known limit and its state, by scope in registry order of kinds.

    A breaker shared by several tasks is listed once.
    """
    seconds, micros = client.time()
    now = seconds + micros / 1e6
    registry: dict[Any, Any] = client.hgetall(REGISTRY)
    states: list[LimitState] = []
    breakers: set[str] = set()
    for raw_scope, raw in sorted(registry.items()):
        scope, info = as_text(raw_scope), json.loads(as_text(raw))
        for limit in LIMITS:
            if info.get(limit.kind) in (None, False):
                continue
            if limit.kind == "breaker":
                if info["breaker"] in breakers:
                    continue
                breakers.add(info["breaker"])
            states.extend(limit.read_state(client, scope, info, now))
    return states

"""``breaker="sms-gateway"``: a named circuit breaker shared by every task naming it.

Closed: tasks run; consecutive failures are counted (a success resets the count).
After ``failures`` consecutive failures it opens: tasks naming it are deferred (not
failed) for ``reset_after`` seconds. Then it is half-open: exactly one task runs as a
probe (the others keep waiting); the probe's success closes the breaker, its failure
opens it again. The state is one Redis hash per name, visible with
``stalwart limits`` and on the console's /limits page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from stalwart.coordination import as_text
from stalwart.errors import TaskOptionError
from stalwart.flow.keys import breaker_key

__all__ = ["Breaker", "BreakerState", "read_breaker"]


@dataclass(frozen=True)
class Breaker:
    """A named breaker: opens after ``failures`` in a row, probes after ``reset_after`` s."""

    name: str
    failures: int = 5
    reset_after: float = 30.0
    probe_lease: float = 60.0

    @classmethod
    def parse(cls, value: object) -> Breaker:
        """``"sms-gateway"`` or ``Breaker("sms-gateway", failures=3, reset_after=10)``."""
        if isinstance(value, str) and value.strip():
            return cls(value.strip())
        if isinstance(value, Breaker):
            if not value.name or value.failures < 1 or value.reset_after <= 0:
                raise TaskOptionError(
                    f"breaker: needs a name, failures >= 1 and reset_after > 0, not {value!r}"
                )
            return value
        raise TaskOptionError(
            f"breaker must be a name such as 'sms-gateway' or Breaker(name, ...), not {value!r}"
        )


@dataclass(frozen=True)
class BreakerState:
    name: str
    state: str  # closed | open | half-open
    failures: int
    opened_at: float | None
    reopens_at: float | None


def read_breaker(client: redis.Redis, name: str, now: float) -> BreakerState:
    """The current state of breaker ``name`` (``now`` on the Redis clock)."""
    raw: dict[Any, Any] = client.hgetall(breaker_key(name))
    data = {as_text(k): as_text(v) for k, v in raw.items()}
    state = data.get("state", "closed")
    opened = float(data["opened_at"]) if "opened_at" in data else None
    reopens = None
    if state == "open" and opened is not None:
        reopens = opened + float(data.get("reset", "0"))
        if reopens <= now:
            state = "half-open"
    return BreakerState(name, state, int(data.get("failures", "0")), opened, reopens)

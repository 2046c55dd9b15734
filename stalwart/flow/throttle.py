"""``throttle="100/m"``: a cluster-wide rate limit, shared by every worker and process.

Celery's own ``rate_limit`` is enforced inside each worker process separately (so
four workers with ``rate_limit="10/s"`` run up to 40/s); ``throttle`` is enforced in
Redis for the whole cluster. It is a sliding-window log in ``lua/check.lua``: a task
starts only if fewer than N tasks of the same (task, ``limit_key``) started in the
last period, measured on the Redis server's clock. So in *every* window of one
period, at most N executions start. A denied task is deferred to the next slot; the
denied tasks are spread over the coming slots so they do not all wake at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stalwart.errors import TaskOptionError

__all__ = ["Throttle"]

_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*$")


@dataclass(frozen=True)
class Throttle:
    """At most ``limit`` starts in any ``period`` seconds."""

    limit: int
    period: float

    @classmethod
    def parse(cls, value: object) -> Throttle:
        """``"20/s"``, ``"100/m"``, ``"1000/h"``, or ``"5/10s"`` (5 per 10 seconds)."""
        if isinstance(value, Throttle):
            return value
        match = _PATTERN.match(value) if isinstance(value, str) else None
        if match is None or int(match.group(1)) < 1 or match.group(2) == "0":
            raise TaskOptionError(
                f"throttle must look like '20/s', '100/m', '1000/h' or '5/10s' "
                f"(a count >= 1 per s, m or h), not {value!r}"
            )
        multiple = int(match.group(2) or 1)
        return cls(int(match.group(1)), multiple * _PERIODS[match.group(3)])

    def __str__(self) -> str:
        return f"{self.limit}/{self.period:g}s"

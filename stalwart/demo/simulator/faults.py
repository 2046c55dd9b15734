"""What goes wrong, and when: per-number faults by hash, incidents by the clock.

Per-number faults are deterministic (a hash of the number or of the idempotency key),
so a run is reproducible and a retry of the same send meets the same fate; incidents
(an outage, a burst of 429s) are switched on for a number of seconds, by the fault plan
at start-up or by ``POST /sim/incidents`` during a run.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FaultPlan", "Incident", "Incidents", "chosen"]


def chosen(value: str, fraction: float, salt: str) -> bool:
    """True for about ``fraction`` of all values, always the same ones for a salt."""
    digest = hashlib.sha256(f"{salt}:{value}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


@dataclass(frozen=True)
class FaultPlan:
    """Fractions of numbers/sends affected by each fault, and the provider's limits."""

    invalid_numbers: float = 0.02  # 400 invalid_number, every time
    carrier_errors: float = 0.01  # 500 carrier_error, every time (exhausts retries)
    slow_answers: float = 0.01  # first attempt answered after slow_seconds (client times out)
    slow_seconds: float = 2.5
    delivery_failures: float = 0.03  # accepted, then a message.failed webhook
    stop_replies: float = 0.01  # the recipient answers STOP after delivery
    duplicate_webhooks: float = 0.10  # a webhook delivered twice
    early_webhooks: float = 0.05  # the delivery webhook sent before the send is answered
    rate_limit: int = 25  # sends per second per sender number, then 429
    seed: str = "stalwart"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultPlan:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault plan keys: {', '.join(sorted(unknown))}")
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Incident:
    kind: str  # outage | rate_limit
    starts: float
    ends: float
    retry_after: float = 1.0


@dataclass
class Incidents:
    """Timed incidents (thread-safe)."""

    _items: list[Incident] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, kind: str, seconds: float, retry_after: float = 1.0) -> Incident:
        if kind not in ("outage", "rate_limit"):
            raise ValueError("incident kind must be 'outage' or 'rate_limit'")
        now = time.time()
        incident = Incident(kind, now, now + max(0.0, seconds), retry_after)
        with self._lock:
            self._items.append(incident)
        return incident

    def active(self, now: float | None = None) -> list[Incident]:
        now = time.time() if now is None else now
        with self._lock:
            return [i for i in self._items if i.starts <= now < i.ends]

    def all(self) -> list[Incident]:
        with self._lock:
            return list(self._items)

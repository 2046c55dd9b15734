"""One fire of a schedule: its slot id, its message headers, and publishing it.

Fires go through Celery's normal publishing (``app.send_task``), so routing, flow
control and recording apply as to any task. Every fire carries its slot:

- ``stalwart_slot``: ``<schedule>@<UTC instant>``, e.g. ``sync@2024-03-10T07:30:00Z``;
- ``stalwart_idempotency_key``: ``beat:<schedule>:<UTC instant>``, which the worker-side
  idempotency hook uses to run a slot at most once even if it is published twice
  (a stale leader that slipped through, or a fire re-published after a crash).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from stalwart.scheduler.model import PUBLISH_OPTIONS, Schedule, slot_iso

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["IDEMPOTENCY_TTL", "Fire", "publish"]

# Long enough to cover every way a slot can be published twice (a re-published pending
# fire, a leader change); a day of keys for an every-second schedule is ~86k keys.
IDEMPOTENCY_TTL = 86_400


@dataclass(frozen=True)
class Fire:
    """What to publish for one slot (self-contained: re-publishable from its JSON)."""

    schedule: str
    slot: str  # the slot's UTC instant as text, or "manual-<instant>" for run-now
    task: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_slot(cls, schedule: Schedule, slot: datetime) -> Fire:
        return cls(
            schedule.name,
            slot_iso(slot),
            schedule.task,
            schedule.args,
            schedule.kwargs,
            schedule.options,
        )

    @classmethod
    def manual(cls, schedule: Schedule, now: datetime) -> Fire:
        return cls(
            schedule.name,
            f"manual-{slot_iso(now)}",
            schedule.task,
            schedule.args,
            schedule.kwargs,
            schedule.options,
        )

    @property
    def slot_id(self) -> str:
        return f"{self.schedule}@{self.slot}"

    @property
    def idempotency_key(self) -> str:
        return f"beat:{self.schedule}:{self.slot}"

    def headers(self) -> dict[str, Any]:
        return {
            "stalwart_slot": self.slot_id,
            "stalwart_schedule": self.schedule,
            "stalwart_idempotency_key": self.idempotency_key,
            "stalwart_idempotency_ttl": IDEMPOTENCY_TTL,
        }

    def encode(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> Fire:
        return cls(**json.loads(text))


def publish(app: Stalwart, fire: Fire) -> str:
    """Hand the fire to the broker; returns the task id."""
    options = {k: v for k, v in fire.options.items() if k in PUBLISH_OPTIONS}
    result = app.send_task(
        fire.task,
        args=list(fire.args),
        kwargs=dict(fire.kwargs),
        headers=fire.headers(),
        **options,
    )
    return str(result.id)

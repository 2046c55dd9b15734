"""Task progress: ``self.progress(current, total, message)`` and ``app.progress(task_id)``.

Progress is one small JSON value per task in the coordination store
(``stalwart:progress:<task id>``, kept as long as results), written with a pipelined
SET that also appends a ``progress`` event, so a report costs one round trip. Events
are thinned to one per second per task (plus the final one); the stored value is
always the latest.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import redis

from stalwart.coordination import as_text, key
from stalwart.events import EventKind, TaskEvent, append_event

if TYPE_CHECKING:
    from stalwart.task import StalwartTask

__all__ = ["Progress", "progress_key", "read_progress", "report_progress"]

EVENT_INTERVAL = 1.0
DEFAULT_TTL = 86_400


@dataclass(frozen=True)
class Progress:
    """How far a task is: ``current`` of ``total`` (``total`` may be unknown)."""

    current: float
    total: float | None
    message: str | None
    updated_at: float

    @property
    def fraction(self) -> float | None:
        """``current / total`` clamped to [0, 1], or None when the total is unknown."""
        if not self.total:
            return None
        return max(0.0, min(1.0, self.current / self.total))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fraction": self.fraction}


def progress_key(task_id: str) -> str:
    return key("progress", task_id)


def report_progress(
    task: StalwartTask, current: float, total: float | None, message: str | None = None
) -> Progress:
    """Store the progress of the task's current execution (and maybe append an event)."""
    if not isinstance(current, int | float) or isinstance(current, bool):
        raise TypeError(f"progress current must be a number, not {current!r}")
    if total is not None and (not isinstance(total, int | float) or isinstance(total, bool)):
        raise TypeError(f"progress total must be a number or None, not {total!r}")
    now = time.time()
    progress = Progress(current, total, message, now)
    task_id = str(task.request.id)
    ttl = int(task.app.conf.result_expires or DEFAULT_TTL)
    pipe = task.app.redis.pipeline(transaction=False)
    pipe.set(progress_key(task_id), json.dumps(asdict(progress)), ex=ttl)
    last = getattr(task.request, "stalwart_progress_event_at", 0.0)
    final = total is not None and current >= total
    if final or now - last >= EVENT_INTERVAL:
        task.request.stalwart_progress_event_at = now
        event = TaskEvent(
            EventKind.PROGRESS,
            task_id,
            str(task.name),
            at=now,
            fields={"current": current, "total": total, "message": message},
        )
        append_event(pipe, event, maxlen=task.app.settings.stream_maxlen)
    pipe.execute()
    return progress


def read_progress(client: redis.Redis, task_id: str) -> Progress | None:
    """The latest stored progress of ``task_id``, or None if it never reported any."""
    raw = client.get(progress_key(task_id))
    if raw is None:
        return None
    data = json.loads(as_text(raw))
    return Progress(
        current=data["current"],
        total=data.get("total"),
        message=data.get("message"),
        updated_at=float(data["updated_at"]),
    )

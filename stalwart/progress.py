"""Task progress: ``self.progress(current, total, message)`` and ``app.progress(task_id)``.

Progress is one small JSON value per task in the coordination store
(``stalwart:progress:<task id>``, kept as long as results): a report costs one SET.
``progress`` events (through the app's event buffer, for history) are thinned to one per
second per execution (plus the final one); the stored value is always the latest. Under
eager mode nothing is stored: the report is returned and forgotten.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import redis

from stalwart.coordination import as_text, key
from stalwart.events import EventKind, TaskEvent

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
    if task.request.is_eager:
        return progress
    task_id = str(task.request.id)
    app = task.app
    ttl = int(app.conf.result_expires or DEFAULT_TTL)
    app.redis.set(progress_key(task_id), json.dumps(asdict(progress)), ex=ttl)
    execution = app.driver.current(task_id)
    state = execution.state if execution is not None else {}
    final = total is not None and current >= total
    if final or now - state.get("progress.event_at", 0.0) >= EVENT_INTERVAL:
        state["progress.event_at"] = now
        fields = {"current": current, "total": total, "message": message}
        app.task_events.add(TaskEvent(EventKind.PROGRESS, task_id, str(task.name), now, fields))
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

"""Writing dead letters from the worker (the running task, or the poison cap).

A dead letter is written in the process that knows why the task died, inside one SQL
transaction, then a ``dead_lettered`` event is appended to the event stream. The row is
keyed by task id: a second write for the same task (a worker lost between writing the
row and acknowledging the message) updates it instead of adding a duplicate.
"""

from __future__ import annotations

import logging
import traceback as tb
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from stalwart.deadletter.tables import DeadReason, dead_letters
from stalwart.events import EventKind, TaskEvent, append_event

if TYPE_CHECKING:
    from stalwart.app import Stalwart
    from stalwart.task import StalwartTask

__all__ = ["FIRST_FAILURE_HEADER", "REPLAY_OF_HEADER", "DeadLetterDraft", "write_dead_letter"]

log = logging.getLogger("stalwart.deadletter")

# Headers Stalwart puts on a task's message: when it first failed (kept across
# retries) and which dead task a replay re-runs.
FIRST_FAILURE_HEADER = "stalwart_first_failure"
REPLAY_OF_HEADER = "stalwart_replay_of"


@dataclass(frozen=True)
class DeadLetterDraft:
    """Everything a dead-letter row holds, taken from the running request."""

    task_id: str
    name: str
    queue: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any]
    reason: DeadReason
    exc_type: str
    exc_message: str
    traceback: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    root_id: str | None
    parent_id: str | None
    replay_of: str | None
    worker: str | None

    @classmethod
    def from_request(
        cls, task: StalwartTask, exc: BaseException, reason: DeadReason, attempts: int
    ) -> DeadLetterDraft:
        request = task.request
        headers = dict(request.headers or {})
        now = datetime.now(UTC)
        first = headers.get(FIRST_FAILURE_HEADER)
        first_at = datetime.fromtimestamp(float(first), UTC) if first else now
        delivery = request.delivery_info or {}
        queue = delivery.get("routing_key") or None
        options: dict[str, Any] = {"headers": headers}
        if delivery.get("priority") is not None:
            options["priority"] = delivery["priority"]
        return cls(
            task_id=str(request.id),
            name=str(task.name),
            queue=queue,
            args=list(request.args or ()),
            kwargs=dict(request.kwargs or {}),
            options=options,
            reason=reason,
            exc_type=_qualified_name(type(exc)),
            exc_message=str(exc)[:10_000],
            traceback="".join(tb.format_exception(exc))[-50_000:],
            attempts=attempts,
            first_failed_at=first_at,
            last_failed_at=now,
            root_id=request.root_id,
            parent_id=request.parent_id,
            replay_of=headers.get(REPLAY_OF_HEADER),
            worker=request.hostname,
        )


def _qualified_name(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def write_dead_letter(app: Stalwart, draft: DeadLetterDraft) -> None:
    """Insert (or refresh) the row, then append a ``dead_lettered`` event."""
    values = {
        name: getattr(draft, name)
        for name in draft.__dataclass_fields__
        if name not in ("task_id", "reason")
    }
    values["reason"] = draft.reason.value
    refresh = dead_letters.update().where(dead_letters.c.task_id == draft.task_id)
    refresh = refresh.values(**{k: v for k, v in values.items() if k != "first_failed_at"})
    try:
        with app.engine.begin() as db:
            if not db.execute(refresh).rowcount:
                db.execute(dead_letters.insert().values(task_id=draft.task_id, **values))
    except sa.exc.IntegrityError:  # written concurrently by another process: refresh it
        with app.engine.begin() as db:
            db.execute(refresh)
    event = TaskEvent(
        EventKind.DEAD_LETTERED,
        draft.task_id,
        draft.name,
        fields={
            "reason": draft.reason.value,
            "exc_type": draft.exc_type,
            "exc_message": draft.exc_message[:500],
            "attempts": draft.attempts,
        },
    )
    try:
        append_event(app.redis, event, maxlen=app.settings.stream_maxlen)
    except Exception:  # the durable row is what counts; the event is best effort
        log.warning("could not append dead_lettered event for %s", draft.task_id, exc_info=True)
    log.error(
        "task %s[%s] dead-lettered (%s after %d attempt(s)): %s: %s",
        draft.name,
        draft.task_id,
        draft.reason.value,
        draft.attempts,
        draft.exc_type,
        draft.exc_message[:200],
    )

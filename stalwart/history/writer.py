"""Writing a batch of events into the history tables, idempotently.

A batch becomes, in one transaction, one upsert per task (its events folded together
first) and one insert per event that skips events already stored. Every column of a
task row is a pure function of the set of its events (first/last/greatest, the state
of the latest state-bearing event), so writing a batch twice, or two batches in
either order (several recorders), gives the same rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stalwart.events import EventKind, TaskEvent
from stalwart.history.tables import ID, history_events, history_tasks
from stalwart.redaction import clip

__all__ = ["STATE_RANK", "StreamEvent", "write_batch"]

# Later in a task's life = higher rank; used to order events of the same instant.
STATE_RANK: dict[EventKind, int] = {
    EventKind.SENT: 0,
    EventKind.RECEIVED: 1,
    EventKind.STARTED: 2,
    EventKind.RETRIED: 3,
    EventKind.DEFERRED: 3,
    EventKind.SUCCEEDED: 4,
    EventKind.FAILED: 4,
    EventKind.DEAD_LETTERED: 5,
    EventKind.REVOKED: 5,
}
FINAL = (EventKind.SUCCEEDED, EventKind.FAILED)
# States nothing can follow (a dead-lettered or revoked task never runs again): they
# win over any other state whatever the clocks say.
ABSORBING = 5
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Kept in the task row, not repeated in each event row.
_ROW_ONLY = frozenset({"args", "kwargs", "traceback", "result"})


@dataclass(frozen=True)
class StreamEvent:
    """An event read from the stream with its idempotency key ``seq``."""

    seq: str
    event: TaskEvent


@dataclass
class _Row:
    task_id: str
    values: dict[str, Any] = field(default_factory=dict)
    state_key: tuple[bool, datetime, int] = (False, EPOCH, -1)

    def first(self, column: str, value: Any) -> None:
        if value not in (None, "") and self.values.get(column) is None:
            self.values[column] = value

    def extreme(self, column: str, value: Any, pick: Any) -> None:
        if value is not None:
            current = self.values.get(column)
            self.values[column] = value if current is None else pick(current, value)


def _waits(event: TaskEvent) -> bool:
    """Events that do not change where a task is: a retry/deferral re-sending it, a
    worker taking an ETA message to hold until due (it is still waiting)."""
    if event.kind is EventKind.SENT:
        return bool(event.fields.get("republished"))
    if event.kind is EventKind.RECEIVED and event.fields.get("eta"):
        try:
            eta = datetime.fromisoformat(str(event.fields["eta"]))
        except ValueError:
            return False
        eta = eta if eta.tzinfo else eta.replace(tzinfo=UTC)
        return eta.timestamp() > event.at + 1.0
    return False


def _text(value: Any, limit: int) -> str | None:
    if value in (None, ""):
        return None
    return str(value)[:limit]


def _fold(events: list[StreamEvent]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: dict[str, _Row] = {}
    event_rows: dict[tuple[str, str], dict[str, Any]] = {}
    for item in events:
        event, f = item.event, item.event.fields
        task_id = event.task_id[:ID]
        at = datetime.fromtimestamp(event.at, UTC)
        worker = _text(f.get("worker"), 255)
        event_rows[(task_id, item.seq)] = {
            "task_id": task_id,
            "seq": item.seq[:64],
            "kind": event.kind.value,
            "at": at,
            "worker": worker,
            "fields": {k: v for k, v in f.items() if k not in _ROW_ONLY and v is not None},
        }
        row = rows.setdefault(task_id, _Row(task_id))
        _fold_identity(row, event, at, worker)
        _fold_times(row, event, at)
        _fold_state(row, event, at)
    task_rows = []
    for task_id in sorted(rows):  # one lock order for every recorder: no deadlocks
        row = rows[task_id]
        _, state_at, rank = row.state_key
        values: dict[str, Any] = {column.name: None for column in history_tasks.columns}
        values.update(row.values)
        values.update(task_id=task_id, state_at=state_at, state_rank=rank)
        values["state"] = values["state"] or EventKind.SENT.value
        values["retries"] = values["retries"] or 0
        task_rows.append(values)
    return task_rows, [event_rows[k] for k in sorted(event_rows)]


def _fold_identity(row: _Row, event: TaskEvent, at: datetime, worker: str | None) -> None:
    """Name, worker, queue, links and arguments (the first publication's)."""
    f = event.fields
    row.first("name", _text(event.name, 255))
    if worker is not None and (row.values.get("worker_at") or EPOCH) <= at:
        row.values.update(worker=worker, worker_at=at)
    if not f.get("republished"):
        row.first("queue", _text(f.get("queue"), 200))
        for column in ("root_id", "parent_id", "group_id", "replay_of"):
            row.first(column, _text(f.get(column), ID))
        row.first("args", f.get("args"))
        row.first("kwargs", f.get("kwargs"))
    for count in (f.get("retries"), f.get("attempt")):
        if isinstance(count, int) and not isinstance(count, bool):
            row.extreme("retries", count, max)


def _fold_times(row: _Row, event: TaskEvent, at: datetime) -> None:
    """First/last seen, sent, started, finished (with its result) and progress."""
    f = event.fields
    row.extreme("first_at", at, min)
    row.extreme("updated_at", at, max)
    if event.kind is EventKind.SENT and not f.get("republished"):
        row.extreme("sent_at", at, min)
    if event.kind is EventKind.STARTED:
        row.extreme("started_at", at, max)
    if event.kind in FINAL and (row.values.get("finished_at") or EPOCH) <= at:
        row.values.update(
            finished_at=at,
            runtime=f.get("runtime"),
            result=f.get("result"),
            exception=clip(f.get("exception")),
            traceback=f.get("traceback"),
        )
    if event.kind is EventKind.PROGRESS and (row.values.get("progress_at") or EPOCH) <= at:
        row.values.update(progress=f, progress_at=at)


def _fold_state(row: _Row, event: TaskEvent, at: datetime) -> None:
    """The task's state: the latest event that sets one (an absorbing state wins)."""
    rank = STATE_RANK.get(event.kind)
    if rank is None or _waits(event):
        return
    if (rank >= ABSORBING, at, rank) >= row.state_key:
        row.state_key = (rank >= ABSORBING, at, rank)
        detail = {k: v for k, v in event.fields.items() if k not in _ROW_ONLY and v is not None}
        row.values.update(state=event.kind.value, detail=detail)


def _statements(dialect: str) -> tuple[Any, Any]:
    # Imported here: readers of history (``stalwart tasks ls``) never load a dialect's upsert.
    from sqlalchemy.dialects import postgresql, sqlite

    module: Any = postgresql if dialect == "postgresql" else sqlite
    greatest = sa.func.greatest if dialect == "postgresql" else sa.func.max
    least = sa.func.least if dialect == "postgresql" else sa.func.min
    insert = module.insert(history_tasks)
    new, old = insert.excluded, history_tasks.c

    def first(column: str) -> Any:
        return sa.func.coalesce(old[column], new[column])

    def pick(column: str, choose: Any) -> Any:
        return choose(
            sa.func.coalesce(old[column], new[column]), sa.func.coalesce(new[column], old[column])
        )

    def when(condition: Any, column: str) -> Any:
        return sa.case((condition, new[column]), else_=old[column])

    later = sa.or_(
        new.state_at > old.state_at,
        sa.and_(new.state_at == old.state_at, new.state_rank >= old.state_rank),
    )
    absorbing: Any = sa.literal_column(str(ABSORBING))  # inline: the SQL is reused verbatim
    new_final, old_final = new.state_rank >= absorbing, old.state_rank >= absorbing
    newer = sa.or_(
        sa.and_(new_final, ~old_final),
        sa.and_(new_final, old_final, later),
        sa.and_(~new_final, ~old_final, later),
    )
    finished = sa.and_(
        new.finished_at.is_not(None),
        sa.or_(old.finished_at.is_(None), new.finished_at >= old.finished_at),
    )
    progressed = sa.and_(
        new.progress_at.is_not(None),
        sa.or_(old.progress_at.is_(None), new.progress_at >= old.progress_at),
    )
    worked = sa.and_(
        new.worker_at.is_not(None),
        sa.or_(old.worker_at.is_(None), new.worker_at >= old.worker_at),
    )
    update = {
        **{c: first(c) for c in ("name", "queue", "root_id", "parent_id", "group_id")},
        **{c: first(c) for c in ("replay_of", "args", "kwargs")},
        **{c: when(newer, c) for c in ("state", "state_at", "state_rank", "detail")},
        **{c: when(worked, c) for c in ("worker", "worker_at")},
        "retries": greatest(old.retries, new.retries),
        "first_at": pick("first_at", least),
        "updated_at": pick("updated_at", greatest),
        "sent_at": pick("sent_at", least),
        "started_at": pick("started_at", greatest),
        **{c: when(finished, c) for c in ("finished_at", "runtime", "result")},
        **{c: when(finished, c) for c in ("exception", "traceback")},
        **{c: when(progressed, c) for c in ("progress", "progress_at")},
    }
    upsert = insert.on_conflict_do_update(index_elements=["task_id"], set_=update)
    events = module.insert(history_events).on_conflict_do_nothing(index_elements=["task_id", "seq"])
    return upsert, events


_cache: dict[str, tuple[Any, Any]] = {}
_RECORD_TYPES = {
    sa.SmallInteger: "int2",
    sa.Integer: "int4",
    sa.Float: "float8",
    sa.JSON: "json",
}


def _record_type(column: sa.Column[Any]) -> str:
    if isinstance(column.type, sa.TypeDecorator):
        return "timestamptz"
    for kind, name in _RECORD_TYPES.items():
        if isinstance(column.type, kind):
            return name
    return "text"


def _recordset_insert(table: sa.Table, tail: str) -> str:
    """``INSERT ... SELECT FROM json_to_recordset(%s) <tail>`` (PostgreSQL).

    The whole batch is one JSON parameter, parsed by the server: far cheaper for
    the recorder's process than executemany or array parameters.
    """
    names = ", ".join(c.name for c in table.columns)
    record = ", ".join(f"{c.name} {_record_type(c)}" for c in table.columns)
    return (
        f"INSERT INTO {table.name} ({names}) SELECT {names} "
        f"FROM json_to_recordset(%s::json) AS u({record}) {tail}"
    )


def _postgres_sql() -> tuple[str, str]:
    from sqlalchemy.dialects import postgresql

    upsert, _ = _statements("postgresql")
    compiled = str(upsert.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    tail = compiled[compiled.index("ON CONFLICT") :]
    if "%(" in tail:
        raise AssertionError(f"the upsert's SET clause must not take parameters: {tail}")
    events = _recordset_insert(history_events, "ON CONFLICT (task_id, seq) DO NOTHING")
    return _recordset_insert(history_tasks, tail), events


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def write_batch(db: Connection, events: list[StreamEvent]) -> int:
    """Write ``events`` inside the caller's transaction; returns the number of task rows."""
    if not events:
        return 0
    task_rows, event_rows = _fold(events)
    dialect = db.dialect.name
    if dialect not in _cache:
        _cache[dialect] = _postgres_sql() if dialect == "postgresql" else _statements(dialect)
    upsert, insert_events = _cache[dialect]
    if dialect == "postgresql":
        db.exec_driver_sql(upsert, (json.dumps(task_rows, default=_iso),))
        db.exec_driver_sql(insert_events, (json.dumps(event_rows, default=_iso),))
    else:
        db.execute(upsert, task_rows)
        db.execute(insert_events, event_rows)
    return len(task_rows)


def decode_fields(raw: Any) -> dict[str, Any]:
    """``fields`` as stored (JSON columns come back as dicts; tolerate text)."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw:
        value = json.loads(raw)
        return value if isinstance(value, dict) else {}
    return {}

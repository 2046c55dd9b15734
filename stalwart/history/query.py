"""The one query module over task history: the CLI and the console both call it.

Listing is keyset-paginated on ``(updated_at, task_id)`` (newest activity first) and
every filter has an index that starts with its column and ends with that key, so a
page costs the same on the millionth row as on the first. Arguments are stored
redacted, so a text search can never match a masked value.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from stalwart.errors import NotFound, QueryError
from stalwart.events import EventKind
from stalwart.history.tables import history_events, history_tasks
from stalwart.history.writer import decode_fields

__all__ = [
    "STATES",
    "TaskDetail",
    "TaskFilter",
    "TaskNode",
    "TaskPage",
    "TaskSummary",
    "TimelineEvent",
    "get_task",
    "list_tasks",
    "queue_rates",
    "running_tasks",
    "task_tree",
]

STATES = tuple(
    kind.value for kind in EventKind if kind not in (EventKind.PROGRESS, EventKind.REPLAYED)
)
_ALIASES = {"queued": "sent", "running": "started", "dead": "dead_lettered", "retry": "retried"}
MAX_LIMIT = 1000
MAX_TREE = 10_000


@dataclass(frozen=True)
class TaskSummary:
    task_id: str
    name: str | None
    state: str
    queue: str | None
    worker: str | None
    retries: int
    first_at: datetime
    updated_at: datetime
    root_id: str | None
    parent_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TimelineEvent:
    kind: str
    at: datetime
    worker: str | None
    fields: dict[str, Any]


@dataclass(frozen=True)
class TaskDetail(TaskSummary):
    group_id: str | None = None
    replay_of: str | None = None
    args: str | None = None
    kwargs: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    state_at: datetime | None = None
    sent_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    runtime: float | None = None
    result: str | None = None
    exception: str | None = None
    traceback: str | None = None
    progress: dict[str, Any] | None = None
    events: tuple[TimelineEvent, ...] = ()


@dataclass
class TaskNode:
    """A task in its canvas, or (``task`` None) the group tying several root tasks."""

    task: TaskSummary | None
    children: list[TaskNode] = field(default_factory=list)
    group_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        own = self.task.as_dict() if self.task else {"group_id": self.group_id}
        return {**own, "children": [c.as_dict() for c in self.children]}

    def ids(self) -> set[str]:
        found = {self.task.task_id} if self.task else set()
        for child in self.children:
            found |= child.ids()
        return found


@dataclass(frozen=True)
class TaskFilter:
    """What to list; every field is optional. ``name`` may end with ``*`` (prefix)."""

    state: str | None = None
    name: str | None = None
    queue: str | None = None
    worker: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    root_id: str | None = None


@dataclass(frozen=True)
class TaskPage:
    tasks: list[TaskSummary]
    next_cursor: str | None


_SUMMARY = [history_tasks.c[f] for f in TaskSummary.__dataclass_fields__]


def _summary(row: Any) -> TaskSummary:
    return TaskSummary(**{name: row._mapping[name] for name in TaskSummary.__dataclass_fields__})


def normalize_state(state: str) -> str:
    value = _ALIASES.get(state.lower(), state.lower())
    if value not in STATES:
        raise QueryError(f"unknown state {state!r}; expected one of {', '.join(STATES)}")
    return value


def _encode_cursor(task: TaskSummary) -> str:
    raw = f"{task.updated_at.isoformat()}|{task.task_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, task_id = raw.split("|", 1)
        return datetime.fromisoformat(at), task_id
    except (ValueError, UnicodeDecodeError):
        raise QueryError(f"invalid cursor {cursor!r}: pass the one a listing returned") from None


def _where(query: Any, flt: TaskFilter) -> Any:
    c = history_tasks.c
    if flt.state:
        query = query.where(c.state == normalize_state(flt.state))
    if flt.name:
        if flt.name.endswith("*"):
            query = query.where(c.name.startswith(flt.name[:-1], autoescape=True))
        else:
            query = query.where(c.name == flt.name)
    if flt.queue:
        query = query.where(c.queue == flt.queue)
    if flt.worker:
        query = query.where(c.worker == flt.worker)
    if flt.since:
        query = query.where(c.updated_at >= flt.since)
    if flt.until:
        query = query.where(c.updated_at < flt.until)
    if flt.root_id:
        query = query.where(c.root_id == flt.root_id)
    if flt.text:
        query = query.where(
            sa.or_(
                c.args.contains(flt.text, autoescape=True),
                c.kwargs.contains(flt.text, autoescape=True),
            )
        )
    return query


def list_tasks(
    engine: Engine, flt: TaskFilter | None = None, limit: int = 50, cursor: str | None = None
) -> TaskPage:
    """Tasks matching ``flt``, most recently active first; pass ``next_cursor`` for more."""
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    c = history_tasks.c
    query = _where(sa.select(*_SUMMARY), flt or TaskFilter())
    if cursor:
        at, task_id = _decode_cursor(cursor)
        query = query.where(sa.tuple_(c.updated_at, c.task_id) < sa.tuple_(at, task_id))
    query = query.order_by(c.updated_at.desc(), c.task_id.desc()).limit(limit + 1)
    with engine.connect() as db:
        tasks = [_summary(row) for row in db.execute(query)]
    more = len(tasks) > limit
    tasks = tasks[:limit]
    return TaskPage(tasks, _encode_cursor(tasks[-1]) if more else None)


def get_task(engine: Engine, task_id: str) -> TaskDetail:
    """One task with its timeline; raises NotFound."""
    with engine.connect() as db:
        row = db.execute(sa.select(history_tasks).where(history_tasks.c.task_id == task_id)).first()
        if row is None:
            raise NotFound(
                f"no task {task_id!r} in history (recorded tasks are kept "
                "STALWART_HISTORY_DAYS days; a task just sent appears within a second)"
            )
        events = db.execute(
            sa.select(history_events)
            .where(history_events.c.task_id == task_id)
            .order_by(history_events.c.at, history_events.c.seq)
        ).all()
    values = dict(row._mapping)
    values.pop("state_rank", None)
    values.pop("progress_at", None)
    values.pop("worker_at", None)
    values["detail"] = decode_fields(values.get("detail"))
    values["progress"] = decode_fields(values.get("progress")) or None
    timeline = tuple(TimelineEvent(e.kind, e.at, e.worker, decode_fields(e.fields)) for e in events)
    return TaskDetail(**values, events=timeline)


def task_tree(engine: Engine, task_id: str) -> TaskNode:
    """The whole canvas (chain/group/chord) ``task_id`` belongs to, as a tree.

    Tasks are linked by ``root_id`` and ``parent_id``; a group or chord sent from
    outside a task has several roots, tied by their ``group_id``: then the tree's top
    is a group node (``task`` None).
    """
    c = history_tasks.c
    columns = [*_SUMMARY, c.group_id]
    with engine.connect() as db:
        start = db.execute(sa.select(*columns).where(c.task_id == task_id)).first()
        if start is None:
            raise NotFound(f"no task {task_id!r} in history")
        roots = {start.root_id or task_id}
        groups = {start.group_id} - {None}
        members: dict[str, Any] = {}
        for _ in range(4):  # widen through roots and groups until nothing new joins
            rows = db.execute(
                sa.select(*columns)
                .where(
                    sa.or_(
                        c.root_id.in_(roots),
                        c.task_id.in_(roots),
                        c.group_id.in_(groups) if groups else sa.false(),
                    )
                )
                .limit(MAX_TREE)
            ).all()
            members.update((row.task_id, row) for row in rows)
            more_roots = {row.root_id or row.task_id for row in rows} - roots
            more_groups = {row.group_id for row in rows if row.group_id} - groups
            if not more_roots and not more_groups:
                break
            roots |= more_roots
            groups |= more_groups
    ordered = sorted(members.values(), key=lambda r: (r.first_at, r.task_id))
    nodes = {row.task_id: TaskNode(_summary(row)) for row in ordered}
    tops: list[TaskNode] = []
    for row in ordered:
        parent = nodes.get(row.parent_id) if row.parent_id != row.task_id else None
        (parent.children if parent is not None else tops).append(nodes[row.task_id])
    if len(tops) == 1:
        only: TaskNode = tops[0]
        return only
    return TaskNode(None, tops, group_id=start.group_id or next(iter(groups), None))


def running_tasks(engine: Engine, workers: list[str]) -> dict[str, list[TaskSummary]]:
    """Tasks history shows as running on each of ``workers``."""
    c = history_tasks.c
    result: dict[str, list[TaskSummary]] = {w: [] for w in workers}
    if not workers:
        return result
    with engine.connect() as db:
        rows = db.execute(
            sa.select(*_SUMMARY)
            .where(c.state == EventKind.STARTED.value, c.worker.in_(workers))
            .order_by(c.updated_at)
            .limit(10_000)
        ).all()
    for row in rows:
        result[row.worker].append(_summary(row))
    return result


def queue_rates(engine: Engine, queues: list[str], window: float = 60.0) -> dict[str, Any]:
    """Per queue: tasks sent into it and finished from it per second, over ``window``."""
    c = history_tasks.c
    since = datetime.now(UTC) - timedelta(seconds=window)
    finished = (EventKind.SUCCEEDED.value, EventKind.FAILED.value)
    rates: dict[str, Any] = {}
    with engine.connect() as db:
        for queue in queues:
            recent = sa.select(c.sent_at, c.finished_at, c.state).where(
                c.queue == queue, c.updated_at >= since
            )
            rows = db.execute(recent.limit(200_000)).all()
            sent = sum(1 for r in rows if r.sent_at and r.sent_at >= since)
            done = sum(
                1 for r in rows if r.state in finished and r.finished_at and r.finished_at >= since
            )
            rates[queue] = {"in": sent / window, "out": done / window}
    return rates

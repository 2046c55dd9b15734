"""The history store on every backend: idempotent writes, retention, queries."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from stalwart.db.engine import create_engine_for
from stalwart.db.migrate import upgrade
from stalwart.errors import QueryError
from stalwart.events import EventKind, TaskEvent
from stalwart.history.query import TaskFilter, get_task, list_tasks
from stalwart.history.retention import prune_history
from stalwart.history.tables import history_events, history_tasks
from stalwart.history.writer import StreamEvent, write_batch
from stalwart.timeparse import parse_since

K = EventKind


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine_for(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def ev(seq: str, kind: EventKind, task_id: str, at: float, **fields: object) -> StreamEvent:
    return StreamEvent(seq, TaskEvent(kind, task_id, "crm.send", at, dict(fields)))


def write(engine: Engine, events: list[StreamEvent]) -> None:
    with engine.begin() as db:
        write_batch(db, events)


def snapshot(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with engine.connect() as db:
        tasks = db.execute(sa.select(history_tasks).order_by(history_tasks.c.task_id)).all()
        events = db.execute(
            sa.select(history_events).order_by(history_events.c.task_id, history_events.c.seq)
        ).all()
    return [tuple(r) for r in tasks], [tuple(r) for r in events]


def lifecycle(task_id: str, t0: float) -> list[StreamEvent]:
    return [
        ev(f"{task_id}-1", K.SENT, task_id, t0, queue="sms", args='["+1555"]', kwargs="{}"),
        ev(f"{task_id}-2", K.RECEIVED, task_id, t0 + 1, worker="w1", queue="sms"),
        ev(f"{task_id}-3", K.STARTED, task_id, t0 + 2, worker="w1"),
        ev(f"{task_id}-4", K.PROGRESS, task_id, t0 + 3, current=1, total=2),
        ev(f"{task_id}-5", K.FAILED, task_id, t0 + 4, worker="w1", exception="E: x", runtime=2.0),
        ev(f"{task_id}-6", K.DEAD_LETTERED, task_id, t0 + 4.5, reason="exhausted", attempts=1),
    ]


def test_writes_are_idempotent_and_order_independent(engine: Engine) -> None:
    t0 = datetime.now(UTC).timestamp()
    events = lifecycle("a", t0) + lifecycle("b", t0)
    write(engine, events)
    once = snapshot(engine)
    write(engine, events)  # a recorder crashed after commit, before XACK
    write(engine, events[2:5])  # and a claimed partial batch
    assert snapshot(engine) == once

    for seed in range(3):  # several recorders, batches committed in any order
        for table in (history_events, history_tasks):
            with engine.begin() as db:
                db.execute(sa.delete(table))
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        for i in range(0, len(shuffled), 3):
            write(engine, shuffled[i : i + 3])
        assert snapshot(engine) == once

    task = get_task(engine, "a")
    assert task.state == "dead_lettered"  # absorbing: the final word
    assert task.detail == {"reason": "exhausted", "attempts": 1}
    assert task.worker == "w1" and task.queue == "sms" and task.args == '["+1555"]'
    assert task.exception == "E: x" and task.runtime == 2.0
    assert task.progress == {"current": 1, "total": 2}
    assert [e.kind for e in task.events] == [
        "sent",
        "received",
        "started",
        "progress",
        "failed",
        "dead_lettered",
    ]


def test_a_late_sent_event_never_rewinds_the_state(engine: Engine) -> None:
    t0 = datetime.now(UTC).timestamp()
    events = lifecycle("c", t0)
    write(engine, [events[2]])  # started recorded first (the producer flushed late)
    write(engine, [events[0]])
    assert get_task(engine, "c").state == "started"
    republished = ev("c-9", K.SENT, "c", t0 + 5, queue="sms", republished=True)
    write(engine, [republished])
    assert get_task(engine, "c").state == "started"


def test_retention_prunes_in_batches_and_keeps_dead_letters(engine: Engine) -> None:
    old = (datetime.now(UTC) - timedelta(days=30)).timestamp()
    for i in range(25):
        write(engine, lifecycle(f"old{i}", old)[:5])  # ends failed
    write(engine, lifecycle("dead", old))  # ends dead_lettered
    write(engine, lifecycle("new", datetime.now(UTC).timestamp())[:5])
    cutoff = datetime.now(UTC) - timedelta(days=14)
    assert prune_history(engine, cutoff, batch=10) == 25
    with engine.connect() as db:
        left = set(db.execute(sa.select(history_tasks.c.task_id)).scalars())
        orphans = db.execute(
            sa.select(sa.func.count()).where(history_events.c.task_id.like("old%"))
        ).scalar()
    assert left == {"dead", "new"}
    assert orphans == 0


def test_listing_filters_and_keyset_pages(engine: Engine) -> None:
    now = datetime.now(UTC).timestamp()
    events = []
    for i in range(120):
        at = now - 3600 + i * 10
        kind = K.SUCCEEDED if i % 3 else K.FAILED
        queue = "sms" if i % 2 else "email"
        events.append(ev(f"s{i}", K.SENT, f"t{i:03}", at, queue=queue, args=f'["c{i}"]'))
        events.append(ev(f"e{i}", kind, f"t{i:03}", at + 1))
    write(engine, events)

    seen, cursor, pages = [], None, 0
    while True:
        page = list_tasks(engine, limit=50, cursor=cursor)
        seen += [t.task_id for t in page.tasks]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"t{i:03}" for i in reversed(range(120))]

    failed = list_tasks(engine, TaskFilter(state="failed"), limit=1000).tasks
    assert {t.task_id for t in failed} == {f"t{i:03}" for i in range(0, 120, 3)}
    sms = list_tasks(engine, TaskFilter(queue="sms", name="crm.*"), limit=1000).tasks
    assert len(sms) == 60
    recent = list_tasks(engine, TaskFilter(since=parse_since("5m")), limit=1000).tasks
    assert {t.task_id for t in recent} == {f"t{i:03}" for i in range(120) if i * 10 >= 3300 - 1}
    assert [t.task_id for t in list_tasks(engine, TaskFilter(text='"c7"')).tasks] == ["t007"]

    with pytest.raises(QueryError, match="unknown state"):
        list_tasks(engine, TaskFilter(state="nope"))
    with pytest.raises(QueryError, match="invalid cursor"):
        list_tasks(engine, cursor="!!")

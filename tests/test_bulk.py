"""Bulk publishing: ``task.delay_many`` / ``app.send_many`` publish exactly as ``.delay``
does (idempotency keys, unique claims, history, routing), a batch per round trip, and
report each call that could not be sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import redis
import sqlalchemy as sa

from stalwart import Stalwart
from stalwart.bulk import Call
from stalwart.events import EVENT_STREAM, decode_entry
from stalwart.history.tables import history_tasks
from stalwart.limits.unique import unique_digest
from stalwart.settings import Settings
from tests.support.services import RedisServer
from tests.support.workers import WorkerProcess, wait_for

APP = "tests.apps.bulk:app"


def test_ten_thousand_with_duplicates_each_run_once_and_history_has_all(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    from tests.apps.bulk import effect

    client = Stalwart("client", settings=settings)
    task = client.tasks[effect.name]
    calls = [(n,) for n in range(9_000)] + [(n,) for n in range(0, 9_000, 9)]  # 1,000 twice
    sent = task.delay_many(calls)
    assert sent.errors == {} and sent.sent == 10_000
    assert redis_client.llen("celery") == 10_000
    start_worker(APP, args=("--pool", "threads", "-c", "16"))
    wait_for(
        lambda: redis_client.llen("celery") == 0 and redis_client.hlen("unacked") == 0, 180, 0.5
    )
    runs = redis_client.mget([f"t:bulk-runs:{n}" for n in range(9_000)])
    assert set(runs) == {b"1"}  # each key ran once, duplicates included
    assert [r.get(timeout=30) for r in sent.results[-3:]] == [8_973, 8_982, 8_991]
    ids = {r.id for r in sent.results if r is not None}
    engine = sa.create_engine(settings.effective_database_url)

    def recorded() -> int:
        with engine.connect() as db:
            query = sa.select(sa.func.count()).select_from(history_tasks)
            return int(db.execute(query.where(history_tasks.c.state == "succeeded")).scalar_one())

    wait_for(lambda: recorded() == 10_000, 120, 0.5, "every task in history")
    with engine.connect() as db:
        found = set(db.execute(sa.select(history_tasks.c.task_id)).scalars())
    assert ids <= found


def test_a_call_that_cannot_be_sent_is_reported_and_the_others_go(
    settings: Settings, redis_client: redis.Redis
) -> None:
    from tests.apps.bulk import single

    client = Stalwart("client", settings=settings)
    task = client.tasks[single.name]
    not_json = object()
    sent = task.delay_many([("a",), (not_json,), Call(("b",), options={"task_id": "b-1"}), 42])
    assert sorted(sent.errors) == [1, 3]
    assert "not JSON serializable" in str(sent.errors[1]) or "Object of type" in str(sent.errors[1])
    assert isinstance(sent.errors[3], TypeError)
    assert [r is not None for r in sent.results] == [True, False, True, False]
    assert sent.results[2] is not None and sent.results[2].id == "b-1"
    assert redis_client.llen("celery") == 2
    # The failed one left nothing behind: no unique lock, no sent event.
    assert not redis_client.exists(unique_digest(task, (not_json,), {}))
    assert redis_client.get(unique_digest(task, ("b",), {})) == b"b-1"
    client.task_events.flush()
    events = [e for _, raw in redis_client.xrange(EVENT_STREAM) for _, e in decode_entry(raw)]
    assert sorted(e.task_id for e in events) == sorted(r.id for r in sent.results if r)
    assert repr(sent).startswith("<BulkResult: 2 of 4 sent, first error #1: EncodeError(")
    assert repr(task.delay_many([("c",)])) == "<BulkResult: 1 of 1 sent>"
    client.task_events.flush()  # its "sent" event, before the next test empties the database


def test_a_batch_the_broker_never_took_is_reported_whole_and_gives_locks_back(
    make_settings: Callable[..., Settings],
    redis_url: str,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    from tests.apps.bulk import single

    broker = RedisServer(tmp_path / "broker", appendonly=False)
    broker.start()
    # The broker apart from the coordination store, which stays up and holds the locks.
    client = Stalwart("client", settings=make_settings(broker_url=broker.url, redis_url=redis_url))
    task = client.tasks[single.name]
    broker.kill()  # gone before the batch is sent
    sent = task.delay_many([(n,) for n in range(5)])
    assert sorted(sent.errors) == [0, 1, 2, 3, 4] and sent.sent == 0
    assert not any(redis_client.exists(unique_digest(task, (n,), {})) for n in range(5))
    client.task_events.flush()
    assert redis_client.xlen(EVENT_STREAM) == 0  # no phantom "sent"

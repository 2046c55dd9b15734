"""The delay store: long deferrals wait in Redis, not in broker ETAs or workers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import redis

from stalwart import Stalwart
from stalwart.delays.pump import Pump
from stalwart.delays.store import DUE_KEY, MESSAGES_KEY
from stalwart.events import EVENT_STREAM, EventKind, TaskEvent, decode_entry
from tests.flow.conftest import APP
from tests.support.workers import WorkerProcess, wait_for


def test_deferrals_keep_the_retry_count_and_the_task_then_succeeds(
    start_worker: Callable[..., WorkerProcess],
    tasks: SimpleNamespace,
    records: Callable[[str], list[dict[str, Any]]],
    redis_client: redis.Redis,
) -> None:
    start_worker(APP)
    result = tasks.patient.delay(10)
    assert result.get(timeout=60) == 0
    runs = records("patient")
    assert len(runs) == 11
    assert all(run["retries"] == 0 for run in runs)

    def deferred() -> list[TaskEvent]:  # events leave the worker's buffer within ~100 ms
        events = [e for _, raw in redis_client.xrange(EVENT_STREAM) for _, e in decode_entry(raw)]
        return [e for e in events if e.kind is EventKind.DEFERRED and e.task_id == result.id]

    wait_for(lambda: len(deferred()) >= 10, 10, what="10 deferred events")
    assert len(deferred()) == 10
    assert all(e.fields["reason"] == "test" for e in deferred())


def test_moved_messages_keep_their_priority_list(
    start_worker: Callable[..., WorkerProcess],
    client_app: Stalwart,
    tasks: SimpleNamespace,
    records: Callable[[str], list[dict[str, Any]]],
    redis_client: redis.Redis,
) -> None:
    for priority in (0, 9):
        signature = tasks.plain.signature((priority,), priority=priority)
        client_app.delays.add(signature, 0.0)
    messages = redis_client.hvals(MESSAGES_KEY)
    lists = sorted(json.loads(message)[0][1] for message in messages)
    assert lists == ["celery", "celery\x06\x169"]
    assert Pump(client_app).move_due() == 2
    assert redis_client.llen("celery") == 1
    assert redis_client.llen("celery\x06\x169") == 1
    start_worker(APP)
    wait_for(lambda: len(records("plain")) == 2, 30, what="both moved messages to run")
    assert sorted(r["priority"] for r in records("plain")) == [0, 9]


def test_many_pumps_move_each_message_exactly_once(
    client_app: Stalwart, tasks: SimpleNamespace, redis_client: redis.Redis
) -> None:
    import threading

    for n in range(300):
        client_app.delays.add(tasks.plain.signature((n,)), 0.0)
    pumps = [Pump(client_app) for _ in range(6)]
    moved: list[int] = []
    threads = [threading.Thread(target=lambda p=p: moved.append(p.move_due())) for p in pumps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(moved) == 300
    assert redis_client.llen("celery") == 300
    assert redis_client.zcard(DUE_KEY) == 0
    assert redis_client.hlen(MESSAGES_KEY) == 0
    time.sleep(0)

"""Fault injection 3: 50 concurrent deliveries of one idempotency key run once; all callers
see its result."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess, wait_for

APP = "tests.apps.reliable:app"


def test_fifty_concurrent_duplicates_run_once_and_share_the_result(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    start_worker(APP, args=("-c", "4"))
    start_worker(APP, args=("-c", "4"))
    app = Stalwart("client", settings=settings)
    results = [app.send_task("tests.apps.reliable.dedupe", args=("k1",)) for _ in range(50)]
    values = [r.get(timeout=90) for r in results]
    assert int(redis_client.get("t:dedupe-runs:k1") or 0) == 1
    assert len(set(values)) == 1 and values[0].startswith("run-")
    # A later duplicate within the TTL gets the first result without running.
    later = app.send_task("tests.apps.reliable.dedupe", args=("k1",)).get(timeout=30)
    assert later == values[0]
    assert int(redis_client.get("t:dedupe-runs:k1") or 0) == 1


def test_header_key_makes_one_run_per_key(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    """The per-call header (used by the scheduler for beat slots) works like the option."""
    start_worker(APP)
    app = Stalwart("client", settings=settings)
    key = f"slot:{uuid.uuid4().hex}"
    headers = {"stalwart_idempotency_key": key, "stalwart_idempotency_ttl": 60}
    for _ in range(3):
        app.send_task("tests.apps.reliable.tick", headers=headers).get(timeout=30)
    app.send_task("tests.apps.reliable.tick").get(timeout=30)
    assert int(redis_client.get("t:ticks") or 0) == 2
    assert 0 < redis_client.ttl(f"stalwart:idem:{key}:done") <= 60


def test_two_messages_with_one_task_id_run_once(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    """An at-least-once relay may publish the same task twice, same task id: the second
    message is a duplicate (it waits, then gets the first result), not a redelivery that
    takes the lease over and runs again."""
    start_worker(APP, args=("-c", "4"))
    app = Stalwart("client", settings=settings)
    first = app.send_task("tests.apps.reliable.dedupe", args=("k2",), task_id="twice")
    app.send_task("tests.apps.reliable.dedupe", args=("k2",), task_id="twice")
    assert first.get(timeout=60).startswith("run-")
    wait_for(lambda: redis_client.llen("celery") == 0 and redis_client.hlen("unacked") == 0, 30)
    assert int(redis_client.get("t:dedupe-runs:k2") or 0) == 1

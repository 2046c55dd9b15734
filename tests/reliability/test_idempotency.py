"""Fault injection 3: 50 concurrent deliveries of one idempotency key run once; all callers
see its result."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess

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

"""Celery's threads and gevent pools keep the guarantees: idempotency under concurrent
duplicates, the throttle in every window, and the poison cap."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.apps.flow import register
from tests.support.workers import WorkerProcess, wait_for

POOLS = [("--pool", "threads", "-c", "8"), ("--pool", "gevent", "-c", "8")]
IDS = ["threads", "gevent"]


@pytest.mark.parametrize("pool", POOLS, ids=IDS)
def test_idempotency_under_concurrent_duplicates(
    pool: tuple[str, ...],
    start_worker: Callable[..., WorkerProcess],
    settings: Settings,
    redis_client: redis.Redis,
) -> None:
    start_worker("tests.apps.reliable:app", args=pool)
    app = Stalwart("client", settings=settings)
    sent = [app.send_task("tests.apps.reliable.dedupe", args=("k",)) for _ in range(20)]
    results = {r.get(timeout=60) for r in sent}
    assert len(results) == 1  # every duplicate got the one run's result
    assert redis_client.get("t:dedupe-runs:k") == b"1"


@pytest.mark.parametrize("pool", POOLS, ids=IDS)
def test_the_throttle_holds_in_every_window(
    pool: tuple[str, ...],
    start_worker: Callable[..., WorkerProcess],
    settings: Settings,
    redis_client: redis.Redis,
) -> None:
    start_worker("tests.apps.flow:app", args=pool)
    tasks = register(Stalwart("flow-client", settings=settings))
    for n in range(60):
        tasks.throttled.delay(n)  # throttle="20/s"
    wait_for(lambda: redis_client.llen("test:throttled") == 60, 60, 0.1, "60 runs")
    admitted = sorted(
        json.loads(r)["admitted"] for r in redis_client.lrange("test:throttled", 0, -1)
    )
    for index, start in enumerate(admitted):
        in_window = [a for a in admitted[index:] if a < start + 1.0]
        assert len(in_window) <= 20, (start, len(in_window))


@pytest.mark.parametrize("pool", POOLS, ids=IDS)
def test_the_poison_cap_holds(
    pool: tuple[str, ...],
    start_worker: Callable[..., WorkerProcess],
    settings: Settings,
    redis_client: redis.Redis,
) -> None:
    """A poison task kills the whole worker (threads and greenlets share its process):
    restarted like a supervisor would, it is dead-lettered after 3 deliveries."""
    app = Stalwart("client", settings=settings)
    app.send_task("tests.apps.reliable.suicide", args=("pool",), task_id="poison-pool")
    # The first worker may take the task and die before its first heartbeat: not waited for.
    worker = start_worker("tests.apps.reliable:app", args=pool, wait=False)  # visibility 10 s
    deadline = time.monotonic() + 150
    while app.dead_letters.count() == 0 and time.monotonic() < deadline:
        if not worker.alive():
            worker = start_worker("tests.apps.reliable:app", args=pool, wait=False)
        time.sleep(0.2)
    letter = app.dead_letters.get("poison-pool")
    assert letter.reason == "poison" and letter.attempts == 3
    assert int(redis_client.get("t:suicide:pool") or 0) == 3


def test_prefork_keeps_consuming_after_replacing_a_pool_process(
    start_worker: Callable[..., WorkerProcess], settings: Settings
) -> None:
    # A pool process forked while the main process waits on BRPOP inherits that socket;
    # it once read its parent's reply from it, and the worker stopped consuming (-c 2:
    # with a free slot, the main process polls while a pool process is replaced).
    start_worker(args=("-P", "prefork", "-c", "2", "--max-tasks-per-child", "1"))
    app = Stalwart("client", settings=settings)
    pids = [app.send_task("tests.apps.basic.whoami").get(timeout=20) for _ in range(4)]
    assert len(set(pids)) == 4, pids  # each task in a new process, and none waited out

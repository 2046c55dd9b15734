"""Fault injection 2: a task that SIGKILLs its own worker process reaches the dead-letter store
after at most STALWART_MAX_DELIVERIES (3) deliveries, while the queue keeps flowing.

Each death of a prefork child stalls that worker's consumer for a moment (Celery
respawns the child: ~0.35 s measured here), so the throughput comparison needs a
stream long against 3 such stalls: the slow variant measures it on 5,000-task streams;
the default run checks the cap and that the stream completes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess, wait_for

APP = "tests.apps.reliable:app"


def _drain_rate(
    app: Stalwart, client: redis.Redis, ticks: int, extra: Callable[[], None] = lambda: None
) -> float:
    """Publish ``ticks`` no-op tasks (plus ``extra`` first), return completions per second."""
    client.set("t:ticks", 0)
    extra()
    for _ in range(ticks):
        app.send_task("tests.apps.reliable.tick", ignore_result=True)
    start = time.monotonic()
    wait_for(lambda: int(client.get("t:ticks") or 0) >= ticks, 300, 0.02, "ticks")
    return ticks / (time.monotonic() - start)


def _poison(app: Stalwart, n: int) -> Callable[[], None]:
    return lambda: app.send_task("tests.apps.reliable.suicide", args=("p",), task_id=f"poison-{n}")


def _check_dead_letter(app: Stalwart, client: redis.Redis, task_id: str, runs: int) -> None:
    letter = app.dead_letters.get(task_id)
    assert letter.reason == "poison"
    assert letter.attempts == 3
    assert "WorkerLostError" in letter.exc_type
    # The child writes the dead letter and rejects; the worker's main process then
    # records FAILURE (celery/worker/request.py on_failure), a moment later.
    wait_for(lambda: app.AsyncResult(task_id).state == "FAILURE", 30, 0.05, "FAILURE state")
    time.sleep(1.0)  # no 4th run comes later
    assert int(client.get("t:suicide:p") or 0) == runs


def test_poison_task_is_dead_lettered_after_three_deliveries(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    assert settings.max_deliveries == 3
    worker = start_worker(APP, args=("-c", "2"))
    app = Stalwart("client", settings=settings)
    _drain_rate(app, redis_client, 800, _poison(app, 1))  # every normal task completes
    wait_for(lambda: app.dead_letters.count() == 1, 60, 0.1, "the poison dead letter")
    _check_dead_letter(app, redis_client, "poison-1", runs=3)
    assert worker.alive()


@pytest.mark.slow
def test_queue_throughput_with_a_poison_task_stays_above_90_percent(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    start_worker(APP, args=("-c", "2"))
    app = Stalwart("client", settings=settings)
    _drain_rate(app, redis_client, 500)  # warm up: child imports, connections
    # Other processes share this machine: alternate the two conditions and keep the
    # best of each, so a burst of outside load does not decide the comparison.
    baseline, with_poison = 0.0, 0.0
    for n in (1, 2):
        baseline = max(baseline, _drain_rate(app, redis_client, 5000))
        with_poison = max(with_poison, _drain_rate(app, redis_client, 5000, _poison(app, n)))
        wait_for(lambda n=n: app.dead_letters.count() == n, 60, 0.1, "the poison dead letter")
    print(f"baseline {baseline:.0f}/s, with poison {with_poison:.0f}/s")
    assert with_poison >= 0.9 * baseline, (baseline, with_poison)
    _check_dead_letter(app, redis_client, "poison-2", runs=6)

"""Fault injection 1: SIGKILL worker children at random while 1,000 tasks are in flight.

No task is lost (each supervised process claims its messages, taking and recording
them in one step, and the supervisor puts back what a killed process held at once), and
the side effect each task commits through its idempotency key (an INCR keyed by the
task's argument) happens exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable

import pytest
import redis
from celery.exceptions import TimeoutError as CeleryTimeout
from celery.result import AsyncResult

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess

APP = "tests.apps.reliable:app"


def _run(
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    redis_client: redis.Redis,
    tasks: int,
    kills: int,
) -> None:
    # The poison cap is not under test here: keep it out of the way of random kills.
    settings = make_settings(max_deliveries=50)
    worker = start_worker(APP, settings=settings, args=("-c", "3"))
    app = Stalwart("client", settings=settings)
    results = [app.send_task("tests.apps.reliable.count", args=(n,)) for n in range(tasks)]
    # Kill only once the pool is up: a child killed before it reported for duty makes
    # Celery abort the start ("Could not start worker processes"), a start-up check
    # of Celery's, not what this test is about.
    results[0].get(timeout=60)
    rng = random.Random(7)
    killed = 0
    deadline = time.monotonic() + 120
    while killed < kills and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.15, 0.4))
        children = worker.child_pids()
        if not children:
            continue
        try:
            os.kill(rng.choice(children), signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            continue
    assert killed == kills, "the workload ended before every kill was made"
    for result in results:
        try:
            assert result.get(timeout=120) is not None
        except CeleryTimeout:
            raise AssertionError(_whereabouts(redis_client, worker, results)) from None
    effects = redis_client.mget([f"t:effect:{n}" for n in range(tasks)])
    assert [int(v or 0) for v in effects] == [1] * tasks
    runs = sum(int(v or 0) for v in redis_client.mget([f"t:runs:{n}" for n in range(tasks)]))
    assert runs >= tasks  # killed runs ran again: at least once, effects exactly once
    assert worker.alive()


def _whereabouts(client: redis.Redis, worker: WorkerProcess, results: list[AsyncResult]) -> str:
    """What a failed run needs to tell a lost task from a stuck worker."""
    missing = [n for n, r in enumerate(results) if not r.ready()]
    lines = [f"{len(missing)} task(s) without a result: {missing[:20]}"]
    for n in missing[:5]:
        runs, effect = client.get(f"t:runs:{n}"), client.get(f"t:effect:{n}")
        lines.append(f"  count({n}) id={results[n].id} runs={runs!r} effect={effect!r}")
    queued = [bytes(m) for m in client.lrange("celery", 0, -1)]
    unacked = client.hgetall("unacked")
    for n in missing[:5]:
        task_id = results[n].id.encode()
        lines.append(
            f"  {results[n].id}: queued={sum(task_id in m for m in queued)} "
            f"unacked={sum(task_id in v for v in unacked.values())}"
        )
    lines.append(f"queued={len(queued)} unacked={len(unacked)} alive={worker.alive()}")
    lines.append(f"processes: {worker.child_pids()}")
    lines.append(worker.log()[-6000:])
    return "\n".join(lines)


def test_sigkill_children_loses_nothing_and_effects_happen_once(
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    redis_client: redis.Redis,
) -> None:
    _run(start_worker, make_settings, redis_client, tasks=1000, kills=20)


@pytest.mark.slow
def test_sigkill_soak(
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    redis_client: redis.Redis,
) -> None:
    _run(start_worker, make_settings, redis_client, tasks=5000, kills=100)

"""A rolling deploy with long tasks: SIGTERM makes `stalwart worker` stop within its
soft-shutdown timeout (10 s) instead of waiting for running tasks, and the tasks it
was running go back to their queue and complete once on the replacement; a task that
ends within the timeout just ends, once. Both process models: Stalwart's supervised
processes (the default) and Celery's prefork pool."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest
import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess, wait_for

APP = "tests.apps.deploy:app"
MODELS = [("-c", "2"), ("--pool", "prefork", "-c", "2")]
IDS = ["supervised", "prefork"]


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_sigterm_requeues_long_tasks_for_the_replacement(
    model: tuple[str, ...],
    start_worker: Callable[..., WorkerProcess],
    settings: Settings,
    redis_client: redis.Redis,
) -> None:
    old = start_worker(APP, args=model)
    app = Stalwart("client", settings=settings)
    results = [app.send_task("tests.apps.deploy.long_effect", args=(i,)) for i in (1, 2)]
    wait_for(lambda: all(redis_client.get(f"t:deploy-runs:{i}") for i in (1, 2)), 60, 0.05)

    old.signal(signal.SIGTERM)
    # It stops without being killed, and before its tasks could end (they need
    # RUN_SECONDS): the effects below are still unwritten. The wait is generous because
    # a loaded machine can take a while to stop the recorder and the interpreter.
    wait_for(lambda: not old.alive(), 60, 0.1, "the old worker to stop")
    assert old.process.returncode == 0, old.log()[-3000:]
    assert [redis_client.get(f"t:deploy-effect:{i}") for i in (1, 2)] == [None, None]
    assert "soft_shutdown" in old.log().lower().replace(" ", "_"), old.log()[-3000:]

    start_worker(APP, args=model)
    assert sorted(r.get(timeout=60) for r in results) == [1, 2]
    assert [redis_client.get(f"t:deploy-effect:{i}") for i in (1, 2)] == [b"1", b"1"]
    assert [redis_client.get(f"t:deploy-runs:{i}") for i in (1, 2)] == [b"2", b"2"]


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_sigterm_lets_a_short_task_finish_once(
    model: tuple[str, ...],
    start_worker: Callable[..., WorkerProcess],
    settings: Settings,
    redis_client: redis.Redis,
) -> None:
    """A task that ends within the soft shutdown timeout keeps running to its end (it
    is neither frozen nor cancelled) and is not run again."""
    old = start_worker(APP, args=model)
    app = Stalwart("client", settings=settings)
    result = app.send_task("tests.apps.deploy.short_effect", args=(7, 3.0))
    wait_for(lambda: redis_client.get("t:deploy-short-runs:7"), 60, 0.05, "the task to start")
    signalled = time.monotonic()
    old.signal(signal.SIGTERM)
    assert result.get(timeout=30) == 7
    # It ended in its own 3 s (the soft shutdown timeout is 10 s): it did not stand still.
    assert time.monotonic() - signalled < 9
    wait_for(lambda: not old.alive(), 15, 0.1, "the old worker to stop")
    assert old.process.returncode == 0, old.log()[-3000:]
    start_worker(APP, args=model)  # a replacement finds nothing to run again
    wait_for(lambda: redis_client.hlen("unacked") == 0, 10, 0.05, "nothing unacknowledged")
    assert redis_client.get("t:deploy-short-runs:7") == b"1"
    assert redis_client.get("t:deploy-short-effect:7") == b"1"
    assert redis_client.llen("celery") == 0

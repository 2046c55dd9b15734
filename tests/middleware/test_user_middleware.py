"""A user's middleware, registered with ``app.add_middleware`` and owning a task option,
runs on a real prefork worker around real tasks and sees every outcome."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess, wait_for

APP = "tests.apps.middleware:app"


def _audit(client: redis.Redis, task_id: str) -> list[str]:
    return [entry.decode() for entry in client.lrange(f"audit:{task_id}", 0, -1)]


def test_a_user_middleware_sees_each_outcome_on_a_real_worker(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    start_worker(APP, args=("-c", "2", "--pool", "prefork"))
    from tests.apps.middleware import Audit  # its tasks are shared: the client knows them

    client = Stalwart("client", settings=settings)
    client.add_middleware(Audit())
    ok = client.send_task("tests.apps.middleware.fine", args=(21,))
    retried = client.send_task("tests.apps.middleware.flaky")
    deferred = client.send_task("tests.apps.middleware.patient")
    dead = client.send_task("tests.apps.middleware.doomed")

    assert ok.get(timeout=30) == 42
    assert retried.get(timeout=30) == "second try"
    assert deferred.get(timeout=30) == "after the deferral"
    with pytest.raises(ValueError, match="never works"):
        dead.get(timeout=30)

    assert _audit(redis_client, ok.id) == ["before:0", "after:succeeded"]
    assert _audit(redis_client, retried.id) == [
        "before:0",
        "after:retried",
        "before:1",
        "after:succeeded",
    ]
    assert _audit(redis_client, deferred.id) == [
        "before:0",
        "after:deferred",
        "before:0",
        "after:succeeded",
    ]
    wait_for(lambda: len(_audit(redis_client, dead.id)) == 2, 10, what="the dead letter's audit")
    assert _audit(redis_client, dead.id) == ["before:0", "after:dead_lettered"]
    assert client.dead_letters.get(dead.id).reason == "failed"
    # The producer side: the client publishes the four; the worker republishes the retry
    # and the deferral of the tasks it runs.
    published = sorted(i.decode() for i in redis_client.lrange("audit:published", 0, -1))
    assert published == [
        "doomed:new",
        "fine:new",
        "flaky:again",
        "flaky:new",
        "patient:again",
        "patient:new",
    ]

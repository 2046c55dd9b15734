"""A limit written outside Stalwart (docs/ARCHITECTURE.md's example) runs on a real
worker: its option is validated, its check composes into the task's one script."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import redis

from stalwart import Stalwart, TaskOptionError
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess, wait_for


def test_a_new_limit_is_one_class_and_one_registration_line(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    from tests.apps.spacing import app as spacing_app

    with pytest.raises(TaskOptionError, match="spacing must be a number"):
        spacing_app.task(name="t.bad", spacing="often")(lambda: None)

    start_worker("tests.apps.spacing:app", args=("-c", "4"))
    client = Stalwart("client", settings=settings)
    for n in range(4):
        client.send_task("tests.apps.spacing.spaced", args=(n,))
    wait_for(lambda: redis_client.llen("spaced:admitted") == 4, 60, what="4 spaced runs")
    admitted = sorted(float(x) for x in redis_client.lrange("spaced:admitted", 0, -1))
    gaps = [b - a for a, b in itertools.pairwise(admitted)]
    assert all(gap >= 0.5 for gap in gaps), gaps
    assert b"spacing" in redis_client.hget("stalwart:flow:limits", "tests.apps.spacing.spaced")

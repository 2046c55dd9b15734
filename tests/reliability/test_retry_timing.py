"""Fault injection 7: retry delays follow backoff, jitter and cap; give_up_on goes to the
dead-letter store at once."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.apps.reliable import TIMING
from tests.support.workers import WorkerProcess, wait_for

APP = "tests.apps.reliable:app"
# Clock and scheduling slack: ETA timers fire late, never early (lower bounds are exact).
EARLY = 0.05
LATE = 2.0


def _attempt_times(client: redis.Redis, tag: str) -> list[float]:
    return [float(t) for t in client.lrange(f"t:attempts:{tag}", 0, -1)]


def test_retry_delays_follow_backoff_jitter_and_cap(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    start_worker(APP)
    app = Stalwart("client", settings=settings)
    tags = [f"r{i}" for i in range(3)]
    for tag in tags:
        app.send_task("tests.apps.reliable.flaky", args=(tag,))
    for tag in tags:
        wait_for(lambda tag=tag: len(_attempt_times(redis_client, tag)) == 4, 60, 0.1, tag)
    wait_for(lambda: app.dead_letters.count(name="tests.apps.reliable.flaky") == 3, 30, 0.1)

    gaps_seen = []
    for tag in tags:
        times = _attempt_times(redis_client, tag)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        for retries, gap in enumerate(gaps):
            base = TIMING.base_delay(retries)
            assert base / 2 - EARLY <= gap <= base + LATE, (tag, retries, gap, base)
        gaps_seen.append(gaps)
    # The cap holds: the third delay's base is min(0.6 * 2**2, 1.5) = 1.5, not 2.4.
    assert TIMING.base_delay(2) == 1.5
    # Jitter: the same retry did not wait the same time for every task.
    assert len({round(g[0], 2) for g in gaps_seen}) > 1

    for letter in app.dead_letters.list(name="tests.apps.reliable.flaky"):
        assert letter.reason == "exhausted"
        assert letter.attempts == 4
        assert letter.exc_type == "ConnectionError"
        assert "flaky" in letter.traceback and "ConnectionError" in letter.traceback
        assert letter.first_failed_at < letter.last_failed_at


def test_give_up_on_goes_straight_to_the_dead_letter_store(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    start_worker(APP)
    app = Stalwart("client", settings=settings)
    result = app.send_task("tests.apps.reliable.give_up", args=("g",))
    wait_for(lambda: app.dead_letters.count() == 1, 30, 0.1, "dead letter")
    letter = app.dead_letters.get(result.id)
    assert letter.reason == "give_up"
    assert letter.attempts == 1
    assert letter.exc_type == "ValueError"
    assert letter.args == ["g"]
    # The dead letter is written before Celery records FAILURE (the letter must exist
    # before the message is acknowledged), so the state may lag the letter briefly.
    wait_for(lambda: result.state == "FAILURE", 30, 0.05, "FAILURE state")
    assert len(_attempt_times(redis_client, "g")) == 1

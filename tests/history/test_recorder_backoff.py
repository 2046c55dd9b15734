"""The recorder yields while workers are saturated, bounded, and catches up after.

Saturation itself (every core busy) cannot be made on purpose in a test on a shared
machine, so the recording test gives the backoff a switch for it; the probe that reads
the real signals (load average, live workers' queues) is tested on its own below.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
import sqlalchemy as sa

from stalwart import Stalwart
from stalwart.events import EVENT_STREAM, EventKind, TaskEvent, encode_batch
from stalwart.history.backoff import Backoff, workers_saturated
from stalwart.history.lag import YIELDING_KEY, recorder_lag
from stalwart.history.recorder import Recorder
from stalwart.history.recorder_process import RecorderProcess, backoff_for
from stalwart.history.tables import history_events, history_tasks
from stalwart.settings import Settings
from stalwart.worker.heartbeat import Heartbeat

KINDS = (EventKind.SENT, EventKind.RECEIVED, EventKind.STARTED, EventKind.SUCCEEDED)


def _send_history(client: redis.Redis, tasks: int) -> None:
    """``tasks`` tasks' four events, one stream entry per task (as workers flush them)."""
    now = time.time()
    for _ in range(tasks):
        task_id = uuid.uuid4().hex
        batch = [
            (uuid.uuid4().hex, TaskEvent(kind, task_id, "tests.noop", now + n * 0.001, {}))
            for n, kind in enumerate(KINDS)
        ]
        client.xadd(EVENT_STREAM, encode_batch(batch))  # type: ignore[arg-type]


def _counts(app: Stalwart) -> tuple[int, int]:
    with app.engine.connect() as db:
        tasks = db.execute(sa.select(sa.func.count()).select_from(history_tasks)).scalar_one()
        events = db.execute(sa.select(sa.func.count()).select_from(history_events)).scalar_one()
    return int(tasks), int(events)


def test_a_yielding_recorder_catches_up_without_losing_an_event(
    migrated_app: Stalwart, redis_client: redis.Redis
) -> None:
    saturated = [True]
    backoff = Backoff(
        redis_client,
        saturated=lambda: saturated[0],
        backlog=lambda: recorder_lag(redis_client).backlog,
        stream_maxlen=10_000,
    )
    recorder = Recorder(redis_client, migrated_app.engine, backoff=backoff, consumer="yielder")
    _send_history(redis_client, 150)
    recorder.tick()
    _send_history(redis_client, 150)  # more arrive while it yields
    recorder.tick()

    lag = recorder_lag(redis_client)
    assert recorder.recorded == 0 and _counts(migrated_app) == (0, 0)
    assert lag.backlog == 300 and lag.yielding  # the lag stays visible in health
    assert "yielding to saturated workers" in lag.describe()

    saturated[0] = False  # the burst is over
    deadline = time.monotonic() + 60
    while recorder_lag(redis_client).backlog and time.monotonic() < deadline:
        recorder.tick()
    assert _counts(migrated_app) == (300, 1200)
    assert recorder.recorded == 1200


def test_the_backoff_is_bounded_in_time_and_in_stream_length(redis_client: redis.Redis) -> None:
    now, backlog = [0.0], [10]
    backoff = Backoff(
        redis_client,
        saturated=lambda: True,
        backlog=lambda: backlog[0],
        stream_maxlen=100,  # records whenever 25 entries wait
        max_defer=60,
        clock=lambda: now[0],
    )
    assert backoff.should_yield()
    assert redis_client.ttl(YIELDING_KEY) > 0
    backlog[0] = 25
    assert not backoff.should_yield()  # a quarter of the stream's length: record
    backlog[0] = 10
    now[0] = 59.0
    assert backoff.should_yield()
    now[0] = 60.0
    assert not backoff.should_yield()  # deferred 60 s: record until caught up
    now[0] = 61.0
    assert not backoff.should_yield()
    backlog[0] = 0
    assert backoff.should_yield()  # caught up: it may yield again


def test_saturation_is_no_spare_core_and_a_live_workers_queue_not_empty(
    redis_client: redis.Redis,
) -> None:
    load = [4.0]
    saturated = workers_saturated(redis_client, redis_client, load=lambda: load[0], cpus=2)
    queue = f"busy-{uuid.uuid4().hex[:6]}"
    assert not saturated()  # no live worker
    Heartbeat(redis_client, "w1@test", "solo", 1, [queue]).tick()
    assert not saturated()  # its queue is empty
    redis_client.rpush(queue, b"message")
    assert saturated()
    load[0] = 1.5
    assert not saturated()  # a core is spare


def test_every_worker_recorder_yields_unless_the_setting_is_zero(
    make_settings: Callable[..., Settings], redis_client: redis.Redis
) -> None:
    def backoff(**overrides: Any) -> Backoff | None:
        process = RecorderProcess.for_app(Stalwart("t", settings=make_settings(**overrides)))
        return backoff_for(redis_client, json.loads(process.config))

    default = backoff()
    assert default is not None and default.max_defer == 60
    assert default.max_backlog == Settings.model_fields["stream_maxlen"].default // 4
    assert backoff(recorder_max_defer=0) is None

"""The durable schedule with an AMQP broker: claim, publish with confirms, remove."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis
from kombu import Connection

from stalwart import Stalwart
from stalwart.delays.pump import Pump
from stalwart.delays.store import DUE_KEY, INFLIGHT_KEY, MESSAGES_KEY
from stalwart.settings import Settings
from tests.apps.flow import register
from tests.flow.conftest import APP
from tests.support.services import missing
from tests.support.workers import WorkerProcess, wait_for

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture
def amqp_settings(make_settings: Callable[..., Settings], redis_url: str) -> Settings:
    try:
        with Connection(AMQP_URL, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        missing("RabbitMQ", str(exc))
    return make_settings(broker_url=AMQP_URL, redis_url=redis_url, defer_threshold=1.0)


def test_long_deferral_through_amqp_runs_once_when_due(
    start_worker: Callable[..., WorkerProcess],
    amqp_settings: Settings,
    redis_client: redis.Redis,
    records: Callable[[str], list[dict[str, Any]]],
) -> None:
    queue = f"flow-{uuid.uuid4().hex[:8]}"
    start_worker(APP, settings=amqp_settings, args=("-c", "2", "-Q", queue))
    tasks = register(Stalwart("flow-client", settings=amqp_settings))
    sent = [tasks.delayed.apply_async((3.0,), queue=queue) for _ in range(10)]
    wait_for(lambda: redis_client.zcard(DUE_KEY) == 10, 30, 0.05, "10 in the delay store")
    wait_for(lambda: len(records("delayed")) == 10, 30, 0.1, "10 runs")
    runs = records("delayed")
    assert sorted(r["id"] for r in runs) == sorted(r.id for r in sent)
    assert all(r["due"] - 0.05 <= r["at"] <= r["due"] + 2.0 for r in runs)
    assert redis_client.zcard(DUE_KEY) == 0
    # The pump forgets a message once the broker confirmed it, which a fast task can beat.
    wait_for(lambda: redis_client.zcard(INFLIGHT_KEY) == 0, 10, 0.05, "in flight cleared")
    assert redis_client.hlen(MESSAGES_KEY) == 0


def test_a_claim_left_by_a_dead_pump_is_published_after_its_lease(
    start_worker: Callable[..., WorkerProcess],
    amqp_settings: Settings,
    redis_client: redis.Redis,
    records: Callable[[str], list[dict[str, Any]]],
) -> None:
    queue = f"flow-{uuid.uuid4().hex[:8]}"
    app = Stalwart("flow-client", settings=amqp_settings)
    tasks = register(app)
    app.delays.add(tasks.plain.signature((7,), queue=queue), 0.0)
    # A pump claimed it and died before publishing: the claim's lease ran out.
    (member,) = redis_client.zrange(DUE_KEY, 0, -1)
    redis_client.zrem(DUE_KEY, member)
    redis_client.zadd(INFLIGHT_KEY, {member: time.time() - 1})
    assert Pump(app).move_due() == 1
    assert redis_client.zcard(INFLIGHT_KEY) == 0
    start_worker(APP, settings=amqp_settings, args=("-c", "1", "-Q", queue))
    wait_for(lambda: records("plain"), 30, 0.1, "the restored message to run")
    assert [r["n"] for r in records("plain")] == [7]

"""Every task option under Celery's eager mode (``task_always_eager``), how Celery users
unit-test: only the retry policy and idempotency take part, nothing is stored, nothing
recurses, and no server is needed (docs/RELIABILITY.md, "Eager mode (unit tests)")."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from celery.exceptions import Retry

from stalwart import Breaker, RetryAfter, RetryPolicy, Stalwart, StalwartError, Window
from stalwart.events.buffer import flush_all
from stalwart.middleware.idempotency import Claim
from stalwart.settings import Settings
from tests.support.services import free_port

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class EagerApp:
    """An eager app and what its tasks saw (one list of calls per task)."""

    app: Stalwart
    tasks: dict[str, Any]
    calls: dict[str, list[Any]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        return self.tasks[name]


def build(settings: Settings, *, propagates: bool = True) -> EagerApp:
    app = Stalwart("eager", settings=settings)
    app.conf.update(task_always_eager=True, task_eager_propagates=propagates)
    calls: dict[str, list[Any]] = {}
    tasks: dict[str, Any] = {}

    def task(**options: Any) -> Callable[[Callable[..., Any]], Any]:
        def register(fun: Callable[..., Any]) -> Any:
            calls[fun.__name__] = []
            decorate = app.task(name=f"eager.{fun.__name__}", shared=False, **options)
            tasks[fun.__name__] = decorate(fun)
            return tasks[fun.__name__]

        return register

    closed_day = DAYS[(datetime.now(UTC).weekday() + 3) % 7]  # neither today nor tomorrow

    @task(
        throttle="1/h",
        quota="1/d",
        concurrency=1,
        limit_key="{sender}",
        breaker=Breaker("gateway", failures=1),
    )
    def limited(sender: str) -> str:
        calls["limited"].append(sender)
        return sender

    @task(window=Window("09:00-09:01", days=closed_day, tz="UTC"))
    def windowed() -> str:
        calls["windowed"].append(1)
        return "ran"

    @task(unique=True)
    def single(x: int) -> int:
        calls["single"].append(x)
        return x

    @task(
        bind=True, retry=RetryPolicy(max_retries=3, initial_delay=30, retry_on=(ConnectionError,))
    )
    def flaky(self: Any, fail_times: int) -> str:
        calls["flaky"].append(self.request.retries)
        if len(calls["flaky"]) <= fail_times:
            raise ConnectionError(f"attempt {len(calls['flaky'])}")
        return "delivered"

    @task(retry=RetryPolicy(max_retries=3, give_up_on=(ValueError,)))
    def invalid() -> None:
        calls["invalid"].append(1)
        raise ValueError("invalid number")

    @task()
    def broken() -> None:
        calls["broken"].append(1)
        raise KeyError("no policy: dead-lettered on a worker")

    @task(bind=True, max_retries=2)
    def celery_retry(self: Any) -> None:
        calls["celery_retry"].append(self.request.retries)
        raise self.retry(exc=ConnectionError("celery's own"), countdown=30)

    @task(throttle="10/s")
    def told_to_wait() -> None:
        calls["told_to_wait"].append(1)
        raise RetryAfter(30)

    @task(idempotency_key="sms:{contact}")
    def send(contact: str) -> str:
        calls["send"].append(contact)
        return f"{contact}#{len(calls['send'])}"

    @task(bind=True)
    def chunked(self: Any, total: int) -> int:
        for done in range(1, total + 1):
            self.progress(done, total, message=f"chunk {done}")
        calls["chunked"].append(total)
        return total

    return EagerApp(app, tasks, calls)


@pytest.fixture
def no_server(make_settings: Callable[..., Settings]) -> Settings:
    """Settings whose broker and coordination store are a port nobody listens on."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    return make_settings(broker_url=url, redis_url=url)


def test_limited_task_runs_every_time_without_recursion_or_a_server(no_server: Settings) -> None:
    eager = build(no_server)
    started = time.monotonic()
    results = [eager.limited.delay("+15550001").get() for _ in range(30)]
    assert results == ["+15550001"] * 30
    assert len(eager.calls["limited"]) == 30  # throttle, quota, concurrency: not applied
    assert eager.windowed.delay().get() == "ran"  # window closed all day today: runs
    assert [eager.single.delay(7).get() for _ in range(3)] == [7, 7, 7]  # unique: not applied
    assert eager.single.apply(args=(7,)).get() == 7  # task.apply() is eager mode too
    assert len(eager.calls["single"]) == 4
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("propagates", [True, False])
def test_retry_policy_retries_at_once_then_raises_when_exhausted(
    no_server: Settings, propagates: bool
) -> None:
    eager = build(no_server, propagates=propagates)
    started = time.monotonic()
    if propagates:
        with pytest.raises(ConnectionError, match="attempt 4"):
            eager.flaky.delay(fail_times=10)
    else:
        result = eager.flaky.delay(fail_times=10)
        assert result.state == "FAILURE"
        assert isinstance(result.result, ConnectionError)
        assert str(result.result) == "attempt 4"
    assert eager.calls["flaky"] == [0, 1, 2, 3]  # the first run and max_retries=3 retries
    # initial_delay=30: the retries did not wait for their delay.
    assert time.monotonic() - started < 5

    eager.calls["flaky"].clear()
    assert eager.flaky.delay(fail_times=2).get() == "delivered"
    assert eager.calls["flaky"] == [0, 1, 2]


def test_give_up_and_no_policy_raise_at_once_and_store_nothing(no_server: Settings) -> None:
    eager = build(no_server)
    with pytest.raises(ValueError, match="invalid number"):
        eager.invalid.delay()
    assert eager.calls["invalid"] == [1]
    with pytest.raises(KeyError):
        eager.broken.delay()
    assert eager.calls["broken"] == [1]


def test_celerys_own_retry_is_left_as_celery_has_it(no_server: Settings) -> None:
    # task_eager_propagates: Celery raises its Retry to the caller (tests assert it).
    with pytest.raises(Retry):
        build(no_server).celery_retry.delay()
    # Without it Celery retries at once, then fails.
    eager = build(no_server, propagates=False)
    result = eager.celery_retry.delay()
    assert result.state == "FAILURE"
    assert eager.calls["celery_retry"] == [0, 1, 2]


def test_a_deferral_fails_instead_of_recursing(no_server: Settings) -> None:
    eager = build(no_server)
    with pytest.raises(StalwartError, match=r"deferred \(retry_after\) under eager mode"):
        eager.told_to_wait.delay()
    assert eager.calls["told_to_wait"] == [1]


def test_idempotency_is_honoured_and_returns_the_first_result(
    settings: Settings, redis_client: redis.Redis
) -> None:
    eager = build(settings)
    assert eager.send.delay("alice").get() == "alice#1"
    assert eager.send.delay(contact="alice").get() == "alice#1"  # not run again
    assert eager.send.delay("bob").get() == "bob#2"
    assert eager.calls["send"] == ["alice", "bob"]
    # A key running elsewhere (its lease held by another task id) defers the call, and a
    # deferral under eager mode fails at once.
    redis_client.set(Claim("sms:carol", 60).lease_key, str(uuid.uuid4()), ex=60)
    deferred = r"deferred \(idempotency key 'sms:carol' is running\) under eager mode"
    with pytest.raises(StalwartError, match=deferred):
        eager.send.delay("carol")
    assert eager.calls["send"] == ["alice", "bob"]


def test_progress_needs_no_redis(no_server: Settings) -> None:
    eager = build(no_server)
    assert eager.chunked.delay(3).get() == 3
    assert eager.calls["chunked"] == [3]


def test_nothing_is_stored(settings: Settings, redis_client: redis.Redis) -> None:
    eager = build(settings)
    eager.limited.delay("+15550001").get()
    eager.single.delay(1).get()
    eager.chunked.delay(2).get()
    with pytest.raises(KeyError):
        eager.broken.delay()
    with pytest.raises(ConnectionError):
        eager.flaky.delay(fail_times=10)
    flush_all()
    # No limit counters, unique locks, progress, events, results or schedule entries...
    assert redis_client.keys("*") == []
    # ... and no dead letter or history: the database was never opened.
    assert not Path(str(settings.database_url).removeprefix("sqlite:///")).exists()


def test_eager_mode_starts_no_embedded_server(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(broker_url=None)  # the embedded default
    assert settings.embedded
    eager = build(settings)
    assert eager.limited.delay("+15550001").get() == "+15550001"
    assert eager.chunked.delay(2).get() == 2
    with pytest.raises(ConnectionError):
        eager.flaky.delay(fail_times=10)
    assert not (settings.data_dir / "valkey.pid").exists()
    assert not settings.embedded_socket.exists()

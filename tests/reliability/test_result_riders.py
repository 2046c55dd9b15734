"""Stalwart's per-task writes ride in Celery's state writes (stalwart/middleware/riders.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import redis

from stalwart import Stalwart
from stalwart.compat.backend import RedisBackend, started_write_follows
from stalwart.middleware.riders import Rider, pending, take_pending
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess, wait_for

INCR = "return redis.call('INCR', KEYS[1])"


def test_a_rider_is_sent_with_the_next_result_write(
    settings: Settings, redis_client: redis.Redis
) -> None:
    app = Stalwart("riders", settings=settings)
    assert isinstance(app.backend, RedisBackend)
    assert app.backend.shares_server_with(app.redis)
    replies: list[object] = []
    rider = Rider(INCR, ["t:rider"], [], on_reply=replies.append)
    pending().append(rider)
    assert redis_client.get("t:rider") is None  # nothing sent yet

    app.backend.store_result("task-1", 42, "SUCCESS")
    assert rider.sent and replies == [1]
    assert redis_client.get("t:rider") == b"1"
    assert app.AsyncResult("task-1").result == 42
    app.backend.store_result("task-2", 43, "SUCCESS")
    assert redis_client.get("t:rider") == b"1"  # sent once, not with every write
    assert take_pending() == []


def test_a_result_backend_on_another_server_carries_nothing(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    app = Stalwart("riders", settings=make_settings())
    other_db = (int(redis_url.rsplit("/", 1)[1]) % 15) + 1
    app.conf.result_backend = redis_url.rsplit("/", 1)[0] + f"/{other_db}"
    assert isinstance(app.backend, RedisBackend)
    assert not app.backend.shares_server_with(app.redis)


def test_the_same_unix_socket_is_the_same_server(settings: Settings, tmp_path: Path) -> None:
    """The embedded default: the backend says db 0 where the coordination client says None."""
    app = Stalwart("riders", settings=settings)
    backend = RedisBackend(app=app, url=f"socket://{tmp_path}/valkey.sock")
    assert backend.shares_server_with(redis.Redis(unix_socket_path=f"{tmp_path}/valkey.sock"))
    assert not backend.shares_server_with(redis.Redis(unix_socket_path=f"{tmp_path}/other.sock"))
    assert not backend.shares_server_with(
        redis.Redis(unix_socket_path=f"{tmp_path}/valkey.sock", db=3)
    )


def test_late_riders_without_a_result_write_are_sent_at_the_end(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    """A task that ignores its result has no result write to ride: the idempotency key's
    result and the lease release (late riders) are still sent, at the end of the run."""
    start_worker("tests.apps.reliable:app", args=("-c", "1"))
    app = Stalwart("client", settings=settings)
    sent = app.send_task("tests.apps.reliable.quiet_count", args=(5,))
    wait_for(lambda: redis_client.exists("stalwart:idem:quiet:5:done"), 30, what="the result")
    assert redis_client.get("stalwart:idem:quiet:5:done") == b"5"
    assert not redis_client.exists("stalwart:idem:quiet:5:lease")
    assert not redis_client.exists(f"celery-task-meta-{sent.id}")  # no result write at all


def test_riders_are_queued_only_when_celery_writes_started(settings: Settings) -> None:
    """Celery's rule (trace.py): not eager, track_started, result not ignored."""
    app = Stalwart("riders", settings=settings)

    @app.task(name="riders.tracked")
    def tracked() -> None:
        return None

    cases = [({}, True), ({"is_eager": True}, False), ({"ignore_result": True}, False)]
    for request, follows in cases:
        tracked.push_request(**request)
        try:
            assert started_write_follows(tracked) is follows, request
        finally:
            tracked.pop_request()
    tracked.track_started = False
    tracked.push_request()
    try:
        assert not started_write_follows(tracked)
    finally:
        tracked.pop_request()

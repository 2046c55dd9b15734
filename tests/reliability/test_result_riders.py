"""Stalwart's per-task writes ride in Celery's result writes (stalwart/results.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import redis

from stalwart import Stalwart
from stalwart.results import RedisBackend, Rider, carry, send_stranded, started_write_follows
from stalwart.settings import Settings

INCR = "return redis.call('INCR', KEYS[1])"


def test_a_rider_is_sent_with_the_next_result_write(
    settings: Settings, redis_client: redis.Redis
) -> None:
    app = Stalwart("riders", settings=settings)
    assert isinstance(app.backend, RedisBackend)
    replies: list[object] = []
    rider = Rider(INCR, ["t:rider"], [], on_reply=replies.append)
    assert carry(app, rider)
    assert redis_client.get("t:rider") is None  # nothing sent yet

    app.backend.store_result("task-1", 42, "SUCCESS")
    assert rider.sent and replies == [1]
    assert redis_client.get("t:rider") == b"1"
    assert app.AsyncResult("task-1").result == 42
    app.backend.store_result("task-2", 43, "SUCCESS")
    assert redis_client.get("t:rider") == b"1"  # sent once, not with every write


def test_a_result_backend_on_another_server_carries_nothing(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    app = Stalwart("riders", settings=make_settings())
    other_db = (int(redis_url.rsplit("/", 1)[1]) % 15) + 1
    app.conf.result_backend = redis_url.rsplit("/", 1)[0] + f"/{other_db}"
    assert not carry(app, Rider(INCR, ["t:rider"], []))


def test_the_same_unix_socket_is_the_same_server(settings: Settings, tmp_path: Path) -> None:
    """The embedded default: the backend says db 0 where the coordination client says None."""
    app = Stalwart("riders", settings=settings)
    backend = RedisBackend(app=app, url=f"socket://{tmp_path}/valkey.sock")
    assert backend.shares_server_with(redis.Redis(unix_socket_path=f"{tmp_path}/valkey.sock"))
    assert not backend.shares_server_with(redis.Redis(unix_socket_path=f"{tmp_path}/other.sock"))
    assert not backend.shares_server_with(
        redis.Redis(unix_socket_path=f"{tmp_path}/valkey.sock", db=3)
    )


def test_a_required_rider_no_write_carried_is_sent_at_the_end(
    settings: Settings, redis_client: redis.Redis
) -> None:
    app = Stalwart("riders", settings=settings)
    required, optional = Rider(INCR, ["t:required"], []), Rider(INCR, ["t:optional"], [], False)
    assert carry(app, required) and carry(app, optional)
    send_stranded(app)
    assert required.sent and not optional.sent
    assert redis_client.get("t:required") == b"1"
    assert redis_client.get("t:optional") is None
    app.backend.store_result("task-3", 1, "SUCCESS")
    assert redis_client.get("t:optional") is None  # dropped, never sent later


def test_idempotency_claims_by_itself_without_a_started_write(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """Eager calls write no STARTED state: the early claim is withdrawn, the hook claims."""
    app = Stalwart("riders", settings=settings)
    app.conf.task_always_eager = True

    @app.task(name="riders.once", idempotency_key="once:{n}")
    def once(n: int) -> int:
        return int(redis_client.incr(f"t:once:{n}"))

    assert once.delay(1).get() == 1
    assert once.delay(1).get() == 1  # the first run's result, without running
    assert redis_client.get("t:once:1") == b"1"


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

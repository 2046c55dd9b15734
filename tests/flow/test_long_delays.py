"""Every delay past the threshold waits in the delay store, whoever asked for it: a
caller's countdown or eta too (kombu#337), with revoke() and expires still honoured;
a deferred task reads DEFERRED until it runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from stalwart import Stalwart
from stalwart.delays.store import DUE_KEY
from stalwart.settings import Settings
from tests.apps.flow import register
from tests.support.workers import WorkerProcess, wait_for

APP = "tests.apps.flow_short_visibility:app"  # visibility timeout 10 s


def test_a_callers_countdown_and_eta_past_the_visibility_timeout_run_once(
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    redis_client: redis.Redis,
    records: Callable[[str], list[dict[str, Any]]],
) -> None:
    settings = make_settings(defer_threshold=5.0)
    worker = start_worker(APP, settings=settings, args=("--pool", "prefork", "-c", "2"))
    client = Stalwart("flow-client", settings=settings)
    tasks = register(client)
    sent_at = time.time()
    sent = [tasks.plain.apply_async((n,), countdown=12) for n in range(10)]
    eta = datetime.now(UTC) + timedelta(seconds=12)
    sent += [tasks.plain.apply_async((n,), eta=eta) for n in range(10, 20)]
    short = tasks.plain.apply_async((99,), countdown=1)  # under the threshold: an ETA
    wait_for(lambda: redis_client.zcard(DUE_KEY) == 20, 30, 0.1, "20 in the delay store")
    # While they wait: in no worker and not unacknowledged, so nothing to redeliver.
    assert redis_client.zscore(DUE_KEY, short.id) is None
    wait_for(lambda: any(r["n"] == 99 for r in records("plain")), 30, 0.1, "the short one")
    scheduled = client.control.inspect(destination=[worker.hostname], timeout=5).scheduled()
    assert scheduled == {worker.hostname: []}
    # The short one is acknowledged once its result is stored (acks_late), well before
    # the long ones fall due: none of those is held unacknowledged meanwhile.
    wait_for(lambda: redis_client.hlen("unacked") == 0, 5, 0.05, "nothing unacknowledged")
    wait_for(lambda: len(records("plain")) >= 21, 60, 0.2, "every delayed run")
    runs = [r for r in records("plain") if r["n"] != 99]
    assert sorted(r["n"] for r in runs) == list(range(20))  # each once
    assert min(r["at"] for r in runs) >= sent_at + 12 - 0.1
    assert max(r["at"] for r in runs) <= sent_at + 12 + 5
    # Past the visibility timeout of the first ones: still once each, nothing dead.
    time.sleep(1.0)
    assert len([r for r in records("plain") if r["n"] != 99]) == 20
    assert client.dead_letters.count() == 0
    wait_for(lambda: [client.AsyncResult(r.id).state for r in sent] == ["SUCCESS"] * 20,
             10, 0.1, "every result stored")  # fmt: skip


def test_revoke_and_expires_reach_a_waiting_task(
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    redis_client: redis.Redis,
    records: Callable[[str], list[dict[str, Any]]],
) -> None:
    settings = make_settings(defer_threshold=2.0)
    start_worker(APP, settings=settings, args=("-c", "1"))
    client = Stalwart("flow-client", settings=settings)
    tasks = register(client)
    revoked = tasks.plain.apply_async((1,), countdown=5)
    expired = tasks.plain.apply_async((2,), countdown=5, expires=3)
    kept = tasks.plain.apply_async((3,), countdown=5)
    wait_for(lambda: redis_client.zcard(DUE_KEY) == 3, 30, 0.1, "3 in the delay store")
    revoked.revoke()
    assert redis_client.zscore(DUE_KEY, revoked.id) is None
    assert revoked.state == "REVOKED"
    kept.get(timeout=30)
    wait_for(lambda: expired.state == "REVOKED", 15, 0.1, "the expired one to be dropped")
    assert [r["n"] for r in records("plain")] == [3]


def test_a_deferred_task_reads_deferred_with_reason_and_until(
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    redis_client: redis.Redis,
) -> None:
    settings = make_settings(defer_threshold=2.0)
    start_worker(APP, settings=settings, args=("-c", "1"))
    client = Stalwart("flow-client", settings=settings)
    tasks = register(client)
    result = tasks.delayed.delay(30.0)
    wait_for(lambda: result.state == "DEFERRED", 30, 0.1, "the DEFERRED state")
    info = result.info
    assert info["reason"] == "test"
    assert time.time() + 25 < info["until"] <= time.time() + 30
    assert redis_client.zscore(DUE_KEY, result.id) is not None
    result.revoke()
    assert result.state == "REVOKED"
    assert redis_client.zscore(DUE_KEY, result.id) is None

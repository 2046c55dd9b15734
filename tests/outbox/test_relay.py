"""The relay, with real workers: a rollback sends nothing; a commit sends every task once,
even when the committing process, or the relay itself, is SIGKILLed at the worst moment."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from types import SimpleNamespace

import pytest
import redis
import sqlalchemy as sa

from stalwart import Stalwart
from stalwart.outbox import enqueue, pending
from stalwart.settings import Settings
from tests.outbox.app import orders
from tests.outbox.conftest import APP
from tests.support.workers import ROOT, WorkerProcess, base_env, wait_for

N = 200
Runs = Callable[[str], int]


def crash(settings: Settings, mode: str, count: int) -> subprocess.CompletedProcess[str]:
    """Run tests.outbox.crash (it SIGKILLs itself at the moment ``mode`` names)."""
    return subprocess.run(
        [sys.executable, "-m", "tests.outbox.crash", mode, str(count)],
        env=base_env(settings),
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=60,
    )


def settle(client_app: Stalwart, redis_client: redis.Redis) -> None:
    """Wait until the outbox is empty and the worker's queue is drained."""
    wait_for(
        lambda: pending(client_app) == 0 and redis_client.llen("celery") == 0,
        timeout=60,
        what="the outbox and the queue to empty",
    )


def test_a_rolled_back_transaction_sends_nothing(
    client_app: Stalwart,
    tasks: SimpleNamespace,
    start_worker: Callable[..., WorkerProcess],
    settings: Settings,
    runs: Runs,
) -> None:
    start_worker(APP, settings=settings, args=("--pool", "solo"))
    try:
        with client_app.engine.begin() as db:
            db.execute(orders.insert().values(key="rolled-back"))
            enqueue(db, tasks.note.s("rolled-back"))
            raise LookupError("the order failed validation after the send was enqueued")
    except LookupError:
        pass
    with client_app.engine.begin() as db:
        enqueue(db, tasks.note.s("marker"))
    # One solo worker runs its queue in order: once the later marker ran, anything
    # enqueued before it would have run too.
    wait_for(lambda: runs("marker") == 1, timeout=30, what="the committed marker task")
    assert runs("rolled-back") == 0
    with client_app.engine.connect() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 0


def test_sigkill_right_after_commit_still_sends_every_task_once(
    client_app: Stalwart,
    start_worker: Callable[..., WorkerProcess],
    settings: Settings,
    redis_client: redis.Redis,
    runs: Runs,
) -> None:
    died = crash(settings, "commit", N)
    assert died.returncode == -signal.SIGKILL, died.stderr
    # Nothing was published by the dead process; the committed rows wait in the table.
    assert pending(client_app) == N
    assert redis_client.llen("celery") == 0

    start_worker(APP, settings=settings, args=("-c", "4"))
    wait_for(lambda: all(runs(f"k{i}") for i in range(N)), timeout=60, what="every task")
    settle(client_app, redis_client)
    assert sorted({runs(f"k{i}") for i in range(N)}) == [1]
    with client_app.engine.connect() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == N


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], indirect=True
)
def test_a_relay_killed_between_publish_and_commit_still_runs_each_task_once(
    client_app: Stalwart,
    tasks: SimpleNamespace,
    start_worker: Callable[..., WorkerProcess],
    settings: Settings,
    redis_client: redis.Redis,
    runs: Runs,
) -> None:
    count = 4
    with client_app.engine.begin() as db:
        for i in range(count):
            enqueue(db, tasks.note.s(f"k{i}", seconds=1.5))
    died = crash(settings, "relay", count)
    assert died.returncode == -signal.SIGKILL, died.stderr
    assert f"published {count}" in died.stdout
    # The relay died before its commit: every row is back, every message is queued.
    assert pending(client_app) == count
    assert redis_client.llen("celery") == count

    # The worker's relay publishes the rows again at once, and a pool of 8 takes the
    # first copies and the second ones together: they overlap in time.
    start_worker(APP, settings=settings, args=("-c", "8"))
    wait_for(lambda: all(runs(f"k{i}") for i in range(count)), timeout=60, what="every task")
    settle(client_app, redis_client)
    wait_for(lambda: not client_app.redis.keys("stalwart:idem:*:lease"), timeout=30)
    assert [runs(f"k{i}") for i in range(count)] == [1] * count

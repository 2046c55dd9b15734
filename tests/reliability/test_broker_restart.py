"""Fault injection 4: restart a persistent Redis broker while 500 tasks are queued and 20 run.

Redis runs with ``appendonly yes`` on its own port. SHUTDOWN flushes the append-only
file, so queued messages and the unacknowledged ones (kombu's ``unacked`` hash) survive
the restart. The worker cancels its running tasks when the connection drops
(``worker_cancel_long_running_tasks_on_connection_loss``); their messages stay
unacknowledged and are restored once the visibility timeout passes (10 s in the test
app, swept every second), then run again. Every task completes; none is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.services import RedisServer
from tests.support.workers import WorkerProcess, wait_for

APP = "tests.apps.reliable:app"
TASKS = 520
THREADS = ("--pool", "threads", "-c", "20")
# stalwart worker's own model: 4 processes that each claim their messages.
SUPERVISED = ("-c", "4")


@pytest.mark.parametrize("pool", [THREADS, SUPERVISED], ids=["threads", "supervised"])
def test_broker_restart_with_persistence_loses_no_task(
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    pool: tuple[str, ...],
) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    try:
        settings = make_settings(broker_url=server.url)
        client = redis.Redis.from_url(server.url)
        app = Stalwart("client", settings=settings)
        # Queued before the worker starts: on a slow machine a running worker drains
        # faster than the sends arrive, and the restart would hit a short queue.
        for i in range(TASKS):
            app.send_task("tests.apps.reliable.slow_record", args=(i,), ignore_result=True)
        worker = start_worker(APP, settings=settings, args=pool)
        # Some running (0.2 s each), the rest queued: restart now.
        wait_for(lambda: client.scard("t:done") >= 20, 60, 0.02, "the first tasks")
        assert client.llen("celery") >= 400
        server.stop()
        time.sleep(1.0)
        server.start()

        def all_done() -> bool:
            # kombu 5.7 can crash the worker while it closes the dead connection
            # (AttributeError in Channel.close -> restore_unacked; Celery calls it an
            # unrecoverable error and exits). In production the process supervisor
            # restarts it; do the same here. Nothing may be lost either way.
            nonlocal worker
            if not worker.alive():
                restarts.append(worker.log()[-2000:])
                worker = start_worker(APP, settings=settings, args=pool)
            return client.scard("t:done") == TASKS

        restarts: list[str] = []
        try:
            wait_for(all_done, 120, 0.2, "every task")
        except TimeoutError:
            state = (client.scard("t:done"), client.llen("celery"), client.hlen("unacked"))
            raise AssertionError(f"done/queued/unacked={state}\n{worker.log()[-6000:]}") from None
        assert {int(i) for i in client.smembers("t:done")} == set(range(TASKS))
        assert len(restarts) <= 1, restarts
    finally:
        server.stop()


def test_broker_restart_on_the_default_topology_loses_no_running_task(
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    """The broker is also the coordination store and the result backend (no
    STALWART_REDIS_URL), prefork, results stored: tasks running when the broker restarts
    are cancelled by Celery (``worker_cancel_long_running_tasks_on_connection_loss``),
    whose RETRY write then fails against the dead backend. They must run again, not be
    acknowledged as revoked: each completes, its effect once."""
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    try:
        settings = make_settings(broker_url=server.url)
        assert settings.effective_redis_url == server.url.replace("/0", "/0")
        client = redis.Redis.from_url(server.url)
        start_worker(APP, settings=settings, args=("--pool", "prefork", "-c", "2"))
        app = Stalwart("client", settings=settings)
        results = [app.send_task("tests.apps.reliable.long_record", args=(i,)) for i in (1, 2)]
        wait_for(
            lambda: all(client.get(f"t:long-runs:{i}") for i in (1, 2)), 60, 0.05, "both running"
        )
        server.stop()
        time.sleep(1.0)
        server.start()
        assert sorted(r.get(timeout=90) for r in results) == [1, 2]
        assert [client.get(f"t:long-effect:{i}") for i in (1, 2)] == [b"1", b"1"]
        assert [r.state for r in results] == ["SUCCESS", "SUCCESS"]
    finally:
        server.stop()

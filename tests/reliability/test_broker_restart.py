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

import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.services import RedisServer
from tests.support.workers import WorkerProcess, wait_for

APP = "tests.apps.reliable:app"
TASKS = 520
THREADS = ("--pool", "threads", "-c", "20")


def test_broker_restart_with_persistence_loses_no_task(
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    try:
        settings = make_settings(broker_url=server.url)
        client = redis.Redis.from_url(server.url)
        worker = start_worker(APP, settings=settings, args=THREADS)
        app = Stalwart("client", settings=settings)
        for i in range(TASKS):
            app.send_task("tests.apps.reliable.slow_record", args=(i,), ignore_result=True)
        # 20 running (0.2 s each), the rest queued: restart now.
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
                worker = start_worker(APP, settings=settings, args=THREADS)
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

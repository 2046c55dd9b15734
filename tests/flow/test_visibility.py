"""Delays longer than the visibility timeout run exactly once, on time (kombu#337)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from stalwart import Stalwart
from stalwart.delays.store import DUE_KEY
from stalwart.settings import Settings
from tests.apps.flow import register
from tests.support.processes import cmdline
from tests.support.workers import WorkerProcess, wait_for

APP = "tests.apps.flow_short_visibility:app"


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        if b"recorder_process" in (cmdline(pid) or b""):
            continue  # history's writer catches up on its own schedule; it holds no ETA
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


@pytest.mark.parametrize(
    ("count", "delay"),
    [
        pytest.param(200, 15.0, id="200x15s"),
        pytest.param(1000, 60.0, id="1000x60s", marks=pytest.mark.slow),
    ],
)
def test_delays_beyond_the_visibility_timeout_run_once_on_time(
    count: int,
    delay: float,
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    redis_client: redis.Redis,
    records: Callable[[str], list[dict[str, Any]]],
) -> None:
    settings = make_settings(defer_threshold=5.0)
    worker = start_worker(APP, settings=settings, args=("--pool", "prefork", "-c", "2"))
    client = Stalwart("flow-client", settings=settings)
    client.conf.broker_transport_options = {"visibility_timeout": 10}
    tasks = register(client)
    sent = [tasks.delayed.delay(delay) for _ in range(count)]
    wait_for(lambda: redis_client.zcard(DUE_KEY) == count, 60, 0.1, "all scheduled")
    # Each ran once and deferred itself; the last acknowledgements follow the republish.
    wait_for(lambda: redis_client.hlen("unacked") == 0, 10, 0.05, "the acknowledgements")
    # While they wait: nothing in the worker, nothing unacknowledged in the broker.
    scheduled = client.control.inspect(destination=[worker.hostname], timeout=5).scheduled()
    assert scheduled == {worker.hostname: []}
    assert redis_client.hlen("unacked") == 0
    # And the worker's memory stays flat while they wait (an ETA would be held in it).
    waiting = rss_kib([worker.pid, *worker.child_pids()])
    first_due = min(float(redis_client.get(f"test:due:{r.id}") or 0) for r in sent)
    time.sleep(max(0.0, first_due - time.time() - 1.0))
    assert len(records("delayed")) == 0
    later = rss_kib([worker.pid, *worker.child_pids()])
    assert later - waiting < 5_000, (waiting, later)
    wait_for(lambda: len(records("delayed")) >= count, delay + 60, 0.2, "every run")
    runs = records("delayed")
    assert len(runs) == count  # once each: no redelivery after the visibility timeout
    assert sorted(r["id"] for r in runs) == sorted(r.id for r in sent)
    late = [r["at"] - r["due"] for r in runs]
    assert min(late) >= -0.05
    assert max(late) <= 2.0, max(late)
    # The last runs are acknowledged once their results are stored (acks_late).
    wait_for(lambda: redis_client.hlen("unacked") == 0, 10, 0.05, "the last acknowledgements")

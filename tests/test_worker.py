"""A real worker: runs tasks, its effective configuration carries the hardened defaults,
and started before its broker it waits for it (no exit, no heartbeat) and then consumes."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from stalwart.worker.heartbeat import list_workers
from tests.support.services import RedisServer
from tests.support.workers import WorkerProcess, wait_for


def test_worker_runs_tasks_and_reports_hardened_configuration(
    start_worker: Callable[..., WorkerProcess], settings: Settings
) -> None:
    worker = start_worker(args=("--pool", "prefork", "-c", "2"))
    app = Stalwart("client", settings=settings)
    result = app.send_task("tests.apps.basic.add", args=(2, 3))
    assert result.get(timeout=30) == 5

    replies = app.control.inspect(destination=[worker.hostname], timeout=5).conf()
    conf = replies[worker.hostname]
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["task_track_started"] is True
    assert conf["accept_content"] == ["json"]
    assert conf["task_serializer"] == "json"
    assert conf["result_accept_content"] == ["json"]
    assert conf["broker_connection_retry_on_startup"] is True
    assert conf["task_publish_retry"] is True
    visibility = conf["broker_transport_options"]["visibility_timeout"]
    assert conf["result_backend_transport_options"]["visibility_timeout"] == visibility
    assert conf["task_soft_time_limit"] < conf["task_time_limit"] < visibility
    assert conf["worker_soft_shutdown_timeout"] > 0
    assert conf["worker_cancel_long_running_tasks_on_connection_loss"] is True


def test_worker_started_before_its_broker_waits_for_it_then_consumes(
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    redis_url: str,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    # The broker's port has nothing listening yet; the coordination store (heartbeats,
    # results) is up, so readiness is decided by the worker, not by an unreachable store.
    broker = RedisServer(tmp_path / "broker", appendonly=False)
    settings = make_settings(broker_url=broker.url, redis_url=redis_url)
    worker = start_worker(settings=settings, args=("-c", "1"), wait=False)
    try:
        wait_for(lambda: _waiting_lines(worker) >= 2, 30, 0.1, "two logged attempts")
        assert worker.alive(), worker.log()[-3000:]
        health = run_cli("health", "--json", settings=settings)
        assert health.returncode == 1, health.stdout + health.stderr
        checks = {c["name"]: c for c in json.loads(health.stdout)["checks"]}
        assert not checks["broker"]["ok"]
        assert not checks["workers"]["ok"]  # no heartbeat: not ready
        assert list_workers(redis_client) == []

        broker.start()
        worker.wait_ready(60)
        app = Stalwart("client", settings=settings)
        assert app.send_task("tests.apps.basic.add", args=(2, 3)).get(timeout=30) == 5
    finally:
        worker.stop()
        broker.stop()
    log = worker.log()
    first = next(line for line in log.splitlines() if "waiting for the broker" in line)
    assert f"waiting for the broker at redis://127.0.0.1:{broker.port}/0 (attempt 1): " in first
    assert "Connection refused" in first and "trying again in 1 s" in first
    assert "the broker at" in log and "answers after" in log
    assert "Traceback" not in log


def _waiting_lines(worker: WorkerProcess) -> int:
    return sum("waiting for the broker" in line for line in worker.log().splitlines())

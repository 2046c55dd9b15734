"""A real worker: runs tasks, and its effective configuration carries the hardened defaults."""

from __future__ import annotations

from collections.abc import Callable

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess


def test_worker_runs_tasks_and_reports_hardened_configuration(
    start_worker: Callable[..., WorkerProcess], settings: Settings
) -> None:
    worker = start_worker()
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

"""``stalwart worker`` passes Celery's worker options through and keeps its output clean."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess, wait_for


def test_celery_worker_options_pass_through(
    start_worker: Callable[..., WorkerProcess], settings: Settings, tmp_path: Path
) -> None:
    logfile = tmp_path / "celery-worker.log"
    worker = start_worker(
        args=(
            "-P", "prefork",
            "--autoscale", "2,1",
            "--max-tasks-per-child", "2",
            "-Q", "alpha,beta",
            "-E",
            "--logfile", str(logfile),
            "--loglevel", "DEBUG",
        ),
    )  # fmt: skip
    app = Stalwart("client", settings=settings)
    pids = [
        app.send_task("tests.apps.basic.whoami", queue=queue).get(timeout=30)
        for queue in ("alpha", "beta", "alpha", "beta")
    ]
    assert len(set(pids)) >= 2, pids  # a pool process is replaced after 2 tasks
    queues = app.control.inspect(destination=[worker.hostname], timeout=5).active_queues()
    assert sorted(q["name"] for q in queues[worker.hostname]) == ["alpha", "beta"]
    wait_for(lambda: "tests.apps.basic.whoami" in logfile.read_text(), 10, what="--logfile")
    assert "DEBUG/MainProcess" in logfile.read_text()  # --loglevel, not the default INFO

    output = worker.log()
    assert ".> concurrency: {min=1, max=2} (prefork)" in output  # --autoscale
    assert ".> task events: ON; Stalwart history ON" in output  # -E
    assert "RuntimeWarning" not in output


def test_default_output_is_clean(start_worker: Callable[..., WorkerProcess]) -> None:
    worker = start_worker(args=("-c", "1"))

    def recorder_started() -> bool:
        # The recorder child is where Python's RuntimeWarning about runpy showed.
        for pid in worker.child_pids():
            with contextlib.suppress(OSError):
                if b"recorder_process" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return True
        return False

    wait_for(recorder_started, 15, what="the recorder process")
    time.sleep(1.0)  # its start-up output, if any, reaches the log
    output = worker.log()
    assert ".> task events: OFF for Celery monitors (-E to send them); Stalwart history ON" in (
        output
    )
    assert "INFO/MainProcess] Connected to" in output  # Stalwart's default log level
    for noise in (
        "RuntimeWarning",
        "Context impl",
        "Will assume",
        "Running upgrade",
        "setup plugin",
    ):
        assert noise not in output, noise

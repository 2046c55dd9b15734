"""``stalwart demo``: the embedded stores, a worker and a workload in one process tree.

Starts (or attaches to) the embedded server, runs a real ``stalwart worker`` subprocess,
drives the workload, shows a live table, and stops everything on Ctrl-C, SIGTERM or
after ``duration`` seconds, leaving no process behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from stalwart.app import Stalwart
from stalwart.demo.workload import Workload
from stalwart.worker.heartbeat import list_workers

__all__ = ["run_demo"]

DEMO_APP = "stalwart.demo.tasks:app"
STEP_SECONDS = 0.5


class _Stop(Exception):
    pass


def run_demo(app: Stalwart, console: Console, duration: float | None, concurrency: int) -> int:
    """Run the demo until Ctrl-C/SIGTERM or ``duration``; return the exit status."""
    app.ensure_stores()
    app.ensure_schema()
    worker_log = app.settings.data_dir / "demo-worker.log"
    worker = _start_worker(concurrency, worker_log)
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    workload = Workload(app)
    started = time.monotonic()
    try:
        _wait_for_worker(app, worker)
        console.print(f"[bold]Stalwart demo[/] running; data in {app.settings.data_dir.resolve()}")
        console.print(f"Worker log: {worker_log}")
        console.print("Press Ctrl-C to stop." if duration is None else f"Running {duration:.0f}s.")
        with Live(
            _render(app, workload, started), console=console, refresh_per_second=2, transient=True
        ) as live:
            last_line = 0.0
            while duration is None or time.monotonic() - started < duration:
                if worker.poll() is not None:
                    console.print(f"[red]the worker exited with status {worker.returncode}[/]")
                    return 1
                workload.step()
                live.update(_render(app, workload, started))
                if not console.is_terminal and time.monotonic() - last_line >= 5:
                    last_line = time.monotonic()
                    console.print(_summary(workload, started))
                time.sleep(STEP_SECONDS)
        _drain(workload, timeout=15)
        console.print(_render(app, workload, started))
        return 0
    except (KeyboardInterrupt, _Stop):
        console.print("stopping...")
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_worker(worker)
        app.release_stores(wait=app.settings.embedded_idle_seconds + 10)
        console.print("demo stopped; no process left running")


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


def _start_worker(concurrency: int, log_path: Path) -> subprocess.Popen[bytes]:
    hostname = f"demo-{os.getpid()}@{os.uname().nodename}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return _spawn(hostname, concurrency, log)


def _spawn(hostname: str, concurrency: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stalwart.cli",
            "worker",
            "-A",
            DEMO_APP,
            "-n",
            hostname,
            "-c",
            str(concurrency),
            "-l",
            "WARNING",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches the demo, which stops the worker in order
    )


def _wait_for_worker(app: Stalwart, worker: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not list_workers(app.redis):
        if worker.poll() is not None:
            raise SystemExit(f"the demo worker exited with status {worker.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit("the demo worker did not start within 60s")
        time.sleep(0.1)


def _stop_worker(worker: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Stop the worker's whole process group (pool children, recorder) and wait for it."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout)
    deadline = time.monotonic() + timeout
    while _group_alive(worker.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # children finishing their shutdown after the main process
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _drain(workload: Workload, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while workload.in_flight and time.monotonic() < deadline:
        workload.collect()
        time.sleep(0.2)


def _summary(workload: Workload, started: float) -> str:
    parts = [
        f"{name} {sent} sent/{ok} ok/{failed} failed"
        for name, sent, ok, failed, _ in workload.tally.rows()
    ]
    return f"[{time.monotonic() - started:5.1f}s] " + "; ".join(parts)


def _render(app: Stalwart, workload: Workload, started: float) -> Group:
    table = Table(title="What ran", expand=False)
    for column in ("task", "sent", "succeeded", "failed", "in flight"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for name, sent, ok, failed, in_flight in workload.tally.rows():
        table.add_row(name, str(sent), f"[green]{ok}[/]", f"[red]{failed}[/]", str(in_flight))
    workers = list_workers(app.redis)
    depth = app.redis.llen("celery")
    status = Text(
        f"{time.monotonic() - started:.0f}s elapsed · {len(workers)} worker(s) · "
        f"queue 'celery' depth {depth}"
    )
    return Group(table, status)

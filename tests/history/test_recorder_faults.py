"""Guarantee 6: history survives recorder crashes and restarts; counts match what ran."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from stalwart import Stalwart
from stalwart.db.migrate import upgrade
from stalwart.events import EVENT_STREAM
from stalwart.events.buffer import flush_all
from stalwart.history.lag import recorder_lag
from stalwart.history.query import TaskDetail
from stalwart.history.recorder import GROUP, Recorder
from stalwart.history.tables import history_events, history_tasks
from stalwart.settings import Settings
from tests.history.conftest import APP
from tests.support.processes import cmdline, running
from tests.support.workers import ROOT, WorkerProcess, base_env, wait_for


@pytest.fixture(
    params=[pytest.param(1000, id="1000"), pytest.param(5000, marks=pytest.mark.slow, id="5000")]
)
def tasks(request: pytest.FixtureRequest) -> int:
    """How many tasks the crash run sends (CI: the short run; -m slow: the full one)."""
    return int(request.param)


def start_victim(
    settings: Settings, tmp_path: Path, consumer: str, phase: str
) -> tuple[subprocess.Popen[bytes], Path]:
    marker = tmp_path / f"{consumer}.crashed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.history.recorder_victim",
            settings.effective_redis_url,
            settings.effective_database_url,
            consumer,
            phase,
            str(marker),
        ],
        env=base_env(settings),
        cwd=str(ROOT),
    )
    wait_for(lambda: Path(str(marker) + ".ready").exists(), 30, 0.1, "victim recorder")
    return proc, marker


def test_sigkilled_recorders_lose_and_double_nothing(
    start_worker: Callable[..., WorkerProcess],
    client_app: Stalwart,
    settings: Settings,
    redis_client: redis.Redis,
    tmp_path: Path,
    tasks: int,
) -> None:
    before, before_marker = start_victim(settings, tmp_path, "victim-before-commit", "read")
    after, after_marker = start_victim(settings, tmp_path, "victim-after-commit", "committed")
    start_worker(APP, args=("-c", "2"))

    for i in range(tasks):
        client_app.send_task("tests.apps.history.record", args=("ran", str(i)))
    flush_all()
    # Both victims die mid-batch while the run goes on.
    assert before.wait(120) == -signal.SIGKILL
    assert after.wait(120) == -signal.SIGKILL
    held = int(before_marker.read_text()), int(after_marker.read_text())
    assert all(held), held
    wait_for(lambda: redis_client.llen("ran") == tasks, 240, 0.5, "all tasks ran")

    # Their entries stay pending until a live recorder claims them (every recorder does
    # after 30s; this one, the same code, sooner).
    rescuer = Recorder(redis_client, client_app.engine, claim_idle=0.5, consumer="rescuer")
    wait_for(lambda: rescuer.claim() >= 0 and recorder_lag(redis_client).backlog == 0, 120, 0.5)
    pending = {
        c["name"].decode(): c["pending"] for c in redis_client.xinfo_consumers(EVENT_STREAM, GROUP)
    }
    assert pending["victim-before-commit"] == pending["victim-after-commit"] == 0

    def counts() -> tuple[dict[str, int], dict[str, int]]:
        with client_app.engine.connect() as db:
            states = db.execute(
                sa.select(history_tasks.c.state, sa.func.count())
                .where(history_tasks.c.name == "tests.apps.history.record")
                .group_by(history_tasks.c.state)
            ).all()
            kinds = db.execute(
                sa.select(history_events.c.kind, sa.func.count()).group_by(history_events.c.kind)
            ).all()
        return dict(states), dict(kinds)  # type: ignore[arg-type]

    ran = {v.decode() for v in redis_client.lrange("ran", 0, -1)}
    assert len(ran) == tasks  # what the tasks themselves recorded
    # A worker flushes its last events up to 0.1 s after a task's own record: wait for
    # every one (a lost event would keep this short of the full count).
    every = ({"succeeded": tasks}, {k: tasks for k in ("sent", "received", "started", "succeeded")})
    wait_for(lambda: counts() == every, 60, 0.5, "every event recorded")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_history_survives_restarting_every_process(
    backend: str,
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    request: pytest.FixtureRequest,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    wait_task: Callable[..., TaskDetail],
) -> None:
    if backend == "postgresql":
        settings = make_settings(database_url=request.getfixturevalue("postgres_url"))
    else:
        settings = make_settings()
    app = Stalwart("restart-client", settings=settings)
    upgrade(app.engine)
    first = start_worker(APP, settings=settings, args=("--pool", "prefork", "-c", "2"))
    early = app.send_task("tests.apps.history.add", args=(20, 22))
    assert early.get(timeout=30) == 42
    flush_all()
    wait_for(lambda: _kinds(app, early.id) == sorted(EVERY_KIND), 30, 0.1, "every event")
    first.stop()

    second = start_worker(APP, settings=settings, args=("--pool", "prefork", "-c", "2"))
    late = app.send_task("tests.apps.history.add", args=(1, 1))
    assert late.get(timeout=30) == 2
    flush_all()
    wait_for(lambda: _kinds(app, late.id) == sorted(EVERY_KIND), 30, 0.1, "every event")
    second.stop()

    # A fresh process (the CLI) reads both, with every event, after all workers are gone.
    for task_id, worker in ((early.id, first), (late.id, second)):
        shown = run_cli("tasks", "show", task_id, "--json", settings=settings)
        assert shown.returncode == 0, shown.stderr
        data = __import__("json").loads(shown.stdout)
        assert data["state"] == "succeeded" and data["worker"] == worker.hostname
        assert [e["kind"] for e in data["events"]] == ["sent", "received", "started", "succeeded"]
    app.engine.dispose()


# A prefork worker's events come from two processes (received from the main one, the
# rest from the pool's child), each flushing its own buffer: wait for all of them.
EVERY_KIND = ["sent", "received", "started", "succeeded"]


def _kinds(app: Stalwart, task_id: str) -> list[str]:
    with app.engine.connect() as db:
        rows = db.execute(
            sa.select(history_events.c.kind).where(history_events.c.task_id == task_id)
        ).all()
    return sorted(row.kind for row in rows)


def test_the_recorder_process_never_outlives_its_worker(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker(APP, args=("--pool", "prefork", "-c", "1"))

    def recorder_pids() -> list[int]:
        found = []
        for pid in worker.child_pids():
            if b"stalwart.history.recorder_process" in (cmdline(pid) or b""):
                found.append(pid)
        return found

    (pid,) = wait_for(recorder_pids, 30, 0.2, "recorder child")  # type: ignore[misc]
    nice = lambda: Path(f"/proc/{pid}/stat").read_text().split()[18]  # noqa: E731
    wait_for(lambda: nice() == "10", 30, 0.1, "recorder at a lower CPU priority")
    worker.kill()  # SIGKILL: no cleanup code runs in the worker
    wait_for(lambda: not running(pid), 30, 0.2, "recorder child exit")

"""The embedded default: one private Valkey server per data directory, shared, never orphaned."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.processes import (
    embedded_keeper,
    embedded_server,
    parent_of,
    processes_using,
    running,
)
from tests.support.workers import ROOT, WorkerProcess, wait_for

IDLE = "0.5"


@pytest.fixture
def embedded(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'stalwart.db'}",
        embedded_idle_seconds=float(IDLE),
    )


def server_pid(settings: Settings) -> int:
    pid = embedded_server(settings.data_dir.resolve())
    assert pid is not None, "no running valkey-server for the data directory"
    return pid


def keeper_lock_held(settings: Settings) -> bool:
    with open(settings.data_dir / "keeper.lock", "a+b") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        return False


def client_process(settings: Settings, body: str) -> subprocess.Popen[str]:
    """A Python process that attaches to the embedded server, runs ``body``, then waits."""
    script = (
        textwrap.dedent(
            f"""
        import sys
        from stalwart import Stalwart
        from stalwart.settings import Settings
        settings = Settings(data_dir={str(settings.data_dir)!r}, embedded_idle_seconds={IDLE})
        app = Stalwart("client", settings=settings)
        app.ensure_stores()
        """
        )
        + textwrap.dedent(body)
        + "\nprint('ready', flush=True)\nsys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def finish(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(20)


def test_two_processes_share_one_server_and_the_last_one_out_stops_it(
    embedded: Settings,
) -> None:
    first = client_process(embedded, "app.redis.set('shared', 'yes')")
    pid = server_pid(embedded)
    second = client_process(embedded, "assert app.redis.get('shared') == b'yes'")
    assert server_pid(embedded) == pid, "the second process must attach, not start another"

    finish(first)
    client = redis.Redis(unix_socket_path=str(embedded.embedded_socket))
    assert client.get("shared") == b"yes", "the server must outlive its first user"

    finish(second)
    wait_for(lambda: not processes_using(embedded.data_dir), 15, what="server and keeper exit")
    assert not embedded.embedded_socket.exists()


def test_sigkill_of_the_launcher_leaves_no_orphan_and_keeps_queued_tasks(
    embedded: Settings, start_worker: Callable[..., WorkerProcess]
) -> None:
    ids_file = embedded.data_dir / "ids.txt"
    launcher = client_process(
        embedded,
        f"""
        ids = [app.send_task("tests.apps.basic.add", args=(i, i)).id for i in range(50)]
        open({str(ids_file)!r}, "w").write(" ".join(ids))
        """,
    )
    ids = ids_file.read_text().split()
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()

    wait_for(lambda: not processes_using(embedded.data_dir), 15, what="no orphan server")

    start_worker(settings=embedded, args=("-c", "2"))
    app = Stalwart("check", settings=embedded)
    try:
        results = [app.AsyncResult(task_id).get(timeout=60) for task_id in ids]
        assert results == [i + i for i in range(50)], "tasks queued before the kill must run"
    finally:
        app.release_stores()


def test_a_killed_keeper_leaves_a_server_that_the_next_start_replaces(
    embedded: Settings,
) -> None:
    data_dir = embedded.data_dir.resolve()
    first = client_process(embedded, "app.redis.set('survives', '1')")
    old_server = server_pid(embedded)
    keeper = embedded_keeper(data_dir)
    assert keeper is not None, "the keeper must announce itself in keeper.pid"
    assert keeper not in (old_server, first.pid)
    assert parent_of(old_server) == keeper, "the keeper runs the server"

    os.kill(keeper, signal.SIGKILL)
    wait_for(lambda: not running(keeper), 15, what="the keeper to die")
    finish(first)
    # The server is now an orphan: alive, its keeper gone and the keeper lock free, so
    # nobody will ever stop it unless the next start does.
    assert running(old_server) and embedded_server(data_dir) == old_server
    assert embedded_keeper(data_dir) is None
    assert not keeper_lock_held(embedded)
    assert parent_of(old_server) != keeper

    # The next start replaces the orphan and the data written before survives (AOF).
    second = client_process(embedded, "assert app.redis.get('survives') == b'1'")
    assert not running(old_server), "the orphan server must be stopped"
    new_server, new_keeper = server_pid(embedded), embedded_keeper(data_dir)
    assert new_server != old_server
    assert new_keeper is not None and new_keeper != keeper
    assert parent_of(new_server) == new_keeper
    finish(second)
    wait_for(lambda: not processes_using(data_dir), 15, what="clean stop")

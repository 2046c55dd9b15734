"""Celery's own tools against a real ``stalwart worker`` on Redis: ``celery inspect stats``
and Flower see a Redis broker (the transport comes in through Celery's ``amqp=`` class,
so ``Connection.transport_cls`` stays ``"redis"``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.services import free_port
from tests.support.workers import ROOT, WorkerProcess, base_env, wait_for

APP = "tests.apps.basic:app"


def _celery(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", APP, *args],
        env=base_env(settings),
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_celery_inspect_stats_gets_a_reply_from_a_stalwart_worker(
    start_worker: Callable[..., WorkerProcess], settings: Settings
) -> None:
    worker = start_worker(APP, args=("--pool", "prefork", "-c", "1"))
    result = _celery(settings, "inspect", "stats", "-d", worker.hostname, "-t", "10", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    replies = json.loads(result.stdout)
    stats = replies[worker.hostname]
    broker = urlsplit(settings.effective_broker_url)
    assert stats["broker"]["transport"] == "redis"
    assert (stats["broker"]["hostname"], stats["broker"]["port"]) == (broker.hostname, broker.port)
    assert stats["broker"]["virtual_host"] == broker.path.lstrip("/")
    assert stats["pid"] == worker.pid
    assert stats["pool"]["max-concurrency"] == 1
    assert "EncodeError" not in worker.log()


class _Flower:
    """A real Flower process (``celery -A APP flower``) with its API open, on a free port."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        env = base_env(settings, {"FLOWER_UNAUTHENTICATED_API": "true"})
        where = (f"--port={self.port}", "--address=127.0.0.1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", APP, "flower", *where],
            env=env,
            cwd=str(ROOT),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def get(self, path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode()

    def json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, f"GET {path}: {status} {body[:500]}\n{self.log()[-2000:]}"
        return json.loads(body)

    def wait_ready(self) -> None:
        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"flower exited:\n{self.log()[-3000:]}")
            with contextlib.suppress(OSError):
                return self.get("/healthcheck") == (200, "OK")
            return False

        wait_for(up, 60, 0.2, "flower /healthcheck")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._log.close()


@pytest.fixture
def flower(settings: Settings, tmp_path: Path) -> Iterator[_Flower]:
    if not _flower_installed():
        pytest.fail("flower is a dev dependency: pip install -e '.[dev]'")
    process = _Flower(settings, tmp_path / "flower.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _flower_installed() -> bool:
    try:
        import flower  # noqa: F401
    except ImportError:
        return False
    return True


def test_flower_shows_a_stalwart_workers_stats_queues_and_redis_broker(
    start_worker: Callable[..., WorkerProcess], settings: Settings, flower: _Flower
) -> None:
    worker = start_worker(APP, args=("--pool", "prefork", "-c", "1"))
    app = Stalwart("client", settings=settings)
    workers = flower.json(f"/api/workers?refresh=1&workername={worker.hostname}")
    stats = workers[worker.hostname]["stats"]
    assert stats["broker"]["transport"] == "redis"
    assert stats["pid"] == worker.pid

    # One task runs (prefetch 1, concurrency 1) while two wait in the queue, for long
    # enough that a slow machine sees them waiting.
    for _ in range(3):
        app.send_task("tests.apps.basic.sleep", args=(10,))

    def two_waiting() -> bool:
        queues = flower.json("/api/queues/length")["active_queues"]
        return {"name": "celery", "messages": 2} in queues

    wait_for(two_waiting, 30, 0.2, "flower's /api/queues/length to show 2 waiting")

    status, page = flower.get("/broker")
    assert status == 200, page[:2000]
    assert "redis://" in page
    assert "not supported" not in page
    assert "stalwart.compat" not in page and "<class" not in page
    assert 'aria-label="Broker queues"' in page and ">celery<" in page.replace(" ", "")

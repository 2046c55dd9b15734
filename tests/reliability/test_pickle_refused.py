"""Pickle is refused everywhere.

Fault injection 6: a pickle message put on the queue by hand is refused, logged, never
run. And an app that lets pickle in (``accept_content``, a serializer) is refused when
its worker starts, with one line, under ``stalwart worker`` and plain ``celery worker``.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.workers import ROOT, WorkerProcess, base_env, wait_for

APP = "tests.apps.reliable:app"


class _Exploit:
    """Unpickling this runs ``touch <path>``: proof that nobody unpickled it if absent."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.path}",))


def test_pickle_message_is_refused_logged_and_never_executed(
    start_worker: Callable[..., WorkerProcess],
    settings: Settings,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    worker = start_worker(APP)
    app = Stalwart("client", settings=settings)
    marker = tmp_path / "unpickled"
    task_id = str(uuid.uuid4())
    body = ((str(marker), _Exploit(marker)), {}, {"callbacks": None, "errbacks": None})
    with app.connection_for_write() as conn:
        producer = conn.Producer()
        producer.publish(
            pickle.dumps(body),
            content_type="application/x-python-serialize",
            content_encoding="binary",
            routing_key="celery",
            exchange="",
            headers={"task": "tests.apps.reliable.pickled_target", "id": task_id, "lang": "py"},
        )
    wait_for(lambda: "x-python-serialize" in worker.log(), 30, 0.1, "refusal in the log")
    # The worker still works, and the refused message is gone from the queue.
    assert app.send_task("tests.apps.reliable.tick").get(timeout=30) is None
    assert redis_client.llen("celery") == 0
    assert not marker.exists()
    assert redis_client.get("t:pickled-ran") is None
    assert "ContentDisallowed" in worker.log() or "Refusing to deserialize" in worker.log()


# -- an app that lets pickle in is refused when its worker starts ----------------------

PICKLE_APPS = {
    "accepts": "accept_content includes 'pickle'",
    "result_content_type": "result_accept_content includes 'application/x-python-serialize'",
    "serializes": "task_serializer is 'pickle'",
    "one_task": "task tests.apps.pickled.legacy has serializer='pickle'",
}
# Celery itself refuses pickle to a worker running as root (unless C_FORCE_ROOT); set it
# so that what is tested is Stalwart's refusal, whoever runs the suite.
FORCE_ROOT = {"C_FORCE_ROOT": "1"}


def _refused_once(result: subprocess.CompletedProcess[str], problem: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in result.stderr.splitlines() if "pickle is refused" in line]
    assert lines == [f"stalwart: error: pickle is refused: {problem}; {REFUSAL_TAIL}"], output
    assert " ready." not in output, output  # it never started consuming


REFUSAL_TAIL = (
    "Stalwart accepts JSON only (pickle runs code from whoever can write to the broker): remove it"
)


@pytest.mark.parametrize("app", sorted(PICKLE_APPS))
def test_stalwart_worker_refuses_an_app_that_lets_pickle_in(
    app: str, run_cli: Callable[..., subprocess.CompletedProcess[str]], redis_client: redis.Redis
) -> None:
    result = run_cli("worker", "-A", f"tests.apps.pickled:{app}", "-n", "p@test", env=FORCE_ROOT)
    _refused_once(result, PICKLE_APPS[app])
    assert result.returncode == 2


@pytest.mark.parametrize("app", ["accepts", "serializes"])
def test_plain_celery_worker_refuses_an_app_that_lets_pickle_in(
    app: str, settings: Settings, redis_client: redis.Redis
) -> None:
    command = ["celery", "-A", f"tests.apps.pickled:{app}", "worker", "-n", "p@test"]
    result = subprocess.run(
        [sys.executable, "-m", *command, "--pool", "solo"],
        env=base_env(settings, FORCE_ROOT),
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=60,
    )
    _refused_once(result, PICKLE_APPS[app])
    assert redis_client.keys("_kombu.binding.*") == []  # it never declared its queues

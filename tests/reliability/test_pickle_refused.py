"""Fault injection 6: a pickle message put on the queue by hand is refused, logged, never run."""

from __future__ import annotations

import os
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path

import redis

from stalwart import Stalwart
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess, wait_for

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

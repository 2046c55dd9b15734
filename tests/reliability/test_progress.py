"""Progress: ``self.progress()`` in a real worker, read back with ``app.progress(task_id)``."""

from __future__ import annotations

from collections.abc import Callable

import redis

from stalwart import Stalwart
from stalwart.events import EVENT_STREAM, EventKind, TaskEvent, decode_entry
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess, wait_for


def test_progress_is_stored_and_evented(
    start_worker: Callable[..., WorkerProcess], settings: Settings, redis_client: redis.Redis
) -> None:
    start_worker("tests.apps.reliable:app")
    app = Stalwart("client", settings=settings)
    result = app.send_task("tests.apps.reliable.steps", args=(50,))
    assert result.get(timeout=30) == 50
    progress = app.progress(result.id)
    assert progress is not None
    assert (progress.current, progress.total, progress.message) == (50, 50, "step 50")
    assert progress.fraction == 1.0
    assert app.progress("never-ran") is None

    def mine() -> list[TaskEvent]:  # events leave the worker's buffer within ~100 ms
        events = [e for _, raw in redis_client.xrange(EVENT_STREAM) for _, e in decode_entry(raw)]
        return [e for e in events if e.kind is EventKind.PROGRESS and e.task_id == result.id]

    wait_for(lambda: any(e.fields["current"] == 50 for e in mine()), 10, what="the final event")
    # Thinned (one per second per task, plus the final one), never one per call.
    progress_events = mine()
    assert 1 <= len(progress_events) < 50 and progress_events[-1].fields["current"] == 50

"""A chord whose member fails: Celery fails the callback straight in the result backend
(``chord_error_from_stack``), and the tasks chained after it; they are in history too,
failed, with the cause, and ``stalwart tasks show`` says so."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from celery import chord

from stalwart import Stalwart
from stalwart.history.query import TaskDetail
from tests.history.conftest import APP
from tests.history.test_cli import Cli, show
from tests.support.workers import WorkerProcess


def test_chord_callback_of_a_failed_member_is_recorded_failed_with_its_cause(
    start_worker: Callable[..., WorkerProcess],
    client_app: Stalwart,
    wait_task: Callable[..., TaskDetail],
    run_cli: Cli,
) -> None:
    worker = start_worker(APP, args=("--pool", "prefork", "-c", "2"))
    sig = client_app.signature

    def task_id() -> dict[str, str]:
        return {"task_id": str(uuid.uuid4())}

    # A chord with one callback, and one whose body is a chain (a callback and a task
    # chained after it): Celery fails a chain body under the chain's id (its last
    # task's); the tasks before it never run either (PENDING in the result backend).
    bad = [sig("tests.apps.history.boom", args=(f"bad {n}",), **task_id()) for n in (1, 2)]
    callback = sig("tests.apps.history.tsum", **task_id())
    chained = [sig("tests.apps.history.tsum", **task_id()), sig("tests.apps.history.add", (1,))]
    chained[1].set(**task_id())
    chord([sig("tests.apps.history.add", (1, 1)), bad[0]])(callback)
    chord([sig("tests.apps.history.add", (2, 2)), bad[1]])(chained[0] | chained[1])
    for last in (callback, chained[1]):
        result = client_app.AsyncResult(last.id)
        result.get(timeout=30, propagate=False)
        assert result.state == "FAILURE"

    expected = [(callback, bad[0]), (chained[0], bad[1]), (chained[1], bad[1])]
    for failed, cause_of in expected:
        member = wait_task(cause_of.id, lambda t: t.state == "dead_lettered")
        assert member.group_id
        cause = f"ChordError: Dependency {cause_of.id} raised ValueError('{cause_of.args[0]}')"
        task = wait_task(failed.id, lambda t: t.state == "failed")
        assert task.name == failed.task
        data: dict[str, Any] = show(run_cli, failed.id)
        assert data["exception"] == cause
        assert data["where"]["text"].startswith("finished: failed at ")
        assert data["where"]["text"].endswith(f"({cause})")
        [event] = data["events"]
        assert event["kind"] == "failed"
        assert event["worker"] == worker.hostname
        assert event["fields"]["cause"] == "a member of its chord failed: it never ran"
        assert event["fields"]["chord_group"] == member.group_id

    human = run_cli("tasks", "show", callback.id)
    assert human.returncode == 0, human.stdout + human.stderr
    assert "no task in history" not in human.stdout + human.stderr
    assert "failed" in human.stdout and bad[0].id in human.stdout.replace("\n", "")

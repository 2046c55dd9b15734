"""``stalwart tasks revoke ID``: a waiting task is skipped by the worker, and it is audited."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from stalwart import Stalwart
from stalwart.audit import list_actions
from stalwart.history.query import get_task
from tests.support.workers import WorkerProcess, wait_for

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_revoke_a_task_the_worker_holds(
    start_worker: Callable[..., WorkerProcess], migrated_app: Stalwart, run_cli: Run
) -> None:
    worker = start_worker(args=("--pool", "prefork", "-c", "1"))
    # A countdown under the defer threshold rides on a broker ETA: the worker holds the
    # message until then. Long enough for a slow machine to revoke it first.
    held = migrated_app.send_task("tests.apps.basic.add", args=(1, 2), countdown=20)

    def scheduled() -> list[str]:
        inspect = migrated_app.control.inspect(destination=[worker.hostname], timeout=2)
        return [s["request"]["id"] for s in (inspect.scheduled() or {}).get(worker.hostname, [])]

    wait_for(lambda: held.id in scheduled(), 15, what="the task held by the worker")
    result = run_cli("tasks", "revoke", held.id)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"revoked {held.id}: skipped when delivered\n",
        "",
    )
    wait_for(lambda: _state(migrated_app, held.id) == "revoked", 60, what="revoked in history")
    assert f"[{held.id}] succeeded" not in worker.log()
    [entry] = [a for a in list_actions(migrated_app.engine) if a.action == "task.revoke"]
    assert (entry.target, entry.count) == (held.id, 1)


def _state(app: Stalwart, task_id: str) -> str | None:
    try:
        return get_task(app.engine, task_id).state
    except Exception:
        return None

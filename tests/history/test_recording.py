"""Every event kind recorded for real tasks run by a real worker."""

from __future__ import annotations

from collections.abc import Callable

from celery import chain, chord

from stalwart import Stalwart
from stalwart.history.query import TaskDetail, task_tree
from tests.history.conftest import APP
from tests.support.workers import WorkerProcess


def kinds(task: TaskDetail) -> list[str]:
    return [event.kind for event in task.events]


def test_success_failure_and_retry_timelines(
    start_worker: Callable[..., WorkerProcess],
    client_app: Stalwart,
    wait_task: Callable[..., TaskDetail],
) -> None:
    worker = start_worker(APP, args=("--pool", "prefork", "-c", "2"))
    ok = client_app.send_task("tests.apps.history.add", args=(2, 3))
    bad = client_app.send_task("tests.apps.history.boom", args=("no such contact",))
    flaky = client_app.send_task("tests.apps.history.flaky", args=("flaky-count",))

    # Two processes write a prefork worker's events (received: the main one; the rest:
    # the pool's child), each flushing its own buffer: wait for all four.
    task = wait_task(ok.id, lambda t: t.state == "succeeded" and len(t.events) == 4)
    assert kinds(task) == ["sent", "received", "started", "succeeded"]
    assert task.name == "tests.apps.history.add"
    assert task.queue == "celery"
    assert task.worker == worker.hostname
    assert task.args == "[2,3]"
    assert task.result == "5"
    assert task.runtime is not None and task.runtime >= 0
    assert task.sent_at <= task.started_at <= task.finished_at

    task = wait_task(bad.id, lambda t: len(t.events) == 5)
    assert task.state == "dead_lettered"
    assert kinds(task) == ["sent", "received", "started", "failed", "dead_lettered"]
    assert task.exception == "ValueError: no such contact"
    assert "raise ValueError(message)" in (task.traceback or "")

    task = wait_task(flaky.id, lambda t: t.state == "succeeded", timeout=60)
    assert kinds(task).count("retried") == 2
    assert kinds(task).count("started") == 3
    assert kinds(task)[-1] == "succeeded"
    retried = [e for e in task.events if e.kind == "retried"]
    assert retried[0].fields["reason"] == "ConnectionError: attempt 1"
    assert [e.fields["attempt"] for e in retried] == [1, 2]
    assert retried[0].fields["max_retries"] == 2
    assert task.retries == 2


def test_canvas_tree_revoke_and_replay(
    start_worker: Callable[..., WorkerProcess],
    client_app: Stalwart,
    wait_task: Callable[..., TaskDetail],
) -> None:
    start_worker(APP)
    sig = client_app.signature
    chained = chain(
        sig("tests.apps.history.add", args=(1, 2)), sig("tests.apps.history.add", args=(3,))
    )
    chain_result = chained.apply_async()
    assert chain_result.get(timeout=30) == 6
    header = [sig("tests.apps.history.add", args=(i, i)) for i in range(3)]
    chord_result = chord(header)(sig("tests.apps.history.tsum"))
    assert chord_result.get(timeout=30) == 6

    first = chain_result.parent.id
    wait_task(chain_result.id, lambda t: t.state == "succeeded")
    tree = task_tree(client_app.engine, chain_result.id)
    assert tree.task.task_id == first
    assert [c.task.task_id for c in tree.children] == [chain_result.id]

    callback = wait_task(chord_result.id, lambda t: t.state == "succeeded")
    assert callback.result == "6"
    tree = task_tree(client_app.engine, chord_result.id)
    # A chord sent from outside a task: its header tasks are roots tied by the group.
    header_ids = {r.id for r in chord_result.parent.results}
    assert tree.task is None and tree.group_id == chord_result.parent.id
    assert {c.task.task_id for c in tree.children if c.task} == header_ids
    (holder,) = [c for c in tree.children if c.children]
    assert [n.task.task_id for n in holder.children if n.task] == [chord_result.id]

    client_app.control.revoke("revoked-before-sent")  # the worker drops it on receipt
    client_app.send_task("tests.apps.history.add", args=(0, 0), task_id="revoked-before-sent")
    revoked = wait_task("revoked-before-sent", lambda t: t.state == "revoked")
    assert revoked.detail["reason"] == "revoked"

    dead = client_app.send_task("tests.apps.history.boom", args=("replay me",))
    wait_task(dead.id, lambda t: t.state == "dead_lettered")
    letter = client_app.dead_letters.get(dead.id)
    (replayed,) = client_app.dead_letters.replay([letter.id], actor="test")
    again = wait_task(
        replayed.new_task_id, lambda t: t.replay_of == dead.id and t.state == "dead_lettered"
    )
    assert "replayed" in kinds(again)
    original = wait_task(dead.id, lambda t: t.state == "dead_lettered")
    assert original.replay_of is None

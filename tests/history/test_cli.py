"""``stalwart tasks show`` where-is-it-now for each live state, and the listings' JSON."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from stalwart import Stalwart
from stalwart.history.query import TaskDetail
from tests.history.conftest import APP
from tests.support.workers import WorkerProcess

Cli = Callable[..., subprocess.CompletedProcess[str]]


def show(run_cli: Cli, task_id: str) -> dict[str, object]:
    result = run_cli("tasks", "show", task_id, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_where_is_each_live_state_and_listings(
    start_worker: Callable[..., WorkerProcess],
    client_app: Stalwart,
    wait_task: Callable[..., TaskDetail],
    run_cli: Cli,
) -> None:
    worker = start_worker(APP, args=("--pool", "prefork", "-c", "2"))
    send = client_app.send_task
    parked = [send("tests.apps.history.add", args=(i, i), queue="parked") for i in range(3)]
    running = send("tests.apps.history.sleep", args=(60,))
    waiting = send("tests.apps.history.retry_later", args=(300,))
    dead = send("tests.apps.history.boom", args=("bad number",))
    done = send(
        "tests.apps.history.login", args=("ann", "hunter2"), kwargs={"options": {"api_key": "k"}}
    )

    wait_task(parked[1].id, lambda t: t.state == "sent")
    wait_task(running.id, lambda t: t.state == "started")
    wait_task(waiting.id, lambda t: t.state == "retried")
    wait_task(dead.id, lambda t: t.state == "dead_lettered")
    wait_task(done.id, lambda t: t.state == "succeeded")

    where = show(run_cli, parked[1].id)["where"]
    assert where["text"] == "queued on parked, position ~2 of 3"  # type: ignore[index]

    where = show(run_cli, running.id)["where"]
    assert str(where["text"]).startswith(f"running on {worker.hostname} for ")  # type: ignore[index]

    where = show(run_cli, waiting.id)["where"]
    assert str(where["text"]).startswith("waiting for retry 1/5 until ")  # type: ignore[index]
    assert "(in 4m)" in str(where["text"]) or "(in 5m)" in str(where["text"])  # type: ignore[index]

    where = show(run_cli, dead.id)["where"]
    text = str(where["text"])  # type: ignore[index]
    assert text.startswith("dead-lettered at "), text
    # No retry policy: reason "failed" (docs/RELIABILITY.md), after its one attempt.
    assert ": failed after 1 attempt (dead letter #" in text

    data = show(run_cli, done.id)
    assert str(data["where"]["text"]).startswith("finished: succeeded at ")  # type: ignore[index]
    # Redacted at recording time: the password and the nested api_key never reach SQL.
    assert data["args"] == '["ann","***"]'
    assert data["kwargs"] == '{"options":{"api_key":"***"}}'
    assert data["result"] == '{"user":"ann","token":"***"}'

    human = run_cli("tasks", "show", running.id)
    assert human.returncode == 0, human.stderr
    assert "now:" in human.stdout and "running on" in human.stdout
    assert "started" in human.stdout

    listing = run_cli("tasks", "ls", "--state", "dead", "--json")
    assert listing.returncode == 0, listing.stderr
    assert [t["task_id"] for t in json.loads(listing.stdout)["tasks"]] == [dead.id]
    found = run_cli("tasks", "ls", "--text", "ann", "--json")
    assert [t["task_id"] for t in json.loads(found.stdout)["tasks"]] == [done.id]
    hidden = run_cli("tasks", "ls", "--text", "hunter2", "--json")
    assert json.loads(hidden.stdout)["tasks"] == []

    queues = json.loads(run_cli("queues", "--json").stdout)["queues"]
    by_name = {q["queue"]: q for q in queues}
    assert by_name["parked"]["depth"] == 3
    assert by_name["parked"]["consumers"] == 0
    assert by_name["parked"]["oldest_age"] >= 0
    assert by_name["celery"]["consumers"] == 1

    workers = json.loads(run_cli("workers", "--json").stdout)["workers"]
    assert [w["hostname"] for w in workers] == [worker.hostname]
    assert workers[0]["pool"] == "prefork" and workers[0]["concurrency"] == 2
    assert [t["task_id"] for t in workers[0]["running"]] == [running.id]


def test_bad_input_is_one_line(run_cli: Cli, client_app: Stalwart) -> None:
    for args, message in (
        (("tasks", "ls", "--state", "lost"), "unknown state 'lost'"),
        (("tasks", "ls", "--since", "yesterday"), "--since 'yesterday': expected a duration"),
        (("tasks", "ls", "--cursor", "zzz"), "invalid cursor"),
        (("tasks", "show", "no-such-task"), "no task 'no-such-task' in history"),
    ):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_where_is_in_the_delay_store(
    start_worker: Callable[..., WorkerProcess],
    client_app: Stalwart,
    wait_task: Callable[..., TaskDetail],
    run_cli: Cli,
) -> None:
    start_worker(APP, args=("-c", "1"))
    retried = client_app.send_task("tests.apps.history.policy_retry")
    first = client_app.send_task("tests.apps.history.once_a_day", args=(1,))
    assert first.get(timeout=30) == 1
    deferred = client_app.send_task("tests.apps.history.once_a_day", args=(2,))
    # The policy's first retry waits 1s (a broker ETA), the second 600s (delay store).
    wait_task(retried.id, lambda t: t.state == "retried" and t.detail["attempt"] == 2)
    wait_task(deferred.id, lambda t: t.state == "deferred")

    text = str(show(run_cli, retried.id)["where"]["text"])  # type: ignore[index]
    assert text.startswith("waiting for retry 2/3 until "), text
    assert text.endswith("(in 10m) (in the delay store)"), text

    text = str(show(run_cli, deferred.id)["where"]["text"])  # type: ignore[index]
    assert text.startswith("deferred by quota until "), text
    assert text.endswith("(in the delay store)"), text

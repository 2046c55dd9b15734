"""Fault injection 5: a failing task lands in the dead-letter store with payload, traceback
and attempts; worker and Redis restart; replay (CLI) runs it once, linked; a second replay
is refused."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import redis

from stalwart import Stalwart
from stalwart.audit import list_actions
from stalwart.events import EVENT_STREAM, EventKind, decode_entry
from stalwart.settings import Settings
from tests.support.services import RedisServer
from tests.support.workers import WorkerProcess, wait_for

APP = "tests.apps.reliable:app"
Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_dead_letter_survives_restarts_and_replays_once(
    start_worker: Callable[..., WorkerProcess],
    make_settings: Callable[..., Settings],
    run_cli: Cli,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    try:
        settings = make_settings(broker_url=server.url, database_url=postgres_url)
        client = redis.Redis.from_url(server.url)
        assert run_cli("db", "upgrade", settings=settings).returncode == 0
        worker = start_worker(APP, settings=settings)
        app = Stalwart("client", settings=settings)

        failed = app.send_task(
            "tests.apps.reliable.fixable", args=("f1",), kwargs={"password": "s3cret"}
        )
        wait_for(lambda: app.dead_letters.count() == 1, 60, 0.1, "the dead letter")
        letter = app.dead_letters.get(failed.id)
        assert (letter.reason, letter.attempts) == ("exhausted", 2)
        assert letter.args == ["f1"] and letter.kwargs == {"password": "s3cret"}  # intact
        assert letter.exc_type == "RuntimeError" and "not fixed yet" in letter.exc_message
        assert 'raise RuntimeError(f"{tag} is not fixed yet")' in letter.traceback
        assert letter.queue == "celery"
        assert client.llen("t:attempts:f1") == 2

        shown = json.loads(run_cli("dlq", "ls", "-A", APP, "--json", settings=settings).stdout)
        assert [d["task_id"] for d in shown] == [failed.id]
        assert shown[0]["kwargs"] == {"password": "***"}  # redacted when shown
        detail = json.loads(
            run_cli("dlq", "show", str(letter.id), "--json", settings=settings).stdout
        )
        assert "RuntimeError" in detail["traceback"] and detail["attempts"] == 2

        # Restart everything but the database; fix the bug; replay.
        worker.stop()
        server.stop()
        server.start()
        start_worker(APP, settings=settings)
        client.set("t:fixed", 1)
        replay = run_cli("dlq", "replay", failed.id, "--json", settings=settings)
        assert replay.returncode == 0, replay.stderr
        new_id = json.loads(replay.stdout)["replayed"][0]["new_task_id"]
        assert new_id != failed.id
        assert app.AsyncResult(new_id).get(timeout=60) == "fixed f1"
        assert int(client.get("t:fixed-runs:f1") or 0) == 1
        assert app.dead_letters.get(letter.id).replayed_as == new_id
        events = [e for _, raw in client.xrange(EVENT_STREAM) for _, e in decode_entry(raw)]
        replayed = [e for e in events if e.kind is EventKind.REPLAYED]
        assert [(e.task_id, e.fields["replay_of"]) for e in replayed] == [(new_id, failed.id)]

        again = run_cli("dlq", "replay", str(letter.id), settings=settings)
        assert again.returncode == 2
        assert "already replayed" in again.stderr and "Traceback" not in again.stderr
        assert int(client.get("t:fixed-runs:f1") or 0) == 1

        (action,) = list_actions(app.engine, action="dlq.replay")
        assert action.count == 1 and action.actor.startswith("os:")
    finally:
        server.stop()

"""A message that is not a kombu envelope no longer stops the worker: it is quarantined
into the dead-letter store (reason ``undecodable``, raw bytes kept) and the worker
consumes on."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable

import redis

from stalwart import Stalwart
from stalwart.deadletter import DeadLetter
from stalwart.settings import Settings
from tests.support.workers import WorkerProcess, wait_for

Cli = Callable[..., subprocess.CompletedProcess[str]]

GARBAGE = {
    "not UTF-8, not JSON": b"\xff\xfe{this is not json",
    "JSON, not an envelope": b'{"hello": "world"}',
    "an envelope without delivery_info": json.dumps(
        {"body": "", "properties": {"delivery_tag": "t-1"}, "headers": {}}
    ).encode(),
}


def test_undecodable_messages_are_dead_lettered_and_the_worker_consumes_on(
    start_worker: Callable[..., WorkerProcess],
    settings: Settings,
    redis_client: redis.Redis,
    run_cli: Cli,
) -> None:
    worker = start_worker("tests.apps.basic:app", args=("-c", "1"))
    app = Stalwart("client", settings=settings)
    assert app.send_task("tests.apps.basic.add", args=(1, 1)).get(timeout=30) == 2
    for raw in GARBAGE.values():
        redis_client.lpush("celery", raw)  # in front of the next task (FIFO)
    assert app.send_task("tests.apps.basic.add", args=(2, 3)).get(timeout=30) == 5
    assert worker.alive(), worker.log()[-3000:]

    def quarantined() -> list[DeadLetter]:
        letters = app.dead_letters.list(name="(undecodable message)")
        return letters if len(letters) == len(GARBAGE) else []

    wait_for(quarantined, 30, 0.2, "three undecodable dead letters")
    assert redis_client.llen("celery") == 0
    # Each letter is committed before its copy leaves the quarantine list.
    wait_for(lambda: redis_client.llen("stalwart:undecodable") == 0, 10, 0.05, "list emptied")
    assert worker.alive() and "Unrecoverable error" not in worker.log()

    listing = run_cli("dlq", "ls", "--json")
    assert listing.returncode == 0, listing.stderr
    letters = json.loads(listing.stdout)
    assert {d["reason"] for d in letters} == {"undecodable"}
    assert {d["queue"] for d in letters} == {"celery"}
    by_raw: dict[bytes, dict[str, object]] = {}
    for letter in letters:
        shown = run_cli("dlq", "show", str(letter["id"]), "--json")
        assert shown.returncode == 0, shown.stderr
        data = json.loads(shown.stdout)
        by_raw[base64.b64decode(str(data["raw_base64"]))] = data
    assert set(by_raw) == set(GARBAGE.values())
    not_json = by_raw[GARBAGE["not UTF-8, not JSON"]]
    assert not_json["raw"] == "\\xff\\xfe{this is not json"
    assert not_json["exc_type"] == "json.decoder.JSONDecodeError"
    assert by_raw[GARBAGE["an envelope without delivery_info"]]["exc_type"] == "ValueError"

    human = run_cli("dlq", "show", str(not_json["id"]))
    assert human.returncode == 0, human.stderr
    assert "undecodable" in human.stdout
    assert "\\xff\\xfe{this is not json" in human.stdout

    replay = run_cli("dlq", "replay", str(not_json["id"]))
    assert replay.returncode == 2
    assert "an undecodable message names no task to replay" in replay.stderr
    assert "Traceback" not in replay.stderr

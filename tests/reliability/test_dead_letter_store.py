"""The dead-letter store's query module and CLI on every durable store (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis

from stalwart import ReplayRefused, Stalwart
from stalwart.audit import list_actions
from stalwart.compat.undecodable import UndecodableMessage
from stalwart.deadletter.quarantine import UNDECODABLE_NAME, dead_letter_of
from stalwart.deadletter.record import DeadLetter
from stalwart.deadletter.tables import DeadReason
from stalwart.deadletter.writer import write_dead_letter
from stalwart.errors import NotFound
from stalwart.settings import Settings

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _draft(n: int, name: str = "tests.apps.reliable.fixable", **changes: object) -> DeadLetter:
    now = datetime.now(UTC)
    values: dict[str, object] = {
        "task_id": f"task-{n}",
        "name": name,
        "queue": "celery",
        "args": [f"t{n}"],
        "kwargs": {"password": "pw", "note": {"token": "x", "ok": 1}},
        "options": {"headers": {"stalwart_first_failure": "1"}},
        "reason": DeadReason.EXHAUSTED,
        "exc_type": "RuntimeError",
        "exc_message": f"boom {n}",
        "traceback": "Traceback ...\nRuntimeError: boom",
        "attempts": 2,
        "first_failed_at": now - timedelta(minutes=1),
        "last_failed_at": now,
        "root_id": f"task-{n}",
        "parent_id": None,
        "replay_of": None,
        "worker": "w@test",
    }
    values.update(changes)
    return DeadLetter(**values)  # type: ignore[arg-type]


@pytest.fixture
def store_app(make_settings: Callable[..., Settings], database_url: str) -> Stalwart:
    app = Stalwart("store-test", settings=make_settings(database_url=database_url))
    from stalwart.db.migrate import upgrade

    upgrade(app.engine)
    return app


def test_list_get_filter_and_redaction(store_app: Stalwart) -> None:
    for n in range(3):
        write_dead_letter(store_app, _draft(n))
    write_dead_letter(store_app, _draft(9, name="other.task"))
    write_dead_letter(store_app, _draft(0, attempts=5))  # same task again: refreshed, not doubled
    store = store_app.dead_letters
    assert store.count() == 4
    assert {d.task_id for d in store.list(name="other.task")} == {"task-9"}
    assert store.get("task-0").attempts == 5
    assert store.get(store.get("task-1").id).task_id == "task-1"
    assert store.list(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    shown = store.get("task-1").as_dict(store_app)
    assert shown["kwargs"] == {"password": "***", "note": {"token": "***", "ok": 1}}
    assert store.get("task-1").kwargs["password"] == "pw"  # the payload stays intact
    with pytest.raises(NotFound):
        store.get("nope")


def test_replay_links_refuses_twice_and_audits(
    store_app: Stalwart, redis_client: redis.Redis
) -> None:
    write_dead_letter(store_app, _draft(1))
    store = store_app.dead_letters
    (replayed,) = store.replay(["task-1"], actor="console:alice")
    assert replayed.task_id == "task-1" and replayed.new_task_id != "task-1"
    message = json.loads(redis_client.lindex("celery", 0))
    assert message["headers"]["id"] == replayed.new_task_id
    assert message["headers"]["stalwart_replay_of"] == "task-1"
    assert "stalwart_first_failure" not in message["headers"]
    with pytest.raises(ReplayRefused):
        store.replay(["task-1"])
    again = store.replay(["task-1"], force=True)
    assert store.get("task-1").replay_count == 2 and again[0].new_task_id != replayed.new_task_id
    actions = list_actions(store_app.engine, action="dlq.replay")
    assert [a.actor for a in actions][-1] == "console:alice" and all(a.count == 1 for a in actions)


def test_cli_bulk_replay_and_discard(run_cli: Cli, settings: Settings) -> None:
    """The CLI over the store (one backend suffices: the store suite above runs on both)."""
    store_app = Stalwart("cli-test", settings=settings)
    store_app.ensure_schema()
    for n in range(5):
        write_dead_letter(store_app, _draft(n))
    write_dead_letter(store_app, _draft(7, name="other.task"))
    refused = run_cli("dlq", "replay", "--all", settings=settings, input="n\n")
    assert refused.returncode == 130 and store_app.dead_letters.count(replayed=True) == 0
    bulk = run_cli(
        "dlq",
        "replay",
        "--name",
        "tests.apps.reliable.fixable",
        "--yes",
        "--json",
        settings=settings,
    )
    assert bulk.returncode == 0, bulk.stderr
    assert len(json.loads(bulk.stdout)["replayed"]) == 5
    assert store_app.dead_letters.count(replayed=True) == 5
    # --all now selects only what was not replayed yet.
    rest = run_cli("dlq", "replay", "--all", "--yes", "--json", settings=settings)
    assert [r["task_id"] for r in json.loads(rest.stdout)["replayed"]] == ["task-7"]

    discard = run_cli("dlq", "discard", "--all", "--yes", "--json", settings=settings)
    assert json.loads(discard.stdout) == {"discarded": 6}
    assert store_app.dead_letters.count() == 0
    (audit,) = list_actions(store_app.engine, action="dlq.discard")
    assert audit.count == 6

    bad = run_cli("dlq", "ls", "--since", "yesterday", settings=settings)
    assert bad.returncode == 2 and "--since 'yesterday'" in bad.stderr
    missing = run_cli("dlq", "show", "12345", settings=settings)
    assert missing.returncode == 2 and "no dead letter" in missing.stderr
    neither = run_cli("dlq", "replay", settings=settings)
    assert neither.returncode == 2 and "--all" in neither.stderr


def test_undecodable_message_keeps_its_raw_bytes_and_is_not_replayed(store_app: Stalwart) -> None:
    raw = b"\x00\xff{not json at all\x80"
    quarantined = UndecodableMessage(
        id="undecodable-1",
        queue="celery",
        raw=raw,
        error_type="ValueError",
        error="bad",
        at=datetime.now(UTC).timestamp(),
        host="h",
    )
    # An entry read twice (two processes, or a crash before it left the list) is one row.
    for _ in range(2):
        write_dead_letter(
            store_app, dead_letter_of(UndecodableMessage.decode(quarantined.encode()))
        )
    [letter] = store_app.dead_letters.list()
    assert (letter.reason, letter.raw, letter.name) == ("undecodable", raw, UNDECODABLE_NAME)
    shown = letter.as_dict(store_app, full=True)
    assert shown["raw"] == "\\x00\\xff{not json at all\\x80"
    assert shown["raw_base64"] == "AP97bm90IGpzb24gYXQgYWxsgA=="
    with pytest.raises(ReplayRefused, match="names no task to replay"):
        store_app.dead_letters.replay([letter.task_id])
    assert store_app.dead_letters.discard([letter.task_id]) == 1

"""Writing to the outbox: rows follow the caller's transaction; bad input is refused whole."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from stalwart import Stalwart
from stalwart.db.migrate import upgrade
from stalwart.errors import OutboxError
from stalwart.middleware.idempotency import KEY_HEADER
from stalwart.outbox import enqueue, enqueue_many, pending, relay_once
from stalwart.outbox.tables import outbox
from stalwart.settings import Settings
from tests.outbox.app import orders, register


def stored(app: Stalwart) -> list[dict[str, object]]:
    with app.engine.connect() as db:
        return [dict(row) for row in db.execute(sa.select(outbox)).mappings()]


def test_rows_commit_and_roll_back_with_the_transaction(
    client_app: Stalwart, tasks: SimpleNamespace
) -> None:
    with pytest.raises(RuntimeError), client_app.engine.begin() as db:
        db.execute(orders.insert().values(key="gone"))
        enqueue(db, tasks.note.s("gone"))
        raise RuntimeError("the request failed after writing")
    assert pending(client_app) == 0

    with client_app.engine.begin() as db:
        db.execute(orders.insert().values(key="kept"))
        [task_id] = enqueue_many(db, [tasks.note.s("kept")])
    [row] = stored(client_app)
    assert (row["task_id"], row["name"], row["args"]) == (task_id, "outbox_tests.note", ["kept"])


def test_a_task_without_its_own_key_runs_under_one_key_per_row(
    client_app: Stalwart, tasks: SimpleNamespace
) -> None:
    with client_app.engine.begin() as db:
        plain = enqueue(db, tasks.note.s("a"))
        enqueue(db, tasks.keyed.s("b"))
    rows = {row["name"]: row for row in stored(client_app)}
    plain_headers = rows["outbox_tests.note"]["options"]["headers"]  # type: ignore[index]
    assert plain_headers[KEY_HEADER] == f"outbox:{plain}"
    # A task with an idempotency_key keeps its own (per campaign and contact, say).
    assert KEY_HEADER not in rows["outbox_tests.keyed"]["options"]["headers"]  # type: ignore[index]


def test_countdown_and_expires_become_absolute_times(
    client_app: Stalwart, tasks: SimpleNamespace
) -> None:
    before = datetime.now(UTC)
    with client_app.engine.begin() as db:
        enqueue(db, tasks.note.s("later").set(countdown=60, expires=120, queue="slow"))
    [row] = stored(client_app)
    options = row["options"]
    assert isinstance(options, dict)
    eta = datetime.fromisoformat(options["eta"])
    assert before + timedelta(seconds=59) < eta < datetime.now(UTC) + timedelta(seconds=61)
    assert datetime.fromisoformat(options["expires"]) > eta
    assert options["queue"] == "slow"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: t.note.s(object()), "are not JSON"),
        (lambda t: t.note.s("x").set(link=t.note.s("y")), "cannot keep: link"),
        (lambda t: t.note.s("x").set(countdown=5, eta=datetime.now(UTC)), "countdown or eta"),
    ],
)
def test_bad_signatures_are_refused_before_anything_is_written(
    client_app: Stalwart,
    tasks: SimpleNamespace,
    make: Callable[[SimpleNamespace], object],
    message: str,
) -> None:
    with client_app.engine.begin() as db:
        enqueue(db, tasks.note.s("good"))
        with pytest.raises(OutboxError, match=message):
            enqueue_many(db, [tasks.note.s("also good"), make(tasks)])
    assert [row["args"] for row in stored(client_app)] == [["good"]]


def test_a_transaction_on_another_database_is_refused(
    client_app: Stalwart, tasks: SimpleNamespace, tmp_path: Path
) -> None:
    other = sa.create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with other.begin() as db, pytest.raises(OutboxError, match="must share your data's database"):
        enqueue(db, tasks.note.s("x"))
    other.dispose()


def test_a_broker_that_refuses_leaves_the_rows_for_the_next_round(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    # One backend is enough here: the put-back is the same SQL on both (and a refused
    # connection costs redis-py's own retries, seconds).
    down = Stalwart(
        "outbox-down",
        settings=make_settings(broker_url="redis://127.0.0.1:1/0", redis_url=redis_url),
    )
    down.conf.task_publish_retry = False
    upgrade(down.engine)
    note = register(down).note
    with down.engine.begin() as db:
        ids = enqueue_many(db, [note.s("a"), note.s("b")])
    assert relay_once(down) == 0
    assert pending(down) == 2
    # Nothing was published, so nothing counts as an attempt: the ids stay the rows'.
    assert [r["task_id"] for r in stored(down)] == ids
    assert down.redis.get(f"stalwart:outbox:attempt:{ids[0]}") in (None, b"0")
    down.engine.dispose()

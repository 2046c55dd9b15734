"""``enqueue(db, task.s(...))``: a task published if and only if ``db``'s transaction commits.

Call it with the connection (or ORM session) that writes your own rows, inside the same
transaction::

    with app.engine.begin() as db:
        db.execute(messages.insert(), rows)
        enqueue_many(db, [send_sms.s(m["campaign_id"], m["contact_id"], ...) for m in rows])

The tasks are rows of ``stalwart_outbox`` in the same database: a rollback takes them
away with your rows; a commit makes them durable, and the relay (a background service
of every worker, beat and console process) publishes them, even if the process that
committed dies right after. The relay is at least once, so each row's task runs under
an idempotency key: the task's own ``idempotency_key`` if it has one, else one per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from stalwart.errors import OutboxError
from stalwart.outbox.record import OutboxRecord
from stalwart.outbox.tables import outbox

__all__ = ["enqueue", "enqueue_many"]


def enqueue(db: Connection | Session, signature: Any) -> str:
    """Write one task to the outbox in ``db``'s transaction; returns its task id."""
    return enqueue_many(db, [signature])[0]


def enqueue_many(db: Connection | Session, signatures: Iterable[Any]) -> list[str]:
    """Write tasks to the outbox in ``db``'s transaction (one INSERT); returns their ids.

    Raises :class:`~stalwart.errors.OutboxError` (before writing anything) if a
    signature has arguments that are not JSON or options the outbox cannot keep, or if
    ``db`` is not connected to the app's durable store (``STALWART_DATABASE_URL``).
    """
    now = datetime.now(UTC)
    records: list[OutboxRecord] = []
    checked: set[int] = set()
    for signature in signatures:
        app = _stalwart_app(signature)
        if id(app) not in checked:
            _check_same_database(db, app)
            checked.add(id(app))
        task = app.tasks.get(signature.task)
        records.append(OutboxRecord.from_signature(signature, task, now))
    if records:
        db.execute(outbox.insert(), [record.row(now) for record in records])
    return [record.task_id for record in records]


def _stalwart_app(signature: Any) -> Any:
    from stalwart.app import Stalwart

    app = getattr(signature, "app", None)
    if not isinstance(app, Stalwart):
        raise OutboxError(
            f"outbox: {signature!r} does not belong to a stalwart.Stalwart app; build it from "
            "a task of your app (send_sms.s(...))"
        )
    return app


def _check_same_database(db: Connection | Session, app: Any) -> None:
    bind = db.get_bind() if isinstance(db, Session) else db.engine
    ours, theirs = _identity(app.engine.url), _identity(bind.engine.url)
    if ours != theirs:
        raise OutboxError(
            f"outbox: this transaction is on {theirs}, but the app's durable store "
            f"(STALWART_DATABASE_URL) is {ours}: the outbox must share your data's database "
            "for the send to commit with it"
        )


def _identity(url: sa.URL) -> str:
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return f"sqlite:///{Path(str(url.database)).resolve()}"
    host = url.host or ""
    return f"{url.get_backend_name()}://{url.username or ''}@{host}:{url.port or ''}/{url.database}"

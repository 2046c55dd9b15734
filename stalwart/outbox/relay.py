"""The relay: a background service that publishes committed outbox rows.

Each round takes a batch of rows by deleting them (``DELETE ... RETURNING``) in a
transaction, publishes them, and commits: a row leaves the table only with its
message sent. If the process dies before the commit, the rows come back and are
published again by the next round (at least once; the idempotency key each outbox
task runs under makes the second copy a no-op). Relays in several processes never
take the same row at once: on PostgreSQL they skip each other's locked rows, on
SQLite the write lock serialises them.

Every worker, beat and console process runs one (``stalwart.wiring``); an empty
outbox costs one indexed read per round.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import redis
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from stalwart.outbox.attempts import count_attempts, forget_attempts
from stalwart.outbox.publish import publish_batch
from stalwart.outbox.record import OutboxRecord
from stalwart.outbox.tables import outbox
from stalwart.services import Service

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["BATCH", "OutboxRelay", "pending", "relay_once"]

log = logging.getLogger("stalwart.outbox")

BATCH = 200
IDLE_INTERVAL = 0.2
FAILING_INTERVAL = 5.0


def pending(app: Stalwart) -> int:
    """How many tasks wait in the outbox (committed, not yet published)."""
    with app.engine.connect() as db:
        return int(db.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one())


def relay_once(app: Stalwart, limit: int = BATCH) -> int:
    """Publish up to ``limit`` outbox rows, oldest first; the number published."""
    with app.engine.connect() as db:
        if db.execute(sa.select(outbox.c.id).limit(1)).first() is None:
            return 0
    with app.engine.begin() as db:
        records = _take(db, limit)
        if not records:
            return 0
        records = count_attempts(app.redis, records)
        published = publish_batch(app, records)
        if published < len(records):  # put back what was not sent, same rows
            rest = records[published:]
            forget_attempts(app.redis, rest)
            db.execute(outbox.insert(), [r.row(datetime.now(UTC)) for r in rest])
        return published


def _take(db: Connection, limit: int) -> list[OutboxRecord]:
    oldest = sa.select(outbox.c.id).order_by(outbox.c.id).limit(limit)
    if db.dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    taken = db.execute(
        outbox.delete().where(outbox.c.id.in_(oldest.scalar_subquery())).returning(*outbox.c)
    )
    rows = sorted(taken.mappings(), key=lambda row: int(row["id"]))
    return [OutboxRecord.from_row(row) for row in rows]


class OutboxRelay(Service):
    """Publishes the outbox, batch after batch, every :data:`IDLE_INTERVAL` seconds."""

    name = "outbox"
    interval = IDLE_INTERVAL

    def __init__(self, app: Stalwart, batch: int = BATCH) -> None:
        self.app = app
        self.batch = batch
        self._failing: str | None = None

    def tick(self) -> None:
        try:
            while relay_once(self.app, self.batch) == self.batch:
                pass
        except (DBAPIError, redis.RedisError) as exc:
            self._failed(exc)
            return
        if self._failing is not None:
            log.info("outbox relay: the durable store answers again")
            self._failing = None
            self.interval = IDLE_INTERVAL

    def _failed(self, exc: DBAPIError | redis.RedisError) -> None:
        # A database not upgraded yet (no table) or a store unreachable: say so once,
        # not every round, and look again less often.
        cause = getattr(exc, "orig", None) or exc
        problem = (str(cause).splitlines() or [type(cause).__name__])[0]
        if problem != self._failing:
            log.warning(
                "outbox relay paused: %s (run 'stalwart db upgrade' if the table is missing)",
                problem,
            )
        self._failing = problem
        self.interval = FAILING_INTERVAL

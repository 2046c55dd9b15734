"""Retention: history older than ``STALWART_HISTORY_DAYS`` is pruned in small batches.

Each batch is its own short transaction (a thousand tasks and their events), so
pruning never holds long locks against the recorders. Dead-lettered tasks keep their
history as long as the dead-letter store keeps them (that store is never pruned here).
Every worker runs :class:`Retention`; a Redis lock lets one of them work at a time.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from stalwart.coordination import key
from stalwart.events import EventKind
from stalwart.history.tables import history_events, history_tasks
from stalwart.services import Service

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["Retention", "prune_history"]

log = logging.getLogger("stalwart.history.retention")

LOCK = key("history", "prune")


def prune_history(
    engine: Engine,
    older_than: datetime,
    *,
    batch: int = 1000,
    max_batches: int | None = None,
    pause: float = 0.0,
) -> int:
    """Delete tasks (and their events) last updated before ``older_than``; returns count."""
    deleted = batches = 0
    tasks, events = history_tasks.c, history_events.c
    while max_batches is None or batches < max_batches:
        with engine.begin() as db:
            ids = list(
                db.execute(
                    sa.select(tasks.task_id)
                    .where(tasks.updated_at < older_than)
                    .where(tasks.state != EventKind.DEAD_LETTERED.value)
                    .limit(batch)
                ).scalars()
            )
            if not ids:
                return deleted
            db.execute(sa.delete(history_events).where(events.task_id.in_(ids)))
            db.execute(sa.delete(history_tasks).where(tasks.task_id.in_(ids)))
        deleted += len(ids)
        batches += 1
        if pause:
            time.sleep(pause)
    return deleted


class Retention(Service):
    """Prunes expired history every ``interval`` seconds (one process at a time)."""

    name = "history-retention"
    interval = 600.0

    def __init__(self, client: redis.Redis, engine: Engine, days: int) -> None:
        self.client = client
        self.engine = engine
        self.days = days

    @classmethod
    def for_app(cls, app: Stalwart) -> Retention:
        return cls(app.redis, app.engine, app.settings.history_days)

    def tick(self) -> None:
        if not self.client.set(LOCK, "1", nx=True, ex=int(self.interval)):
            return  # another process pruned recently
        cutoff = datetime.now(UTC) - timedelta(days=self.days)
        deleted = prune_history(self.engine, cutoff, pause=0.01)
        if deleted:
            log.info("pruned history of %d tasks older than %d days", deleted, self.days)

"""Receiving an event: stored once per provider event id, its processing enqueued with it.

The row and the ``process_webhook`` task are written in one transaction (the outbox),
so an event the API acknowledged is always processed, and a redelivered event (same
provider id) is acknowledged again without being stored or processed twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from stalwart.demo.models import webhook_events
from stalwart.demo.tasks.webhooks import process_webhook
from stalwart.demo.webhooks.schema import DeliveryEvent, ReplyEvent
from stalwart.outbox import enqueue

__all__ = ["Received", "receive", "unprocessed"]


@dataclass(frozen=True)
class Received:
    event_id: int | None  # our row id; None for a duplicate
    duplicate: bool


def receive(engine: Engine, event: DeliveryEvent | ReplyEvent) -> Received:
    """Store ``event`` and enqueue its processing, unless it was received before."""
    with engine.begin() as db:
        dialect = postgresql if db.dialect.name == "postgresql" else sqlite
        inserted = db.execute(
            dialect.insert(webhook_events)
            .values(
                provider_event_id=event.id,
                type=event.type,
                payload=event.model_dump(mode="json", by_alias=True),
                received_at=time.time(),
            )
            .on_conflict_do_nothing(index_elements=["provider_event_id"])
            .returning(webhook_events.c.id)
        ).scalar()
        if inserted is None:
            return Received(None, duplicate=True)
        enqueue(db, process_webhook.s(int(inserted)))
        return Received(int(inserted), duplicate=False)


def unprocessed(engine: Engine) -> int:
    """Events stored but not processed yet."""
    query = sa.select(sa.func.count()).where(webhook_events.c.processed_at.is_(None))
    with engine.connect() as db:
        return int(db.execute(query).scalar_one())

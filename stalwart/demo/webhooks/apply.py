"""Applying a stored event (the ``process_webhook`` task's body), idempotently.

Deliveries move the message forward (:mod:`stalwart.demo.messages`), whatever the
order they come in; a ``STOP`` reply opts the contact out, so no later campaign
message reaches them (``send_sms`` checks before calling the provider).
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.engine import Connection

from stalwart.demo import messages
from stalwart.demo.models import MessageStatus, contacts, webhook_events
from stalwart.demo.webhooks.schema import DeliveryEvent, ProviderEvent, ReplyEvent

__all__ = ["STOP_WORDS", "apply_event"]

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
_EVENT: TypeAdapter[DeliveryEvent | ReplyEvent] = TypeAdapter(ProviderEvent)


def apply_event(db: Connection, event_id: int) -> str:
    """Apply event ``event_id`` once; what it did, in a few words."""
    row = (
        db.execute(sa.select(webhook_events).where(webhook_events.c.id == event_id))
        .mappings()
        .first()
    )
    if row is None:
        return "unknown event"
    if row["processed_at"] is not None:
        return str(row["outcome"])
    event = _EVENT.validate_python(row["payload"])
    outcome = _delivery(db, event) if isinstance(event, DeliveryEvent) else _reply(db, event)
    db.execute(
        webhook_events.update()
        .where(webhook_events.c.id == event_id)
        .values(processed_at=time.time(), outcome=outcome)
    )
    return outcome


def _delivery(db: Connection, event: DeliveryEvent) -> str:
    ref = messages.parse_reference(event.data.reference)
    if ref is None:
        return "not one of our messages"
    status = MessageStatus.DELIVERED if event.type == "message.delivered" else MessageStatus.FAILED
    moved = messages.advance(
        db, *ref, status, provider_id=event.data.message_id, error=event.data.error
    )
    return f"{status.value}" if moved else f"{status.value} (no change)"


def _reply(db: Connection, event: ReplyEvent) -> str:
    if event.data.body.strip().upper() not in STOP_WORDS:
        return "reply"
    opted = db.execute(
        contacts.update()
        .where(contacts.c.phone == event.data.from_, contacts.c.opted_out_at.is_(None))
        .values(opted_out_at=time.time(), updated_at=time.time())
    )
    return "opted out" if opted.rowcount else "STOP (already out or unknown)"

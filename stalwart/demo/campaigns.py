"""Campaigns: a template, a sender number and an audience; a launch sends it to everyone.

:func:`launch` is the transactional outbox at work: in ONE transaction it writes a
message row per contact of the audience and a ``send_sms`` task per message to send.
If anything fails before the commit, no row and no send exist; once it commits,
every send is published (by the relay, even if this process dies right after) and
runs once (``send_sms``'s idempotency key). Contacts who opted out get a message
row marked ``opted_out`` and no send.
"""

from __future__ import annotations

import string
import time
import uuid
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from stalwart.demo.models import MessageStatus, campaigns, contacts, messages
from stalwart.errors import NotFound
from stalwart.outbox import enqueue_many

__all__ = ["AlreadyLaunched", "PLACEHOLDERS", "counts", "create", "launch", "render"]

PLACEHOLDERS = frozenset({"name"})


class AlreadyLaunched(Exception):
    """A campaign is launched once."""


def template_fields(body: str) -> set[str]:
    """The ``{placeholders}`` of a template (ValueError if it is not a valid template)."""
    return {field for _, field, _, _ in string.Formatter().parse(body) if field is not None}


def render(body: str, name: str) -> str:
    return body.format_map({"name": name or "there"})


def create(
    engine: Engine, name: str, sender: str, body: str, segment: str | None
) -> dict[str, Any]:
    with engine.begin() as db:
        campaign_id = db.execute(
            campaigns.insert()
            .values(
                name=name,
                sender=sender,
                body=body,
                segment=segment,
                status="draft",
                created_at=time.time(),
            )
            .returning(campaigns.c.id)
        ).scalar_one()
        return _describe(db, int(campaign_id))


def launch(engine: Engine, campaign_id: int) -> dict[str, Any]:
    """Write every message and enqueue every send, atomically (see the module doc)."""
    from stalwart.demo.tasks.sending import send_sms

    with engine.begin() as db:
        now = time.time()
        # Claim the launch first: a second launch (even a concurrent one) finds it taken.
        claimed = db.execute(
            campaigns.update()
            .where(campaigns.c.id == campaign_id, campaigns.c.status == "draft")
            .values(status="launched", launched_at=now)
        ).rowcount
        campaign = _get(db, campaign_id)
        if not claimed:
            raise AlreadyLaunched(f"campaign {campaign_id} was launched already")
        audience = sa.select(
            contacts.c.id, contacts.c.phone, contacts.c.name, contacts.c.opted_out_at
        )
        if campaign["segment"]:
            audience = audience.where(contacts.c.segment == campaign["segment"])
        rows, sends = [], []
        for contact in db.execute(audience.order_by(contacts.c.id)):
            opted_out = contact.opted_out_at is not None
            task_id = None if opted_out else str(uuid.uuid4())
            rows.append(
                {
                    "campaign_id": campaign_id,
                    "contact_id": contact.id,
                    "to": contact.phone,
                    "status": (
                        MessageStatus.OPTED_OUT if opted_out else MessageStatus.QUEUED
                    ).value,
                    "task_id": task_id,
                    "updated_at": now,
                }
            )
            if task_id is not None:
                body = render(campaign["body"], contact.name)
                args = (campaign_id, contact.id, campaign["sender"], contact.phone, body)
                sends.append(send_sms.s(*args).set(task_id=task_id))
        if rows:
            db.execute(messages.insert(), rows)
        enqueue_many(db, sends)
        return _describe(db, campaign_id)


def counts(engine: Engine, campaign_id: int) -> dict[str, Any]:
    with engine.connect() as db:
        return _describe(db, campaign_id)


def _get(db: Connection, campaign_id: int) -> sa.RowMapping:
    query = sa.select(campaigns).where(campaigns.c.id == campaign_id)
    row = db.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    return row


def _describe(db: Connection, campaign_id: int) -> dict[str, Any]:
    campaign = _get(db, campaign_id)
    by_status: Counter[str] = Counter({status.value: 0 for status in MessageStatus})
    query = (
        sa.select(messages.c.status, sa.func.count())
        .where(messages.c.campaign_id == campaign_id)
        .group_by(messages.c.status)
    )
    for status, count in db.execute(query):
        by_status[str(status)] = int(count)
    return {
        "id": campaign["id"],
        "name": campaign["name"],
        "sender": campaign["sender"],
        "segment": campaign["segment"],
        "status": campaign["status"],
        "messages": sum(by_status.values()),
        "counts": dict(by_status),
    }

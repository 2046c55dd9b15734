"""Rows a test starts from, and reading back what became of a campaign."""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa

from stalwart.demo.models import contacts, messages
from tests.demo.crm import Crm


def add_contacts(crm: Crm, phones: Sequence[str], segment: str = "test") -> list[int]:
    now = time.time()
    rows = [
        {"phone": p, "name": f"C{i}", "segment": segment, "created_at": now, "updated_at": now}
        for i, p in enumerate(phones)
    ]
    with crm.engine.begin() as db:
        db.execute(contacts.insert(), rows)
        query = sa.select(contacts.c.id).where(contacts.c.phone.in_(phones))
        return list(db.execute(query.order_by(contacts.c.id)).scalars())


def launch(crm: Crm, sender: str, segment: str = "test") -> int:
    """Create and launch a campaign through the API; its id."""
    body = {"name": "test", "sender": sender, "body": "Hi {name}", "segment": segment}
    created = crm.api.post("/demo/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign_id = int(created.json()["id"])
    launched = crm.api.post(f"/demo/campaigns/{campaign_id}/launch")
    assert launched.status_code == 202, launched.text
    return campaign_id


def statuses(crm: Crm, campaign_id: int) -> dict[str, str]:
    """Message status by destination number."""
    query = sa.select(messages.c.to, messages.c.status).where(messages.c.campaign_id == campaign_id)
    return {str(r["to"]): str(r["status"]) for r in crm.rows(query)}


def phones(count: int, start: int = 0) -> list[str]:
    """Valid, distinct US numbers in E.164."""
    return [f"+1212{200 + (start + n) // 10000:03d}{(start + n) % 10000:04d}" for n in range(count)]

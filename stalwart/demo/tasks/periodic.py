"""Periodic work, fired by ``stalwart beat`` from the database schedules in
:mod:`stalwart.demo.app`: a provider sync, a nightly cleanup and a weekly report."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from datetime import time as dtime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from stalwart.demo import messages
from stalwart.demo.app import app, config
from stalwart.demo.calendar import NEW_YORK, local
from stalwart.demo.models import (
    MessageStatus,
    campaigns,
    import_chunks,
    imports,
    reports,
    webhook_events,
)
from stalwart.demo.models import messages as message_table
from stalwart.demo.provider import provider_for
from stalwart.demo.tasks.sending import PROVIDER_BREAKER

__all__ = ["nightly_cleanup", "provider_sync", "weekly_report"]

SYNC_AFTER = 30.0  # seconds a sent message may wait for its webhook before we ask
SYNC_BATCH = 200
KEEP_EVENTS = 30 * 86_400


@app.task(name="crm.provider_sync", breaker=PROVIDER_BREAKER, unique=True)
def provider_sync() -> int:
    """Ask the provider about sent messages whose delivery webhook never came."""
    stale = sa.select(
        message_table.c.campaign_id, message_table.c.contact_id, message_table.c.provider_id
    ).where(
        message_table.c.status == MessageStatus.SENT.value,
        message_table.c.provider_id.is_not(None),
        message_table.c.updated_at < time.time() - SYNC_AFTER,
    )
    with app.engine.connect() as db:
        waiting = db.execute(stale.limit(SYNC_BATCH)).all()
    if not waiting:
        return 0
    statuses = provider_for(config).statuses([str(row.provider_id) for row in waiting])
    moved = 0
    with app.engine.begin() as db:
        for row in waiting:
            status = statuses.get(str(row.provider_id))
            if status in (MessageStatus.DELIVERED, MessageStatus.FAILED):
                moved += messages.advance(
                    db, row.campaign_id, row.contact_id, MessageStatus(status)
                )
    return moved


@app.task(name="crm.nightly_cleanup")
def nightly_cleanup() -> dict[str, int]:
    """Forget processed webhook events after 30 days and finished imports' raw rows."""
    with app.engine.begin() as db:
        events = db.execute(
            webhook_events.delete().where(webhook_events.c.processed_at < time.time() - KEEP_EVENTS)
        ).rowcount
        finished = sa.select(imports.c.id).where(imports.c.status == "completed")
        chunks = db.execute(
            import_chunks.delete().where(import_chunks.c.import_id.in_(finished))
        ).rowcount
    return {"webhook_events": int(events), "import_chunks": int(chunks)}


@app.task(name="crm.weekly_report")
def weekly_report() -> dict[str, object]:
    """Messages by status per campaign launched last week (New York weeks), stored once."""
    today = local(time.time() + config.clock_offset).date()
    monday = today - timedelta(days=today.weekday() + 7)
    year, week, _ = monday.isocalendar()
    period = f"{year}-W{week:02d}"
    start = datetime.combine(monday, dtime(0), tzinfo=NEW_YORK)
    since, until = start.timestamp(), (start + timedelta(days=7)).timestamp()
    query = (
        sa.select(campaigns.c.id, message_table.c.status, sa.func.count())
        .join(message_table, message_table.c.campaign_id == campaigns.c.id)
        .where(campaigns.c.launched_at >= since, campaigns.c.launched_at < until)
        .group_by(campaigns.c.id, message_table.c.status)
    )
    with app.engine.begin() as db:
        counts: dict[str, dict[str, int]] = {}
        for campaign_id, status, count in db.execute(query):
            counts.setdefault(str(campaign_id), {})[str(status)] = int(count)
        dialect = postgresql if db.dialect.name == "postgresql" else sqlite
        db.execute(
            dialect.insert(reports)
            .values(kind="weekly", period=period, payload=counts, created_at=time.time())
            .on_conflict_do_nothing(index_elements=["kind", "period"])
        )
    return {"period": period, "campaigns": counts}

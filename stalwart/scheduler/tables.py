"""The ``schedules`` table (SQLAlchemy Core on the shared metadata; migration 0004)."""

from __future__ import annotations

import sqlalchemy as sa

from stalwart.db.engine import metadata
from stalwart.db.types import UTCDateTime

__all__ = ["schedules"]

schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("task", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("cron", sa.String(200), nullable=True),
    sa.Column("timezone", sa.String(64), nullable=True),
    sa.Column("every_seconds", sa.Float, nullable=True),
    sa.Column("at", UTCDateTime(), nullable=True),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Column("kwargs", sa.JSON, nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("missed", sa.String(16), nullable=False),
    sa.Column("catch_up_max", sa.Integer, nullable=False),
    sa.Column("origin", sa.String(16), nullable=False),
    # Slots at or before active_since never fire (creation, resume, timing change).
    sa.Column("active_since", UTCDateTime(), nullable=False),
    # The newest slot the leader has handled (fired, or passed over by the policy).
    sa.Column("last_slot", UTCDateTime(), nullable=True),
    sa.Column("last_fired_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

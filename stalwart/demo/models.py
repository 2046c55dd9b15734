"""The CRM's tables (SQLAlchemy Core), in the same database as Stalwart's own.

Sharing the database is what lets a campaign launch write its messages and their
sends in one transaction (the outbox, :mod:`stalwart.outbox`). Times are epoch
seconds (REAL), the same on SQLite and PostgreSQL. The schema is migrated with
Alembic (:mod:`stalwart.demo.migrate`), like Stalwart's.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

__all__ = [
    "MessageStatus",
    "campaigns",
    "contacts",
    "crm_metadata",
    "import_chunks",
    "import_errors",
    "import_rows",
    "imports",
    "messages",
    "reports",
    "webhook_events",
]

crm_metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class MessageStatus(StrEnum):
    """Where one campaign message is, as the CRM knows it."""

    QUEUED = "queued"  # enqueued (possibly deferred or retrying: ask Stalwart)
    OPTED_OUT = "opted_out"  # the contact replied STOP: never sent
    INVALID = "invalid"  # the provider refused the number (HTTP 400)
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider's webhook says it arrived
    FAILED = "failed"  # the provider's webhook says the carrier could not deliver it


contacts = sa.Table(
    "crm_contacts",
    crm_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("phone", sa.String(20), nullable=False, unique=True),  # E.164
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("segment", sa.String(50), nullable=False, server_default="", index=True),
    sa.Column("opted_out_at", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

imports = sa.Table(
    "crm_imports",
    crm_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # validating | completed
    sa.Column("rows_total", sa.Integer, nullable=False),
    sa.Column("chunks_total", sa.Integer, nullable=False),
    sa.Column("chunks_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
)

import_chunks = sa.Table(
    "crm_import_chunks",
    crm_metadata,
    sa.Column("import_id", sa.Integer, sa.ForeignKey("crm_imports.id"), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("rows", sa.JSON, nullable=False),  # [[line, {column: value}], ...]
    sa.Column("done", sa.Boolean, nullable=False, server_default=sa.false()),
)

import_rows = sa.Table(  # validated rows, merged into contacts when every chunk is done
    "crm_import_rows",
    crm_metadata,
    sa.Column("import_id", sa.Integer, sa.ForeignKey("crm_imports.id"), primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("segment", sa.String(50), nullable=False),
)

import_errors = sa.Table(
    "crm_import_errors",
    crm_metadata,
    sa.Column("import_id", sa.Integer, sa.ForeignKey("crm_imports.id"), primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("error", sa.String(300), nullable=False),
)

campaigns = sa.Table(
    "crm_campaigns",
    crm_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sender", sa.String(20), nullable=False),
    sa.Column("body", sa.String(480), nullable=False),
    sa.Column("segment", sa.String(50), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # draft | launched
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("launched_at", sa.Float, nullable=True),
)

messages = sa.Table(
    "crm_messages",
    crm_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("crm_campaigns.id"), nullable=False),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("crm_contacts.id"), nullable=False),
    sa.Column("to", sa.String(20), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("task_id", sa.String(64), nullable=True),
    sa.Column("provider_id", sa.String(64), nullable=True, index=True),
    sa.Column("error", sa.String(300), nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("campaign_id", "contact_id", name="uq_crm_messages_campaign_contact"),
)

webhook_events = sa.Table(
    "crm_webhook_events",
    crm_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("provider_event_id", sa.String(100), nullable=False, unique=True),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("processed_at", sa.Float, nullable=True),
    sa.Column("outcome", sa.String(100), nullable=True),
)

reports = sa.Table(
    "crm_reports",
    crm_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("period", sa.String(20), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("kind", "period", name="uq_crm_reports_kind_period"),
)

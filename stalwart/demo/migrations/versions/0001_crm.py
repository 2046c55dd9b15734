"""The CRM's tables (stalwart.demo.models).

Revision ID: crm0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "crm0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_contacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("segment", sa.String(50), nullable=False, server_default=""),
        sa.Column("opted_out_at", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("phone", name="uq_crm_contacts_phone"),
    )
    op.create_index("ix_crm_contacts_segment", "crm_contacts", ["segment"])
    op.create_table(
        "crm_imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows_total", sa.Integer, nullable=False),
        sa.Column("chunks_total", sa.Integer, nullable=False),
        sa.Column("chunks_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    for name, columns in (
        ("crm_import_chunks", _chunk_columns()),
        ("crm_import_rows", _row_columns()),
        ("crm_import_errors", _error_columns()),
    ):
        op.create_table(
            name,
            sa.Column("import_id", sa.Integer, sa.ForeignKey("crm_imports.id"), primary_key=True),
            *columns,
        )
    op.create_table(
        "crm_campaigns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sender", sa.String(20), nullable=False),
        sa.Column("body", sa.String(480), nullable=False),
        sa.Column("segment", sa.String(50), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("launched_at", sa.Float, nullable=True),
    )
    op.create_table(
        "crm_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("crm_campaigns.id"), nullable=False),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("crm_contacts.id"), nullable=False),
        sa.Column("to", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=True),
        sa.Column("provider_id", sa.String(64), nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("campaign_id", "contact_id", name="uq_crm_messages_campaign_contact"),
    )
    op.create_index("ix_crm_messages_status", "crm_messages", ["status"])
    op.create_index("ix_crm_messages_provider_id", "crm_messages", ["provider_id"])
    op.create_table(
        "crm_webhook_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("provider_event_id", sa.String(100), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("processed_at", sa.Float, nullable=True),
        sa.Column("outcome", sa.String(100), nullable=True),
        sa.UniqueConstraint("provider_event_id", name="uq_crm_webhook_events_provider_event_id"),
    )
    op.create_table(
        "crm_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("kind", "period", name="uq_crm_reports_kind_period"),
    )


def _chunk_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("rows", sa.JSON, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False, server_default=sa.false()),
    ]


def _row_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("segment", sa.String(50), nullable=False),
    ]


def _error_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("error", sa.String(300), nullable=False),
    ]


def downgrade() -> None:
    for name in (
        "crm_reports",
        "crm_webhook_events",
        "crm_messages",
        "crm_campaigns",
        "crm_import_errors",
        "crm_import_rows",
        "crm_import_chunks",
        "crm_imports",
        "crm_contacts",
    ):
        op.drop_table(name)

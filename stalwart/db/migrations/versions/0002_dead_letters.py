"""The dead-letter store (stalwart.deadletter.tables).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("queue", sa.String(255), nullable=True),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("kwargs", sa.JSON, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("exc_type", sa.String(255), nullable=False),
        sa.Column("exc_message", sa.Text, nullable=False),
        sa.Column("traceback", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("root_id", sa.String(255), nullable=True),
        sa.Column("parent_id", sa.String(255), nullable=True),
        sa.Column("replay_of", sa.String(255), nullable=True),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replayed_as", sa.String(255), nullable=True),
        sa.Column("replay_count", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("task_id", name="uq_dead_letters_task_id"),
    )
    op.create_index("ix_dead_letters_name", "dead_letters", ["name"])
    op.create_index("ix_dead_letters_last_failed_at", "dead_letters", ["last_failed_at"])


def downgrade() -> None:
    op.drop_table("dead_letters")

"""The history tables: one row per task, one row per lifecycle event.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = 155


def _at(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "history_tasks",
        sa.Column("task_id", sa.String(ID), primary_key=True),
        sa.Column("name", sa.String(255)),
        sa.Column("queue", sa.String(200)),
        sa.Column("state", sa.String(20), nullable=False),
        _at("state_at", nullable=False),
        sa.Column("state_rank", sa.SmallInteger, nullable=False),
        sa.Column("detail", sa.JSON),
        sa.Column("worker", sa.String(255)),
        _at("worker_at"),
        sa.Column("root_id", sa.String(ID)),
        sa.Column("parent_id", sa.String(ID)),
        sa.Column("group_id", sa.String(ID)),
        sa.Column("replay_of", sa.String(ID)),
        sa.Column("args", sa.Text),
        sa.Column("kwargs", sa.Text),
        sa.Column("retries", sa.Integer, nullable=False, server_default="0"),
        _at("first_at", nullable=False),
        _at("updated_at", nullable=False),
        _at("sent_at"),
        _at("started_at"),
        _at("finished_at"),
        sa.Column("runtime", sa.Float),
        sa.Column("result", sa.Text),
        sa.Column("exception", sa.Text),
        sa.Column("traceback", sa.Text),
        sa.Column("progress", sa.JSON),
        _at("progress_at"),
    )
    op.create_index("ix_history_tasks_updated", "history_tasks", ["updated_at", "task_id"])
    for column in ("state", "name", "queue", "worker"):
        op.create_index(
            f"ix_history_tasks_{column}", "history_tasks", [column, "updated_at", "task_id"]
        )
    op.create_index("ix_history_tasks_root", "history_tasks", ["root_id"])
    op.create_index("ix_history_tasks_group", "history_tasks", ["group_id"])
    op.create_table(
        "history_events",
        sa.Column("task_id", sa.String(ID), primary_key=True),
        sa.Column("seq", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        _at("at", nullable=False),
        sa.Column("worker", sa.String(255)),
        sa.Column("fields", sa.JSON),
    )


def downgrade() -> None:
    op.drop_table("history_events")
    op.drop_table("history_tasks")

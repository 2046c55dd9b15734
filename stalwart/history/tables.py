"""The history tables: one row per task (its current state) and one row per event.

``history_tasks`` answers "what happened to my tasks" (listing, filters, keyset
pagination on ``(updated_at, task_id)``); ``history_events`` is each task's timeline.
Both are written only by the recorder (:mod:`stalwart.history.writer`), idempotently:
an event's primary key is ``(task_id, seq)`` where ``seq`` is the event's own id, so
recording the same stream entry twice changes nothing.
"""

from __future__ import annotations

import sqlalchemy as sa

from stalwart.db.engine import metadata
from stalwart.db.types import UTCDateTime

__all__ = ["history_events", "history_tasks"]

ID = 155  # Celery task ids are uuids; some apps use longer custom ids.

history_tasks = sa.Table(
    "history_tasks",
    metadata,
    sa.Column("task_id", sa.String(ID), primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("queue", sa.String(200)),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("state_at", UTCDateTime(), nullable=False),
    sa.Column("state_rank", sa.SmallInteger, nullable=False),
    # Fields of the event that set the state (reason, until, retries, ...).
    sa.Column("detail", sa.JSON),
    # The worker of the latest event that names one (and that event's time).
    sa.Column("worker", sa.String(255)),
    sa.Column("worker_at", UTCDateTime()),
    sa.Column("root_id", sa.String(ID)),
    sa.Column("parent_id", sa.String(ID)),
    sa.Column("group_id", sa.String(ID)),
    sa.Column("replay_of", sa.String(ID)),
    # Redacted JSON text of the arguments (searchable with --text).
    sa.Column("args", sa.Text),
    sa.Column("kwargs", sa.Text),
    sa.Column("retries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("first_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime()),
    sa.Column("started_at", UTCDateTime()),
    sa.Column("finished_at", UTCDateTime()),
    sa.Column("runtime", sa.Float),
    sa.Column("result", sa.Text),
    sa.Column("exception", sa.Text),
    sa.Column("traceback", sa.Text),
    sa.Column("progress", sa.JSON),
    sa.Column("progress_at", UTCDateTime()),
    sa.Index("ix_history_tasks_updated", "updated_at", "task_id"),
    sa.Index("ix_history_tasks_state", "state", "updated_at", "task_id"),
    sa.Index("ix_history_tasks_name", "name", "updated_at", "task_id"),
    sa.Index("ix_history_tasks_queue", "queue", "updated_at", "task_id"),
    sa.Index("ix_history_tasks_worker", "worker", "updated_at", "task_id"),
    sa.Index("ix_history_tasks_root", "root_id"),
    sa.Index("ix_history_tasks_group", "group_id"),
)

history_events = sa.Table(
    "history_events",
    metadata,
    sa.Column("task_id", sa.String(ID), primary_key=True),
    sa.Column("seq", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("worker", sa.String(255)),
    sa.Column("fields", sa.JSON),
)

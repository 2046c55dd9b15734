"""The ``dead_letters`` table (SQLAlchemy Core, on the shared metadata).

One row per dead task id. The payload (``args``, ``kwargs``, ``options``) is kept intact
so a replay sends exactly what was sent; redaction happens only when it is *shown*. A
message that could not be decoded at all (reason ``undecodable``) has no task: its
bytes, as they were on the queue, are in ``raw``.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from stalwart.db.engine import metadata
from stalwart.db.types import UTCDateTime

__all__ = ["DeadReason", "dead_letters"]


class DeadReason(StrEnum):
    """Why a task was dead-lettered."""

    EXHAUSTED = "exhausted"  # retry_on exception, no retries left
    GIVE_UP = "give_up"  # a give_up_on exception
    FAILED = "failed"  # an exception the policy does not retry
    REJECTED = "rejected"  # the task raised celery's Reject(requeue=False)
    POISON = "poison"  # redelivered more than STALWART_MAX_DELIVERIES times
    UNDECODABLE = "undecodable"  # not a kombu envelope: quarantined by the transport


dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.String(255), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False, index=True),
    sa.Column("queue", sa.String(255), nullable=True),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Column("kwargs", sa.JSON, nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("exc_type", sa.String(255), nullable=False),
    sa.Column("exc_message", sa.Text, nullable=False),
    sa.Column("traceback", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_failed_at", UTCDateTime(), nullable=False),
    sa.Column("last_failed_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("root_id", sa.String(255), nullable=True),
    sa.Column("parent_id", sa.String(255), nullable=True),
    sa.Column("replay_of", sa.String(255), nullable=True),
    sa.Column("worker", sa.String(255), nullable=True),
    sa.Column("replayed_at", UTCDateTime(), nullable=True),
    sa.Column("replayed_as", sa.String(255), nullable=True),
    sa.Column("replay_count", sa.Integer, nullable=False, server_default="0"),
    # The message as it was on the queue, for an undecodable one (no task to replay).
    sa.Column("raw", sa.LargeBinary, nullable=True),
)

"""The ``stalwart_outbox`` table: tasks written by a transaction, waiting to be published.

A row is one task message: its name, arguments, the options it is published with and
the task id it will have (chosen when the row is written, so the caller can store it
beside its own data). The relay deletes a row in the same transaction that publishes
it, so the table only ever holds what is still to send.
"""

from __future__ import annotations

import sqlalchemy as sa

from stalwart.db.engine import metadata
from stalwart.db.types import UTCDateTime

__all__ = ["outbox"]

outbox = sa.Table(
    "stalwart_outbox",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("task_id", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Column("kwargs", sa.JSON, nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

"""The operator audit log: who did what, when, to how many (replays, discards, schedule edits)."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from stalwart.db.engine import metadata, utc_now
from stalwart.db.types import UTCDateTime

__all__ = ["AuditEntry", "audit_log", "list_actions", "os_user", "record_action"]

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime(), nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("target", sa.String(500), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    count: int
    details: dict[str, Any]


def os_user() -> str:
    """The operator behind a CLI action."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return "os:unknown"


def record_action(
    db: Connection,
    *,
    actor: str,
    action: str,
    target: str,
    count: int = 1,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one row; call it inside the transaction that made the change."""
    db.execute(
        audit_log.insert().values(
            at=utc_now(),
            actor=actor,
            action=action,
            target=target[:500],
            count=count,
            details=details or {},
        )
    )


def list_actions(
    engine: Engine,
    limit: int = 100,
    action: str | None = None,
    before: int | None = None,
    actor: str | None = None,
) -> list[AuditEntry]:
    """Newest first; ``before`` (an entry id) pages back; ``action`` may end with ``*``."""
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if action is not None:
        if action.endswith("*"):
            query = query.where(audit_log.c.action.startswith(action[:-1], autoescape=True))
        else:
            query = query.where(audit_log.c.action == action)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if before is not None:
        query = query.where(audit_log.c.id < before)
    with engine.connect() as db:
        return [AuditEntry(**row._mapping) for row in db.execute(query)]

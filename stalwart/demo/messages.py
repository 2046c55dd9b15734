"""Campaign messages move forward only: queued -> sent -> delivered/failed.

Provider webhooks arrive in any order, more than once, and sometimes before the task
that sent the message has recorded the send. Each update therefore names the states
it may move *from*; a late or repeated update changes nothing. (A ``delivered``
that arrives first wins; the task's later "sent" finds the row past ``queued``.)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stalwart.demo.models import MessageStatus, messages

__all__ = ["FINAL", "advance", "find", "reference", "parse_reference"]

S = MessageStatus
FINAL = frozenset({S.OPTED_OUT, S.INVALID, S.DELIVERED, S.FAILED})
_MOVES_FROM: dict[MessageStatus, tuple[MessageStatus, ...]] = {
    S.SENT: (S.QUEUED,),
    S.DELIVERED: (S.QUEUED, S.SENT),
    S.FAILED: (S.QUEUED, S.SENT),
    S.OPTED_OUT: (S.QUEUED,),
    S.INVALID: (S.QUEUED,),
}


def reference(campaign_id: int, contact_id: int) -> str:
    """The message's reference at the provider, also its idempotency key there."""
    return f"sms:{campaign_id}:{contact_id}"


def parse_reference(text: str) -> tuple[int, int] | None:
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != "sms" or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    return int(parts[1]), int(parts[2])


def find(db: Connection, campaign_id: int, contact_id: int) -> sa.RowMapping | None:
    query = sa.select(messages).where(
        messages.c.campaign_id == campaign_id, messages.c.contact_id == contact_id
    )
    return db.execute(query).mappings().first()


def advance(
    db: Connection,
    campaign_id: int,
    contact_id: int,
    status: MessageStatus,
    *,
    provider_id: str | None = None,
    error: str | None = None,
) -> bool:
    """Move a message to ``status`` if it is in a state that may move there."""
    allowed: Iterable[str] = (s.value for s in _MOVES_FROM[status])
    values: dict[str, Any] = {}
    if provider_id is not None:
        values["provider_id"] = provider_id
    if error is not None:
        values["error"] = error[:300]
    moved = db.execute(
        messages.update()
        .where(
            messages.c.campaign_id == campaign_id,
            messages.c.contact_id == contact_id,
            messages.c.status.in_(list(allowed)),
        )
        .values(status=status.value, updated_at=time.time(), **values)
    )
    if provider_id is not None and not moved.rowcount:
        # Already past this state (a webhook came first): still note the provider id.
        db.execute(
            messages.update()
            .where(
                messages.c.campaign_id == campaign_id,
                messages.c.contact_id == contact_id,
                messages.c.provider_id.is_(None),
            )
            .values(provider_id=provider_id)
        )
    return bool(moved.rowcount)

"""Undecodable messages into the dead-letter store (reason ``undecodable``).

The Redis transport takes a message it cannot read off its queue and puts it on the
quarantine list (:mod:`stalwart.compat.undecodable`), so the worker keeps consuming.
This service, run in every Stalwart process like the pump, turns each entry into a
dead letter with its raw bytes, then removes it from the list: at least once, and
idempotently (the entry's id is the dead letter's task id, so an entry written twice,
by two processes or after a crash, is one row).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from stalwart.compat.undecodable import QUARANTINE_KEY, UndecodableMessage
from stalwart.deadletter.record import DeadLetter
from stalwart.deadletter.tables import DeadReason
from stalwart.deadletter.writer import write_dead_letter
from stalwart.services import Service

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["UNDECODABLE_NAME", "Quarantine", "dead_letter_of"]

log = logging.getLogger("stalwart.deadletter")

#: The task name an undecodable message is listed under (it names no task).
UNDECODABLE_NAME = "(undecodable message)"
BATCH = 100


def dead_letter_of(message: UndecodableMessage) -> DeadLetter:
    """The dead letter of a quarantined message."""
    at = datetime.fromtimestamp(message.at, UTC)
    return DeadLetter(
        task_id=message.id,
        name=UNDECODABLE_NAME,
        queue=message.queue,
        args=[],
        kwargs={},
        options={},
        reason=DeadReason.UNDECODABLE.value,
        exc_type=message.error_type,
        exc_message=message.error,
        traceback="",
        attempts=1,
        first_failed_at=at,
        last_failed_at=at,
        root_id=None,
        parent_id=None,
        replay_of=None,
        worker=message.host,
        raw=message.raw,
    )


class Quarantine(Service):
    """Moves quarantined messages (broker's Redis) into the dead-letter store (SQL)."""

    name = "quarantine"
    interval = 1.0

    def __init__(self, app: Stalwart) -> None:
        self.app = app

    def tick(self) -> None:
        if not self.app.settings.broker_is_redis:
            return
        client = self.app.delays.broker_client
        entries = client.lrange(QUARANTINE_KEY, -BATCH, -1)  # oldest last
        for entry in reversed(entries):
            try:
                message = UndecodableMessage.decode(entry)
            except (ValueError, KeyError, TypeError):
                log.error("dropping a malformed quarantine entry: %r", entry[:500])
            else:
                write_dead_letter(self.app, dead_letter_of(message))
            client.lrem(QUARANTINE_KEY, -1, entry)  # type: ignore[arg-type]  # bytes are fine

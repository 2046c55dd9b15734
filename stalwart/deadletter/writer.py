"""Writing dead letters from the worker (the pipeline's ``DEAD_LETTERED`` outcome).

A dead letter is written in the process that knows why the task died, in one SQL
transaction, before the message is acknowledged (a failed write requeues the message
instead). The row is keyed by task id: a second write for the same task (a worker lost
between writing the row and acknowledging the message) updates it instead of adding a
duplicate. The ``dead_lettered`` event is recorded by the pipeline's recording.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa

from stalwart.deadletter.record import DeadLetter
from stalwart.deadletter.tables import dead_letters

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["write_dead_letter"]

log = logging.getLogger("stalwart.deadletter")


def write_dead_letter(app: Stalwart, letter: DeadLetter) -> None:
    """Insert (or refresh) the row of ``letter``."""
    values = letter.row()
    del values["task_id"]
    for replay_field in ("replayed_at", "replayed_as", "replay_count"):
        values.pop(replay_field)
    refresh = dead_letters.update().where(dead_letters.c.task_id == letter.task_id)
    refresh = refresh.values(**{k: v for k, v in values.items() if k != "first_failed_at"})
    try:
        with app.engine.begin() as db:
            if not db.execute(refresh).rowcount:
                db.execute(dead_letters.insert().values(task_id=letter.task_id, **values))
    except sa.exc.IntegrityError:  # written concurrently by another process: refresh it
        with app.engine.begin() as db:
            db.execute(refresh)
    log.error(
        "task %s[%s] dead-lettered (%s after %d attempt(s)): %s: %s",
        letter.name,
        letter.task_id,
        letter.reason,
        letter.attempts,
        letter.exc_type,
        letter.exc_message[:200],
    )

"""The dead-letter store (SQL): tasks that failed for good, kept to be inspected and replayed.

- :mod:`~stalwart.deadletter.tables` - the ``dead_letters`` table and :class:`DeadReason`;
- :mod:`~stalwart.deadletter.record` - :class:`DeadLetter`, one dead task;
- :mod:`~stalwart.deadletter.writer` - writing a row from the worker;
- :mod:`~stalwart.deadletter.store` - the query module (``app.dead_letters``) that the CLI
  and the console call: list, get, replay, discard (each action audited);
- arguments are masked when shown by :mod:`stalwart.redaction` (shared with history).
"""

from stalwart.deadletter.record import DeadLetter
from stalwart.deadletter.store import DeadLetterStore, Replayed
from stalwart.deadletter.tables import DeadReason

__all__ = ["DeadLetter", "DeadLetterStore", "DeadReason", "Replayed"]

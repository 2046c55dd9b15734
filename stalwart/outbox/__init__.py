"""The transactional outbox: tasks published if and only if a SQL transaction commits.

The dual-write bug of every Celery + SQL app: ``db.commit(); task.delay()`` loses the
task if the process dies between the two, and ``task.delay(); db.commit()`` sends a
task for rows a rollback then removes. With the outbox the task is a row written in
the same transaction as your data (:func:`enqueue`, :func:`enqueue_many`), and the
relay (:class:`OutboxRelay`, a background service of every Stalwart process)
publishes committed rows. See docs/OUTBOX.md.

- :mod:`~stalwart.outbox.tables`   the ``stalwart_outbox`` table
- :mod:`~stalwart.outbox.record`   a row as Python: from a signature, to a publish
- :mod:`~stalwart.outbox.enqueue`  writing rows inside the caller's transaction
- :mod:`~stalwart.outbox.publish`  publishing one batch (the seam for bulk enqueue)
- :mod:`~stalwart.outbox.relay`    the relay service
"""

from stalwart.errors import OutboxError
from stalwart.outbox.enqueue import enqueue, enqueue_many
from stalwart.outbox.relay import OutboxRelay, pending, relay_once

__all__ = ["OutboxError", "OutboxRelay", "enqueue", "enqueue_many", "pending", "relay_once"]

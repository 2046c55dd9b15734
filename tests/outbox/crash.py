"""Processes that die at the worst moment, for the outbox tests (run as subprocesses).

``python -m tests.outbox.crash commit N``: writes N orders and their tasks in one
transaction, commits, and SIGKILLs itself before doing anything else.
``python -m tests.outbox.crash relay N``: takes N rows off the outbox and publishes
them as the relay does, then SIGKILLs itself before committing.
"""

from __future__ import annotations

import os
import signal
import sys

from stalwart import Stalwart
from stalwart.outbox import enqueue_many
from stalwart.outbox.attempts import count_attempts
from stalwart.outbox.publish import publish_batch
from stalwart.outbox.relay import _take
from tests.outbox.app import orders, register


def main(mode: str, count: int) -> None:
    app = Stalwart("outbox-crash")
    tasks = register(app)
    if mode == "commit":
        with app.engine.begin() as db:
            db.execute(orders.insert(), [{"key": f"k{i}"} for i in range(count)])
            enqueue_many(db, [tasks.note.s(f"k{i}") for i in range(count)])
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "relay":
        with app.engine.begin() as db:
            records = count_attempts(app.redis, _take(db, count))
            published = publish_batch(app, records)
            print(f"published {published}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

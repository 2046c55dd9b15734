"""A recorder process that SIGKILLs itself mid-batch (fault injection for the tests).

``python -m tests.history.recorder_victim REDIS_URL DATABASE_URL CONSUMER PHASE MARKER``:
records like any recorder; on its second batch it kills itself with SIGKILL at
``PHASE`` ("read": before the SQL commit, "committed": after the commit, before the
XACK), after writing how many entries it held to ``MARKER``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import redis

from stalwart.db.engine import create_engine_for
from stalwart.history.recorder import Entry, Recorder


def main() -> None:
    redis_url, database_url, consumer, phase, marker = sys.argv[1:6]
    batches = 0

    def on_batch(stage: str, entries: list[Entry]) -> None:
        nonlocal batches
        if stage == "read":
            batches += 1
        if stage == phase and batches >= 2:
            Path(marker).write_text(str(len(entries)))
            os.kill(os.getpid(), signal.SIGKILL)

    recorder = Recorder(
        redis.Redis.from_url(redis_url),
        create_engine_for(database_url),
        batch=200,
        consumer=consumer,
        on_batch=on_batch,
    )
    Path(marker + ".ready").write_text("1")
    while True:  # pause between rounds so that batches fill up
        time.sleep(0.3)
        recorder.tick()


if __name__ == "__main__":
    main()

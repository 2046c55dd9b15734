"""The recorder in its own process, started and watched by every worker (and beat/console).

A worker's main process is the busiest process of the deployment (it feeds the pool);
recording in a thread there would take the GIL from it. So the ``recorder`` service
only supervises a child process that runs :class:`~stalwart.history.recorder.Recorder`
at a lower CPU priority (``nice``): it records with the capacity tasks leave, and
catches up when the burst is over. The child reads its configuration from stdin and
exits when stdin closes, so it never outlives its parent, even after a SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import redis

from stalwart.services import Service

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["RecorderProcess", "main"]

log = logging.getLogger("stalwart.history.recorder")

NICE = 10


class RecorderProcess(Service):
    """Keeps one recorder child process running (restarting it if it dies)."""

    name = "recorder"
    interval = 1.0

    def __init__(self, redis_url: str, database_url: str) -> None:
        self.config = json.dumps({"redis_url": redis_url, "database_url": database_url})
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @classmethod
    def for_app(cls, app: Stalwart) -> RecorderProcess:
        settings = app.settings
        return cls(settings.effective_redis_url, settings.effective_database_url)

    def tick(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        if self.process is not None:
            log.warning("recorder process exited (%s); restarting", self.process.returncode)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stalwart.history.recorder_process"],
            stdin=subprocess.PIPE,
            start_new_session=False,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(self.config.encode() + b"\n")
        self.process.stdin.flush()  # kept open: its EOF tells the child to stop
        self.starts += 1

    def close(self) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main() -> None:
    """Child entry point: record until stdin closes."""
    from stalwart.db.engine import create_engine_for
    from stalwart.history.recorder import Recorder
    from stalwart.services import ServiceRunner

    logging.basicConfig(level=logging.INFO, format="[recorder %(process)d] %(message)s")
    config = json.loads(sys.stdin.readline())
    with contextlib.suppress(OSError):
        os.nice(NICE)

    client = redis.Redis.from_url(config["redis_url"], socket_timeout=10)
    engine = create_engine_for(config["database_url"])
    runner = ServiceRunner([Recorder(client, engine)])
    runner.start()
    stopped = threading.Event()

    def watch_parent() -> None:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
        stopped.set()

    threading.Thread(target=watch_parent, daemon=True).start()
    stopped.wait()
    runner.stop()
    engine.dispose()


if __name__ == "__main__":
    main()

"""The recorder in its own process, started and watched by every worker (and beat/console).

A worker's main process is the busiest process of the deployment (it feeds the pool);
recording in a thread there would take the GIL from it. So the ``recorder`` service
only supervises a child process that runs :class:`~stalwart.history.recorder.Recorder`
at a lower CPU priority (``nice``): it records with the capacity tasks leave, and
catches up when the burst is over; while the workers are saturated it skips its rounds
altogether, bounded (:mod:`stalwart.history.backoff`). The child reads its
configuration from stdin and exits when stdin closes, so it never outlives its parent,
even after a SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import redis

from stalwart.services import Service

if TYPE_CHECKING:
    from stalwart.app import Stalwart
    from stalwart.history.backoff import Backoff

__all__ = ["RecorderProcess", "backoff_for", "main"]

log = logging.getLogger("stalwart.history.recorder")

NICE = 10


class RecorderProcess(Service):
    """Keeps one recorder child process running (restarting it if it dies)."""

    name = "recorder"
    interval = 1.0

    def __init__(
        self,
        redis_url: str,
        database_url: str,
        *,
        broker_url: str | None = None,
        stream_maxlen: int | None = None,
        max_defer: float = 0.0,
    ) -> None:
        """``broker_url`` (a Redis broker, as redis-py reads it), ``stream_maxlen`` and a
        ``max_defer`` above 0 turn on the backoff while workers are saturated
        (:mod:`stalwart.history.backoff`); without them it never yields."""
        self.config = json.dumps(
            {
                "redis_url": redis_url,
                "database_url": database_url,
                "broker_url": broker_url,
                "stream_maxlen": stream_maxlen,
                "max_defer": max_defer,
            }
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @classmethod
    def for_app(cls, app: Stalwart) -> RecorderProcess:
        settings = app.settings
        broker = None
        if settings.broker_is_redis:
            broker = settings.effective_broker_url.replace("redis+socket://", "unix://", 1)
        return cls(
            settings.effective_redis_url,
            settings.effective_database_url,
            broker_url=broker,
            stream_maxlen=settings.stream_maxlen,
            max_defer=settings.recorder_max_defer,
        )

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
    runner = ServiceRunner([Recorder(client, engine, backoff=backoff_for(client, config))])
    runner.start()
    stopped = threading.Event()

    def watch_parent() -> None:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
        stopped.set()

    threading.Thread(target=watch_parent, daemon=True).start()
    stopped.wait()
    runner.stop()
    engine.dispose()


def backoff_for(client: redis.Redis, config: dict[str, Any]) -> Backoff | None:
    """The recorder's backoff while workers are saturated (None: never yield)."""
    from stalwart.history.backoff import Backoff, workers_saturated
    from stalwart.history.lag import recorder_lag

    if not (config.get("broker_url") and config.get("stream_maxlen") and config.get("max_defer")):
        return None
    if config["broker_url"] == config["redis_url"]:
        broker = client
    else:
        broker = redis.Redis.from_url(config["broker_url"], socket_timeout=10)
    return Backoff(
        client,
        saturated=workers_saturated(client, broker),
        backlog=lambda: recorder_lag(client).backlog,
        stream_maxlen=int(config["stream_maxlen"]),
        max_defer=float(config["max_defer"]),
    )


if __name__ == "__main__":
    main()

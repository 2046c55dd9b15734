"""The bootstep that loads Stalwart into any worker of a Stalwart app.

Added to ``app.steps['worker']`` by :class:`stalwart.Stalwart`, so it runs under
``stalwart worker`` and plain ``celery -A ... worker`` alike. It starts the app's
services (heartbeat, pump, recorder) in the worker's main process and stops them on
shutdown.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps

from stalwart.services import ServiceRunner
from stalwart.worker.heartbeat import Heartbeat

__all__ = ["StalwartWorkerStep"]


class StalwartWorkerStep(bootsteps.StartStopStep):  # type: ignore[misc]
    requires = ("celery.worker.components:Pool",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.runner: ServiceRunner | None = None

    def start(self, worker: Any) -> None:
        app = worker.app
        app.check_configuration()
        # Under plain `celery worker` too: dead letters and history need the schema.
        app.ensure_schema()
        queues = [q.name for q in app.amqp.queues.consume_from.values()]
        heartbeat = Heartbeat(
            app.redis,
            hostname=worker.hostname,
            pool=type(worker.pool).__module__.rsplit(".", 1)[-1],
            concurrency=int(worker.concurrency or 1),
            queues=queues,
        )
        self.runner = ServiceRunner([heartbeat, *app.background_services()])
        self.runner.start()

    def stop(self, worker: Any) -> None:
        if self.runner is not None:
            self.runner.stop()
            self.runner = None

    def shutdown(self, worker: Any) -> None:
        self.stop(worker)

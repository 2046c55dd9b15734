"""The bootsteps that load Stalwart into any worker of a Stalwart app.

Added to the app's ``steps`` by :class:`stalwart.Stalwart`, so they run under
``stalwart worker`` and plain ``celery -A ... worker`` alike:

- :class:`StalwartWorkerStep` (worker blueprint, after the pool): checks the
  configuration while the worker is built (pickle, timeouts: one line and exit), waits
  for the broker (:mod:`stalwart.worker.waiting`), then starts the app's services
  (pump, recorder, retention) in the worker's main process;
- :class:`StalwartConsumerStep` (consumer blueprint, once the worker consumes its task
  queues and its control queue): the heartbeat, which is what makes the worker *ready*
  for ``stalwart health``, ``/readyz`` and ``stalwart workers``. It stops when the
  consumer restarts after a lost broker connection, and starts again when it consumes.
"""

from __future__ import annotations

import os
from typing import Any

from celery import bootsteps

from stalwart.compat.worker import refuse_start
from stalwart.errors import SettingsError
from stalwart.services import Service, ServiceRunner
from stalwart.worker.heartbeat import Heartbeat
from stalwart.worker.orphan import OrphanWatch
from stalwart.worker.supervisor import SUPERVISOR_VARIABLE
from stalwart.worker.waiting import wait_for_broker

__all__ = ["StalwartConsumerStep", "StalwartWorkerStep"]


class _ServicesStep(bootsteps.StartStopStep):  # type: ignore[misc]
    """A bootstep whose ``start`` runs services, stopped with the step."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.runner: ServiceRunner | None = None

    def run(self, services: list[Service]) -> None:
        self.runner = ServiceRunner(services)
        self.runner.start()

    def stop(self, parent: Any) -> None:
        if self.runner is not None:
            self.runner.stop()
            self.runner = None

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)


class StalwartWorkerStep(_ServicesStep):
    requires = ("celery.worker.components:Pool",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        # While the worker is built: an unsafe configuration (pickle, unordered
        # timeouts) stops it with one line, before it connects to anything.
        try:
            worker.app.check_configuration()
        except SettingsError as exc:
            refuse_start(f"stalwart: error: {exc}")

    def start(self, worker: Any) -> None:
        app = worker.app
        # Under plain `celery worker` too: dead letters and history need the schema.
        app.ensure_schema()
        wait_for_broker(app)
        # A process of a supervised worker (stalwart.worker.supervisor) leaves the app's
        # background services to its supervisor, which runs them once for all, and stops
        # when its supervisor is gone.
        supervisor = os.environ.get(SUPERVISOR_VARIABLE)
        self.run([OrphanWatch(int(supervisor))] if supervisor else app.background_services())


class StalwartConsumerStep(_ServicesStep):
    """The worker's heartbeat, from the moment it consumes (Celery's ``Control`` step
    starts after its ``Tasks`` step: both queues are consumed)."""

    requires = ("celery.worker.consumer.control:Control",)

    def start(self, consumer: Any) -> None:
        worker = consumer.controller
        app = consumer.app
        queues = [q.name for q in app.amqp.queues.consume_from.values()]
        heartbeat = Heartbeat(
            app.redis,
            hostname=worker.hostname,
            pool=type(worker.pool).__module__.rsplit(".", 1)[-1],
            concurrency=int(worker.concurrency or 1),
            queues=queues,
        )
        self.run([heartbeat])

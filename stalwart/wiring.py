"""What every Stalwart app runs: the built-in middleware, its services, its signal receivers.

The built-in guarantees are middleware registered on each app exactly as a user's
own are (``app.add_middleware``), in this order:

1. ``poison``      count redeliveries; dead-letter a task that keeps killing workers
2. ``idempotency`` one successful run per key; a duplicate returns the first result
3. ``flow``        throttle, quota, window, concurrency, unique, breaker (one script)
4. ``unique``      claim a unique task's lock when it is published
5. ``retries``     retry per the task's policy, or dead-letter
6. ``recording``   history events (innermost: ``started`` means the body starts)
7. ``delays``      keep a message due later than the threshold in the delay store
                   (publish phase only; last, so the message it keeps is complete)

Idempotency comes before flow control so that a duplicate consumes no limit; the poison
cap comes first so that a poison message is never checked or claimed at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stalwart.deadletter.quarantine import Quarantine
from stalwart.delays.pump import Pump
from stalwart.history.recorder_process import RecorderProcess
from stalwart.history.retention import Retention
from stalwart.history.signals import connect_signals as connect_history
from stalwart.middleware.base import Middleware
from stalwart.middleware.delays import Delays
from stalwart.middleware.flow import FlowControl
from stalwart.middleware.idempotency import Idempotency
from stalwart.middleware.poison import PoisonCap
from stalwart.middleware.recording import Recording
from stalwart.middleware.retries import Retries
from stalwart.middleware.unique import Unique
from stalwart.outbox.relay import OutboxRelay
from stalwart.services import Service
from stalwart.task import connect_signals as connect_execution

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["background_services", "builtin_middleware", "connect_signals"]


def builtin_middleware() -> list[Middleware]:
    """The built-in guarantees, outermost first (a new list for each app)."""
    return [
        PoisonCap(),
        Idempotency(),
        FlowControl(),
        Unique(),
        Retries(),
        Recording(),
        Delays(),
    ]


def connect_signals() -> None:
    """Connect Stalwart's Celery signal receivers (called by every Stalwart app)."""
    connect_execution()
    connect_history()


def background_services(app: Stalwart) -> list[Service]:
    """Services every Stalwart process runs (worker, beat, console, demo)."""
    return [
        Pump(app),
        RecorderProcess.for_app(app),
        Retention.for_app(app),
        OutboxRelay(app),
        Quarantine(app),
    ]

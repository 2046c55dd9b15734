"""What Stalwart runs, in what order: the one place that lists the hooks and services.

Adding a worker-side guarantee means writing a :class:`~stalwart.hooks.TaskHook` (or a
:class:`~stalwart.services.Service`) in its own module and naming it here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stalwart.flow.hook import FlowHook
from stalwart.flow.pump import Pump
from stalwart.flow.unique import connect_signals as connect_unique
from stalwart.history.recorder_process import RecorderProcess
from stalwart.history.recording import RecordingHook
from stalwart.history.recording import connect_signals as connect_recording
from stalwart.history.retention import Retention
from stalwart.hooks import TaskHook
from stalwart.reliability.idempotency import Idempotency
from stalwart.reliability.poison import PoisonCap
from stalwart.services import Service
from stalwart.task import connect_signals as connect_hook_signals

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["background_services", "connect_signals", "task_hooks"]


def task_hooks(app: Stalwart) -> list[TaskHook]:
    """Hooks around every task execution, outermost first.

    Order matters: count the delivery (poison cap) before anything else, defer for
    flow control before claiming an idempotency key, record last.
    (History's producer- and worker-level events, and unique claims at publish time,
    come from the Celery signal receivers of :func:`connect_signals`.)
    """
    return [PoisonCap(app), FlowHook(app), Idempotency(app), RecordingHook(app)]


def connect_signals() -> None:
    """Connect Stalwart's Celery signal receivers (called by every Stalwart app)."""
    connect_recording()
    connect_unique()
    connect_hook_signals()


def background_services(app: Stalwart) -> list[Service]:
    """Services every Stalwart process runs (worker, beat, console, demo)."""
    return [Pump(app), RecorderProcess.for_app(app), Retention.for_app(app)]

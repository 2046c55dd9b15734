"""The objects middleware receive: one :class:`Execution` per task execution in a worker,
one :class:`Publication` per message a producer publishes.

An execution lives from Celery's ``task_prerun`` to ``task_postrun`` and is the same
object in every phase, so a middleware keeps what it needs between phases in
``execution.state`` (under its own name) instead of on Celery's request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stalwart.middleware.controls import Outcome
from stalwart.middleware.riders import Rider, pending

if TYPE_CHECKING:
    from stalwart.app import Stalwart
    from stalwart.options import TaskOptions
    from stalwart.task import StalwartTask

__all__ = ["Execution", "Publication"]


@dataclass(eq=False)
class Execution:
    """One execution of a task in a worker, as every middleware phase sees it."""

    task: StalwartTask
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    request: Any  # Celery's request context of this execution
    # Scratch space: each middleware keeps its own state under its own name.
    state: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None
    early_riders: list[Rider] = field(default_factory=list)
    late_riders: list[Rider] = field(default_factory=list)
    started: float | None = None  # monotonic time the body started
    runtime: float | None = None  # seconds the body ran
    ended_at: float | None = None  # epoch time the body (or the early end) ended
    # Whether riders may ride in this thread's state writes (set by the driver).
    carries: bool = False
    started_write: bool = False

    @property
    def app(self) -> Stalwart:
        return self.task.app

    @property
    def id(self) -> str:
        return str(self.request.id)

    @property
    def name(self) -> str:
        return str(self.task.name)

    @property
    def options(self) -> TaskOptions:
        return self.task.stalwart_options

    @property
    def headers(self) -> dict[str, Any]:
        return dict(self.request.headers or {})

    @property
    def retries(self) -> int:
        return int(self.request.retries or 0)

    @property
    def redelivered(self) -> bool:
        return bool((self.request.delivery_info or {}).get("redelivered"))

    @property
    def eager(self) -> bool:
        return bool(self.request.is_eager)

    def early(self, script: str, keys: list[str], args: list[Any]) -> Rider:
        """Send a script before the body (call from ``prepare``); its reply is on the
        returned rider by the time ``before_execute`` runs.

        It rides in Celery's ``STARTED`` write when there is one on the coordination
        store's server; otherwise the driver sends every early rider of the execution
        in one pipeline of its own.
        """
        rider = Rider(script, keys, list(args))
        self.early_riders.append(rider)
        if self.carries and self.started_write:
            pending().append(rider)
        return rider

    def late(self, script: str, keys: list[str], args: list[Any]) -> Rider:
        """Send a script after the body (call from ``decide`` or ``after_execute``).

        It rides in Celery's result write (success, failure or retry) when it can, and
        is otherwise sent at the end of the execution, in one pipeline with the others:
        in every case before the message is acknowledged.
        """
        rider = Rider(script, keys, list(args))
        self.late_riders.append(rider)
        if self.carries:
            pending().append(rider)
        return rider

    def body_started(self) -> None:
        self.started = time.monotonic()

    def body_ended(self) -> None:
        self.ended_at = time.time()
        if self.started is not None:
            self.runtime = round(time.monotonic() - self.started, 6)


@dataclass(eq=False)
class Publication:
    """One message a producer publishes, as the publish phases see it.

    ``headers`` is the message's header dict: a ``before_publish`` phase may add to it.
    ``task`` is None when the producer does not know the task (``send_task`` by name).
    """

    app: Stalwart
    name: str
    id: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    headers: dict[str, Any]
    routing_key: str | None = None
    task: StalwartTask | None = None
    republished: bool = False  # a retry or deferral re-sending the running task
    state: dict[str, Any] = field(default_factory=dict)
    published_at: float = field(default_factory=time.time)
    # What the delay store would keep for this message (see stalwart.compat.capture).
    capture: Callable[[], str] | None = None
    delayed: float | None = None  # seconds it waits in the delay store, if it does

    @property
    def options(self) -> TaskOptions | None:
        return self.task.stalwart_options if self.task is not None else None

"""The worker-side extension point: hooks around one task execution.

Every guarantee that acts in the worker (poison cap, flow control, idempotency,
recording) is a :class:`TaskHook`. :class:`HookChain` runs them around the task body
in order, like middleware:

- ``before_execute(call)`` runs before the body, in order. It may end the call early by
  raising a :class:`TaskControl`: :class:`Deferred` (run later, no retry consumed) or
  :class:`ReturnResult` (done: e.g. a duplicate returning the first run's result). Any
  other exception fails the call *before* the body ran, so nothing runs half-guarded.
- ``after_execute(call, outcome)`` runs after the body (or after an early end), in
  reverse order, for every hook whose ``before_execute`` ran. A failing ``after_``
  hook is logged and the others still run: the task's own outcome is what counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stalwart.task import StalwartTask

__all__ = [
    "Deferred",
    "HookChain",
    "Outcome",
    "ReturnResult",
    "TaskCall",
    "TaskControl",
    "TaskHook",
]

log = logging.getLogger("stalwart.hooks")


@dataclass
class TaskCall:
    """One execution of a task in a worker, as the hooks see it."""

    task: StalwartTask
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    # Scratch space a hook may use to pass state from its before_ to its after_.
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.task.request.id)

    @property
    def name(self) -> str:
        return str(self.task.name)


@dataclass
class Outcome:
    """How a call ended: a result, an exception, or an early end by a hook."""

    result: Any = None
    exc: BaseException | None = None
    control: TaskControl | None = None

    @property
    def succeeded(self) -> bool:
        return self.exc is None and self.control is None


class TaskControl(Exception):
    """Raised by a ``before_execute`` hook to end the call without running the body."""


class Deferred(TaskControl):
    """Run this task later: at ``until`` (epoch seconds), because of ``reason``.

    Deferral is not failure: no retry is consumed and no worker slot is held while
    waiting. The chain reschedules the message with its retry count unchanged.
    """

    def __init__(self, until: float, reason: str) -> None:
        super().__init__(f"deferred until {until} ({reason})")
        self.until = until
        self.reason = reason


class ReturnResult(TaskControl):
    """End the call successfully with ``value`` without running the body."""

    def __init__(self, value: Any) -> None:
        super().__init__("returned without running")
        self.value = value


class TaskHook:
    """Base class of worker-side hooks; override what you need, the rest do nothing."""

    def before_execute(self, call: TaskCall) -> None:
        """Called before the body. Raise a TaskControl to end the call early."""

    def after_execute(self, call: TaskCall, outcome: Outcome) -> None:
        """Called after the body or an early end (always paired with before_execute)."""

    def prepare(self, call: TaskCall) -> None:
        """Called at ``task_prerun``, before Celery writes the ``STARTED`` state.

        A hook may queue :class:`~stalwart.results.Rider` scripts here, sent in that
        write's round trip, and read their replies in :meth:`before_execute` (store
        them on ``call.task.request``: the call object is not the same). Must not end
        the call; without a ``STARTED`` write the riders are never sent.
        """

    def finalize(self, call: TaskCall) -> None:
        """Called at ``task_postrun``, after the result is stored: undo what
        :meth:`prepare` took if :meth:`before_execute` never used it."""


class HookChain:
    """Runs hooks around task bodies."""

    def __init__(self, hooks: Sequence[TaskHook]) -> None:
        self.hooks = tuple(hooks)

    def prepare(self, call: TaskCall) -> None:
        for hook in self.hooks:
            try:
                hook.prepare(call)
            except Exception:
                log.exception("hook %s failed preparing %s[%s]", hook, call.name, call.id)

    def finalize(self, call: TaskCall) -> None:
        for hook in reversed(self.hooks):
            try:
                hook.finalize(call)
            except Exception:
                log.exception("hook %s failed finalizing %s[%s]", hook, call.name, call.id)

    def run(self, call: TaskCall, body: Callable[[], Any]) -> Any:
        entered: list[TaskHook] = []
        outcome = Outcome()
        try:
            for hook in self.hooks:
                hook.before_execute(call)
                entered.append(hook)
            outcome.result = body()
            return outcome.result
        except ReturnResult as control:
            outcome.control = control
            outcome.result = control.value
            return control.value
        except TaskControl as control:
            outcome.control = control
            raise
        except BaseException as exc:
            outcome.exc = exc
            raise
        finally:
            for hook in reversed(entered):
                try:
                    hook.after_execute(call, outcome)
                except Exception:
                    log.exception("hook %s failed after %s[%s]", hook, call.name, call.id)
